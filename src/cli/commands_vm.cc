// vm create|show|list|delete|list-ip-addresses|exec, down, and `cove up`'s client steps.
//
// VMs are coved's Microsoft.Compute/virtualMachines (arm/compute.cc): a private VM is attached
// to a subnet through a NIC, as `az vm create` makes it (`<vm>VMNic`, ipconfig `ipconfig<vm>`);
// a public VM (`--public`, cove's) is an internet client in the TEST-NET public network and
// has no NIC. coved (root, full mode) realizes each VM as the network namespace
// fabric::Fabric::VmNamespace(vm id) with prefix `coved --fabric-prefix` (default "cove"; the
// CLI reads the same prefix from --fabric-prefix or COVE_FABRIC_PREFIX).
//
// Where cove differs from az:
// - `vm create` needs --vnet-name and --subnet (or --public): az would create a VNet; cove's
//   VMs are clients of an existing architecture. --image, --size, --admin-username and the
//   other machine arguments are not taken: a cove VM is a network namespace on this host.
// - `vm delete` also deletes the `<vm>VMNic` that `vm create` made (az leaves it unless the VM
//   was created with --nic-delete-option Delete): a NIC of a deleted cove VM holds an address
//   of the subnet and nothing else, so keeping it only surprises.
// - `vm exec` is cove's: it runs CMD inside the VM (its network namespace, resolv.conf → the
//   VNet's DNS 168.63.129.16, the cove CA trusted) with the caller's stdin/stdout/stderr and
//   exits with CMD's status. It must run as root.
// - `vm create --assign-identity [ID ...] [--role R --scope S]` and `vm identity
//   assign|show|remove` are az's (commands_mi.cc parses the identities). A VM's identity gets
//   tokens from the IMDS coved serves inside the VM's namespace (`cove vm exec VM -- cove login
//   --identity`). As newer az, --role has no default: give --role and --scope together.
//   `vm identity assign|remove` PUT the VM again with its network settings and the new identity
//   block (az PUTs the whole VM model too).
// - `down` is cove's: deletes `cove up`'s resource group (or, with --all, every resource group
//   of every subscription) through ARM, so coved removes their namespaces; when coved cannot be
//   reached it removes the namespaces with the prefix itself (fabric::Fabric::Down).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>
#include <thread>

#include "cli/cli.h"
#include "cli/commands.h"
#include "fabric/fabric.h"
#include "fabric/namespaces.h"

namespace cove::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr char kVmType[] = "Microsoft.Compute/virtualMachines";
constexpr char kNicType[] = "Microsoft.Network/networkInterfaces";

std::string VmPath(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, a.GetOr("--resource-group", ""), kVmType, a.GetOr("--name", ""));
}

ArgSpec VmNameArg(bool required = true) {
  return NameArg(
      "The name of the Virtual Machine. You can configure the default using `az "
      "configure --defaults vm=<name>` (not in cove).",
      required);
}

ArgSpec FabricPrefixArg() {
  return {.name = "--fabric-prefix",
          .help =
              "Prefix of the network namespaces coved made (coved --fabric-prefix). Default: "
              "$COVE_FABRIC_PREFIX, else cove."};
}

std::string Prefix(Context& ctx, const ParsedArgs& a) {
  return a.GetOr("--fabric-prefix", ctx.env().fabric_prefix);
}

// az's `vm create` answer.
json CreateView(const json& vm, const std::string& group,
                const std::optional<json>& identity = std::nullopt) {
  json cove =
      vm.contains("properties") ? vm["properties"].value("cove", json::object()) : json::object();
  json out{{"fqdns", ""},
           {"id", vm.value("id", "")},
           {"location", vm.value("location", "")},
           {"macAddress", ""},
           {"powerState", "VM running"},
           {"privateIpAddress", cove.value("privateIpAddress", "")},
           {"publicIpAddress", cove.value("publicIpAddress", "")},
           {"resourceGroup", group},
           {"zones", ""}};
  if (identity) out["identity"] = *identity;
  return out;
}

// az's `vm list-ip-addresses` entry.
json IpView(const json& vm) {
  json cove =
      vm.contains("properties") ? vm["properties"].value("cove", json::object()) : json::object();
  std::string group;
  if (auto id = ParseResourceId(vm.value("id", ""))) group = id->resource_group;
  json priv = json::array(), pub = json::array();
  if (cove.contains("privateIpAddress")) priv.push_back(cove["privateIpAddress"]);
  if (cove.contains("publicIpAddress")) {
    pub.push_back({{"id", ""},
                   {"ipAddress", cove["publicIpAddress"]},
                   {"ipAllocationMethod", "Static"},
                   {"name", ""},
                   {"resourceGroup", group},
                   {"zone", nullptr}});
  }
  return json{{"virtualMachine",
               {{"name", vm.value("name", "")},
                {"network", {{"privateIpAddresses", priv}, {"publicIpAddresses", pub}}},
                {"resourceGroup", group}}}};
}

