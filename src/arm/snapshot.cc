#include "arm/snapshot.h"

#include <algorithm>

#include "arm/identity_support.h"
#include "arm/resource_path.h"

namespace cove::arm {
namespace {

std::string Str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::vector<std::string> Strings(const Json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

std::string TypeOf(const Json& doc) { return Lower(Str(doc, "type")); }

std::string ParentKey(const std::string& key) {
  std::string out = key.substr(0, key.rfind('/'));
  return out.substr(0, out.rfind('/'));
}

std::optional<Clock::TimePoint> Expiry(const Json& stored) {
  if (!stored.is_object() || !stored.contains("expiry") || !stored["expiry"].is_number_integer()) {
    return std::nullopt;
  }
  return Clock::TimePoint(std::chrono::seconds(stored["expiry"].get<int64_t>()));
}

// name → {hash, expiry?} as stored under "_cove" → views.
std::vector<SecretView> Secrets(const Json& stored) {
  std::vector<SecretView> out;
  if (!stored.is_object()) return out;
  for (const auto& [name, s] : stored.items()) {
    out.push_back({name, Str(s, "hash"), Expiry(s)});
  }
  return out;
}

const Json& Cove(const Json& doc, const char* field) {
  static const Json* empty = new Json(Json::object());
  if (!doc.contains("_cove") || !doc["_cove"].is_object() || !doc["_cove"].contains(field)) {
    return *empty;
  }
  return doc["_cove"][field];
}

struct Children {
  const Documents& docs;
  std::vector<const Json*> operator()(const std::string& parent, const std::string& type) const {
    std::vector<const Json*> out;
    std::string prefix = parent + "/" + type + "/";
    for (auto it = docs.lower_bound(prefix); it != docs.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (it->first.find('/', prefix.size()) == std::string::npos) out.push_back(it->second.get());
    }
    return out;
  }
};

}  // namespace

const RegistryView* Snapshot::FindRegistry(std::string_view name) const {
  for (const auto& r : registries) {
    if (EqualsIgnoreCase(r.name, name)) return &r;
  }
  return nullptr;
}

const Json* Snapshot::Find(std::string_view id) const {
  auto it = documents.find(Lower(id));
  return it == documents.end() ? nullptr : it->second.get();
}

SnapshotPtr BuildSnapshot(uint64_t version, std::string dns_suffix, Documents documents) {
  auto s = std::make_shared<Snapshot>();
  s->version = version;
  s->dns_suffix = std::move(dns_suffix);
  s->documents = std::move(documents);
  Children children{s->documents};
  const std::string& suffix = s->dns_suffix;
  for (const auto& [key, ptr] : s->documents) {
    const Json& doc = *ptr;
    std::string type = TypeOf(doc);
    const Json& props = doc.contains("properties") ? doc["properties"] : Json::object();
    if (type == "microsoft.containerregistry/registries") {
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
      std::vector<std::string> replicas;
      for (const Json* rep : children(key, "replications")) {
        std::string loc = Str(*rep, "location");
        if (loc != r.home_region) replicas.push_back(loc);
      }
      std::sort(replicas.begin(), replicas.end());
      r.regions.insert(r.regions.end(), replicas.begin(), replicas.end());
      r.login_server = r.name + "." + suffix;
      r.data_endpoint_enabled = props.value("dataEndpointEnabled", false);
      if (r.data_endpoint_enabled) {
        for (const auto& region : r.regions) {
          r.data_endpoint_host_names.push_back(r.name + "." + region + ".data." + suffix);
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
      r.bypass_azure_services = props.value("networkRuleBypassOptions", "AzureServices") == "AzureServices";
      r.admin_user_enabled = props.value("adminUserEnabled", false);
      r.anonymous_pull_enabled = props.value("anonymousPullEnabled", false);
      const Json& admin = Cove(doc, "admin");
      r.admin_password_hashes = {Str(admin, "password"), Str(admin, "password2")};
      for (const auto& m : SystemScopeMapDefs()) {
        ScopeMapView v{m.name, true, {}};
        for (const char* a : m.actions) v.actions.push_back(a);
        r.scope_maps.push_back(std::move(v));
      }
      for (const Json* m : children(key, "scopemaps")) {
        r.scope_maps.push_back(
            {Str(*m, "name"), false, Strings((*m)["properties"].value("actions", Json::array()))});
      }
      for (const Json* t : children(key, "tokens")) {
        TokenView v;
        v.name = Str(*t, "name");
        v.uid = t->contains("_cove") ? Str((*t)["_cove"], "uid") : "";
        v.enabled = Str((*t)["properties"], "status") != "disabled";
        std::string map_id = Str((*t)["properties"], "scopeMapId");
        v.scope_map = map_id.substr(map_id.rfind('/') + 1);
        v.passwords = Secrets(Cove(*t, "passwords"));
        r.tokens.push_back(std::move(v));
      }
      s->registries.push_back(std::move(r));
    } else if (type == "microsoft.managedidentity/userassignedidentities") {
      PrincipalView p;
      p.kind = PrincipalKind::kManagedIdentity;
      p.id = Str(props, "principalId");
      p.name = Str(doc, "name");
      p.app_id = Str(props, "clientId");
      p.resource_id = Str(doc, "id");
      s->principals.push_back(std::move(p));
    } else if (type == "microsoft.compute/virtualmachines" ||
               type == "microsoft.containerinstance/containergroups") {
      MachineView m;
      m.kind = type == "microsoft.compute/virtualmachines" ? MachineView::Kind::kVirtualMachine
                                                          : MachineView::Kind::kContainerGroup;
      m.id = Str(doc, "id");
      m.name = Str(doc, "name");
      m.location = Str(doc, "location");
      if (auto path = ParseResourceId(m.id)) {
        m.subscription = path->subscription;
        m.resource_group = path->resource_group;
      }
      const Json cove = props.contains("cove") ? props["cove"] : Json::object();
      m.is_public = Str(cove, "network") == "public";
      m.address = m.is_public ? Str(cove, "publicIpAddress") : Str(cove, "privateIpAddress");
      if (m.kind == MachineView::Kind::kVirtualMachine) {
        m.machine_id = Str(props, "vmId");
        if (!m.is_public) {
          m.subnet_id = doc.contains("_cove") ? Str(doc["_cove"], "subnetId") : "";
          m.vnet_id = doc.contains("_cove") ? Str(doc["_cove"], "vnetId") : "";
        }
      } else {
        m.machine_id = doc.contains("_cove") ? Str(doc["_cove"], "machineId") : "";
      }
      const Json& sa = Cove(doc, "systemAssigned");
      if (!Str(sa, "principalId").empty()) {
        m.system_assigned = MachineIdentityView{m.id, Str(sa, "principalId"), Str(sa, "clientId")};
        PrincipalView p;
        p.kind = PrincipalKind::kManagedIdentity;
        p.id = m.system_assigned->principal_id;
        p.name = m.name;
        p.app_id = m.system_assigned->client_id;
        p.resource_id = m.id;
        s->principals.push_back(std::move(p));
      }
      if (doc.contains("identity") && doc["identity"].is_object() &&
          doc["identity"].contains("userAssignedIdentities")) {
        for (const auto& [uid, v] : doc["identity"]["userAssignedIdentities"].items()) {
          auto path = ParseResourceId(uid);
          auto live = path ? s->documents.find(path->Key()) : s->documents.end();
          if (live == s->documents.end()) continue;  // deleted since it was assigned
          const Json& lp = (*live->second)["properties"];
          m.user_assigned.push_back(
              {Str(*live->second, "id"), Str(lp, "principalId"), Str(lp, "clientId")});
        }
      }
      s->machines.push_back(std::move(m));
    } else if (type == "microsoft.authorization/roleassignments") {
      RoleAssignmentView a;
      a.id = Str(doc, "id");
      a.name = Str(doc, "name");
      a.principal_id = Str(props, "principalId");
      a.principal_type = Str(props, "principalType");
      a.role_definition_id = Str(props, "roleDefinitionId");
      auto guid = RoleDefinitionGuid(a.role_definition_id);
      const BuiltInRole* role = guid ? FindRoleByGuid(*guid) : nullptr;
      a.role_name = role ? role->name : "";
      a.scope = Str(props, "scope");
      s->role_assignments.push_back(std::move(a));
    } else if (key.starts_with("#directory/users/")) {
      PrincipalView p;
      p.kind = PrincipalKind::kUser;
      p.id = Str(doc, "id");
      p.name = Str(doc, "userPrincipalName");
      p.enabled = doc.value("accountEnabled", true);
      p.secrets.push_back(
          {"password", doc.contains("_cove") ? Str(doc["_cove"], "passwordHash") : "",
           std::nullopt});
      s->principals.push_back(std::move(p));
    } else if (key.starts_with("#directory/serviceprincipals/")) {
      PrincipalView p;
      p.kind = PrincipalKind::kServicePrincipal;
      p.id = Str(doc, "id");
      p.name = Str(doc, "displayName");
      p.app_id = Str(doc, "appId");
      p.enabled = doc.value("accountEnabled", true);
      for (auto it = s->documents.lower_bound("#directory/applications/");
           it != s->documents.end() && it->first.starts_with("#directory/applications/"); ++it) {
        if (EqualsIgnoreCase(Str(*it->second, "appId"), p.app_id)) {
          p.secrets = Secrets(Cove(*it->second, "secrets"));
        }
      }
      s->principals.push_back(std::move(p));
    } else if (type == "microsoft.network/privateendpoints") {
      PrivateEndpointView pe;
      pe.id = Str(doc, "id");
      pe.name = Str(doc, "name");
      pe.location = Str(doc, "location");
      pe.subnet_id = Str(props["subnet"], "id");
      pe.vnet_id = pe.subnet_id.substr(0, pe.subnet_id.rfind('/'));
      pe.vnet_id = pe.vnet_id.substr(0, pe.vnet_id.rfind('/'));
      const Json& c = doc["_cove"];
      pe.manual = c.value("manual", false);
      pe.link_id = c.value("link_id", 0u);
      const char* list = pe.manual ? "manualPrivateLinkServiceConnections" : "privateLinkServiceConnections";
      if (props.contains(list) && !props[list].empty()) {
        pe.target_id = Str(props[list][0]["properties"], "privateLinkServiceId");
      }
      pe.registry_name = Lower(pe.target_id.substr(pe.target_id.rfind('/') + 1));
      auto conn = s->documents.find(c.value("connection_key", ""));
      if (conn != s->documents.end()) {
        pe.connection_id = Str(*conn->second, "id");
        pe.connection_status =
            Str((*conn->second)["properties"]["privateLinkServiceConnectionState"], "status");
      } else {
        pe.connection_status = "Disconnected";
      }
      auto nic = s->documents.find(c.value("nic_key", ""));
      if (nic != s->documents.end()) {
        pe.nic_id = Str(*nic->second, "id");
        for (const auto& ipc : (*nic->second)["properties"].value("ipConfigurations", Json::array())) {
          const Json& ip = ipc["properties"];
          EndpointMember m;
          m.member_name = Str(ip["privateLinkConnectionProperties"], "requiredMemberName");
          m.group_id = Str(ip["privateLinkConnectionProperties"], "groupId");
          m.ip = Str(ip, "privateIPAddress");
          m.fqdns = Strings(ip["privateLinkConnectionProperties"]["fqdns"]);
          m.static_ip = Str(ip, "privateIPAllocationMethod") == "Static";
          pe.members.push_back(std::move(m));
        }
      }
      s->private_endpoints.push_back(std::move(pe));
    } else if (type == "microsoft.network/virtualnetworks") {
      VnetView v;
      v.id = Str(doc, "id");
      v.name = Str(doc, "name");
      v.location = Str(doc, "location");
      v.address_prefixes = Strings(props["addressSpace"]["addressPrefixes"]);
      if (props.contains("dhcpOptions")) v.dns_servers = Strings(props["dhcpOptions"]["dnsServers"]);
      for (const Json* sn : children(key, "subnets")) {
        const Json& sp = (*sn)["properties"];
        SubnetView sv;
        sv.id = Str(*sn, "id");
        sv.name = Str(*sn, "name");
        sv.address_prefix = Str(sp, "addressPrefix");
        sv.private_endpoint_network_policies = sp.value("privateEndpointNetworkPolicies", "Disabled");
        if (sp.contains("networkSecurityGroup")) sv.network_security_group_id = Str(sp["networkSecurityGroup"], "id");
        v.subnets.push_back(std::move(sv));
      }
      for (const Json* pr : children(key, "virtualnetworkpeerings")) {
        const Json& pp = (*pr)["properties"];
        PeeringView pv;
        pv.id = Str(*pr, "id");
        pv.name = Str(*pr, "name");
        pv.remote_vnet_id = Str(pp["remoteVirtualNetwork"], "id");
        pv.allow_virtual_network_access = pp.value("allowVirtualNetworkAccess", true);
        pv.allow_forwarded_traffic = pp.value("allowForwardedTraffic", false);
        std::string remote_key = Lower(pv.remote_vnet_id);
        pv.peering_state = "Disconnected";
        if (s->documents.count(remote_key)) {
          pv.peering_state = "Initiated";
          for (const Json* back : children(remote_key, "virtualnetworkpeerings")) {
            if (Lower(Str((*back)["properties"]["remoteVirtualNetwork"], "id")) == key) {
              pv.peering_state = "Connected";
            }
          }
        }
        v.peerings.push_back(std::move(pv));
      }
      s->vnets.push_back(std::move(v));
    } else if (type == "microsoft.network/networksecuritygroups") {
      NsgView n;
      n.id = Str(doc, "id");
      n.name = Str(doc, "name");
      for (const Json* r : children(key, "securityrules")) {
        const Json& rp = (*r)["properties"];
        SecurityRuleView rv;
        rv.name = Str(*r, "name");
        rv.priority = rp.value("priority", 0);
        rv.direction = Str(rp, "direction");
        rv.access = Str(rp, "access");
        rv.protocol = Str(rp, "protocol");
        auto both = [&](const char* one, const char* many) {
          std::vector<std::string> out = Strings(rp.value(many, Json::array()));
          if (rp.contains(one)) out.push_back(Str(rp, one));
          return out;
        };
        rv.source_prefixes = both("sourceAddressPrefix", "sourceAddressPrefixes");
        rv.destination_prefixes = both("destinationAddressPrefix", "destinationAddressPrefixes");
        rv.source_ports = both("sourcePortRange", "sourcePortRanges");
        rv.destination_ports = both("destinationPortRange", "destinationPortRanges");
        n.rules.push_back(std::move(rv));
      }
      std::sort(n.rules.begin(), n.rules.end(),
                [](const auto& a, const auto& b) { return a.priority < b.priority; });
      s->network_security_groups.push_back(std::move(n));
    } else if (type == "microsoft.network/privatednszones") {
      ZoneView z;
      z.id = Str(doc, "id");
      z.name = Lower(Str(doc, "name"));
      for (const char* t : {"a", "cname"}) {
        for (const Json* rs : children(key, t)) {
          const Json& rp = (*rs)["properties"];
          RecordSetView r;
          r.type = std::string(t) == "a" ? "A" : "CNAME";
          r.name = Str(*rs, "name");
          r.ttl = rp.value("ttl", int64_t{3600});
          for (const auto& a : rp.value("aRecords", Json::array())) r.ipv4_addresses.push_back(Str(a, "ipv4Address"));
          if (rp.contains("cnameRecord")) r.cname = Str(rp["cnameRecord"], "cname");
          z.records.push_back(std::move(r));
        }
      }
      for (const Json* l : children(key, "virtualnetworklinks")) {
        const Json& lp = (*l)["properties"];
        VnetLinkView lv;
        lv.id = Str(*l, "id");
        lv.name = Str(*l, "name");
        lv.vnet_id = Str(lp["virtualNetwork"], "id");
        lv.registration_enabled = lp.value("registrationEnabled", false);
        lv.resolution_policy = lp.value("resolutionPolicy", "Default");
        z.links.push_back(std::move(lv));
      }
      s->zones.push_back(std::move(z));
    }
  }
  (void)ParentKey;
  return s;
}

}  // namespace cove::arm
