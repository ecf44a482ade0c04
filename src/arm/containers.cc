// Microsoft.ContainerInstance/containerGroups (api-version 2023-05-01), on the public network.
//
// PUT .../providers/Microsoft.ContainerInstance/containerGroups/{name}
//   {"location", "identity"?, "properties": {
//     "containers": [{"name", "properties": {"image", "command"?: [..],
//        "ports"?: [{"port", "protocol"?}], "environmentVariables"?: [{"name",
//        "value"|"secureValue"}], "resources": {"requests": {"cpu", "memoryInGB"}, "limits"?:
//        {"cpu"?, "memoryInGB"?}}}}],
//     "osType": "Linux", "restartPolicy"?: "Always"|"OnFailure"|"Never",
//     "ipAddress"?: {"type": "Public", "ports": [{"port", "protocol"?}], "dnsNameLabel"?},
//     "imageRegistryCredentials"?: [{"server", "identity"? | "username" + "password"?}]}}
// cove runs every group on the public (internet) network, with an address from the pool that
// public VMs draw from (198.51.100.2-99, compute.cc); ipAddress.type Private and subnetIds are
// refused, and so are volumes and initContainers (FeatureNotSupported). The group's containers
// run for real (issue 16): coved's containers plane (daemon/containers_plane.h) pulls each image
// from inside the group's namespace with its imageRegistryCredentials and runs it with runc.
// What it reports comes back through the ContainerGroupRuntime (control_plane.h) on every read:
// properties.provisioningState, properties.instanceView {state, events} and each container's
// instanceView {restartCount, currentState, previousState, events}. Without a runtime (coved
// not running its planes: not root, or --no-fabric) the group is Pending and its containers
// Waiting, saying why — never a made-up Running. The answer also has ipAddress.ip (when
// ipAddress was given) and properties.cove {"network": "public", "publicIpAddress"}.
//
// ACI's operations on a group: POST {group}/restart (204), {group}/stop (204), {group}/start
// (202), and GET {group}/containers/{container}/logs?tail=N → {"content"} (ACI's Containers -
// List Logs); RBAC's actions are Azure's (containerGroups/restart/action, ...,
// containerGroups/containers/logs/read). Passwords and secureValues are
// never answered: they are sealed (arm/identity_support.h SecretBox) in "<group key>/#secrets"
// as {"env": {"<container>/<variable>": sealed}, "registries": {"<server, lowercase>": sealed}},
// which no snapshot carries. imageRegistryCredentials[].identity must be one of the group's
// user-assigned identities (InvalidImageRegistryIdentity, as ACI answers). Groups carry the
// managed-identity block of arm/identities.cc; "_cove.machineId" is a GUID kept for the life
// of the group (the snapshot's MachineView::machine_id). PATCH changes tags only, as ACI's
// Update does (engine.cc).
//
// Error codes are ACI's where its answers are known (InvalidOsType, ResourceRequestsNotSpecified,
// ResourceLimitsLessThanRequests, MoreImageRegistryCredentialsThanContainers,
// InvalidImageRegistryIdentity); otherwise ARM's InvalidRequestContent naming the field.
#include <cctype>
#include <set>

#include "arm/container_names.h"
#include "arm/engine.h"
#include "arm/identity_support.h"
#include "arm/onprem_support.h"
#include "arm/projection.h"
#include "arm/provider.h"
#include "oci/reference.h"