Outcome CreateVm(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  std::string group = *a.Get("--resource-group"), name = *a.Get("--name");
  bool is_public = a.Has("--public");
  if (is_public && (a.Has("--vnet-name") || a.Has("--subnet") || a.Has("--private-ip-address"))) {
    return Outcome::Usage(
        "--public cannot be combined with --vnet-name, --subnet or "
        "--private-ip-address (a public VM is an internet client)");
  }
  std::string subnet_id;
  if (!is_public) {
    std::string subnet = a.GetOr("--subnet", "");
    if (subnet.empty()) {
      return Outcome::Usage("the following arguments are required: --subnet (or --public)");
    }
    if (!IsResourceId(subnet)) {
      if (!a.Has("--vnet-name")) {
        return Outcome::Usage(
            "usage error: --subnet NAME needs --vnet-name (or pass a subnet "
            "ID)");
      }
      subnet_id = ResourcePath(
          *sub, group, "Microsoft.Network/virtualNetworks/" + *a.Get("--vnet-name") + "/subnets",
          subnet);
    } else {
      subnet_id = subnet;
    }
  }
  auto identity = CreateIdentityRequest(a, *sub, group);
  if (auto* stop = std::get_if<Outcome>(&identity)) return *stop;
  const auto& wanted = std::get<std::optional<ManagedIdentityRequest>>(identity);
  std::string location;
  if (auto l = a.Get("--location")) {
    location = *l;
  } else {
    auto l2 = GroupLocation(ctx, *sub, group);
    if (!l2) return Outcome::FromArm(l2.error());
    location = *l2;
  }
  json vm_body = {{"location", location}};
  if (wanted) vm_body["identity"] = IdentityRequestJson(*wanted);
  if (is_public) {
    vm_body["properties"] = {{"cove", {{"network", "public"}}}};
  } else {
    json ipc_props = {{"subnet", {{"id", subnet_id}}}, {"privateIPAllocationMethod", "Dynamic"}};
    if (auto ip = a.Get("--private-ip-address")) {
      ipc_props["privateIPAllocationMethod"] = "Static";
      ipc_props["privateIPAddress"] = *ip;
    }
    json nic_body = {{"location", location},
                     {"properties",
                      {{"ipConfigurations",
                        json::array({{{"name", "ipconfig" + name}, {"properties", ipc_props}}})}}}};
    std::string nic_path = ResourcePath(*sub, group, kNicType, name + "VMNic");
    auto nic = (*arm)->Put(nic_path, kApiNetwork, nic_body);
    if (!nic) return Outcome::FromArm(nic.error());
    vm_body["properties"] = {
        {"networkProfile",
         {{"networkInterfaces", json::array({{{"id", nic->value("id", nic_path)}}})}}}};
  }
  auto vm = (*arm)->Put(ResourcePath(*sub, group, kVmType, name), kApiCompute, vm_body);
  if (!vm) return Outcome::FromArm(vm.error());
  if (!wanted) return Outcome::Value(CreateView(*vm, group));
  json got = vm->value("identity", json::object());
  if (auto stop = AssignSystemRole(ctx, a, got)) return *stop;
  return Outcome::Value(
      CreateView(*vm, group, AzIdentityView(got, a.Get("--role"), a.Get("--scope"))));
}

// ---- vm identity ----

// The VM body to PUT again with `identity`: its location, tags and network settings.
json VmBodyWith(const json& vm, const json& identity) {
  json props = vm.value("properties", json::object());
  json cove = props.value("cove", json::object());
  json body = {{"location", vm.value("location", "")}, {"identity", identity}};
  if (vm.contains("tags")) body["tags"] = vm["tags"];
  body["properties"] = {{"cove", {{"network", cove.value("network", "private")}}}};
  if (props.contains("networkProfile"))
    body["properties"]["networkProfile"] = props["networkProfile"];
  return body;
}

// `vm identity assign|remove` on each target VM: `check` may refuse the --identities request
// before anything is sent; `edit` turns it and the VM's current identities into the ones to PUT
// (or an Outcome to stop with); `answer` renders the PUT's answer.
using IdentityEdit = std::function<std::variant<ManagedIdentityRequest, Outcome>(
    const json& vm, const ManagedIdentityRequest& asked, ManagedIdentityRequest now)>;
Outcome EditVmIdentity(
    Context& ctx, const ParsedArgs& a,
    const std::function<std::optional<Outcome>(const ManagedIdentityRequest&)>& check,
    const IdentityEdit& edit, const std::function<Outcome(const json& answer)>& answer) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  return ForEachTarget(ctx, a, VmPath, [&](const std::string& path) -> Outcome {
    auto id = ParseResourceId(path);
    std::string group = id ? id->resource_group : a.GetOr("--resource-group", "");
    auto req = ParseIdentities(a.GetList("--identities"), *sub, group);
    if (auto* stop = std::get_if<Outcome>(&req)) return *stop;
    if (auto stop = check(std::get<ManagedIdentityRequest>(req))) return *stop;
    auto arm = ctx.Arm();
    if (!arm) return Outcome::FromArm(arm.error());
    auto vm = (*arm)->Get(path, kApiCompute);
    if (!vm) return Outcome::FromArm(vm.error(), true);
    auto next = edit(*vm, std::get<ManagedIdentityRequest>(req),
                     IdentityRequestOf(vm->value("identity", json::object())));
    if (auto* stop = std::get_if<Outcome>(&next)) return *stop;
    auto put = (*arm)->Put(path, kApiCompute,
                           VmBodyWith(*vm, IdentityRequestJson(std::get<ManagedIdentityRequest>(next))));
    if (!put) return Outcome::FromArm(put.error());
    return answer(*put);
  });
}

