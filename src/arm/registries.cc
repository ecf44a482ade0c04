// Microsoft.ContainerRegistry registries, replications, private endpoint connections and
// private link resources.
#include <algorithm>
#include <ctime>
#include <optional>

#include "arm/engine.h"
#include "arm/identity_support.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

const char* kRegistryType = "Microsoft.ContainerRegistry/registries";

bool IsValidRegistryName(std::string_view n) {
  if (n.size() < 5 || n.size() > 50) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

bool IsValidRegion(std::string_view r) {
  if (r.size() < 2 || r.size() > 40) return false;
  return std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

Error SkuError(const std::string& code, const std::string& what, const std::string& sku) {
  return ArmErrorOf(400, code,
                    what + " is not supported for the SKU " + sku +
                        ". For more information, please visit https://aka.ms/acr/private-link.");
}

const char* kReplicationType = "Microsoft.ContainerRegistry/registries/replications";
const char* kNoReport = "waiting for the region's first report";

// Zone redundancy is chosen when a registry or replication is made (ACR: "once the replications
// are created, their states can't be changed, except by deleting and re-creating the
// replications"). ACR's own error text was not found: this is ARM's code for an immutable
// property (PropertyChangeNotAllowed) with cove's message.
Status CheckZoneRedundancyUnchanged(const std::optional<std::string>& requested,
                                    const std::string& current, const std::string& what) {
  if (!requested || *requested == current) return {};
  return ArmFail(400, "PropertyChangeNotAllowed",
                 "Changing property 'zoneRedundancy' is not allowed: zone redundancy of " + what +
                     " is " + current +
                     " and is fixed when it is created. Delete and re-create it to change it.");
}

}  // namespace

// The regions ACR offers replications in: Azure's public regions, as `az account
// list-locations` names them (lowercase, no spaces).
const std::vector<std::string>& AcrRegions() {
  static const std::vector<std::string> kRegions = {
      "australiacentral", "australiacentral2", "australiaeast", "australiasoutheast",
      "austriaeast", "belgiumcentral", "brazilsouth", "brazilsoutheast", "canadacentral",
      "canadaeast", "centralindia", "centralus", "chilecentral", "eastasia", "eastus", "eastus2",
      "francecentral", "francesouth", "germanynorth", "germanywestcentral", "indonesiacentral",
      "israelcentral", "italynorth", "japaneast", "japanwest", "jioindiacentral", "jioindiawest",
      "koreacentral", "koreasouth", "malaysiawest", "mexicocentral", "newzealandnorth",
      "northcentralus", "northeurope", "norwayeast", "norwaywest", "polandcentral", "qatarcentral",
      "southafricanorth", "southafricawest", "southcentralus", "southeastasia", "southindia",
      "spaincentral", "swedencentral", "swedensouth", "switzerlandnorth", "switzerlandwest",
      "uaecentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westindia",
      "westus", "westus2", "westus3"};
  return kRegions;
}

bool IsAcrRegion(const std::string& region) {
  const auto& all = AcrRegions();
  return std::find(all.begin(), all.end(), region) != all.end();
}

std::string Engine::FindRegistryKeyByName(const std::string& lower_name) const {
  std::string suffix = "/providers/microsoft.containerregistry/registries/" + lower_name;
  for (const auto& [k, d] : txn_.documents()) {
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return k;
    }
  }
  return "";
}

std::vector<std::string> Engine::RegistryRegions(const std::string& registry_key) const {
  std::vector<std::string> out;
  const Json* r = txn_.Get(registry_key);
  if (r == nullptr) return out;
  std::string home = r->value("location", "");
  out.push_back(home);
  std::vector<std::string> replicas;
  for (const auto& k : txn_.Children(registry_key, "replications")) {
    std::string loc = txn_.Get(k)->value("location", "");
    if (loc != home && std::find(replicas.begin(), replicas.end(), loc) == replicas.end()) {
      replicas.push_back(loc);
    }
  }
  std::sort(replicas.begin(), replicas.end());
  out.insert(out.end(), replicas.begin(), replicas.end());
  return out;
}

std::vector<std::string> Engine::EndpointsOf(const std::string& registry_key) const {
  std::vector<std::string> out;
  for (const auto& k : txn_.Children(registry_key, "privateendpointconnections")) {
    std::string pe_id = (*txn_.Get(k))["properties"]["privateEndpoint"].value("id", "");
    if (txn_.Get(Lower(pe_id)) != nullptr) out.push_back(Lower(pe_id));
  }
  return out;
}

