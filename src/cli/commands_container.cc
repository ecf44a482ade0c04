// container create|show|list|delete|exec — az's Azure Container Instances commands against
// coved's Microsoft.ContainerInstance/containerGroups (api-version 2023-05-01).
//
// A cove container group is a network identity, not a container runtime: coved gives it a
// network namespace (fabric::Fabric::VmNamespace(<group id>), as for VMs) on the public
// (internet) network with an address from the public pool, an IMDS for its managed identities,
// and marks calls from it as coming from a trusted Azure service (ACR's trusted-services rule).
//
// Where cove differs from az:
// - The image is recorded, never pulled or run; `--command-line`, `--cpu`, `--memory`,
//   `--restart-policy` and environment variables are recorded as ACI records them. The group
//   is "Running" as soon as it is created.
// - `container exec` runs a HOST command (`--exec-command`, split as a shell would split it)
//   inside the group's network namespace (root), as `vm exec` does for VMs, with the caller's
//   stdin/stdout/stderr, and exits with its status; az opens a terminal in the running
//   container. So `cove container exec -g G -n N --exec-command "cove login --identity"`
//   signs in with the group's identity, and `... "cove acr login -n myregistry"` reaches the
//   registry as ACI would. --container-name is accepted and must name the group's container.
// - Only public groups: `--ip-address Private`, --vnet and --subnet are refused by coved (400)
//   with a message saying cove runs container groups on the public network only.
// - --dns-name-label, --azure-file-volume-*, --gitrepo-*, --log-analytics-*, --secrets and
//   Windows containers are not implemented.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "cli/commands.h"
#include "fabric/fabric.h"
#include "fabric/namespaces.h"
#include "runtime/naming.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kGroupType[] = "Microsoft.ContainerInstance/containerGroups";

std::string GroupPathOf(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, a.GetOr("--resource-group", ""), kGroupType, a.GetOr("--name", ""));
}

// az's view of a container group: the group as the service answers it (cli.cc flattens
// `properties` of the group and of each container, as the SDK does); secure values and
// registry passwords never come back from the service.
json GroupView(const json& group) { return group; }

std::optional<Outcome> NameValues(const std::vector<std::string>& pairs, const char* value_key,
                                  const char* flag, json& into) {
  for (const auto& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Outcome::Usage("usage error: " + std::string(flag) +
                            " takes space-separated KEY=VALUE pairs, got '" + p + "'");
    }
    into.push_back({{"name", p.substr(0, eq)}, {value_key, p.substr(eq + 1)}});
  }
  return std::nullopt;
}

bool IsNumber(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0' && v > 0;
}

// The registry of `image` ("myregistry.azurecr.io/app:v1" → "myregistry.azurecr.io"), as az's
// image parsing finds it; "" for a Docker Hub image.
std::string RegistryOfImage(const std::string& image) {
  size_t slash = image.find('/');
  if (slash == std::string::npos) return "";
  std::string head = image.substr(0, slash);
  if (head.find('.') == std::string::npos && head.find(':') == std::string::npos &&
      head != "localhost") {
    return "";
  }
  return AsciiLower(head);
}