Outcome AssignVmIdentity(Context& ctx, const ParsedArgs& a) {
  return EditVmIdentity(
      ctx, a, [&](const ManagedIdentityRequest& add) { return CheckRoleAndScope(a, add.system); },
      [](const json&, const ManagedIdentityRequest& add,
         ManagedIdentityRequest now) -> std::variant<ManagedIdentityRequest, Outcome> {
        now.system = now.system || add.system;
        for (const auto& u : add.user) {
          bool have = false;
          for (const auto& e : now.user) have = have || EqualsIgnoreCase(e, u);
          if (!have) now.user.push_back(u);
        }
        return now;
      },
      [&](const json& put) {
        json got = put.value("identity", json::object());
        if (auto stop = AssignSystemRole(ctx, a, got)) return *stop;
        return Outcome::Value(AzIdentityView(got, a.Get("--role"), a.Get("--scope")));
      });
}

Outcome RemoveVmIdentity(Context& ctx, const ParsedArgs& a) {
  return EditVmIdentity(
      ctx, a, [](const ManagedIdentityRequest&) { return std::optional<Outcome>(); },
      [](const json& vm, const ManagedIdentityRequest& drop,
         ManagedIdentityRequest now) -> std::variant<ManagedIdentityRequest, Outcome> {
        std::vector<std::string> missing;
        for (const auto& u : drop.user) {
          auto it = std::find_if(now.user.begin(), now.user.end(),
                                 [&](const std::string& e) { return EqualsIgnoreCase(e, u); });
          if (it == now.user.end()) {
            missing.push_back(u);
          } else {
            now.user.erase(it);
          }
        }
        if (!missing.empty()) {
          std::string list;
          for (const auto& m : missing) list += (list.empty() ? "" : ",") + m;
          return Outcome::Failure("'" + list + "' are not associated with '" +
                                  vm.value("name", "") + "'");
        }
        if (drop.system) now.system = false;
        return now;
      },
      [](const json& put) {
        if (!put.contains("identity")) return Outcome::Nothing();
        return Outcome::Value(put["identity"]);
      });
}

Outcome DeleteVm(Context& ctx, const ParsedArgs& a) {
  if (auto stop = Confirm(ctx, a, "Are you sure you want to perform this operation?")) {
    return *stop;
  }
  return ForEachTarget(ctx, a, VmPath, [&](const std::string& path) -> Outcome {
    auto arm = ctx.Arm();
    if (!arm) return Outcome::FromArm(arm.error());
    auto vm = (*arm)->Get(path, kApiCompute);
    if (!vm) return Outcome::FromArm(vm.error());
    auto del = (*arm)->Delete(path, kApiCompute);
    if (!del) return Outcome::FromArm(del.error());
    // The NIC `vm create` made: <vm>VMNic, in the VM's network profile.
    std::string made =
        AsciiLower(path.substr(0, path.find("/providers/")) +
              "/providers/Microsoft.Network/networkInterfaces/" + vm->value("name", "") + "VMNic");
    if (vm->contains("properties") && (*vm)["properties"].contains("networkProfile")) {
      for (const auto& n :
           (*vm)["properties"]["networkProfile"].value("networkInterfaces", json::array())) {
        std::string id = n.value("id", "");
        if (AsciiLower(id) != made) continue;
        auto gone = (*arm)->Delete(id, kApiNetwork);
        if (!gone && gone.error().status != 404) return Outcome::FromArm(gone.error());
      }
    }
    return Outcome::Nothing();
  });
}

// The VM's id as coved stores it (the namespace name hashes it): -g given → GET; else the one
// VM of that name in the subscription.
ArmResult<std::string> FindVmId(Context& ctx, const std::string& name,
                                const std::optional<std::string>& group) {
  auto sub = ctx.Subscription();
  if (!sub) return tl::unexpected(sub.error());
  auto arm = ctx.Arm();
  if (!arm) return tl::unexpected(arm.error());
  if (group) {
    auto vm = (*arm)->Get(ResourcePath(*sub, *group, kVmType, name), kApiCompute);
    if (!vm) return tl::unexpected(vm.error());
    return vm->value("id", "");
  }
  auto all = (*arm)->List("/subscriptions/" + *sub + "/providers/" + kVmType, kApiCompute);
  if (!all) return tl::unexpected(all.error());
  std::vector<std::string> ids;
  for (const auto& vm : *all) {
    if (EqualsIgnoreCase(vm.value("name", ""), name)) ids.push_back(vm.value("id", ""));
  }
  if (ids.empty()) {
    return ArmFail(404, "ResourceNotFound",
                   "The Resource '" + std::string(kVmType) + "/" + name +
                       "' was not found in subscription " + *sub + ".");
  }
  if (ids.size() > 1) {
    return ArmFail(0, "AmbiguousName",
                   "more than one VM is named '" + name + "'; give --resource-group");
  }
  return ids[0];
}