Status Engine::PutRegistry(const ArmPath& p, const Json& body, const Json* existing) {
  std::string key = p.Key();
  std::string name = p.names.back();
  if (existing == nullptr) {
    if (!IsValidRegistryName(name)) {
      return tl::unexpected(NameInvalid(name, kRegistryType,
                                        "Registry names may contain only alpha numeric "
                                        "characters and must be between 5 and 50 characters."));
    }
    std::string other = FindRegistryKeyByName(Lower(name));
    if (!other.empty()) {
      return ArmFail(409, "AlreadyInUse",
                     "The registry DNS name " + Lower(name) + "." + options_.dns_suffix +
                         " is already in use. You can check if the name is already claimed using "
                         "following API: https://docs.microsoft.com/en-us/rest/api/"
                         "containerregistry/registries/checknameavailability");
    }
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body sku_body, b.Object("sku"));
  COVE_ASSIGN_OR_RETURN(auto sku,
                        sku_body.Enum("name", {"Basic", "Standard", "Premium", "Classic"}));
  if (!sku && existing != nullptr) sku = (*existing)["sku"].value("name", "");
  if (!sku) return tl::unexpected(BadContent("sku.name", "is required"));
  if (*sku == "Classic") {
    return ArmFail(400, "ClassicSkuNotSupported", "The Classic SKU is retired; use Basic, Standard or Premium.");
  }
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  const Json* old = existing != nullptr ? &(*existing)["properties"] : nullptr;
  auto old_bool = [&](const char* f, bool def) { return old ? old->value(f, def) : def; };
  auto old_str = [&](const char* f, const char* def) { return old ? old->value(f, std::string(def)) : std::string(def); };
  COVE_ASSIGN_OR_RETURN(auto admin, props.Bool("adminUserEnabled"));
  COVE_ASSIGN_OR_RETURN(auto public_access,
                        props.Enum("publicNetworkAccess", {"Enabled", "Disabled"}));
  COVE_ASSIGN_OR_RETURN(auto bypass,
                        props.Enum("networkRuleBypassOptions", {"AzureServices", "None"}));
  COVE_ASSIGN_OR_RETURN(auto data_endpoint, props.Bool("dataEndpointEnabled"));
  COVE_ASSIGN_OR_RETURN(auto anonymous, props.Bool("anonymousPullEnabled"));
  COVE_ASSIGN_OR_RETURN(auto zone_redundancy,
                        props.Enum("zoneRedundancy", {"Enabled", "Disabled"}));
  COVE_ASSIGN_OR_RETURN(Body rules, props.Object("networkRuleSet"));
  Json rule_set = old && old->contains("networkRuleSet")
                      ? (*old)["networkRuleSet"]
                      : Json{{"defaultAction", "Allow"},
                             {"ipRules", Json::array()},
                             {"virtualNetworkRules", Json::array()}};
  if (rules.present()) {
    COVE_ASSIGN_OR_RETURN(auto action, rules.Enum("defaultAction", {"Allow", "Deny"}));
    COVE_ASSIGN_OR_RETURN(auto ip_rules, rules.Array("ipRules"));
    COVE_ASSIGN_OR_RETURN(auto vnet_rules, rules.Array("virtualNetworkRules"));
    Json ips = Json::array(), vnets = Json::array();
    for (const auto& r : ip_rules) {
      COVE_ASSIGN_OR_RETURN(auto value, r.String("value"));
      if (!value) {
        COVE_ASSIGN_OR_RETURN(auto alt, r.String("ipAddressOrRange"));
        value = alt;
      }
      COVE_ASSIGN_OR_RETURN(auto act, r.Enum("action", {"Allow"}));
      if (!value || value->empty()) return tl::unexpected(BadContent(r.where() + ".value", "is required"));
      CidrParse c = ParseCidr(*value);
      if (!ParseIpv4(*value) && !(c.cidr && c.aligned)) {
        return ArmFail(400, "InvalidIpRule",
                       "IP rule '" + *value + "' is not a valid IPv4 address or CIDR range "
                       "(for example 203.0.113.7 or 203.0.113.0/24).");
      }
      ips.push_back({{"value", *value}, {"action", act ? *act : "Allow"}});
    }
    for (const auto& r : vnet_rules) {
      COVE_ASSIGN_OR_RETURN(auto id, r.String("id"));
      if (!id) {
        COVE_ASSIGN_OR_RETURN(auto alt, r.String("virtualNetworkResourceId"));
        id = alt;
      }
      if (!id || id->empty()) return tl::unexpected(BadContent(r.where() + ".id", "is required"));
      const Json* subnet = txn_.Get(Lower(*id));
      if (subnet == nullptr ||
          !EqualsIgnoreCase(subnet->value("type", ""), "Microsoft.Network/virtualNetworks/subnets")) {
        return tl::unexpected(InvalidReference(*id, doc.value("id", "")));
      }
      vnets.push_back({{"id", subnet->value("id", *id)}, {"action", "Allow"}});
    }
    rule_set = {{"defaultAction", action ? *action : "Allow"},
                {"ipRules", ips},
                {"virtualNetworkRules", vnets}};
  }
  // properties.policies.retentionPolicy (ACR: untagged manifests deleted after `days`, 0-365,
  // default 7; Premium only). Stored only once a request names it, so registries that never
  // set a policy answer as they always did.
  COVE_ASSIGN_OR_RETURN(Body policies, props.Object("policies"));
  COVE_ASSIGN_OR_RETURN(Body retention, policies.Object("retentionPolicy"));
  Json retention_policy = old && old->contains("policies") && (*old)["policies"].contains("retentionPolicy")
                              ? (*old)["policies"]["retentionPolicy"]
                              : Json();
  bool retention_changed = false;  // a PATCH echoes the stored policy: that changes nothing
  if (retention.present()) {
    COVE_ASSIGN_OR_RETURN(auto days, retention.Int("days"));
    COVE_ASSIGN_OR_RETURN(auto status, retention.Enum("status", {"enabled", "disabled"}));
    if (days && (*days < 0 || *days > 365)) {
      return ArmFail(400, "InvalidRetentionDays",
                     "The retention policy's days must be between 0 and 365; " +
                         std::to_string(*days) + " was given.");
    }
    Json before = retention_policy.is_object() ? retention_policy
                                               : Json{{"days", 7}, {"status", "disabled"}};
    Json next = {{"days", days ? *days : before.value("days", 7)},
                 {"status", status ? *status : before.value("status", "disabled")},
                 {"lastUpdatedTime", before.value("lastUpdatedTime", "")}};
    retention_changed = !retention_policy.is_object() || next["days"] != before["days"] ||
                        next["status"] != before["status"];
    if (retention_changed) next["lastUpdatedTime"] = FormatArmTime(NowFrom(options_));
    retention_policy = std::move(next);
  }
  std::string pna = public_access ? *public_access : old_str("publicNetworkAccess", "Enabled");
  bool dep = data_endpoint ? *data_endpoint : old_bool("dataEndpointEnabled", false);
  bool anon = anonymous ? *anonymous : old_bool("anonymousPullEnabled", false);
  if (*sku != "Premium") {
    if (pna == "Disabled") {
      return ArmFail(400, "DisablingPublicNetworkAccessNotSupported",
                     "Disabling public network access is not supported for the SKU " + *sku +
                         ". For more information, please visit https://aka.ms/acr/private-link.");
    }
    if (rule_set.value("defaultAction", "Allow") != "Allow" || !rule_set["ipRules"].empty() ||
        !rule_set["virtualNetworkRules"].empty()) {
      return tl::unexpected(SkuError("NetworkRuleSetNotSupported", "Network rule set", *sku));
    }
    if (dep) return tl::unexpected(SkuError("DataEndpointNotSupported", "Dedicated data endpoint", *sku));
    if (retention_changed || (retention_policy.is_object() &&
                              retention_policy.value("status", "disabled") == "enabled")) {
      // ACR's answer (and az's): policies need the Premium SKU.
      return ArmFail(400, "PoliciesNotSupportedForSku",
                     "Policies are only supported for managed registries in Premium SKU.");
    }
    if (!txn_.Children(key, "replications").empty()) {
      return tl::unexpected(SkuError("GeoReplicationNotSupported",
                                     "Geo-replication (this registry has replications)", *sku));
    }
    if (!txn_.Children(key, "privateendpointconnections").empty()) {
      return tl::unexpected(SkuError("PrivateEndpointNotSupportedForSku",
                                     "Private endpoint (this registry has private endpoint "
                                     "connections)", *sku));
    }
  }
  if (existing != nullptr) {
    COVE_RETURN_IF_ERROR(CheckZoneRedundancyUnchanged(zone_redundancy,
                                                      old_str("zoneRedundancy", "Disabled"),
                                                      "registry " + doc.value("name", name)));
  }
  if (*sku == "Basic" && anon) {
    return tl::unexpected(SkuError("AnonymousPullNotSupported", "Anonymous pull", *sku));
  }
  if (!rule_set["virtualNetworkRules"].empty() && !EndpointsOf(key).empty()) {
    return ArmFail(400, "PrivateEndpointAndVirtualNetworkRulesNotSupported",
                   "Registry " + doc.value("name", "") +
                       " has private endpoint connections; a registry cannot use both "
                       "service-endpoint (virtual network) rules and private endpoints.");
  }
  doc["sku"] = {{"name", *sku}, {"tier", *sku}};
  Json& dp = doc["properties"];
  dp["loginServer"] = Lower(doc.value("name", name)) + "." + options_.dns_suffix;
  if (!dp.contains("creationDate")) dp["creationDate"] = FormatArmTime(NowFrom(options_));
  dp["adminUserEnabled"] = admin ? *admin : old_bool("adminUserEnabled", false);
  dp["publicNetworkAccess"] = pna;
  dp["networkRuleSet"] = rule_set;
  dp["networkRuleBypassOptions"] = bypass ? *bypass : old_str("networkRuleBypassOptions", "AzureServices");
  dp["dataEndpointEnabled"] = dep;
  dp["anonymousPullEnabled"] = anon;
  dp["zoneRedundancy"] = zone_redundancy ? *zone_redundancy : old_str("zoneRedundancy", "Disabled");
  dp["encryption"] = {{"status", "disabled"}};
  dp["status"] = {{"displayStatus", "Ready"}};
  if (retention_policy.is_object()) dp["policies"]["retentionPolicy"] = retention_policy;
  for (const char* f : {"privateEndpointConnections", "dataEndpointHostNames"}) dp.erase(f);
  // The object id the registry's tokens are bound to (auth/identity.h): a registry deleted and
  // made again under the same name is another object.
  if (existing == nullptr) doc["_cove"]["uid"] = Guid();
  txn_.Put(key, doc);
  return EnsureAdminCredentials(key);
}