namespace cove::arm {
namespace {

constexpr double kMaxGroupCpu = 4;
constexpr double kMaxGroupMemoryGb = 16;
constexpr size_t kMaxContainers = 60;

// A registry server as imageRegistryCredentials names it: a host name, optionally with a port,
// without a scheme or a path.
bool IsValidServer(std::string_view server) {
  std::string_view host = server.substr(0, server.find(':'));
  if (host.size() != server.size()) {
    std::string_view port = server.substr(host.size() + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return IsValidDnsName(host, 1);
}

// A positive number at body[key], or nullopt when absent; BadContent for anything else.
Result<std::optional<double>> Number(const Body& b, const char* key) {
  if (b.json() == nullptr || !b.json()->is_object()) return std::optional<double>();
  auto it = b.json()->find(key);
  if (it == b.json()->end() || it->is_null()) return std::optional<double>();
  if (!it->is_number())
    return tl::unexpected(BadContent(b.where() + "." + key, "must be a number"));
  double v = it->get<double>();
  if (!(v > 0) || v > 1e6) {
    return tl::unexpected(BadContent(b.where() + "." + key, "must be a positive number"));
  }
  return std::optional<double>(v);
}

// 1.5 → 1.5, 2.0 → 2 (as ACI answers them).
Json NumberJson(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) return Json(static_cast<int64_t>(v));
  return Json(v);
}

std::string FormatNumber(double v) {
  std::string s = NumberJson(v).dump();
  return s;
}

// [{"port", "protocol"}] with ports 1-65535 and protocol TCP (default) or UDP.
Result<Json> Ports(const Body& owner, const char* key) {
  COVE_ASSIGN_OR_RETURN(auto ports, owner.Array(key));
  Json out = Json::array();
  for (const Body& port : ports) {
    COVE_ASSIGN_OR_RETURN(auto number, port.Int("port"));
    if (!number || *number < 1 || *number > 65535) {
      return tl::unexpected(BadContent(port.where() + ".port", "must be an integer in 1-65535"));
    }
    COVE_ASSIGN_OR_RETURN(auto protocol, port.Enum("protocol", {"TCP", "UDP"}));
    out.push_back({{"protocol", protocol.value_or("TCP")}, {"port", *number}});
  }
  return out;
}

}  // namespace

Status Engine::PutContainerGroup(const ArmPath& p, const Json& body, const Json* existing) {
  const std::string& name = p.names.back();
  if (existing == nullptr && !IsValidAciName(name)) {
    return tl::unexpected(NameInvalid(name, "Microsoft.ContainerInstance/containerGroups",
                                      "Names are 1-63 lowercase letters, digits or '-', not "
                                      "starting or ending with '-' and without '--'."));
  }
  const std::string group = existing != nullptr ? existing->value("name", name) : name;
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  if (!props.present()) return tl::unexpected(BadContent("properties", "is required"));

  // --- network: public only
  COVE_ASSIGN_OR_RETURN(Body ip, props.Object("ipAddress"));
  COVE_ASSIGN_OR_RETURN(auto ip_type, ip.Enum("type", {"Public", "Private"}));
  COVE_ASSIGN_OR_RETURN(auto subnets, props.Array("subnetIds"));
  if (ip_type == std::optional<std::string>("Private") || !subnets.empty()) {
    return ArmFail(400, "PrivateNetworkNotSupported",
                   "Container group '" + group +
                       "': cove runs container groups on the public (internet) network only; "
                       "ipAddress.type 'Private' and subnetIds (virtual network injection) are "
                       "not supported. Use ipAddress.type 'Public' or leave ipAddress out.");
  }

  // --- what cove does not run: say so rather than drop it
  for (const char* field : {"volumes", "initContainers"}) {
    COVE_ASSIGN_OR_RETURN(auto items, props.Array(field));
    if (!items.empty()) {
      return ArmFail(400, "FeatureNotSupported",
                     "Container group '" + group + "': cove does not run properties." + field +
                         " yet; leave it out or empty.");
    }
  }

  // --- osType, restartPolicy
  COVE_ASSIGN_OR_RETURN(auto os_type, props.String("osType"));
  if (!os_type ||
      (!EqualsIgnoreCase(*os_type, "Linux") && !EqualsIgnoreCase(*os_type, "Windows"))) {
    return ArmFail(400, "InvalidOsType",
                   "The 'osType' for container group '" + group +
                       "' is invalid. The value must be one of 'Windows,Linux'.");
  }
  if (!EqualsIgnoreCase(*os_type, "Linux")) {
    return ArmFail(400, "InvalidOsType",
                   "The 'osType' '" + *os_type + "' for container group '" + group +
                       "' is not supported: cove runs Linux container groups only.");
  }
  COVE_ASSIGN_OR_RETURN(auto restart,
                        props.Enum("restartPolicy", {"Always", "OnFailure", "Never"}));

  // --- identity (needed before the registry credentials that name one)
  COVE_RETURN_IF_ERROR(ApplyMachineIdentity(body, existing, doc));
  std::set<std::string> user_identities;
  if (doc.contains("identity") && doc["identity"].contains("userAssignedIdentities")) {
    for (const auto& [id, v] : doc["identity"]["userAssignedIdentities"].items()) {
      user_identities.insert(Lower(id));
    }
  }

  // --- containers
  COVE_ASSIGN_OR_RETURN(auto containers, props.Array("containers"));
  if (containers.empty()) {
    return tl::unexpected(BadContent("properties.containers", "must hold at least one container"));
  }
  if (containers.size() > kMaxContainers) {
    return tl::unexpected(BadContent("properties.containers", "holds more than 60 containers"));
  }
  Json secrets_env = Json::object();
  Json out_containers = Json::array();
  std::set<std::string> names;
  double total_cpu = 0, total_memory = 0;
  for (const Body& c : containers) {
    COVE_ASSIGN_OR_RETURN(auto cname, c.String("name"));
    if (!cname || !IsValidAciName(*cname)) {
      return ArmFail(400, "InvalidContainerName",
                     "The container name '" + cname.value_or("") + "' in container group '" +
                         group +
                         "' is invalid. Names are 1-63 lowercase letters, digits or '-', not "
                         "starting or ending with '-'.");
    }
    if (!names.insert(*cname).second) {
      return ArmFail(400, "DuplicateContainerName",
                     "The container name '" + *cname +
                         "' is used more than once in container "
                         "group '" +
                         group + "'.");
    }
    COVE_ASSIGN_OR_RETURN(Body cp, c.Object("properties"));
    COVE_ASSIGN_OR_RETURN(auto image, cp.String("image"));
    if (!image || image->empty()) {
      return tl::unexpected(BadContent(cp.where() + ".image", "is required"));
    }
    if (!IsValidImage(*image)) {
      return ArmFail(400, "InvalidImageName",
                     "The image '" + *image + "' in container group '" + group +
                         "' is not a valid image name ([registry/]repository[:tag|@digest]).");
    }
    bool have_command = false;
    COVE_ASSIGN_OR_RETURN(auto command, cp.StringArray("command", &have_command));
    COVE_ASSIGN_OR_RETURN(Json ports, Ports(cp, "ports"));
    COVE_ASSIGN_OR_RETURN(auto env, cp.Array("environmentVariables"));
    Json out_env = Json::array();
    std::set<std::string> env_names;
    for (const Body& e : env) {
      COVE_ASSIGN_OR_RETURN(auto ename, e.String("name"));
      COVE_ASSIGN_OR_RETURN(auto value, e.String("value"));
      COVE_ASSIGN_OR_RETURN(auto secure, e.String("secureValue"));
      if (!ename || !IsValidEnvName(*ename)) {
        return tl::unexpected(BadContent(e.where() + ".name",
                                         "must be 1-63 letters, digits or '_', not starting "
                                         "with a digit"));
      }
      if (!env_names.insert(*ename).second) {
        return tl::unexpected(BadContent(e.where() + ".name", "repeats '" + *ename + "'"));
      }
      if (value && secure) {
        return tl::unexpected(
            BadContent(e.where(), "has both value and secureValue; give one of them"));
      }
      if (secure) {
        secrets_env[*cname + "/" + *ename] = *secure;
        out_env.push_back({{"name", *ename}});
      } else {
        out_env.push_back({{"name", *ename}, {"value", value.value_or("")}});
      }
    }
    COVE_ASSIGN_OR_RETURN(Body resources, cp.Object("resources"));
    COVE_ASSIGN_OR_RETURN(Body requests, resources.Object("requests"));
    COVE_ASSIGN_OR_RETURN(auto cpu, Number(requests, "cpu"));
    COVE_ASSIGN_OR_RETURN(auto memory, Number(requests, "memoryInGB"));
    if (!cpu || !memory) {
      return ArmFail(400, "ResourceRequestsNotSpecified",
                     "The resource requests are not specified in container '" + *cname +
                         "' of contain group '" + group +
                         "'. Both memory and CPU requests are required since API version "
                         "'2017-07-01-preview'.");
    }
    COVE_ASSIGN_OR_RETURN(Body limits, resources.Object("limits"));
    COVE_ASSIGN_OR_RETURN(auto cpu_limit, Number(limits, "cpu"));
    COVE_ASSIGN_OR_RETURN(auto memory_limit, Number(limits, "memoryInGB"));
    Json out_resources = {
        {"requests", {{"memoryInGB", NumberJson(*memory)}, {"cpu", NumberJson(*cpu)}}}};
    if (cpu_limit || memory_limit) {
      const char* which = cpu_limit && *cpu_limit < *cpu            ? "Cpu"
                          : memory_limit && *memory_limit < *memory ? "MemoryInGB"
                                                                    : nullptr;
      if (which != nullptr) {
        return ArmFail(400, "ResourceLimitsLessThanRequests",
                       "The resource requirement in container '" + *cname + "' of contain group '" +
                           group + "' is invalid. The '" + which +
                           "' limit value must be greater than or equal to the request value.");
      }
      Json l = Json::object();
      if (memory_limit) l["memoryInGB"] = NumberJson(*memory_limit);
      if (cpu_limit) l["cpu"] = NumberJson(*cpu_limit);
      out_resources["limits"] = l;
    }
    total_cpu += *cpu;
    total_memory += *memory;
    Json out_props = {{"image", *image},
                      {"ports", ports},
                      {"environmentVariables", out_env},
                      {"resources", out_resources},
                      {"instanceView",
                       {{"restartCount", 0},
                        {"currentState", {{"state", "Running"}, {"detailStatus", ""}}},
                        {"events", Json::array()}}}};
    if (have_command) out_props["command"] = command;
    out_containers.push_back({{"name", *cname}, {"properties", out_props}});
  }
  if (total_cpu > kMaxGroupCpu || total_memory > kMaxGroupMemoryGb) {
    return ArmFail(400, "ResourceRequestsExceedLimits",
                   "The requested resource is not available in the location '" +
                       doc.value("location", "") +
                       "' at this moment. Please retry with a different resource request or in "
                       "another location. Resource requested: '" +
                       FormatNumber(total_cpu) + "' CPU '" + FormatNumber(total_memory) +
                       "' GB memory 'Linux' OS (cove allows 4 CPU and 16 GB per group).");
  }

  // --- registry credentials
  COVE_ASSIGN_OR_RETURN(auto creds, props.Array("imageRegistryCredentials"));
  if (creds.size() > containers.size()) {
    return ArmFail(400, "MoreImageRegistryCredentialsThanContainers",
                   "More image registry credentials provided than containers in container group '" +
                       group + "'.");
  }
  Json secrets_registries = Json::object();
  Json out_creds = Json::array();
  for (const Body& cred : creds) {
    COVE_ASSIGN_OR_RETURN(auto server, cred.String("server"));
    COVE_ASSIGN_OR_RETURN(auto identity, cred.String("identity"));
    COVE_ASSIGN_OR_RETURN(auto username, cred.String("username"));
    COVE_ASSIGN_OR_RETURN(auto password, cred.String("password"));
    if (!server || !IsValidServer(*server)) {
      return ArmFail(400, "InvalidImageRegistryServer",
                     "The server '" + server.value_or("") +
                         "' in the 'imageRegistryCredentials' of container group '" + group +
                         "' is invalid. It should be a valid host name without protocol.");
    }
    if (identity) {
      if (username || password) {
        return tl::unexpected(BadContent(
            cred.where(), "names an identity and a username/password; give one of them"));
      }
      if (!user_identities.count(Lower(*identity))) {
        return ArmFail(400, "InvalidImageRegistryIdentity",
                       "The identity in the 'imageRegistryCredentials' of container group '" +
                           group + "' not found in container group identity list");
      }
      out_creds.push_back({{"server", *server}, {"identity", *identity}});
      continue;
    }
    if (!username || username->empty()) {
      return tl::unexpected(
          BadContent(cred.where(), "needs an identity or a username (with a password)"));
    }
    if (password) secrets_registries[Lower(*server)] = *password;
    out_creds.push_back({{"server", *server}, {"username", *username}});
  }

  // --- address, secrets, answer
  std::string key = p.Key();
  COVE_ASSIGN_OR_RETURN(std::string address, AllocatePublicIp(key, existing));
  if (!secrets_env.empty() || !secrets_registries.empty()) {
    if (secrets_ == nullptr) {
      return ArmFail(500, "InternalServerError", "No credentials key in this request.");
    }
    Json sealed = {{"env", Json::object()}, {"registries", Json::object()}};
    for (auto* part : {&secrets_env, &secrets_registries}) {
      const char* field = part == &secrets_env ? "env" : "registries";
      for (const auto& [k, v] : part->items()) {
        auto box = secrets_->Seal(v.get<std::string>());
        if (!box) return ArmFail(500, "InternalServerError", box.error().ToString());
        sealed[field][k] = *box;
      }
    }
    txn_.Put(key + "/#secrets", sealed);
  } else {
    txn_.Erase(key + "/#secrets");
  }
  Json& dp = doc["properties"];
  dp = Json::object();
  dp["sku"] = "Standard";
  dp["provisioningState"] = "Succeeded";
  dp["containers"] = out_containers;
  dp["initContainers"] = Json::array();
  dp["restartPolicy"] = restart.value_or("Always");
  dp["osType"] = "Linux";
  dp["imageRegistryCredentials"] = out_creds;
  if (ip.present()) {
    COVE_ASSIGN_OR_RETURN(Json ports, Ports(ip, "ports"));
    COVE_ASSIGN_OR_RETURN(auto label, ip.String("dnsNameLabel"));
    Json out_ip = {{"type", "Public"}, {"ip", address}, {"ports", ports}};
    if (label) out_ip["dnsNameLabel"] = *label;
    dp["ipAddress"] = out_ip;
  }
  dp["instanceView"] = {{"state", "Running"}, {"events", Json::array()}};
  dp["cove"] = {{"network", "public"}, {"publicIpAddress", address}};
  std::string machine_id;
  if (existing != nullptr && existing->contains("_cove")) {
    machine_id = (*existing)["_cove"].value("machineId", "");
  }
  if (machine_id.empty()) machine_id = Guid();
  if (!doc.contains("_cove") || !doc["_cove"].is_object()) doc["_cove"] = Json::object();
  doc["_cove"]["machineId"] = machine_id;
  txn_.Put(key, doc);
  return {};
}

namespace {

constexpr char kNoRuntime[] = "cove runs containers only in coved's full mode as root";

// The group as answered: its live state from the runtime (see the top of this file).
Json RenderContainerGroup(const Engine& engine, const Json& doc) {
  Json out = doc;
  if (!out.contains("properties") || !out["properties"].is_object()) return out;
  Json& props = out["properties"];
  const ContainerGroupRuntime* runtime = engine.container_runtime();
  std::optional<Json> view;
  if (runtime != nullptr && runtime->instance_view) view = runtime->instance_view(Str(doc, "id"));
  if (!view || !view->is_object()) {
    props["instanceView"] = {{"state", "Pending"}, {"events", Json::array()}};
  } else {
    if (view->contains("provisioningState")) {
      props["provisioningState"] = (*view)["provisioningState"];
    }
    props["instanceView"] = {{"state", view->value("state", "Pending")},
                             {"events", view->value("events", Json::array())}};
  }
  if (!props.contains("containers") || !props["containers"].is_array()) return out;
  for (Json& c : props["containers"]) {
    if (!c.contains("properties") || !c["properties"].is_object()) continue;
    const std::string name = Str(c, "name");
    const Json* live = nullptr;
    if (view && view->contains("containers") && (*view)["containers"].is_object() &&
        (*view)["containers"].contains(name)) {
      live = &(*view)["containers"][name];
    }
    if (live != nullptr) {
      c["properties"]["instanceView"] = *live;
    } else {
      c["properties"]["instanceView"] = {
          {"restartCount", 0},
          {"currentState",
           {{"state", "Waiting"}, {"detailStatus", runtime == nullptr ? kNoRuntime : ""}}},
          {"events", Json::array()}};
    }
  }
  return out;
}

Result<ArmResponse> NoRuntime(const Json& group) {
  return ArmFail(409, "ContainerGroupRuntimeUnavailable",  // cove's name
                 "Container group '" + Str(group, "name") + "': " + kNoRuntime + ".");
}

// POST {group}/restart|stop|start.
std::optional<Result<ArmResponse>> ContainerGroupAction(Engine& engine, const ArmPath& target,
                                                        const std::string& action,
                                                        const std::string&) {
  if (action != "restart" && action != "stop" && action != "start") return std::nullopt;
  const Json& group = *engine.txn().Get(target.Key());
  const ContainerGroupRuntime* runtime = engine.container_runtime();
  if (runtime == nullptr || !runtime->act) return NoRuntime(group);
  if (Status done = runtime->act(Str(group, "id"), action); !done) {
    if (done.error().code == Code::kNotFound) {
      return ArmFail(409, "ContainerGroupTransitioning",
                     "The container group '" + Str(group, "name") +
                         "' is still transitioning, please retry later.");
    }
    return ArmFail(500, "InternalServerError", done.error().message);
  }
  return ArmResponse{action == "start" ? 202 : 204, std::nullopt};
}

// GET {group}/containers/{container}/logs[?tail=N]: {"content": "..."}.
Result<ArmResponse> ContainerLogs(Engine& engine, const ArmPath& p, bool single) {
  if (single) {
    return ArmFail(404, "InvalidResourceType",
                   "The resource type 'containerGroups/containers/logs' has no members.");
  }
  ArmPath group_path = p;
  group_path.kind = PathKind::kResource;
  group_path.types.resize(1);
  group_path.names.resize(1);
  const Json& group = *engine.txn().Get(group_path.Key());
  const std::string container = p.names.back();
  bool known = false;
  for (const Json& c : Field(group, "properties").value("containers", Json::array())) {
    known = known || Str(c, "name") == container;
  }
  if (!known) {
    return ArmFail(404, "ContainerNotFound",
                   "The container '" + container + "' is not found in container group '" +
                       Str(group, "name") + "'.");
  }
  const ContainerGroupRuntime* runtime = engine.container_runtime();
  if (runtime == nullptr || !runtime->logs) return NoRuntime(group);
  std::optional<int> tail;
  if (const ArmRequest* r = engine.request(); r != nullptr && !r->tail.empty()) {
    char* end = nullptr;
    long v = std::strtol(r->tail.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > 1000000) {
      return tl::unexpected(BadContent("tail", "must be a non-negative integer"));
    }
    tail = static_cast<int>(v);
  }
  auto content = runtime->logs(Str(group, "id"), container, tail);
  if (!content) {
    if (content.error().code == Code::kNotFound) return ArmResponse{200, Json{{"content", ""}}};
    return ArmFail(500, "InternalServerError", content.error().message);
  }
  return ArmResponse{200, Json{{"content", *content}}};
}

}  // namespace

Status Engine::DeleteContainerGroup(const std::string& key) {
  DropMachineIdentity(key);
  txn_.EraseTree(key);
  return {};
}

void RegisterContainerProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.ContainerInstance/containerGroups",
                .location = LocationRule::kRegional,
                .api_versions = ContainerInstanceApiVersions(),
                .delete_rank = 20,
                .put = EngineFn<&Engine::PutContainerGroup>,
                .remove = EngineFn<&Engine::DeleteContainerGroup>,
                .render = RenderContainerGroup,
                .project = ProjectMachine,
                // ACI's Update changes a group's tags only.
                .patch_updates_tags_only = true,
                .action = ContainerGroupAction});
  registry.Add({.type = "Microsoft.ContainerInstance/containerGroups/containers/logs",
                .api_versions = ContainerInstanceApiVersions(),
                .computed = ContainerLogs,
                .parent_not_stored = true});
}

}  // namespace cove::arm