std::string NotRealized(const std::string& ns, const std::string& prefix) {
  return "the VM's network namespace " + ns +
         " does not exist: coved realizes VMs only when it runs as root in full mode, with "
         "--fabric-prefix " +
         prefix + " (set --fabric-prefix or COVE_FABRIC_PREFIX to coved's)";
}

bool NamespaceExists(fabric::Fabric& fabric, const std::string& ns) {
  auto existing = fabric.Existing();
  if (!existing) return false;
  for (const auto& e : *existing) {
    if (e == ns) return true;
  }
  return false;
}

Outcome ExecVm(Context& ctx, const ParsedArgs& a) {
  std::optional<std::string> name = a.Get("--name");
  if (!name && a.positional.size() == 1) name = a.positional[0];
  if (!name || a.positional.size() > 1 || (a.Has("--name") && !a.positional.empty())) {
    return Outcome::Usage("usage: cove vm exec [-g GROUP] VM -- CMD [ARG ...]");
  }
  if (a.rest.empty()) return Outcome::Usage("no command given: cove vm exec VM -- CMD [ARG ...]");
  if (::geteuid() != 0) {
    return Outcome::Failure(
        "cove vm exec must run as root: it enters the VM's network "
        "namespace");
  }
  ArmResult<std::string> id = std::string();
  if (auto site = a.Get("--site")) {
    // A host of an on-premises site (Cove.OnPremises/sites/machines): same namespaces.
    auto group = a.Get("--resource-group");
    if (!group) return Outcome::Usage("--site needs --resource-group (-g)");
    auto sub = ctx.Subscription();
    if (!sub) return Outcome::FromArm(sub.error());
    auto arm = ctx.Arm();
    if (!arm) return Outcome::FromArm(arm.error());
    auto machine = (*arm)->Get(ResourcePath(*sub, *group, "Cove.OnPremises/sites", *site) +
                                   "/machines/" + *name,
                               "2026-12-01");
    if (!machine) return Outcome::FromArm(machine.error(), true);
    id = machine->value("id", "");
  } else {
    id = FindVmId(ctx, *name, a.Get("--resource-group"));
  }
  if (!id) return Outcome::FromArm(id.error(), true);
  std::string prefix = Prefix(ctx, a);
  fabric::LinuxNamespaces namespaces;
  fabric::Fabric fabric(namespaces, {.prefix = prefix});
  std::string ns = fabric.VmNamespace(*id);
  if (!NamespaceExists(fabric, ns)) return Outcome::Failure(NotRealized(ns, prefix));
  ctx.out().flush();
  auto pid = fabric.Spawn(*id, a.rest, 0, 1, 2);
  if (!pid) return Outcome::Failure("cannot run " + a.rest[0] + ": " + pid.error().message);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0) {
    if (errno != EINTR) return Outcome::Failure("waitpid failed");
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Outcome{code, std::nullopt, ""};
}

// ---- cove down ----

Outcome Down(Context& ctx, const ParsedArgs& a) {
  std::ostream& out = ctx.out();
  std::string prefix = Prefix(ctx, a);
  std::vector<std::string> removed_groups;
  bool reachable = true;
  auto arm = ctx.Arm();
  std::optional<ArmError> failure;
  if (arm) {
    std::vector<std::string> subs;
    if (a.Has("--all")) {
      auto list = (*arm)->List("/subscriptions", kApiSubscriptions);
      if (list) {
        for (const auto& s : *list) subs.push_back(s.value("subscriptionId", ""));
      } else {
        failure = list.error();
      }
    } else {
      auto sub = ctx.Subscription();
      if (sub) {
        subs.push_back(*sub);
      } else {
        failure = sub.error();
      }
    }
    for (const auto& sub : subs) {
      std::vector<std::string> groups;
      if (a.Has("--all")) {
        auto list = (*arm)->List("/subscriptions/" + sub + "/resourcegroups", kApiResources);
        if (!list) {
          failure = list.error();
          break;
        }
        for (const auto& g : *list) groups.push_back(g.value("name", ""));
      } else {
        groups.push_back(a.GetOr("--resource-group", "myResourceGroup"));
      }
      for (const auto& g : groups) {
        auto exists = (*arm)->Exists(GroupPath(sub, g), kApiResources);
        if (!exists) {
          failure = exists.error();
          break;
        }
        if (!*exists) continue;
        auto res = (*arm)->Delete(GroupPath(sub, g), kApiResources);
        if (!res && res.error().status == 404) continue;
        if (!res) {
          failure = res.error();
          break;
        }
        out << "deleted resource group " << g << " (subscription " << sub << ")\n";
        removed_groups.push_back(g);
      }
      if (failure) break;
    }
  } else {
    failure = arm.error();
  }
  if (failure && failure->status == 0 && failure->code.empty()) reachable = false;
  if (failure && reachable) return Outcome::FromArm(*failure);
  if (reachable && removed_groups.empty()) out << "nothing to delete in coved\n";

  if (!reachable) {
    out << "coved is not reachable at " << ctx.env().endpoint
        << ": removing the namespaces with prefix '" << prefix << "-' directly\n";
    if (::geteuid() != 0) return Outcome::Failure("removing namespaces needs root");
    fabric::LinuxNamespaces namespaces;
    fabric::Fabric fabric(namespaces, {.prefix = prefix});
    auto before = fabric.Existing();
    if (!before) return Outcome::Failure("cannot list namespaces: " + before.error().message);
    Status down = fabric.Down();
    if (!down) return Outcome::Failure("fabric down: " + down.error().message);
    for (const auto& ns : *before) out << "deleted network namespace " << ns << "\n";
    if (before->empty()) out << "no namespaces with prefix '" << prefix << "-'\n";
  } else if (::geteuid() == 0) {
    fabric::LinuxNamespaces namespaces;
    fabric::Fabric fabric(namespaces, {.prefix = prefix});
    if (auto left = fabric.Existing(); left && !left->empty()) {
      out << "namespaces coved keeps (its public network, or resources still defined):";
      for (const auto& ns : *left) out << " " << ns;
      out << "\n";
    }
  }
  return Outcome::Nothing();
}

