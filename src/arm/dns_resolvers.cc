// Azure DNS Private Resolver (issue 14): how names resolve between a VNet and on-premises.
//
// dnsResolvers              {virtualNetwork}: one resolver per VNet, in the VNet's region; the
//                           VNet cannot change. dnsResolverState is Connected.
//   /inboundEndpoints       {ipConfigurations: [{subnet, privateIpAllocationMethod Dynamic|Static,
//                           privateIpAddress}]}: one ipConfiguration, in a subnet of the
//                           resolver's VNet. The address answers queries with the VNet's view
//                           (as 168.63.129.16 does inside it); Dynamic takes the lowest free
//                           host address from .4, as NICs do.
//   /outboundEndpoints      {subnet}: where the resolver's forwarded queries leave from.
//                           Both kinds of endpoint need a subnet delegated to
//                           Microsoft.Network/dnsResolvers (SubnetMissingRequiredDelegation),
//                           /28 to /24, that holds nothing else (Azure's BadRequest message).
// dnsForwardingRulesets     {dnsResolverOutboundEndpoints: [{id}]}: one or two outbound endpoints
//                           of one resolver, in its region.
//   /forwardingRules        {domainName "azurecr.io." (with the trailing dot), targetDnsServers
//                           [{ipAddress, port 53}] (1-6), forwardingRuleState Enabled|Disabled,
//                           metadata}; one rule per domain in a ruleset.
//   /virtualNetworkLinks    {virtualNetwork, metadata}: the VNets whose queries the rules apply
//                           to; same region as the ruleset, one link per VNet.
//
// Error codes: see onprem_support.h.
#include <set>

#include "arm/onprem_support.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

constexpr char kResolverType[] = "Microsoft.Network/dnsResolvers";
constexpr char kInboundType[] = "Microsoft.Network/dnsResolvers/inboundEndpoints";
constexpr char kOutboundType[] = "Microsoft.Network/dnsResolvers/outboundEndpoints";
constexpr char kRulesetType[] = "Microsoft.Network/dnsForwardingRulesets";
constexpr char kRuleType[] = "Microsoft.Network/dnsForwardingRulesets/forwardingRules";
constexpr char kLinkType[] = "Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks";
constexpr char kVnetType[] = "Microsoft.Network/virtualNetworks";
constexpr char kSubnetType[] = "Microsoft.Network/virtualNetworks/subnets";
constexpr char kDelegation[] = "Microsoft.Network/dnsResolvers";

// metadata: an object of strings, kept as given (the existing one when absent).
Result<Json> Metadata(const Body& props, const Json* old) {
  COVE_ASSIGN_OR_RETURN(Body metadata, props.Object("metadata"));
  if (!metadata.present()) return old != nullptr ? Field(*old, "metadata") : Json::object();
  for (const auto& [k, v] : metadata.json()->items()) {
    if (!v.is_string())
      return tl::unexpected(BadContent("properties.metadata." + k, "must be a string"));
  }
  return *metadata.json();
}

// ------------------------------------------------------------------ resolvers

Status PutResolver(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kResolverType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string vnet_id, props.RefId("virtualNetwork"));
  std::string old_vnet =
      existing != nullptr ? Str(Field(Field(*existing, "properties"), "virtualNetwork"), "id") : "";
  if (vnet_id.empty()) vnet_id = old_vnet;
  if (vnet_id.empty()) {
    return tl::unexpected(BadContent("properties.virtualNetwork.id", "is required"));
  }
  const Json* vnet = FindOfType(txn, vnet_id, kVnetType);
  if (vnet == nullptr) return tl::unexpected(InvalidReference(vnet_id, id));
  COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *vnet));
  if (!old_vnet.empty() && Lower(old_vnet) != Lower(vnet_id)) {
    return ArmFail(
        400, "DnsResolverVirtualNetworkCannotBeUpdated",  // cove's name
        "The virtual network of DNS resolver " + id + " cannot be changed after creation.");
  }
  for (const auto& k : ReferencesTo(txn, kResolverType, "virtualNetwork", Lower(vnet_id))) {
    if (k == p.Key()) continue;
    return ArmFail(400, "DnsResolverAlreadyExistsForVirtualNetwork",  // cove's name
                   "Virtual network " + vnet->value("id", "") + " already has DNS resolver " +
                       txn.Get(k)->value("id", "") +
                       "; a virtual network can be linked to one DNS resolver only.");
  }
  Json& dp = doc["properties"];
  dp["virtualNetwork"] = {{"id", vnet->value("id", vnet_id)}};
  dp["dnsResolverState"] = "Connected";
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  engine.txn().Put(p.Key(), doc);
  return {};
}