Status Engine::PutReplication(const ArmPath& p, const Json& body, const Json* existing) {
  std::string registry_key = p.ParentKey();
  const Json& registry = *txn_.Get(registry_key);
  std::string sku = registry["sku"].value("name", "");
  if (sku != "Premium") {
    return tl::unexpected(SkuError("GeoReplicationNotSupported", "Geo-replication", sku));
  }
  Json with_location = body;
  if (!with_location.contains("location") || with_location["location"].is_null()) {
    with_location["location"] = p.names.back();  // az names replications after their region
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, with_location, existing, true));
  std::string region = doc.value("location", "");  // normalized: "East US" is eastus
  if (!IsAcrRegion(region)) {
    // ARM's answer for a location the resource type is not offered in.
    std::string list;
    for (const auto& r : AcrRegions()) list += (list.empty() ? "" : ",") + r;
    return ArmFail(400, "LocationNotAvailableForResourceType",
                   "The provided location '" + with_location.value("location", region) +
                       "' is not available for resource type "
                       "'Microsoft.ContainerRegistry/registries/replications'. List of available "
                       "regions for the resource type is '" + list + "'.");
  }
  if (existing == nullptr) {
    if (!IsValidRegion(Lower(p.names.back()))) {
      return tl::unexpected(NameInvalid(p.names.back(), "Microsoft.ContainerRegistry/registries/replications",
                                        "Replication names are 5-50 alphanumerics (az uses the region name)."));
    }
    for (const auto& r : RegistryRegions(registry_key)) {
      if (r == region) {
        return ArmFail(409, "ReplicationAlreadyExists",
                       "Registry " + registry.value("name", "") + " already has a replication in "
                       "region " + region + (r == registry.value("location", "") ? " (its home region)" : "") + ".");
      }
    }
    // The name of the home region's replication is taken, as for any existing resource.
    std::string home = registry.value("location", "");
    if (Lower(p.names.back()) == home) {
      return ArmFail(400, "InvalidResourceLocation",
                     "The resource '" + p.names.back() + "' already exists in location '" + home +
                         "' in resource group '" + p.resource_group +
                         "'. A resource with the same name cannot be created in location '" +
                         region + "'. Please select a new resource name.");
    }
  }
  Body b(&with_location, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto endpoint_enabled, props.Bool("regionEndpointEnabled"));
  COVE_ASSIGN_OR_RETURN(auto zone_redundancy,
                        props.Enum("zoneRedundancy", {"Enabled", "Disabled"}));
  Json& dp = doc["properties"];
  if (existing != nullptr) {
    COVE_RETURN_IF_ERROR(CheckZoneRedundancyUnchanged(zone_redundancy,
                                                      dp.value("zoneRedundancy", "Disabled"),
                                                      "replication " + doc.value("name", "")));
  }
  dp["regionEndpointEnabled"] = endpoint_enabled ? *endpoint_enabled : dp.value("regionEndpointEnabled", true);
  dp["zoneRedundancy"] = zone_redundancy ? *zone_redundancy : dp.value("zoneRedundancy", "Disabled");
  // What is stored is the status before any report: the timestamp is when the replication was
  // made; displayStatus and message are rendered from the data plane's report on every read.
  if (existing == nullptr || !dp.contains("status") || !dp["status"].contains("timestamp")) {
    dp["status"] = {{"displayStatus", "Syncing"},
                    {"message", kNoReport},
                    {"timestamp", FormatArmTime(NowFrom(options_))}};
  }
  txn_.Put(p.Key(), doc);
  // Every connected private endpoint gains a registry_data_<region> member (and its DNS records).
  for (const auto& pe : EndpointsOf(registry_key)) COVE_RETURN_IF_ERROR(SyncEndpoint(pe));
  return {};
}