// ---- cove up: the client steps ----

// Counters from coved's GET /cove/counters ({} when it has none).
json Counters(Context& ctx) {
  auto arm = ctx.Arm();
  if (!arm) return json::object();
  auto c = (*arm)->Get("/cove/counters", kApiResources);
  return c && c->is_object() ? *c : json::object();
}

// What changed between two counter snapshots: "key" → {requests, bytesIn, bytesOut} deltas.
std::map<std::string, std::array<int64_t, 3>> Delta(const json& before, const json& after) {
  std::map<std::string, std::array<int64_t, 3>> out;
  for (auto it = after.begin(); it != after.end(); ++it) {
    const json& b = before.contains(it.key()) ? before[it.key()] : json::object();
    std::array<int64_t, 3> d = {
        it->value("requests", int64_t{0}) - b.value("requests", int64_t{0}),
        it->value("bytesIn", int64_t{0}) - b.value("bytesIn", int64_t{0}),
        it->value("bytesOut", int64_t{0}) - b.value("bytesOut", int64_t{0})};
    if (d[0] || d[1] || d[2]) out[it.key()] = d;
  }
  return out;
}

void PrintDelta(std::ostream& o, const std::map<std::string, std::array<int64_t, 3>>& d,
                const std::map<std::string, std::string>& roles) {
  for (const auto& [key, v] : d) {
    // "link:<id>/member:<ip>" (access/access.h): one private endpoint's member.
    auto member = key.find("/member:");
    if (key.rfind("link:", 0) != 0 || member == std::string::npos) continue;
    std::string ip = key.substr(member + 8);
    auto role = roles.find(ip);
    o << "    " << ip << (role != roles.end() ? " (" + role->second + ")" : "") << ": " << v[0]
      << " requests, " << v[1] << " bytes in, " << v[2] << " bytes out\n";
  }
}

// Indented output of a step.
void Indent(std::ostream& o, const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) o << "    " << line << "\n";
}

