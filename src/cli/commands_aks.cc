// aks create|show|list|delete|scale|update|get-credentials, aks nodepool add|list|show|delete|
// scale — az's AKS commands against coved's Microsoft.ContainerService/managedClusters (+
// agentPools); and cove's own workload commands, aks deploy and aks deployment show|list|delete,
// over Cove.Kubernetes/deployments (arm/clusters.cc).
//
// Where cove differs from az:
// - --vnet-subnet-id is required: cove makes no managed virtual network (coved refuses a pool
//   without one, naming agentPoolProfile.vnetSubnetID; the CLI lets coved say so).
// - Accepted and ignored, because they make no difference in cove: --generate-ssh-keys (nodes
//   take no SSH keys), --enable-managed-identity (clusters always have a managed identity),
//   --no-wait (coved answers when the cluster is made).
// - --attach-acr / --detach-acr: as az, the CLI (not coved) makes or deletes the AcrPull role
//   assignment for the kubelet identity's objectId at the registry's scope, after the cluster
//   exists; the registry is looked up by name in the subscription, or given by id.
// - get-credentials fails: cove runs no Kubernetes API server (the workload commands below are
//   its way to run containers on a cluster's nodes).
// - aks deploy -g G -n CLUSTER --name D --image IMG [--replicas N] [--command "LINE"] [--env
//   K=V ...] PUTs Cove.Kubernetes/deployments/D in the cluster's group; --command is split as a
//   shell would (SplitCommandLine): its first word is the container's command, the rest args.
#include "cli/commands.h"
#include "common/percent.h"

namespace cove::cli {

using nlohmann::json;

namespace {

constexpr char kClusterType[] = "Microsoft.ContainerService/managedClusters";
constexpr char kDeploymentType[] = "Cove.Kubernetes/deployments";
constexpr char kApiAks[] = "2024-05-01";
constexpr char kApiKubernetes[] = "2026-12-01";
constexpr char kAcrPullGuid[] = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

std::string ClusterPathOf(const std::string& sub, const ParsedArgs& a,
                          const std::string& name_arg = "--name") {
  return ResourcePath(sub, a.GetOr("--resource-group", ""), kClusterType, a.GetOr(name_arg, ""));
}

std::string PoolPathOf(const std::string& sub, const ParsedArgs& a) {
  return ClusterPathOf(sub, a, "--cluster-name") + "/agentPools/" + a.GetOr("--name", "");
}

std::string DeploymentPathOf(const std::string& sub, const ParsedArgs& a) {
  return ResourcePath(sub, a.GetOr("--resource-group", ""), kDeploymentType, a.GetOr("--name", ""));
}

// az's default DNS prefix: the cluster name's first 10 characters (a letter first), the
// group's first 16 and the subscription's first 6, joined by '-'.
std::string DefaultDnsPrefix(const std::string& name, const std::string& group,
                             const std::string& sub) {
  auto clean = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') out += c;
    }
    return out;
  };
  std::string n = clean(name).substr(0, 10);
  if (n.empty() || !std::isalpha(static_cast<unsigned char>(n[0]))) n = ("a" + n).substr(0, 10);
  return n + "-" + clean(group).substr(0, 16) + "-" + sub.substr(0, 6);
}

// The id of the registry --attach-acr/--detach-acr names: an id as given, or a name looked up
// in the subscription (az's error when there is none).
std::variant<std::string, Outcome> RegistryIdOf(Context& ctx, const std::string& sub,
                                                const std::string& value) {
  if (IsResourceId(value)) return value;
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto all = (*arm)->List(
      "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/registries", kApiAcr);
  if (!all) return Outcome::FromArm(all.error());
  for (const auto& r : *all) {
    if (EqualsIgnoreCase(r.value("name", ""), value)) return r.value("id", "");
  }
  return Outcome::Failure("The resource with name '" + value +
                          "' and type 'Microsoft.ContainerRegistry/registries' could not be found "
                          "in subscription '" +
                          sub + "'.");
}

std::string KubeletObjectId(const json& cluster) {
  const json& props = cluster.value("properties", json::object());
  if (!props.contains("identityProfile")) return "";
  return props["identityProfile"].value("kubeletidentity", json::object()).value("objectId", "");
}