// ------------------------------------------------------------------ endpoints

// The subnet an endpoint of the resolver `resolver_key` may use, or Azure's refusal.
Result<const Json*> EndpointSubnet(Engine& engine, const std::string& resolver_key,
                                   const std::string& subnet_id, const std::string& endpoint_id,
                                   const char* kind) {
  const Txn& txn = engine.txn();
  const Json* subnet = FindOfType(txn, subnet_id, kSubnetType);
  if (subnet == nullptr) return tl::unexpected(InvalidReference(subnet_id, endpoint_id));
  std::string subnet_key = Lower(subnet_id);
  std::string resolver_vnet =
      Lower(Str(Field(Field(*txn.Get(resolver_key), "properties"), "virtualNetwork"), "id"));
  if (ParentOfKey(subnet_key) != resolver_vnet) {
    return ArmFail(400, "SubnetNotInDnsResolverVirtualNetwork",  // cove's name
                   "Subnet " + subnet->value("id", "") + " of " + kind + " endpoint " +
                       endpoint_id + " is not in the DNS resolver's virtual network " +
                       txn.Get(resolver_vnet)->value("id", resolver_vnet) + ".");
  }
  bool delegated = false;
  for (const auto& d : Field(Field(*subnet, "properties"), "delegations")) {
    delegated =
        delegated || EqualsIgnoreCase(Str(Field(d, "properties"), "serviceName"), kDelegation);
  }
  if (!delegated) {
    std::string sid = subnet->value("id", "");
    return ArmFail(400, "SubnetMissingRequiredDelegation",
                   "Subnet " + sid + " requires any of the following delegation(s) [" +
                       kDelegation + "] to reference service association link " + sid +
                       "/serviceAssociationLinks/dnsResolverLink.");
  }
  auto prefix = ParseCidr(Str(Field(*subnet, "properties"), "addressPrefix")).cidr;
  auto users = engine.SubnetUsers(subnet_key);
  std::erase_if(users, [&](const std::string& u) { return Lower(u) == Lower(endpoint_id); });
  if (!prefix || prefix->length < 24 || prefix->length > 28 || !users.empty()) {
    return ArmFail(400, "BadRequest",
                   "The specified subnet " + subnet->value("id", "") +
                       " could not be used to provision the " + kind +
                       " endpoint. Please make sure you use a subnet of at least /28 and at most "
                       "/24 size, which is not currently in use by any other DNS resolver "
                       "endpoint or any other Azure service workloads.");
  }
  return subnet;
}

// The inbound endpoints' addresses in `subnet_key`, but `except_key`'s.
std::set<uint32_t> InboundAddresses(const Txn& txn, const std::string& subnet_key,
                                    const std::string& except_key) {
  std::set<uint32_t> used;
  for (const auto& k : KeysOfType(txn, kInboundType)) {
    if (k == except_key) continue;
    for (const auto& ipc : Field(Field(*txn.Get(k), "properties"), "ipConfigurations")) {
      if (Lower(Str(Field(ipc, "subnet"), "id")) != subnet_key) continue;
      if (auto a = ParseIpv4(Str(ipc, "privateIpAddress"))) used.insert(*a);
    }
  }
  return used;
}