namespace {

// The status a replication answers: the data plane's report, or "Syncing" without one (never
// "Ready" unless the region said it has caught up). `since` is when the replication was made.
Json StatusJson(const std::optional<ReplicationStatus>& report, const std::string& since) {
  if (!report) {
    Json out = {{"displayStatus", "Syncing"}, {"message", kNoReport}};
    if (!since.empty()) out["timestamp"] = since;
    return out;
  }
  return {{"displayStatus", report->display_status},
          {"message", report->message},
          {"timestamp", FormatArmTime(report->timestamp)},
          {"cove", {{"lagEntries", report->lag_entries}, {"lagMs", report->lag_ms}}}};
}

Json RenderReplication(const Engine& engine, const Json& doc) {
  Json out = doc;
  const Json* registry = engine.txn().Get(ParentOfKey(Lower(doc.value("id", ""))));
  std::string registry_name = registry != nullptr ? Lower(registry->value("name", "")) : "";
  Json& props = out["properties"];
  std::string since;
  if (props.contains("status") && props["status"].is_object()) {
    since = props["status"].value("timestamp", "");
  }
  props["status"] =
      StatusJson(engine.ReplicationStatusOf(registry_name, doc.value("location", "")), since);
  return out;
}

// The home region's replication is the registry itself: ACR lists it among the replications
// (named after the region, as az names replications), shows it, lets it be updated, and refuses
// its deletion. cove stores no document for it, only what an update changed, under the
// registry's "_cove.homeReplication" ({regionEndpointEnabled, tags}); this is the document it
// would store. Its zoneRedundancy is the registry's; the timestamp of its status is the
// registry's creationDate.
Json HomeReplicationDoc(const Json& registry) {
  std::string home = registry.value("location", "");
  const Json& saved = Cove(registry, "homeReplication");
  const Json& rp = registry.contains("properties") ? registry["properties"] : Json::object();
  return {{"id", registry.value("id", "") + "/replications/" + home},
          {"name", home},
          {"type", kReplicationType},
          {"location", home},
          {"tags", saved.value("tags", Json::object())},
          {"properties",
           {{"provisioningState", "Succeeded"},
            {"regionEndpointEnabled", saved.value("regionEndpointEnabled", true)},
            {"zoneRedundancy", rp.value("zoneRedundancy", "Disabled")},
            {"status", {{"timestamp", rp.value("creationDate", "")}}}}}};
}

// The registry of the home replication `p` names, when it names one (and no stored replication
// has its name); null otherwise.
const Json* HomeRegistryOf(const Engine& engine, const ArmPath& p) {
  if (engine.txn().Get(p.Key()) != nullptr) return nullptr;
  const Json* registry = engine.txn().Get(p.ParentKey());
  if (registry == nullptr || Lower(p.names.back()) != registry->value("location", "")) {
    return nullptr;
  }
  return registry;
}

// PATCH of the home replication: tags and regionEndpointEnabled, as for any replication.
Result<ArmResponse> PatchHomeReplication(Engine& engine, const ArmRequest& r, const ArmPath& p,
                                         const Json& registry) {
  Json body = Json::parse(r.body.empty() ? "{}" : r.body, nullptr, false);
  if (!body.is_object()) return tl::unexpected(BadContent("$", "must be a JSON object"));
  Json home = HomeReplicationDoc(registry);
  Json merged = engine.RenderDoc(home);
  merged.merge_patch(body);
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, merged, &home, true));
  Body b(&merged, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto endpoint_enabled, props.Bool("regionEndpointEnabled"));
  COVE_ASSIGN_OR_RETURN(auto zone_redundancy,
                        props.Enum("zoneRedundancy", {"Enabled", "Disabled"}));
  COVE_RETURN_IF_ERROR(CheckZoneRedundancyUnchanged(
      zone_redundancy, home["properties"].value("zoneRedundancy", "Disabled"),
      "replication " + home.value("name", "")));
  Json updated = registry;
  updated["_cove"]["homeReplication"] = {
      {"regionEndpointEnabled",
       endpoint_enabled.value_or(home["properties"].value("regionEndpointEnabled", true))},
      {"tags", doc["tags"]}};
  engine.txn().Put(p.ParentKey(), updated);
  return ArmResponse{200, engine.RenderDoc(HomeReplicationDoc(updated))};
}