// az's _ensure_aks_acr: AcrPull for the kubelet identity at the registry (attach), or the
// deletion of those assignments (detach).
std::optional<Outcome> AttachOrDetach(Context& ctx, const std::string& registry_id,
                                      const json& cluster, bool detach) {
  std::string object_id = KubeletObjectId(cluster);
  if (object_id.empty()) {
    return Outcome::Failure("The cluster has no kubelet identity to grant AcrPull to.");
  }
  if (!detach) {
    Outcome made = AssignRoleToServicePrincipal(ctx, registry_id, "AcrPull", object_id);
    if (made.exit_code != 0) return made;
    return std::nullopt;
  }
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto found =
      (*arm)->List(registry_id + "/providers/Microsoft.Authorization/roleAssignments?$filter=" +
                       PercentEncode("principalId eq '" + object_id + "'"),
                   kApiAuthorization);
  if (!found) return Outcome::FromArm(found.error());
  for (const auto& ra : *found) {
    const json& p = ra.value("properties", json::object());
    std::string role = p.value("roleDefinitionId", "");
    if (!EqualsIgnoreCase(p.value("scope", ""), registry_id) ||
        AsciiLower(role).find(kAcrPullGuid) == std::string::npos) {
      continue;
    }
    auto gone = (*arm)->Delete(ra.value("id", ""), kApiAuthorization);
    if (!gone) return Outcome::FromArm(gone.error());
  }
  return std::nullopt;
}

Outcome CreateCluster(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  std::string group = *a.Get("--resource-group"), name = *a.Get("--name");
  std::optional<int64_t> count, max_pods;
  if (auto stop = ReadInt(a, "--node-count", count)) return *stop;
  if (auto stop = ReadInt(a, "--max-pods", max_pods)) return *stop;
  std::optional<std::string> registry_id;
  if (auto acr = a.Get("--attach-acr")) {
    auto id = RegistryIdOf(ctx, *sub, *acr);
    if (auto* stop = std::get_if<Outcome>(&id)) return *stop;
    registry_id = std::get<std::string>(id);
  }
  auto location = LocationOr(ctx, a, *sub);
  if (!location) return Outcome::FromArm(location.error());
  json pool = {{"name", a.GetOr("--nodepool-name", "nodepool1")},
               {"count", count.value_or(3)},
               {"vmSize", a.GetOr("--node-vm-size", "Standard_DS2_v2")},
               {"osType", "Linux"},
               {"mode", "System"},
               {"type", "VirtualMachineScaleSets"},
               {"vnetSubnetID", a.GetOr("--vnet-subnet-id", "")}};
  if (max_pods) pool["maxPods"] = *max_pods;
  json props = {{"dnsPrefix", a.GetOr("--dns-name-prefix", DefaultDnsPrefix(name, group, *sub))},
                {"agentPoolProfiles", json::array({pool})},
                {"networkProfile", {{"networkPlugin", a.GetOr("--network-plugin", "azure")}}}};
  if (auto v = a.Get("--kubernetes-version")) props["kubernetesVersion"] = *v;
  json body = {{"location", *location}, {"properties", props}};
  if (auto uai = a.Get("--assign-identity")) {
    body["identity"] = {{"type", "UserAssigned"},
                        {"userAssignedIdentities", {{*uai, json::object()}}}};
  } else {
    body["identity"] = {{"type", "SystemAssigned"}};
  }
  if (a.Has("--tags")) body["tags"] = TagsJson(a.GetList("--tags"));
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto made = (*arm)->Put(ResourcePath(*sub, group, kClusterType, name), kApiAks, body);
  if (!made) return Outcome::FromArm(made.error());
  if (registry_id) {
    if (auto stop = AttachOrDetach(ctx, *registry_id, *made, false)) return *stop;
  }
  return Outcome::Value(*made);
}

Outcome UpdateCluster(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  bool attach = a.Has("--attach-acr"), detach = a.Has("--detach-acr");
  if (attach == detach) {
    return Outcome::Usage(
        "usage error: give one of --attach-acr or --detach-acr (cove updates nothing else)");
  }
  auto id = RegistryIdOf(ctx, *sub, *a.Get(attach ? "--attach-acr" : "--detach-acr"));
  if (auto* stop = std::get_if<Outcome>(&id)) return *stop;
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto cluster = (*arm)->Get(ClusterPathOf(*sub, a), kApiAks);
  if (!cluster) return Outcome::FromArm(cluster.error(), true);
  if (auto stop = AttachOrDetach(ctx, std::get<std::string>(id), *cluster, detach)) return *stop;
  return Outcome::Value(*cluster);
}