Status PutInbound(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kInboundType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  std::string id = doc.value("id", "");
  std::string key = p.Key();
  COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *engine.txn().Get(p.ParentKey())));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto configs, props.Array("ipConfigurations"));
  const Json no_configs = Json::array();
  const Json& old_configs =
      existing != nullptr ? Field(Field(*existing, "properties"), "ipConfigurations") : no_configs;
  if (configs.empty() && !old_configs.empty()) {
    configs.emplace_back(&old_configs[0], "properties.ipConfigurations[0]");
  }
  if (configs.size() != 1) {
    return tl::unexpected(
        BadContent("properties.ipConfigurations", "must hold one ipConfiguration"));
  }
  const Body& c = configs[0];
  COVE_ASSIGN_OR_RETURN(std::string subnet_id, c.RefId("subnet"));
  COVE_ASSIGN_OR_RETURN(auto method, c.Enum("privateIpAllocationMethod", {"Dynamic", "Static"}));
  COVE_ASSIGN_OR_RETURN(auto address, c.String("privateIpAddress"));
  if (subnet_id.empty()) return tl::unexpected(BadContent(c.where() + ".subnet.id", "is required"));
  if (!old_configs.empty() &&
      Lower(Str(Field(old_configs[0], "subnet"), "id")) != Lower(subnet_id)) {
    return ArmFail(400, "InboundEndpointSubnetCannotBeUpdated",  // cove's name
                   "The subnet of inbound endpoint " + id + " cannot be changed after creation.");
  }
  COVE_ASSIGN_OR_RETURN(const Json* subnet,
                        EndpointSubnet(engine, p.ParentKey(), subnet_id, id, "inbound"));
  Cidr cidr = *ParseCidr(Str(Field(*subnet, "properties"), "addressPrefix")).cidr;
  std::string subnet_key = Lower(subnet_id);
  auto used = InboundAddresses(engine.txn(), subnet_key, key);
  bool is_static = method.value_or(address && !address->empty() ? "Static" : "Dynamic") == "Static";
  uint32_t ip = 0;
  if (is_static) {
    auto want = address ? ParseIpv4(*address) : std::nullopt;
    if (!want || !cidr.Contains(*want) || *want < cidr.First() + 4 || *want == cidr.Last()) {
      return ArmFail(400, "PrivateIPAddressNotInSubnet",
                     "IP address " + address.value_or("") + " does not belong to subnet " +
                         subnet->value("id", "") + " or is reserved.");
    }
    if (used.count(*want)) {
      return ArmFail(400, "PrivateIPAddressInUse",
                     "Inbound endpoint " + id + " is using the private IP address " + *address +
                         " which is already allocated to another resource.");
    }
    ip = *want;
  } else {
    if (!old_configs.empty()) {
      auto current = ParseIpv4(Str(old_configs[0], "privateIpAddress"));
      if (current && !used.count(*current)) ip = *current;
    }
    for (uint32_t a = cidr.First() + 4; ip == 0 && a < cidr.Last(); ++a) {
      if (!used.count(a)) ip = a;
    }
    if (ip == 0) {
      return ArmFail(400, "SubnetIsFull",
                     "Subnet " + subnet->value("name", "") + " with address prefix " +
                         cidr.ToString() + " does not have enough capacity for 1 IP address.");
    }
  }
  Json& dp = doc["properties"];
  dp["ipConfigurations"] =
      Json::array({{{"subnet", {{"id", subnet->value("id", subnet_id)}}},
                    {"privateIpAddress", FormatIpv4(ip)},
                    {"privateIpAllocationMethod", is_static ? "Static" : "Dynamic"}}});
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  engine.txn().Put(key, doc);
  return {};
}

Status PutOutbound(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kOutboundType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  std::string id = doc.value("id", "");
  COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *engine.txn().Get(p.ParentKey())));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string subnet_id, props.RefId("subnet"));
  std::string old_subnet =
      existing != nullptr ? Str(Field(Field(*existing, "properties"), "subnet"), "id") : "";
  if (subnet_id.empty()) subnet_id = old_subnet;
  if (subnet_id.empty()) return tl::unexpected(BadContent("properties.subnet.id", "is required"));
  if (!old_subnet.empty() && Lower(old_subnet) != Lower(subnet_id)) {
    return ArmFail(400, "OutboundEndpointSubnetCannotBeUpdated",  // cove's name
                   "The subnet of outbound endpoint " + id + " cannot be changed after creation.");
  }
  COVE_ASSIGN_OR_RETURN(const Json* subnet,
                        EndpointSubnet(engine, p.ParentKey(), subnet_id, id, "outbound"));
  Json& dp = doc["properties"];
  dp["subnet"] = {{"id", subnet->value("id", subnet_id)}};
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  engine.txn().Put(p.Key(), doc);
  return {};
}