Outcome CreateGroup(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  std::string group = *a.Get("--resource-group"), name = *a.Get("--name");
  // Everything is checked before anything is sent.
  auto requested = CreateIdentityRequest(a, *sub, group);
  if (auto* stop = std::get_if<Outcome>(&requested)) return *stop;
  const auto& identity = std::get<std::optional<ManagedIdentityRequest>>(requested);
  for (const char* n : {"--cpu", "--memory"}) {
    if (auto v = a.Get(n); v && !IsNumber(*v)) {
      return Outcome::Usage("argument " + std::string(n) + ": invalid float value: '" + *v + "'");
    }
  }
  std::string image = *a.Get("--image");
  json container_props = {
      {"image", image},
      {"resources",
       {{"requests",
         {{"cpu", std::strtod(a.GetOr("--cpu", "1").c_str(), nullptr)},
          {"memoryInGB", std::strtod(a.GetOr("--memory", "1.5").c_str(), nullptr)}}}}}};
  if (auto cmd = a.Get("--command-line")) {
    auto argv = SplitCommandLine(*cmd);
    if (!argv || argv->empty()) {
      return Outcome::Usage("argument --command-line: cannot split '" + *cmd + "'");
    }
    container_props["command"] = *argv;
  }
  json env = json::array();
  if (auto stop = NameValues(a.GetList("--environment-variables"), "value",
                             "--environment-variables", env)) {
    return *stop;
  }
  if (auto stop = NameValues(a.GetList("--secure-environment-variables"), "secureValue",
                             "--secure-environment-variables", env)) {
    return *stop;
  }
  if (!env.empty()) container_props["environmentVariables"] = env;
  json ports = json::array();
  std::string protocol = a.GetOr("--protocol", "TCP");
  for (const auto& p : a.Has("--ports") ? a.GetList("--ports") : std::vector<std::string>{"80"}) {
    bool digits =
        !p.empty() && p.size() <= 5 && p.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(p) < 1 || std::stoi(p) > 65535) {
      return Outcome::Usage("argument --ports: invalid int value: '" + p + "'");
    }
    ports.push_back({{"port", std::stoi(p)}, {"protocol", protocol}});
  }
  container_props["ports"] = ports;
  json props = {{"containers", json::array({{{"name", name}, {"properties", container_props}}})},
                {"osType", a.GetOr("--os-type", "Linux")},
                {"restartPolicy", a.GetOr("--restart-policy", "Always")}};
  if (auto ip = a.Get("--ip-address")) props["ipAddress"] = {{"type", *ip}, {"ports", ports}};
  if (a.Has("--vnet") || a.Has("--subnet")) {
    std::string subnet = a.GetOr("--subnet", "");
    if (!IsResourceId(subnet)) {
      subnet = ResourcePath(
          *sub, group, "Microsoft.Network/virtualNetworks/" + a.GetOr("--vnet", "") + "/subnets",
          subnet);
    }
    props["subnetIds"] = json::array({{{"id", subnet}}});
  }
  // Registry credentials: an identity (az's --acr-identity) or a user and password.
  bool by_identity = a.Has("--acr-identity");
  bool by_password = a.Has("--registry-username") || a.Has("--registry-password");
  if (by_identity && by_password) {
    return Outcome::Usage(
        "usage error: --acr-identity cannot be combined with --registry-username or "
        "--registry-password");
  }
  if (by_password && !(a.Has("--registry-username") && a.Has("--registry-password"))) {
    return Outcome::Usage(
        "usage error: --registry-username and --registry-password are needed together");
  }
  if (by_identity || by_password || a.Has("--registry-login-server")) {
    std::string server = AsciiLower(a.GetOr("--registry-login-server", RegistryOfImage(image)));
    if (server.empty()) {
      return Outcome::Usage(
          "Please specify --registry-login-server in order to use custom image registry.");
    }
    json cred = {{"server", server}};
    if (by_identity) {
      std::string who = *a.Get("--acr-identity");
      if (!EqualsIgnoreCase(who, "[system]") && !IsResourceId(who)) {
        who = ResourcePath(*sub, group, "Microsoft.ManagedIdentity/userAssignedIdentities", who);
      }
      cred["identity"] = who;
    } else if (by_password) {
      cred["username"] = *a.Get("--registry-username");
      cred["password"] = *a.Get("--registry-password");
    } else {
      return Outcome::Usage(
          "usage error: --registry-login-server needs --acr-identity, or --registry-username "
          "and --registry-password");
    }
    props["imageRegistryCredentials"] = json::array({cred});
  }
  std::string location;
  if (auto l = a.Get("--location")) {
    location = *l;
  } else {
    auto l2 = GroupLocation(ctx, *sub, group);
    if (!l2) return Outcome::FromArm(l2.error());
    location = *l2;
  }
  json body = {{"location", location}, {"properties", props}};
  if (identity) body["identity"] = IdentityRequestJson(*identity);
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto made = (*arm)->Put(ResourcePath(*sub, group, kGroupType, name), kApiContainerInstance, body);
  if (!made) return Outcome::FromArm(made.error());
  if (identity) {
    if (auto stop = AssignSystemRole(ctx, a, made->value("identity", json::object()))) {
      return *stop;
    }
  }
  return Outcome::Value(GroupView(*made));
}