// The home replication's GET, HEAD, PATCH and DELETE (a PUT goes the generic way, which refuses
// a second replication of the home region). The deletion error's message is cove's, in Azure's
// style: the exact text of ACR's was not found.
std::optional<Result<ArmResponse>> InterceptHomeReplication(Engine& engine, const ArmRequest& r,
                                                            const ArmPath& p) {
  const Json* registry = HomeRegistryOf(engine, p);
  if (registry == nullptr) return std::nullopt;
  // The answers are made in place: GCC 12 at -O1 (the sanitizer tree) takes a temporary
  // Result's destructor for one of an uninitialized Error (-Wmaybe-uninitialized).
  using Answer = std::optional<Result<ArmResponse>>;
  if (r.method == "GET") {
    return Answer(std::in_place, ArmResponse{200, engine.RenderDoc(HomeReplicationDoc(*registry))});
  }
  if (r.method == "HEAD") return Answer(std::in_place, ArmResponse{200, std::nullopt});
  if (r.method == "PATCH") return PatchHomeReplication(engine, r, p, *registry);
  if (r.method != "DELETE") return std::nullopt;
  std::string home = registry->value("location", "");
  return Result<ArmResponse>(ArmFail(400, "HomeReplicationCannotBeDeleted",
                 "The replication " + p.names.back() + " is in the home region " + home +
                     " of registry " + registry->value("name", "") +
                     " and cannot be deleted. Delete the registry to remove it."));
}