// The rulesets that name the outbound endpoint `key`.
std::vector<std::string> RulesetsUsing(const Txn& txn, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& k : KeysOfType(txn, kRulesetType)) {
    for (const auto& e : Field(Field(*txn.Get(k), "properties"), "dnsResolverOutboundEndpoints")) {
      if (Lower(Str(e, "id")) == key) out.push_back(k);
    }
  }
  return out;
}

Status DeleteOutbound(Engine& engine, const std::string& key) {
  auto rulesets = RulesetsUsing(engine.txn(), key);
  if (!rulesets.empty()) {
    return ArmFail(400, "InUseOutboundEndpointCannotBeDeleted",  // cove's name
                   "Outbound endpoint " + engine.txn().Get(key)->value("id", "") +
                       " cannot be deleted because DNS forwarding ruleset(s) " +
                       IdsOf(engine.txn(), rulesets) + " use it.");
  }
  engine.txn().EraseTree(key);
  return {};
}

Status DeleteResolver(Engine& engine, const std::string& key) {
  for (const auto& k : engine.txn().Children(key, "outboundendpoints")) {
    COVE_RETURN_IF_ERROR(DeleteOutbound(engine, k));
  }
  engine.txn().EraseTree(key);
  return {};
}

std::vector<std::string> InboundSubnetUsers(const Json& doc, const std::string& subnet_key) {
  for (const auto& ipc : Field(Field(doc, "properties"), "ipConfigurations")) {
    if (Lower(Str(Field(ipc, "subnet"), "id")) == subnet_key) return {Str(doc, "id")};
  }
  return {};
}

std::vector<std::string> OutboundSubnetUsers(const Json& doc, const std::string& subnet_key) {
  if (Lower(Str(Field(Field(doc, "properties"), "subnet"), "id")) != subnet_key) return {};
  return {Str(doc, "id")};
}

void ProjectResolver(const std::string& key, const Json& doc, Snapshot& snapshot) {
  DnsResolverView r;
  r.id = Str(doc, "id");
  r.name = Str(doc, "name");
  r.vnet_id = Str(Field(Field(doc, "properties"), "virtualNetwork"), "id");
  for (const Json* e : ChildDocuments(snapshot.documents, key, "inboundendpoints")) {
    for (const auto& ipc : Field(Field(*e, "properties"), "ipConfigurations")) {
      r.inbound.push_back(
          {Str(*e, "id"), Str(Field(ipc, "subnet"), "id"), Str(ipc, "privateIpAddress")});
    }
  }
  for (const Json* e : ChildDocuments(snapshot.documents, key, "outboundendpoints")) {
    r.outbound.push_back({Str(*e, "id"), Str(Field(Field(*e, "properties"), "subnet"), "id")});
  }
  snapshot.dns_resolvers.push_back(std::move(r));
}

// ------------------------------------------------------------------ forwarding rulesets

Status PutRuleset(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kRulesetType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  bool have = false;
  COVE_ASSIGN_OR_RETURN(auto endpoints, props.Array("dnsResolverOutboundEndpoints", &have));
  std::vector<std::string> ids;
  for (const auto& e : endpoints) {
    COVE_ASSIGN_OR_RETURN(auto eid, e.String("id"));
    if (!eid || eid->empty()) return tl::unexpected(BadContent(e.where() + ".id", "is required"));
    ids.push_back(*eid);
  }
  if (!have && existing != nullptr) {
    for (const auto& e : Field(Field(*existing, "properties"), "dnsResolverOutboundEndpoints")) {
      ids.push_back(Str(e, "id"));
    }
  }
  if (ids.empty() || ids.size() > 2) {
    return tl::unexpected(BadContent("properties.dnsResolverOutboundEndpoints",
                                     "must name one or two outbound endpoints"));
  }
  Json list = Json::array();
  std::string resolver_key;
  for (const auto& eid : ids) {
    const Json* endpoint = FindOfType(txn, eid, kOutboundType);
    if (endpoint == nullptr) return tl::unexpected(InvalidReference(eid, id));
    COVE_RETURN_IF_ERROR(CheckSameRegion(doc, *endpoint));
    std::string parent = ParentOfKey(Lower(eid));
    if (!resolver_key.empty() && parent != resolver_key) {
      return ArmFail(400, "OutboundEndpointsOfDifferentResolvers",  // cove's name
                     "DNS forwarding ruleset " + id +
                         " names outbound endpoints of two DNS resolvers; its endpoints must "
                         "belong to one resolver.");
    }
    resolver_key = parent;
    list.push_back({{"id", endpoint->value("id", eid)}});
  }
  Json& dp = doc["properties"];
  dp["dnsResolverOutboundEndpoints"] = list;
  if (!dp.contains("resourceGuid")) dp["resourceGuid"] = engine.Guid();
  engine.txn().Put(p.Key(), doc);
  return {};
}