// The group's container named by --container-name, or its only one; a CLI error otherwise.
std::variant<json, Outcome> ContainerOf(const json& group, const ParsedArgs& a) {
  json containers = group.value("properties", json::object()).value("containers", json::array());
  if (auto c = a.Get("--container-name")) {
    for (const auto& k : containers) {
      if (k.value("name", "") == *c) return k;
    }
    return Outcome::Failure("The container '" + *c + "' is not found in container group '" +
                            group.value("name", "") + "'.");
  }
  if (containers.size() != 1) {
    return Outcome::Failure("The container group '" + group.value("name", "") + "' has " +
                            std::to_string(containers.size()) +
                            " containers: name one with --container-name.");
  }
  return containers[0];
}

// Runs `argv` (PATH searched) with this process's stdin/stdout/stderr; its exit status.
Outcome RunHere(Context& ctx, const std::vector<std::string>& argv) {
  ctx.out().flush();
  pid_t pid = ::fork();
  if (pid < 0) return Outcome::Failure("fork failed");
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Outcome::Failure("waitpid failed");
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Outcome{code, std::nullopt, ""};
}

Outcome ExecGroup(Context& ctx, const ParsedArgs& a) {
  auto argv = SplitCommandLine(*a.Get("--exec-command"));
  if (!argv || argv->empty()) {
    return Outcome::Usage("argument --exec-command: cannot split '" + *a.Get("--exec-command") +
                          "'");
  }
  const bool host = a.Has("--host-command");
  if (::geteuid() != 0) {
    return Outcome::Failure(std::string("cove container exec must run as root: it enters ") +
                            (host ? "the container group's network namespace"
                                  : "the container (runc exec)"));
  }
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto group = (*arm)->Get(GroupPathOf(*sub, a), kApiContainerInstance);
  if (!group) return Outcome::FromArm(group.error(), true);
  auto container = ContainerOf(*group, a);
  if (auto* stop = std::get_if<Outcome>(&container)) return *stop;
  const json& c = std::get<json>(container);
  std::string id = group->value("id", "");
  std::string prefix = a.GetOr("--fabric-prefix", ctx.env().fabric_prefix);
  if (!host) {
    // az: a terminal in the running container. cove: runc exec into it, on this host.
    json state = c.value("properties", json::object())
                     .value("instanceView", json::object())
                     .value("currentState", json::object());
    if (state.value("state", "") != "Running") {
      std::string detail = state.value("detailStatus", "");
      return Outcome::Failure("The container '" + c.value("name", "") + "' of container group '" +
                              group->value("name", "") + "' is not running (its state is " +
                              state.value("state", "unknown") +
                              (detail.empty() ? "" : ": " + detail) + ").");
    }
    std::vector<std::string> run = {"runc", "--root", runtime::RuncRoot(prefix), "exec"};
    if (::isatty(0) && ::isatty(1)) run.push_back("-t");
    run.push_back(runtime::ContainerId(prefix, id, c.value("name", "")));
    run.insert(run.end(), argv->begin(), argv->end());
    return RunHere(ctx, run);
  }
  fabric::LinuxNamespaces namespaces;
  fabric::Fabric fabric(namespaces, {.prefix = prefix});
  std::string ns = fabric.VmNamespace(id);
  auto existing = fabric.Existing();
  bool exists = false;
  if (existing) {
    for (const auto& e : *existing) exists = exists || e == ns;
  }
  if (!exists) {
    return Outcome::Failure("the container group's network namespace " + ns +
                            " does not exist: coved realizes container groups only when it runs "
                            "as root in full mode, with --fabric-prefix " +
                            prefix + " (set --fabric-prefix or COVE_FABRIC_PREFIX to coved's)");
  }
  ctx.out().flush();
  auto pid = fabric.Spawn(id, *argv, 0, 1, 2);
  if (!pid) return Outcome::Failure("cannot run " + (*argv)[0] + ": " + pid.error().message);
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0) {
    if (errno != EINTR) return Outcome::Failure("waitpid failed");
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Outcome{code, std::nullopt, ""};
}