// PUT of a pool with `count` (scale) on top of what it has.
Outcome ScalePool(Context& ctx, const std::string& pool_path, int64_t count) {
  return GetModifyPut(ctx, pool_path, kApiAks, [&](json& pool) -> std::optional<Outcome> {
    pool["properties"]["count"] = count;
    pool["properties"].erase("cove");
    return std::nullopt;
  });
}

Outcome ScaleCluster(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  std::optional<int64_t> count;
  if (auto stop = ReadInt(a, "--node-count", count)) return *stop;
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  std::string path = ClusterPathOf(*sub, a);
  auto cluster = (*arm)->Get(path, kApiAks);
  if (!cluster) return Outcome::FromArm(cluster.error(), true);
  const json& profiles = (*cluster)["properties"].value("agentPoolProfiles", json::array());
  std::string pool = a.GetOr("--nodepool-name", "");
  if (pool.empty()) {
    if (profiles.size() != 1) {
      return Outcome::Failure(
          "There are more than one node pool in the cluster. Please specify nodepool name or use "
          "az aks nodepool command to scale node pool");
    }
    pool = profiles[0].value("name", "");
  }
  Outcome scaled = ScalePool(ctx, path + "/agentPools/" + pool, *count);
  if (scaled.exit_code != 0) return scaled;
  return ShowAt(ctx, path, kApiAks);
}

Outcome AddPool(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  std::optional<int64_t> count, max_pods;
  if (auto stop = ReadInt(a, "--node-count", count)) return *stop;
  if (auto stop = ReadInt(a, "--max-pods", max_pods)) return *stop;
  std::string subnet = a.GetOr("--vnet-subnet-id", "");
  if (subnet.empty()) {
    // az's default: the subnet of the cluster's first pool.
    auto arm = ctx.Arm();
    if (!arm) return Outcome::FromArm(arm.error());
    auto cluster = (*arm)->Get(ClusterPathOf(*sub, a, "--cluster-name"), kApiAks);
    if (!cluster) return Outcome::FromArm(cluster.error(), true);
    const json& profiles = (*cluster)["properties"].value("agentPoolProfiles", json::array());
    if (!profiles.empty()) subnet = profiles[0].value("vnetSubnetID", "");
  }
  json props = {{"count", count.value_or(3)},
                {"vmSize", a.GetOr("--node-vm-size", "Standard_DS2_v2")},
                {"osType", "Linux"},
                {"mode", a.GetOr("--mode", "User")},
                {"type", "VirtualMachineScaleSets"},
                {"vnetSubnetID", subnet}};
  if (max_pods) props["maxPods"] = *max_pods;
  return PutAt(ctx, PoolPathOf(*sub, a), kApiAks, {{"properties", props}});
}

Outcome Deploy(Context& ctx, const ParsedArgs& a) {
  auto sub = ctx.Subscription();
  if (!sub) return Outcome::FromArm(sub.error());
  std::optional<int64_t> replicas;
  if (auto stop = ReadInt(a, "--replicas", replicas)) return *stop;
  std::string group = *a.Get("--resource-group");
  std::string deployment = *a.Get("--name");
  std::string cluster_id = ResourcePath(*sub, group, kClusterType, *a.Get("--cluster-name"));
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  auto cluster = (*arm)->Get(cluster_id, kApiAks);
  if (!cluster) return Outcome::FromArm(cluster.error(), true);
  json container = {{"name", a.GetOr("--container-name", deployment)},
                    {"image", *a.Get("--image")}};
  std::vector<std::string> command;
  if (auto line = a.Get("--command")) {
    auto argv = SplitCommandLine(*line);
    if (!argv || argv->empty()) {
      return Outcome::Usage("argument --command: cannot split '" + *line + "'");
    }
    command = *argv;
  }
  if (!command.empty()) {
    container["command"] = json::array({command[0]});
    container["args"] = std::vector<std::string>(command.begin() + 1, command.end());
  }
  json env = json::array();
  for (const auto& kv : a.GetList("--env")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Outcome::Usage("usage error: --env takes space-separated KEY=VALUE pairs, got '" + kv +
                            "'");
    }
    env.push_back({{"name", kv.substr(0, eq)}, {"value", kv.substr(eq + 1)}});
  }
  if (!env.empty()) container["env"] = env;
  json body = {{"location", cluster->value("location", "")},
               {"properties",
                {{"clusterId", cluster->value("id", cluster_id)},
                 {"replicas", replicas.value_or(1)},
                 {"containers", json::array({container})}}}};
  return PutAt(ctx, ResourcePath(*sub, group, kDeploymentType, deployment), kApiKubernetes, body);
}