// "azurecr.io." → true: a DNS name of at least two labels, with the trailing dot Azure requires.
bool IsRuleDomain(const std::string& domain) {
  return domain.size() > 1 && domain.back() == '.' &&
         IsValidDnsName(std::string_view(domain).substr(0, domain.size() - 1), 2);
}

Status PutRule(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kRuleType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, false));
  std::string id = doc.value("id", "");
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto domain, props.String("domainName"));
  bool have_targets = false;
  COVE_ASSIGN_OR_RETURN(auto targets, props.Array("targetDnsServers", &have_targets));
  COVE_ASSIGN_OR_RETURN(auto state, props.Enum("forwardingRuleState", {"Enabled", "Disabled"}));
  COVE_ASSIGN_OR_RETURN(Json metadata, Metadata(props, old));
  if (!domain && old) domain = Str(*old, "domainName");
  if (!domain || !IsRuleDomain(*domain)) {
    return ArmFail(400, "InvalidDomainName",  // cove's name
                   "The domain name '" + domain.value_or("") + "' of forwarding rule " + id +
                       " is not valid: it must be a DNS name of at least two labels ending with "
                       "a dot, for example 'azurecr.io.'.");
  }
  Json servers = Json::array();
  for (const auto& t : targets) {
    COVE_ASSIGN_OR_RETURN(auto ip, t.String("ipAddress"));
    COVE_ASSIGN_OR_RETURN(auto port, t.Int("port"));
    if (!ip || !ParseIpv4(*ip)) {
      return tl::unexpected(BadContent(t.where() + ".ipAddress", "must be an IPv4 address"));
    }
    if (port && (*port < 1 || *port > 65535)) {
      return tl::unexpected(BadContent(t.where() + ".port", "must be 1-65535"));
    }
    servers.push_back({{"ipAddress", *ip}, {"port", port.value_or(53)}});
  }
  if (!have_targets && old) servers = Field(*old, "targetDnsServers");
  if (servers.empty() || servers.size() > 6) {
    return tl::unexpected(
        BadContent("properties.targetDnsServers", "must name one to six DNS servers"));
  }
  std::string key = p.Key();
  for (const auto& k : engine.txn().Children(p.ParentKey(), "forwardingrules")) {
    if (k == key) continue;
    if (EqualsIgnoreCase(Str(Field(*engine.txn().Get(k), "properties"), "domainName"), *domain)) {
      return ArmFail(400, "ForwardingRuleDomainNameAlreadyExists",  // cove's name
                     "Forwarding rule " + engine.txn().Get(k)->value("id", "") +
                         " of the same ruleset already forwards '" + *domain + "'.");
    }
  }
  Json& dp = doc["properties"];
  dp["domainName"] = *domain;
  dp["targetDnsServers"] = servers;
  dp["forwardingRuleState"] = state ? *state : (old ? Str(*old, "forwardingRuleState") : "Enabled");
  dp["metadata"] = metadata;
  engine.txn().Put(key, doc);
  return {};
}