// The container's state word ("Running", "Terminated", ...) and whether it is over for good
// (Terminated under a policy that will not run it again, or the group stopped).
std::pair<std::string, bool> StateOf(const json& group, const std::string& container) {
  const json props = group.value("properties", json::object());
  std::string policy = props.value("restartPolicy", "Always");
  std::string group_state = props.value("instanceView", json::object()).value("state", "");
  for (const auto& c : props.value("containers", json::array())) {
    if (c.value("name", "") != container) continue;
    json cur = c.value("properties", json::object())
                   .value("instanceView", json::object())
                   .value("currentState", json::object());
    std::string state = cur.value("state", "");
    int exit_code = cur.value("exitCode", 0);
    bool over = group_state == "Stopped" ||
                (state == "Terminated" &&
                 (policy == "Never" || (policy == "OnFailure" && exit_code == 0)));
    return {state, over};
  }
  return {"", true};
}

// container logs [--follow] and attach: the container's output through ACI's logs API.
Outcome LogsOf(Context& ctx, const ParsedArgs& a, bool follow) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  const std::string path = GroupPathOf(*sub, a);
  auto group = (*arm)->Get(path, kApiContainerInstance);
  if (!group) return Outcome::FromArm(group.error(), true);
  auto container = ContainerOf(*group, a);
  if (auto* stop = std::get_if<Outcome>(&container)) return *stop;
  const std::string name = std::get<json>(container).value("name", "");
  size_t shown = 0;
  for (;;) {
    auto logs = (*arm)->Get(path + "/containers/" + name + "/logs", kApiContainerInstance);
    if (!logs) return Outcome::FromArm(logs.error(), true);
    std::string content = logs->value("content", "");
    // A rotated log can be shorter than what was shown: show it whole again.
    if (content.size() < shown) shown = 0;
    ctx.out() << content.substr(shown);
    ctx.out().flush();
    shown = content.size();
    if (!follow) break;
    auto now = (*arm)->Get(path, kApiContainerInstance);
    if (!now) return Outcome::FromArm(now.error(), true);
    if (StateOf(*now, name).second) break;
    ::usleep(1'000'000);
  }
  return Outcome{0, std::nullopt, ""};
}

// container restart|stop|start: ACI's POST actions.
Outcome ActOn(Context& ctx, const ParsedArgs& a, const std::string& action) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto done = (*arm)->Post(GroupPathOf(*sub, a) + "/" + action, kApiContainerInstance);
  if (!done) return Outcome::FromArm(done.error(), true);
  return Outcome{0, std::nullopt, ""};
}

}  // namespace

std::optional<std::vector<std::string>> SplitCommandLine(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string::npos) return std::nullopt;
      word += line.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '"') {
      ++i;
      for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() &&
            (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$' ||
             line[i + 1] == '`')) {
          ++i;
        }
        word += line[i];
      }
      if (i >= line.size()) return std::nullopt;
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) return std::nullopt;
      word += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(word);
  return out;
}