const char* kBuildImage = R"sh(set -eu
d=$1; w=$d/work; mkdir -p "$d/blobs/sha256" "$w/rootfs"
printf 'hello from cove\n' >"$w/rootfs/hello.txt"
tar -C "$w/rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$w/layer.tar" .
gzip -9 -n -c "$w/layer.tar" >"$w/layer.tar.gz"
put() { h=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$d/blobs/sha256/$h"; echo "$h"; }
diff=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
layer=$(put "$w/layer.tar.gz"); lsize=$(stat -c %s "$w/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/cat","/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$w/config.json"
config=$(put "$w/config.json"); csize=$(stat -c %s "$w/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$csize" "$layer" "$lsize" >"$w/manifest.json"
manifest=$(put "$w/manifest.json"); msize=$(stat -c %s "$w/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$manifest" "$msize" >"$d/index.json"
rm -rf "$w"
echo "manifest sha256:$manifest, layer sha256:$layer ($lsize bytes)"
)sh";

}  // namespace

Outcome RunUpClient(Context& ctx, std::ostream& o, const std::string& group, const std::string& vm,
                    const std::string& registry, bool push) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto vm_doc = (*arm)->Get(ResourcePath(*sub, group, kVmType, vm), kApiCompute);
  if (!vm_doc) return Outcome::FromArm(vm_doc.error());
  auto reg = (*arm)->Get(
      ResourcePath(*sub, group, "Microsoft.ContainerRegistry/registries", registry), kApiAcr);
  if (!reg) return Outcome::FromArm(reg.error());
  const json props = reg->value("properties", json::object());
  std::string login = props.value("loginServer", registry + ".azurecr.io");
  std::vector<std::string> data_hosts;
  for (const auto& h : props.value("dataEndpointHostNames", json::array())) {
    data_hosts.push_back(h.get<std::string>());
  }
  std::string id = vm_doc->value("id", "");
  std::string vm_ip =
      (*vm_doc)["properties"].value("cove", json::object()).value("privateIpAddress", "");
  o << "VM " << vm << ": " << vm_ip << " in " << group << "\n";

  std::string prefix = ctx.env().fabric_prefix;
  if (::geteuid() != 0) {
    o << "stopping here: the VM steps (DNS, push, pull from inside " << vm
      << ") need root, to enter its network namespace. Run `sudo cove up` against a coved "
         "running as root.\n";
    return Outcome::Nothing();
  }
  fabric::LinuxNamespaces namespaces;
  fabric::Fabric fabric(namespaces, {.prefix = prefix});
  std::string ns = fabric.VmNamespace(id);
  // coved applies the fabric after each change commits; give it a moment to catch up.
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !NamespaceExists(fabric, ns) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!NamespaceExists(fabric, ns)) {
    o << "stopping here: the fabric is not running — " << NotRealized(ns, prefix) << ".\n";
    return Outcome::Nothing();
  }
  o << "  namespace " << ns << "\n";

  // 1. DNS, as the VM sees it.
  std::map<std::string, std::string> roles;
  std::vector<std::string> names = {login};
  for (const auto& h : data_hosts) names.push_back(h);
  for (const auto& name : names) {
    auto dig = fabric.Exec(id, {"dig", "+noall", "+answer", name}, 15'000);
    o << "DNS from " << vm << ": dig " << name << "\n";
    if (!dig || dig->exit_code != 0) {
      o << "    dig failed" << (dig ? ": " + dig->output : ": " + dig.error().message) << "\n";
      continue;
    }
    Indent(o, dig->output);
    // The last A record is the address the client connects to.
    std::istringstream lines(dig->output);
    std::string last_a;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream f(line);
      std::string owner, ttl, cls, type, data;
      f >> owner >> ttl >> cls >> type >> data;
      if (type == "A") last_a = data;
    }
    if (!last_a.empty()) roles[last_a] = name == login ? "registry endpoint" : "data endpoint";
  }
  if (!push) return Outcome::Nothing();

  // 2. A sample image, in an OCI layout on disk.
  char tmpl[] = "/tmp/cove-up.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Outcome::Failure("cannot create a temp dir");
  fs::path tmp = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  auto built = fabric.Exec(id, {"sh", "-c", kBuildImage, "build", (tmp / "image").string()});
  if (!built || built->exit_code != 0) {
    return Outcome::Failure("building the sample image failed: " +
                            (built ? built->output : built.error().message));
  }
  o << "built a sample image at " << (tmp / "image").string() << ": " << built->output;

  std::vector<std::string> cert_args;
  std::string ca = ctx.env().data_dir + "/tls/ca.crt";
  if (fs::exists(ca)) {
    std::error_code ec;
    fs::create_directories(tmp / "certs", ec);
    fs::copy_file(ca, tmp / "certs" / "ca.crt", ec);
    if (!ec) cert_args = {(tmp / "certs").string()};
  }
  // 3. An identity that may push, signed in as a user of az would be: a service principal with
  // AcrPush on the registry, `login --service-principal`, `acr login`. The commands run as typed,
  // with the login and the docker config kept in the temp dir (the user's own stay untouched).
  std::string auth_file = (tmp / "docker" / "config.json").string();
  {
    Environment env = ctx.env();
    env.config_path = (tmp / "cove" / "config").string();
    env.docker_config_path = auth_file;
    std::string sp_name = "cove-up-" + registry;
    std::string reg_id = reg->value("id", "");
    auto cove = [&](const std::vector<std::string>& args, const std::string& shown,
                    std::string* out_text) -> bool {
      std::ostringstream out, err;
      int rc = Run(args, out, err, env);
      o << "$ cove " << shown << "\n";
      if (rc != 0) {
        Indent(o, err.str());
        return false;
      }
      if (out_text) *out_text = out.str();
      return true;
    };
    std::string sp_json;
    if (!cove({"ad", "sp", "create-for-rbac", "-n", sp_name, "--role", "AcrPush", "--scopes",
               reg_id, "-o", "json", "--only-show-errors"},
              "ad sp create-for-rbac -n " + sp_name + " --role AcrPush --scopes <registry id>",
              &sp_json)) {
      return Outcome::Failure("creating the service principal " + sp_name + " failed");
    }
    json sp = json::parse(sp_json, nullptr, false);
    if (!sp.is_object() || !sp.contains("appId") || !sp.contains("password")) {
      return Outcome::Failure("create-for-rbac printed no credentials: " + sp_json);
    }
    std::string app_id = sp.value("appId", ""), tenant = sp.value("tenant", "");
    o << "    service principal " << sp_name << ": appId " << app_id << ", AcrPush on " << registry
      << "\n";
    if (!cove({"login", "--service-principal", "-u", app_id, "-p", sp.value("password", ""),
               "--tenant", tenant, "-o", "none"},
              "login --service-principal -u " + app_id + " -p *** --tenant " + tenant, nullptr) ||
        !cove({"acr", "login", "-n", registry}, "acr login -n " + registry, nullptr)) {
      return Outcome::Failure("signing in as " + sp_name + " failed");
    }
    o << "    registry credentials (null-GUID user, ACR refresh token) in " << auth_file << "\n";
  }

  std::string ref = "docker://" + login + "/hello:v1";
  auto skopeo = [&](const std::string& what, const std::string& src, const std::string& dst,
                    const std::string& cert_flag) -> bool {
    std::vector<std::string> argv = {"skopeo", "--command-timeout", "60s",
                                     "copy",   "--authfile",        auth_file};
    if (!cert_args.empty()) {
      argv.push_back(cert_flag);
      argv.push_back(cert_args[0]);
    }
    argv.push_back(src);
    argv.push_back(dst);
    json before = Counters(ctx);
    auto r = fabric.Exec(id, argv, 120'000);
    json after = Counters(ctx);
    o << what << " from " << vm << ": skopeo copy " << src << " " << dst << "\n";
    if (!r || r->exit_code != 0) {
      o << "    FAILED" << (r ? " (exit " + std::to_string(r->exit_code) + ")" : "") << "\n";
      Indent(o, r ? r->output : r.error().message);
      return false;
    }
    o << "  connections, from coved's per-endpoint counters:\n";
    PrintDelta(o, Delta(before, after), roles);
    return true;
  };
  if (!skopeo("push", "oci:" + (tmp / "image").string() + ":v1", ref, "--dest-cert-dir")) {
    return Outcome::Failure("push from " + vm + " failed");
  }
  if (!skopeo("pull", ref, "oci:" + (tmp / "pulled").string() + ":v1", "--src-cert-dir")) {
    return Outcome::Failure("pull from " + vm + " failed");
  }
  o << "done: " << vm << " pushed and pulled " << login
    << "/hello:v1 through the private endpoint. Try: sudo cove vm exec " << vm << " -- dig "
    << login << "\n";
  return Outcome::Nothing();
}

void AddVmCommands(Registry& r) {
  r.AddGroup({{"vm"},
              "Manage Linux or Windows virtual machines (cove: network namespaces that "
              "are clients of a VNet or of the internet)."});
  r.AddCommand(
      {.path = {"vm", "create"},
       .summary = "Create an Azure Virtual Machine (cove: a client machine, a network namespace "
                  "attached to a subnet, or to the internet with --public).",
       .args = {GroupArg(true, false),
                NameArg("Name of the virtual machine.", true, false),
                {.name = "--vnet-name",
                 .help = "Name of the virtual network when creating a new one or referencing "
                         "an existing one."},
                {.name = "--subnet",
                 .help = "The name of the subnet when creating a new VNet or referencing an "
                         "existing one. Can also reference an existing subnet by ID."},
                {.name = "--private-ip-address",
                 .help = "Static private IP address (e.g. 10.0.0.5). Default: the lowest free "
                         "address of the subnet."},
                {.name = "--public",
                 .help = "cove: an internet client, in the public network (TEST-NET addresses) "
                         "instead of a VNet.",
                 .kind = ArgKind::kSwitch},
                LocationArg(" If not specified, the location of the resource group will be "
                            "used."),
                {.name = "--assign-identity",
                 .help = "Accept system or user assigned identities separated by spaces. Use "
                         "'[system]' to refer system assigned identity, or a resource id to "
                         "refer user assigned identity. Check out help for more examples",
                 .kind = ArgKind::kOptionalList},
                {.name = "--role",
                 .help = "Role name or id the system assigned identity will have (with "
                         "--scope)."},
                {.name = "--scope",
                 .help = "Scope that the system assigned identity can access (with --role)."},
                NoWaitArg()},
       .run = CreateVm,
       .examples = {
           {"Create a VM in an existing subnet.",
            "cove vm create -g MyResourceGroup -n vm1 --vnet-name myVNet --subnet "
            "mySubnet"},
           {"Create an internet client.", "cove vm create -g MyResourceGroup -n outsider --public"},
           {"Create a VM with a system assigned identity that may pull from a "
            "registry.",
            "cove vm create -g MyResourceGroup -n vm1 --vnet-name myVNet --subnet "
            "mySubnet --assign-identity --role AcrPull --scope $(cove acr show -n "
            "myregistry --query id -o tsv)"}}});
  AddShowListDelete(r,
                    {.group_path = {"vm"},
                     .noun = "virtual machine",
                     .name_help = VmNameArg().help,
                     .api = kApiCompute,
                     .path_of = VmPath,
                     .list_path =
                         [](const std::string& sub, const ParsedArgs& a) {
                           return GroupPath(sub, a.GetOr("--resource-group", "")) + "/providers/" +
                                  kVmType;
                         },
                     .list_group_optional = true,
                     .subscription_list_path =
                         [](const std::string& sub, const ParsedArgs&) {
                           return "/subscriptions/" + sub + "/providers/" + kVmType;
                         }},
                    true, true, false);
  r.AddCommand({.path = {"vm", "delete"},
                .summary = "Delete a VM (cove: and the <vm>VMNic network interface `vm create` "
                           "made for it).",
                .args = {GroupArg(), VmNameArg(), YesArg(), NoWaitArg()},
                .run = DeleteVm,
                .examples = {{"Delete a VM without a prompt for confirmation.",
                              "cove vm delete -g MyResourceGroup -n vm1 --yes"}},
                .supports_ids = true});
  r.AddCommand({.path = {"vm", "list-ip-addresses"},
                .summary = "List IP addresses associated with a VM.",
                .args = {{.name = "--resource-group", .aliases = {"-g"}, .help = GroupArg().help},
                         {.name = "--name", .aliases = {"-n"}, .help = VmNameArg().help}},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      auto sub = ctx.Subscription();
                      if (!sub) return Outcome::FromArm(sub.error());
                      std::string path = a.Has("--resource-group")
                                             ? GroupPath(*sub, *a.Get("--resource-group")) +
                                                   "/providers/" + kVmType
                                             : "/subscriptions/" + *sub + "/providers/" + kVmType;
                      Outcome all = ListAt(ctx, path, kApiCompute);
                      if (all.exit_code != 0) return all;
                      json out = json::array();
                      for (const auto& vm : *all.value) {
                        if (a.Has("--name") &&
                            !EqualsIgnoreCase(vm.value("name", ""), *a.Get("--name"))) {
                          continue;
                        }
                        out.push_back(IpView(vm));
                      }
                      return Outcome::Value(out);
                    },
                .examples = {{"Get the IP addresses for a VM.",
                              "cove vm list-ip-addresses -g MyResourceGroup -n vm1"}}});
  ArgSpec role_arg{.name = "--role",
                   .help =
                       "Role name or id the system assigned identity will have (give --scope "
                       "too)."};
  ArgSpec scope_arg{.name = "--scope",
                    .help =
                        "Scope that the system assigned identity can access (give --role "
                        "too)."};
  r.AddGroup({{"vm", "identity"}, "Manage service identities of a VM."});
  r.AddCommand(
      {.path = {"vm", "identity", "assign"},
       .summary = "Enable managed service identity on a VM.",
       .args = {GroupArg(),
                VmNameArg(),
                {.name = "--identities",
                 .help = "Space-separated identities to assign. Use '[system]' to refer to the "
                         "system assigned identity. Default: '[system]'.",
                 .kind = ArgKind::kOptionalList},
                role_arg,
                scope_arg},
       .run = AssignVmIdentity,
       .examples = {{"Enable the system assigned identity on a VM with the 'AcrPull' role.",
                     "cove vm identity assign -g MyResourceGroup -n vm1 --role AcrPull --scope "
                     "$(cove acr show -n myregistry --query id -o tsv)"},
                    {"Assign a user assigned identity too.",
                     "cove vm identity assign -g MyResourceGroup -n vm1 --identities [system] "
                     "myAssignedId"}},
       .supports_ids = true});
  r.AddCommand({.path = {"vm", "identity", "show"},
                .summary = "Display VM's managed identity info.",
                .args = {GroupArg(), VmNameArg()},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return ForEachTarget(ctx, a, VmPath, [&](const std::string& path) {
                        Outcome vm = ShowAt(ctx, path, kApiCompute);
                        if (vm.exit_code != 0 || !vm.value->contains("identity")) {
                          return vm.exit_code != 0 ? vm : Outcome::Nothing();
                        }
                        return Outcome::Value((*vm.value)["identity"]);
                      });
                    },
                .supports_ids = true});
  r.AddCommand(
      {.path = {"vm", "identity", "remove"},
       .summary = "Remove managed service identities from a VM.",
       .args = {GroupArg(),
                VmNameArg(),
                {.name = "--identities",
                 .help = "Space-separated identities to remove. Use '[system]' to refer to the "
                         "system assigned identity. Default: '[system]'.",
                 .kind = ArgKind::kOptionalList}},
       .run = RemoveVmIdentity,
       .examples = {{"Remove the system assigned identity.",
                     "cove vm identity remove -g MyResourceGroup -n vm1"},
                    {"Remove a user assigned identity.",
                     "cove vm identity remove -g MyResourceGroup -n vm1 --identities "
                     "readerId"}},
       .supports_ids = true});
  r.AddCommand({.path = {"vm", "exec"},
                .summary = "Run a command inside a VM, with this terminal's stdin, stdout and "
                           "stderr, and exit with its status (cove only; needs root).",
                .args = {{.name = "--resource-group",
                          .aliases = {"-g"},
                          .help = "Resource group of the VM. Default: the one VM of that name in "
                                  "the subscription."},
                         {.name = "--name",
                          .aliases = {"-n"},
                          .help = "Name of the VM (or give it as the first word)."},
                         {.name = "--site",
                          .help = "The VM is a host of this on-premises site (cove onprem "
                                  "machine); needs -g."},
                         FabricPrefixArg()},
                .run = ExecVm,
                .examples = {{"Resolve the registry as vm1 does.",
                              "sudo cove vm exec vm1 -- getent hosts myregistry.azurecr.io"},
                             {"Pull an image from inside vm1.",
                              "sudo cove vm exec vm1 -- skopeo inspect "
                              "docker://myregistry.azurecr.io/hello:v1"},
                             {"Resolve the registry on an on-premises host (through its site's DNS).",
                              "sudo cove vm exec -g MyResourceGroup --site branch host1 -- dig "
                              "myregistry.azurecr.io"}},
                .positional_and_rest = true});
  r.AddCommand({.path = {"down"},
                .summary =
                    "Remove what `cove up` made: its resource group, through coved, which removes "
                    "the namespaces; with --all every resource group of every subscription. When "
                    "coved is not reachable, removes the namespaces with the prefix itself (cove "
                    "only).",
                .args = {{.name = "--resource-group",
                          .aliases = {"-g"},
                          .help = "Resource group `cove up` created.",
                          .default_text = "myResourceGroup"},
                         {.name = "--all",
                          .help = "Delete every resource group in every subscription.",
                          .kind = ArgKind::kSwitch},
                         FabricPrefixArg()},
                .run = Down,
                .examples = {{"Undo `cove up`.", "sudo cove down"}}});
}

}  // namespace cove::cli