Status PutLink(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kLinkType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, false));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string vnet_id, props.RefId("virtualNetwork"));
  COVE_ASSIGN_OR_RETURN(Json metadata, Metadata(props, old));
  std::string old_vnet = old ? Str(Field(*old, "virtualNetwork"), "id") : "";
  if (vnet_id.empty()) vnet_id = old_vnet;
  if (vnet_id.empty()) {
    return tl::unexpected(BadContent("properties.virtualNetwork.id", "is required"));
  }
  const Json* vnet = FindOfType(txn, vnet_id, kVnetType);
  if (vnet == nullptr) return tl::unexpected(InvalidReference(vnet_id, id));
  const Json& ruleset = *txn.Get(p.ParentKey());
  if (vnet->value("location", "") != ruleset.value("location", "")) {
    return tl::unexpected(InvalidReference(vnet_id, id));
  }
  if (!old_vnet.empty() && Lower(old_vnet) != Lower(vnet_id)) {
    return ArmFail(400, "VirtualNetworkLinkVirtualNetworkCannotBeUpdated",  // cove's name
                   "The virtual network of link " + id + " cannot be changed after creation.");
  }
  std::string key = p.Key();
  for (const auto& k : txn.Children(p.ParentKey(), "virtualnetworklinks")) {
    if (k != key && Lower(Str(Field(Field(*txn.Get(k), "properties"), "virtualNetwork"), "id")) ==
                        Lower(vnet_id)) {
      return ArmFail(400, "VirtualNetworkLinkAlreadyExists",  // cove's name
                     "Virtual network " + vnet->value("id", "") +
                         " is already linked to the ruleset by " + txn.Get(k)->value("id", "") +
                         ".");
    }
  }
  Json& dp = doc["properties"];
  dp["virtualNetwork"] = {{"id", vnet->value("id", vnet_id)}};
  dp["metadata"] = metadata;
  engine.txn().Put(key, doc);
  return {};
}

void ProjectRuleset(const std::string& key, const Json& doc, Snapshot& snapshot) {
  ForwardingRulesetView r;
  r.id = Str(doc, "id");
  r.name = Str(doc, "name");
  for (const auto& e : Field(Field(doc, "properties"), "dnsResolverOutboundEndpoints")) {
    r.outbound_endpoint_ids.push_back(Str(e, "id"));
  }
  for (const Json* rule : ChildDocuments(snapshot.documents, key, "forwardingrules")) {
    const Json& rp = Field(*rule, "properties");
    ForwardingRuleView v;
    v.name = Str(*rule, "name");
    v.domain = Str(rp, "domainName");
    for (const auto& t : Field(rp, "targetDnsServers")) {
      v.targets.push_back({Str(t, "ipAddress"), static_cast<int>(IntField(t, "port", 53))});
    }
    v.enabled = Str(rp, "forwardingRuleState") != "Disabled";
    r.rules.push_back(std::move(v));
  }
  for (const Json* link : ChildDocuments(snapshot.documents, key, "virtualnetworklinks")) {
    r.vnet_ids.push_back(Str(Field(Field(*link, "properties"), "virtualNetwork"), "id"));
  }
  snapshot.forwarding_rulesets.push_back(std::move(r));
}

}  // namespace

void RegisterDnsResolverProviders(ProviderRegistry& registry) {
  registry.Add({.type = kRulesetType,
                .location = LocationRule::kRegional,
                .api_versions = DnsResolverApiVersions(),
                .delete_rank = 67,
                .put = PutRuleset,
                .project = ProjectRuleset});
  registry.Add({.type = kRuleType, .api_versions = DnsResolverApiVersions(), .put = PutRule});
  registry.Add({.type = kLinkType, .api_versions = DnsResolverApiVersions(), .put = PutLink});
  registry.Add({.type = kResolverType,
                .location = LocationRule::kRegional,
                .api_versions = DnsResolverApiVersions(),
                .delete_rank = 68,
                .put = PutResolver,
                .remove = DeleteResolver,
                .project = ProjectResolver});
  registry.Add({.type = kInboundType,
                .location = LocationRule::kRegional,
                .api_versions = DnsResolverApiVersions(),
                .put = PutInbound,
                .subnet_users = InboundSubnetUsers});
  registry.Add({.type = kOutboundType,
                .location = LocationRule::kRegional,
                .api_versions = DnsResolverApiVersions(),
                .put = PutOutbound,
                .remove = DeleteOutbound,
                .subnet_users = OutboundSubnetUsers});
}

}  // namespace cove::arm