ArgSpec ClusterNameArg() {
  return {.name = "--cluster-name", .help = "The cluster name.", .required = true};
}

ArgSpec NodeCountArg(bool required) {
  return {.name = "--node-count",
          .aliases = {"-c"},
          .help = "Number of nodes in the Kubernetes node pool.",
          .required = required,
          .default_text = required ? "" : "3"};
}

}  // namespace

void AddAksCommands(Registry& r) {
  r.AddGroup({{"aks"},
              "Manage Azure Kubernetes Services (cove: nodes are machines in your subnet that run "
              "containerd; cove runs no Kubernetes API server)."});
  r.AddCommand(
      {.path = {"aks", "create"},
       .summary = "Create a new managed Kubernetes cluster.",
       .args = {GroupArg(true, false),
                NameArg("Name of the managed cluster.", true, false),
                NodeCountArg(false),
                {.name = "--vnet-subnet-id",
                 .help = "The ID of a subnet in an existing VNet into which to deploy the cluster "
                         "(cove: required, it makes no managed VNet; coved says so without it)."},
                {.name = "--attach-acr",
                 .help = "Grant the 'acrpull' role assignment to the ACR specified by name or "
                         "resource ID."},
                {.name = "--nodepool-name",
                 .help = "Node pool name, up to 12 alphanumeric characters.",
                 .default_text = "nodepool1"},
                {.name = "--node-vm-size",
                 .aliases = {"-s"},
                 .help = "Size of Virtual Machines to create as Kubernetes nodes.",
                 .default_text = "Standard_DS2_v2"},
                {.name = "--kubernetes-version",
                 .aliases = {"-k"},
                 .help = "Version of Kubernetes to use for creating the cluster."},
                {.name = "--dns-name-prefix",
                 .aliases = {"-p"},
                 .help = "Prefix for hostnames that are created. If not specified, generate a "
                         "hostname using the managed cluster and resource group names."},
                {.name = "--max-pods",
                 .aliases = {"-m"},
                 .help = "The maximum number of pods deployable to a node."},
                {.name = "--network-plugin",
                 .help = "The Kubernetes network plugin to use.",
                 .choices = {"azure", "kubenet", "none"}},
                {.name = "--assign-identity",
                 .help = "Specify an existing user assigned identity for control plane's usage."},
                {.name = "--enable-managed-identity",
                 .help = "Using a system assigned managed identity to manage cluster resource "
                         "group (cove: always; accepted and ignored).",
                 .kind = ArgKind::kFlag},
                {.name = "--generate-ssh-keys",
                 .help = "Generate SSH public and private key files if missing (cove: nodes take "
                         "no SSH keys; accepted and ignored).",
                 .kind = ArgKind::kSwitch},
                LocationArg(),
                TagsArg(),
                YesArg(),
                NoWaitArg()},
       .run = CreateCluster,
       .examples = {{"Create a cluster in a subnet whose nodes pull from a registry.",
                     "cove aks create -g MyResourceGroup -n myaks --node-count 2 "
                     "--vnet-subnet-id $SUBNET_ID --attach-acr myregistry"}}});
  r.AddCommand(
      {.path = {"aks", "show"},
       .summary = "Show the details for a managed Kubernetes cluster.",
       .args = {GroupArg(), NameArg("Name of the managed cluster.")},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             return ForEachTarget(
                 ctx, a,
                 [](const std::string& s, const ParsedArgs& x) { return ClusterPathOf(s, x); },
                 [&](const std::string& path) { return ShowAt(ctx, path, kApiAks); });
           },
       .supports_ids = true});
  r.AddCommand({.path = {"aks", "list"},
                .summary = "List managed Kubernetes clusters.",
                .args = {GroupArg(false, false)},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  std::string path = a.Has("--resource-group")
                                         ? GroupPath(*sub, *a.Get("--resource-group")) +
                                               "/providers/" + kClusterType
                                         : "/subscriptions/" + *sub + "/providers/" + kClusterType;
                  return ListAt(ctx, path, kApiAks);
                }});
  r.AddCommand(
      {.path = {"aks", "delete"},
       .summary = "Delete a managed Kubernetes cluster.",
       .args = {GroupArg(), NameArg("Name of the managed cluster."), YesArg(), NoWaitArg()},
       .run =
           [](Context& ctx, const ParsedArgs& a) {
             if (auto stop = Confirm(ctx, a, "Are you sure you want to perform this operation?")) {
               return *stop;
             }
             return ForEachTarget(
                 ctx, a,
                 [](const std::string& s, const ParsedArgs& x) { return ClusterPathOf(s, x); },
                 [&](const std::string& path) { return DeleteAt(ctx, path, kApiAks); });
           },
       .supports_ids = true});
  r.AddCommand({.path = {"aks", "scale"},
                .summary = "Scale the node pool in a managed Kubernetes cluster.",
                .args = {GroupArg(),
                         NameArg("Name of the managed cluster."),
                         NodeCountArg(true),
                         {.name = "--nodepool-name",
                          .help = "Node pool name, up to 12 alphanumeric characters."},
                         NoWaitArg()},
                .run = ScaleCluster});
  r.AddCommand(
      {.path = {"aks", "update"},
       .summary = "Update a managed Kubernetes cluster (cove: --attach-acr / --detach-acr).",
       .args = {GroupArg(),
                NameArg("Name of the managed cluster."),
                {.name = "--attach-acr",
                 .help = "Grant the 'acrpull' role assignment to the ACR specified by name or "
                         "resource ID."},
                {.name = "--detach-acr",
                 .help = "Disable the 'acrpull' role assignment to the ACR specified by name or "
                         "resource ID."},
                NoWaitArg()},
       .run = UpdateCluster});
  r.AddCommand(
      {.path = {"aks", "get-credentials"},
       .summary = "Get access credentials for a managed Kubernetes cluster (cove: not "
                  "available).",
       .args = {GroupArg(),
                NameArg("Name of the managed cluster."),
                {.name = "--admin",
                 .help = "Get cluster administrator credentials.",
                 .kind = ArgKind::kSwitch},
                {.name = "--file", .aliases = {"-f"}, .help = "Kubernetes configuration file."},
                {.name = "--overwrite-existing",
                 .help = "Overwrite any existing cluster entry with the same name.",
                 .kind = ArgKind::kSwitch}},
       .run = [](Context&, const ParsedArgs&) {
         return Outcome::Failure(
             "cove runs no Kubernetes API server, so there are no credentials to get: use "
             "`cove aks deploy` and `cove aks deployment show|list|delete` to run containers on "
             "the cluster's nodes.");
       }});

  // ---- node pools
  r.AddGroup(
      {{"aks", "nodepool"}, "Commands to manage node pools in Kubernetes kubernetes cluster."});
  r.AddCommand({.path = {"aks", "nodepool", "add"},
                .summary = "Add a node pool to the managed Kubernetes cluster.",
                .args = {GroupArg(),
                         ClusterNameArg(),
                         NameArg("The node pool name.", true, false),
                         NodeCountArg(false),
                         {.name = "--vnet-subnet-id",
                          .help = "The ID of a subnet in an existing VNet into which to deploy "
                                  "the node pool (default: the first pool's)."},
                         {.name = "--node-vm-size",
                          .aliases = {"-s"},
                          .help = "Size of Virtual Machines to create as Kubernetes nodes."},
                         {.name = "--max-pods",
                          .aliases = {"-m"},
                          .help = "The maximum number of pods deployable to a node."},
                         {.name = "--mode",
                          .help = "The mode for a node pool.",
                          .choices = {"System", "User"},
                          .default_text = "User"},
                         NoWaitArg()},
                .run = AddPool});
  r.AddCommand({.path = {"aks", "nodepool", "list"},
                .summary = "List node pools in the managed Kubernetes cluster.",
                .args = {GroupArg(), ClusterNameArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return ListAt(ctx, ClusterPathOf(sub, a, "--cluster-name") + "/agentPools",
                                  kApiAks);
                  });
                }});
  r.AddCommand({.path = {"aks", "nodepool", "show"},
                .summary = "Show the details for a node pool in the managed Kubernetes cluster "
                           "(cove: properties.cove.nodes lists its nodes and their addresses).",
                .args = {GroupArg(), ClusterNameArg(), NameArg("The node pool name.")},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return ShowAt(ctx, PoolPathOf(sub, a), kApiAks);
                  });
                }});
  r.AddCommand({.path = {"aks", "nodepool", "delete"},
                .summary = "Delete the agent pool in the managed Kubernetes cluster.",
                .args = {GroupArg(), ClusterNameArg(), NameArg("The node pool name."), NoWaitArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return DeleteAt(ctx, PoolPathOf(sub, a), kApiAks);
                  });
                }});
  r.AddCommand({.path = {"aks", "nodepool", "scale"},
                .summary = "Scale the node pool in a managed Kubernetes cluster.",
                .args = {GroupArg(), ClusterNameArg(), NameArg("The node pool name."),
                         NodeCountArg(true), NoWaitArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  std::optional<int64_t> count;
                  if (auto stop = ReadInt(a, "--node-count", count)) return *stop;
                  return ScalePool(ctx, PoolPathOf(*sub, a), *count);
                }});

  // ---- cove's workloads
  r.AddCommand(
      {.path = {"aks", "deploy"},
       .summary = "Run a container image on a cluster's nodes (cove: a Cove.Kubernetes/"
                  "deployments resource; replicas are spread over the nodes).",
       .args = {GroupArg(true, false),
                {.name = "--cluster-name",
                 .aliases = {"-n"},
                 .help = "The cluster name.",
                 .required = true},
                {.name = "--name", .help = "The deployment name.", .required = true},
                {.name = "--image", .help = "The container image name.", .required = true},
                {.name = "--replicas",
                 .help = "The number of replicas (0-100).",
                 .default_text = "1"},
                {.name = "--container-name",
                 .help = "The container's name (default: the deployment's)."},
                {.name = "--command",
                 .help = "The command line to run instead of the image's, split as a shell "
                         "would: its first word is the container's command, the rest its args "
                         "(e.g. \"sh -c 'echo hello'\")."},
                {.name = "--env",
                 .help = "Environment variables, space-separated KEY=VALUE pairs.",
                 .kind = ArgKind::kList}},
       .run = Deploy,
       .examples = {{"Run three replicas of an image from a registry attached to the cluster.",
                     "cove aks deploy -g MyResourceGroup -n myaks --name web --image "
                     "myregistry.azurecr.io/app:v1 --replicas 3"}}});
  r.AddGroup({{"aks", "deployment"}, "Manage cove's workloads on AKS clusters."});
  r.AddCommand({.path = {"aks", "deployment", "show"},
                .summary = "Show a deployment and its pods (properties.status).",
                .args = {GroupArg(), NameArg("The deployment name.")},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return ShowAt(ctx, DeploymentPathOf(sub, a), kApiKubernetes);
                  });
                }});
  r.AddCommand({.path = {"aks", "deployment", "list"},
                .summary = "List the deployments of a resource group.",
                .args = {GroupArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  return WithSub(ctx, [&](const std::string& sub) {
                    return ListAt(ctx,
                                  GroupPath(sub, *a.Get("--resource-group")) + "/providers/" +
                                      kDeploymentType,
                                  kApiKubernetes);
                  });
                }});
  r.AddCommand({.path = {"aks", "deployment", "delete"},
                .summary = "Delete a deployment (its pods are stopped).",
                .args = {GroupArg(), NameArg("The deployment name."), YesArg()},
                .run = [](Context& ctx, const ParsedArgs& a) {
                  if (auto stop =
                          Confirm(ctx, a, "Are you sure you want to perform this operation?")) {
                    return *stop;
                  }
                  auto sub = ctx.Subscription();
                  if (!sub) return Outcome::FromArm(sub.error());
                  return DeleteAt(ctx, DeploymentPathOf(*sub, a), kApiKubernetes);
                }});
}

}  // namespace cove::cli