// A registry's replications list its home region's first.
Json ListHomeReplication(const Engine& engine, const std::string& registry_key) {
  const Json* registry = engine.txn().Get(registry_key);
  if (registry == nullptr) return Json::array();
  std::string home = registry->value("location", "");
  if (engine.txn().Get(registry_key + "/replications/" + home) != nullptr) return Json::array();
  return Json::array({engine.RenderDoc(HomeReplicationDoc(*registry))});
}

}  // namespace

std::optional<ReplicationStatus> Engine::ReplicationStatusOf(const std::string& registry_name,
                                                             const std::string& region) const {
  if (replication_status_ == nullptr || !*replication_status_) return std::nullopt;
  return (*replication_status_)(registry_name, region);
}

Status Engine::DeleteReplication(const std::string& key) {
  std::string registry_key = ParentOfKey(key);
  txn_.EraseTree(key);
  for (const auto& pe : EndpointsOf(registry_key)) COVE_RETURN_IF_ERROR(SyncEndpoint(pe));
  return {};
}

Status Engine::PutConnection(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr) {
    return ArmFail(404, "PrivateEndpointConnectionNotFound",
                   "Private endpoint connection '" + p.names.back() +
                       "' was not found. Connections are created by creating a private endpoint "
                       "that targets the registry.");
  }
  Json doc = *existing;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(Body state, props.Object("privateLinkServiceConnectionState"));
  COVE_ASSIGN_OR_RETURN(auto status,
                        state.Enum("status", {"Approved", "Pending", "Rejected", "Disconnected"}));
  COVE_ASSIGN_OR_RETURN(auto description, state.String("description"));
  Json& s = doc["properties"]["privateLinkServiceConnectionState"];
  std::string current = s.value("status", "");
  if (status && *status != current) {
    if (current == "Rejected") {
      return ArmFail(400, "PrivateEndpointConnectionStatusChangeNotAllowed",
                     "Private endpoint connection " + doc.value("name", "") +
                         " was rejected; a rejected connection cannot be approved again. Delete "
                         "and recreate the private endpoint.");
    }
    if (*status == "Pending" || *status == "Disconnected") {
      return ArmFail(400, "PrivateEndpointConnectionStatusChangeNotAllowed",
                     "A private endpoint connection can only be set to Approved or Rejected, not " +
                         *status + ".");
    }
    s["status"] = *status;
  }
  if (description) s["description"] = *description;
  doc["properties"]["provisioningState"] = "Succeeded";
  txn_.Put(p.Key(), doc);
  return {};
}

Status Engine::DeleteConnection(const std::string& key) {
  txn_.EraseTree(key);
  return {};
}

Status Engine::DeleteRegistry(const std::string& key) {
  txn_.EraseTree(key);
  return {};
}

Result<ArmResponse> Engine::CheckNameAvailability(const std::string& text) {
  Json body = Json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!body.is_object()) return tl::unexpected(BadContent("$", "must be a JSON object"));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(auto name, b.String("name"));
  COVE_ASSIGN_OR_RETURN(auto type, b.String("type"));
  if (!name) return tl::unexpected(BadContent("name", "is required"));
  if (type && !EqualsIgnoreCase(*type, kRegistryType)) {
    return tl::unexpected(BadContent("type", "must be Microsoft.ContainerRegistry/registries"));
  }
  Json out;
  if (!IsValidRegistryName(*name)) {
    out = {{"nameAvailable", false},
           {"reason", "Invalid"},
           {"message", "The specified resource name is invalid: registry names may contain only "
                       "alpha numeric characters and must be between 5 and 50 characters."}};
  } else if (!FindRegistryKeyByName(Lower(*name)).empty()) {
    out = {{"nameAvailable", false},
           {"reason", "AlreadyExists"},
           {"message", "The registry " + *name + " is already in use."}};
  } else {
    out = {{"nameAvailable", true}};
  }
  return ArmResponse{200, out};
}