void AddContainerCommands(Registry& r) {
  r.AddGroup({{"container"},
              "Manage Azure Container Instances (cove: container groups on the public network "
              "whose images coved pulls and runs with runc)."});
  r.AddCommand(
      {.path = {"container", "create"},
       .summary = "Create a container group (cove: records the containers and gives the group a "
                  "public address, a network namespace and its managed identities).",
       .args = {GroupArg(true, false),
                NameArg("The name of the container group.", true, false),
                {.name = "--image", .help = "The container image name.", .required = true},
                {.name = "--command-line",
                 .help = "The command line to run when the container is started, e.g. '/bin/bash "
                         "-c myscript.sh'."},
                {.name = "--assign-identity",
                 .help = "Space-separated list of assigned identities. Assigned identities are "
                         "either user assigned identities (resource IDs) and / or the system "
                         "assigned identity ('[system]'). See examples for more info.",
                 .kind = ArgKind::kOptionalList},
                {.name = "--role",
                 .help = "Role name or id the system assigned identity will have (with --scope)."},
                {.name = "--scope",
                 .help = "Scope that the system assigned identity can access (with --role)."},
                {.name = "--acr-identity",
                 .help = "The identity with access to the container registry."},
                {.name = "--registry-login-server",
                 .help = "The container image registry login server."},
                {.name = "--registry-username",
                 .help = "The username to log in container image registry server."},
                {.name = "--registry-password",
                 .help = "The password to log in container image registry server."},
                {.name = "--ip-address",
                 .help = "The IP address type of the container group (cove: Public only).",
                 .choices = {"Public", "Private"}},
                {.name = "--ports",
                 .help = "A list of ports to open. Space-separated list of ports.",
                 .kind = ArgKind::kList,
                 .default_text = "[80]"},
                {.name = "--protocol",
                 .help = "The network protocol to use.",
                 .choices = {"TCP", "UDP"}},
                {.name = "--cpu",
                 .help = "The required number of CPU cores of the containers, accurate to one "
                         "decimal place.",
                 .default_text = "1"},
                {.name = "--memory",
                 .help = "The required memory of the containers in GB, accurate to one decimal "
                         "place.",
                 .default_text = "1.5"},
                {.name = "--restart-policy",
                 .help = "Restart policy for all containers within the container group.",
                 .choices = {"Always", "OnFailure", "Never"},
                 .default_text = "Always"},
                {.name = "--os-type",
                 .help = "The OS type of the containers.",
                 .choices = {"Linux", "Windows"},
                 .default_text = "Linux"},
                {.name = "--environment-variables",
                 .aliases = {"-e"},
                 .help = "A list of environment variable for the container. Space-separated values "
                         "in 'key=value' format.",
                 .kind = ArgKind::kList},
                {.name = "--secure-environment-variables",
                 .help = "A list of secure environment variable for the container. Space-separated "
                         "values in 'key=value' format.",
                 .kind = ArgKind::kList},
                {.name = "--vnet",
                 .help = "The name of the VNET when creating a new one or referencing an existing "
                         "one (cove: refused, public groups only)."},
                {.name = "--subnet",
                 .help = "The name of the subnet when creating a new VNET or referencing an "
                         "existing one (cove: refused, public groups only)."},
                LocationArg(" If not specified, the location of the resource group will be used."),
                NoWaitArg()},
       .run = CreateGroup,
       .examples = {
           {"Create a container group that pulls from a registry with a user assigned "
            "identity.",
            "cove container create -g MyResourceGroup -n mygroup --image "
            "myregistry.azurecr.io/app:v1 --assign-identity $ID --acr-identity $ID "
            "--ip-address Public"},
           {"Create a container group with a system assigned identity that may pull.",
            "cove container create -g MyResourceGroup -n mygroup --image nginx "
            "--assign-identity --role AcrPull --scope $(cove acr show -n myregistry --query id "
            "-o tsv)"}}});
  r.AddCommand({.path = {"container", "show"},
                .summary = "Get the details of a container group.",
                .args = {GroupArg(), NameArg("The name of the container group.")},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      return ForEachTarget(ctx, a, GroupPathOf, [&](const std::string& path) {
                        Outcome got = ShowAt(ctx, path, kApiContainerInstance);
                        if (got.exit_code == 0) got.value = GroupView(*got.value);
                        return got;
                      });
                    },
                .supports_ids = true});
  r.AddCommand({.path = {"container", "list"},
                .summary = "List container groups.",
                .args = {GroupArg(false, false)},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  std::string path =
                      a.Has("--resource-group")
                          ? GroupPath(*sub, *a.Get("--resource-group")) + "/providers/" + kGroupType
                          : "/subscriptions/" + *sub + "/providers/" + kGroupType;
                  Outcome all = ListAt(ctx, path, kApiContainerInstance);
                  if (all.exit_code == 0) all.value = GroupView(*all.value);
                  return all;
                }});
  r.AddCommand({.path = {"container", "delete"},
                .summary = "Delete a container group.",
                .args = {GroupArg(), NameArg("The name of the container group."), YesArg()},
                .run =
                    [](Context& ctx, const ParsedArgs& a) {
                      if (auto stop =
                              Confirm(ctx, a, "Are you sure you want to perform this operation?")) {
                        return *stop;
                      }
                      return ForEachTarget(ctx, a, GroupPathOf, [&](const std::string& path) {
                        // az prints the group it deleted.
                        Outcome got = ShowAt(ctx, path, kApiContainerInstance);
                        if (got.exit_code != 0) return got;
                        Outcome gone = DeleteAt(ctx, path, kApiContainerInstance);
                        if (gone.exit_code != 0) return gone;
                        return Outcome::Value(GroupView(*got.value));
                      });
                    },
                .supports_ids = true});
  r.AddCommand(
      {.path = {"container", "exec"},
       .summary = "Execute a command from within a running container of a container group "
                  "(cove: a host command inside the group's network namespace; needs root).",
       .args = {GroupArg(),
                NameArg("The name of the container group."),
                {.name = "--exec-command",
                 .help = "The command to run from within the container.",
                 .required = true},
                {.name = "--container-name",
                 .help = "The container name where to execute the command. Can be ommitted for "
                         "container groups with only one container."},
                {.name = "--host-command",
                 .help = "cove: run a command of this host inside the group's network namespace "
                         "instead of inside the container (to reach the group's network with the "
                         "host's tools).",
                 .kind = ArgKind::kSwitch},
                {.name = "--fabric-prefix",
                 .help = "Prefix of the network namespaces coved made (coved --fabric-prefix). "
                         "Default: $COVE_FABRIC_PREFIX, else cove."}},
       .run = ExecGroup,
       .examples = {{"Run a command inside the running container.",
                     "sudo cove container exec -g MyResourceGroup -n mygroup --exec-command "
                     "\"cat /etc/hostname\""},
                    {"Sign in with the group's managed identity and log in to a registry, from the "
                     "group's network with this host's cove.",
                     "sudo cove container exec -g MyResourceGroup -n mygroup --host-command "
                     "--exec-command \"sh -c 'cove login --identity && cove acr login -n "
                     "myregistry'\""}}});
  const ArgSpec container_name = {.name = "--container-name",
                              .help = "The container name to tail the logs. If omitted, the "
                                      "first container in the container group will be chosen"};
  r.AddCommand({.path = {"container", "logs"},
                .summary = "Examine the logging information for a container in a container group.",
                .args = {GroupArg(), NameArg("The name of the container group."), container_name,
                         {.name = "--follow",
                          .help = "Indicate to stream the tailing logs.",
                          .kind = ArgKind::kSwitch}},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return LogsOf(ctx, a, a.Has("--follow"));
                }});
  r.AddCommand({.path = {"container", "attach"},
                .summary = "Attach local standard output and error streams to a container in a "
                           "container group (cove: its output so far, then as it comes, until it "
                           "ends).",
                .args = {GroupArg(), NameArg("The name of the container group."), container_name},
                .run = [](Context& ctx, const ParsedArgs& a) { return LogsOf(ctx, a, true); }});
  for (const char* action : {"restart", "stop", "start"}) {
    std::string what = action;
    r.AddCommand({.path = {"container", action},
                  .summary = what == "restart" ? "Restarts all containers in a container group."
                             : what == "stop"  ? "Stops all containers in a container group."
                                               : "Starts all containers in a container group.",
                  .args = {GroupArg(), NameArg("The name of the container group."), NoWaitArg()},
                  .run = [what](Context& ctx, const ParsedArgs& a) { return ActOn(ctx, a, what); }});
  }
}

}  // namespace cove::cli