Result<ArmResponse> Engine::PrivateLinkResources(const ArmPath& p, bool single) {
  std::string registry_key = p.ParentKey();
  const Json& registry = *txn_.Get(registry_key);
  if (single && !EqualsIgnoreCase(p.names.back(), "registry")) {
    return ArmFail(404, "ResourceNotFound",
                   "Private link resource '" + p.names.back() + "' was not found; registries offer "
                   "one, 'registry'.");
  }
  Json members = Json::array({"registry"});
  for (const auto& r : RegistryRegions(registry_key)) members.push_back("registry_data_" + r);
  Json resource = {{"id", registry.value("id", "") + "/privateLinkResources/registry"},
                   {"name", "registry"},
                   {"type", "Microsoft.ContainerRegistry/registries/privateLinkResources"},
                   {"properties",
                    {{"groupId", "registry"},
                     {"requiredMembers", members},
                     {"requiredZoneNames", {"privatelink." + options_.dns_suffix}}}}};
  if (single) return ArmResponse{200, resource};
  return ArmResponse{200, Json{{"value", Json::array({resource})}}};
}

// ACR's usages of a registry: Size (bytes stored, from the data plane) and the counted
// resources, each with its SKU's limit (ACR's service tiers).
Result<ArmResponse> Engine::ListUsages(const ArmPath& p, bool single) {
  if (single) {
    return ArmFail(404, "InvalidResourceType",
                   "The resource type 'listUsages' could not be found in the namespace "
                   "'Microsoft.ContainerRegistry'.");
  }
  std::string registry_key = p.ParentKey();
  const Json* registry = txn_.Get(registry_key);
  if (registry == nullptr) {
    return ArmFail(404, "ResourceNotFound", "The registry was not found.");
  }
  struct Tier {
    uint64_t storage_gib;
    uint64_t webhooks;
  };
  std::string sku = (*registry)["sku"].value("name", "Basic");
  Tier tier = sku == "Premium" ? Tier{500, 500} : sku == "Standard" ? Tier{100, 10} : Tier{10, 2};
  std::optional<uint64_t> size;
  if (registry_usage_ != nullptr && *registry_usage_) {
    size = (*registry_usage_)(Lower(registry->value("name", "")));
  }
  auto usage = [](const char* name, uint64_t limit, uint64_t current, const char* unit) {
    return Json{{"name", name}, {"limit", limit}, {"currentValue", current}, {"unit", unit}};
  };
  auto count = [&](const char* type) {
    return static_cast<uint64_t>(txn_.Children(registry_key, type).size());
  };
  Json value = Json::array({
      usage("Size", tier.storage_gib << 30, size.value_or(0), "Bytes"),
      usage("Webhooks", tier.webhooks, 0, "Count"),
      usage("ScopeMaps", 50'000, count("scopemaps"), "Count"),
      usage("Tokens", 50'000, count("tokens"), "Count"),
  });
  if (sku == "Premium") {
    const Json& props = (*registry)["properties"];
    value.push_back(usage("Geo-replications", 100, count("replications"), "Count"));
    value.push_back(usage("IPRules", 200, props["networkRuleSet"].value("ipRules", Json::array()).size(),
                          "Count"));
    value.push_back(usage("VNetRules", 100,
                          props["networkRuleSet"].value("virtualNetworkRules", Json::array()).size(),
                          "Count"));
    value.push_back(
        usage("PrivateEndpointConnections", 200, count("privateendpointconnections"), "Count"));
  }
  return ArmResponse{200, Json{{"value", value}}};
}

Json Engine::RenderRegistry(const Json& doc) const {
  Json out = doc;
  std::string key = Lower(doc.value("id", ""));
  Json& dp = out["properties"];
  Json hosts = Json::array();
  if (dp.value("dataEndpointEnabled", false)) {
    for (const auto& r : RegistryRegions(key)) {
      hosts.push_back(Lower(doc.value("name", "")) + "." + r + ".data." + options_.dns_suffix);
    }
  }
  dp["dataEndpointHostNames"] = hosts;
  Json connections = Json::array();
  for (const auto& k : txn_.Children(key, "privateendpointconnections")) {
    connections.push_back(*txn_.Get(k));
  }
  dp["privateEndpointConnections"] = connections;
  return out;
}

namespace {

void ProjectRegistry(const std::string& key, const Json& doc, Snapshot& snapshot) {
  const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
  RegistryView r;
  r.id = Str(doc, "id");
  r.uid = doc.contains("_cove") ? Str(doc["_cove"], "uid") : "";
  r.name = Lower(Str(doc, "name"));
  auto path = ParseResourceId(r.id);
  if (path) {
    r.subscription = path->subscription;
    r.resource_group = path->resource_group;
  }
  r.sku = Str(doc["sku"], "name");
  r.home_region = Str(doc, "location");
  r.regions.push_back(r.home_region);
  r.replicas.push_back(
      {.region = r.home_region,
       .region_endpoint_enabled = Cove(doc, "homeReplication").value("regionEndpointEnabled", true),
       .zone_redundant = props.value("zoneRedundancy", "Disabled") == "Enabled"});
  std::vector<ReplicaView> replicas;
  for (const Json* rep : ChildDocuments(snapshot.documents, key, "replications")) {
    std::string loc = Str(*rep, "location");
    if (loc == r.home_region) continue;
    const Json& rp = rep->contains("properties") ? (*rep)["properties"] : Json::object();
    replicas.push_back({.region = loc,
                        .region_endpoint_enabled = rp.value("regionEndpointEnabled", true),
                        .zone_redundant = rp.value("zoneRedundancy", "Disabled") == "Enabled"});
  }
  std::sort(replicas.begin(), replicas.end(),
            [](const ReplicaView& a, const ReplicaView& b) { return a.region < b.region; });
  for (const auto& replica : replicas) r.regions.push_back(replica.region);
  r.replicas.insert(r.replicas.end(), replicas.begin(), replicas.end());
  r.login_server = r.name + "." + snapshot.dns_suffix;
  r.data_endpoint_enabled = props.value("dataEndpointEnabled", false);
  if (r.data_endpoint_enabled) {
    for (const auto& region : r.regions) {
      r.data_endpoint_host_names.push_back(r.name + "." + region + ".data." + snapshot.dns_suffix);
    }
  }
  r.public_network_access = props.value("publicNetworkAccess", "Enabled") == "Enabled";
  if (props.contains("networkRuleSet")) {
    const Json& rs = props["networkRuleSet"];
    r.default_action = rs.value("defaultAction", "Allow");
    for (const auto& ip : rs.value("ipRules", Json::array())) {
      r.ip_rules.push_back({Str(ip, "value"), ip.value("action", "Allow")});
    }
  }
  r.bypass_azure_services =
      props.value("networkRuleBypassOptions", "AzureServices") == "AzureServices";
  r.admin_user_enabled = props.value("adminUserEnabled", false);
  r.anonymous_pull_enabled = props.value("anonymousPullEnabled", false);
  if (props.contains("policies") && props["policies"].contains("retentionPolicy")) {
    const Json& retention = props["policies"]["retentionPolicy"];
    r.retention_enabled = retention.value("status", "disabled") == "enabled";
    r.retention_days = retention.value("days", 7);
  }
  const Json& admin = Cove(doc, "admin");
  r.admin_password_hashes = {Str(admin, "password"), Str(admin, "password2")};
  for (const auto& m : SystemScopeMapDefs()) {
    ScopeMapView v{m.name, true, {}};
    for (const char* a : m.actions) v.actions.push_back(a);
    r.scope_maps.push_back(std::move(v));
  }
  for (const Json* m : ChildDocuments(snapshot.documents, key, "scopemaps")) {
    r.scope_maps.push_back(
        {Str(*m, "name"), false, Strings((*m)["properties"].value("actions", Json::array()))});
  }
  for (const Json* t : ChildDocuments(snapshot.documents, key, "tokens")) {
    TokenView v;
    v.name = Str(*t, "name");
    v.uid = t->contains("_cove") ? Str((*t)["_cove"], "uid") : "";
    v.enabled = Str((*t)["properties"], "status") != "disabled";
    std::string map_id = Str((*t)["properties"], "scopeMapId");
    v.scope_map = map_id.substr(map_id.rfind('/') + 1);
    v.passwords = Secrets(Cove(*t, "passwords"));
    r.tokens.push_back(std::move(v));
  }
  snapshot.registries.push_back(std::move(r));
}

}  // namespace

void RegisterRegistryProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.ContainerRegistry/registries",
                .location = LocationRule::kRegional,
                .api_versions = ContainerRegistryApiVersions(),
                .delete_rank = 40,
                .put = EngineFn<&Engine::PutRegistry>,
                .remove = EngineFn<&Engine::DeleteRegistry>,
                .render = EngineFn<&Engine::RenderRegistry>,
                .project = ProjectRegistry,
                .action = EngineFn<&Engine::RegistryActions>});
  registry.Add({.type = "Microsoft.ContainerRegistry/registries/replications",
                .location = LocationRule::kRegional,
                .api_versions = ContainerRegistryApiVersions(),
                .put = EngineFn<&Engine::PutReplication>,
                .remove = EngineFn<&Engine::DeleteReplication>,
                .render = RenderReplication,
                .intercept = InterceptHomeReplication,
                .list_prefix = ListHomeReplication});
  registry.Add({.type = "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
                .api_versions = ContainerRegistryApiVersions(),
                .put = EngineFn<&Engine::PutConnection>,
                .remove = EngineFn<&Engine::DeleteConnection>});
  registry.Add({.type = "Microsoft.ContainerRegistry/registries/privateLinkResources",
                .api_versions = ContainerRegistryApiVersions(),
                .computed = EngineFn<&Engine::PrivateLinkResources>});
  registry.Add({.type = "Microsoft.ContainerRegistry/registries/listUsages",
                .api_versions = ContainerRegistryApiVersions(),
                .computed = EngineFn<&Engine::ListUsages>});
}

}  // namespace cove::arm
