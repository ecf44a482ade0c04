// Microsoft.Network private DNS zones, their A and CNAME record sets and virtual network links.
#include "arm/engine.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {

Status Engine::PutZone(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidDnsName(Lower(p.names.back()), 2)) {
    return tl::unexpected(NameInvalid(p.names.back(), "Microsoft.Network/privateDnsZones",
                                      "A private DNS zone name is a DNS name of at least two "
                                      "labels (e.g. privatelink.azurecr.io); labels are 1-63 "
                                      "letters, digits, '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true, /*global_location=*/true));
  for (const char* f : {"numberOfRecordSets", "numberOfVirtualNetworkLinks",
                        "numberOfVirtualNetworkLinksWithRegistration", "maxNumberOfRecordSets",
                        "maxNumberOfVirtualNetworkLinks",
                        "maxNumberOfVirtualNetworkLinksWithRegistration"}) {
    doc["properties"].erase(f);
  }
  doc["properties"]["internalId"] = doc["properties"].value("internalId", Guid());
  txn_.Put(p.Key(), doc);
  return {};
}

Status Engine::PutRecordSet(const ArmPath& p, const Json& body, const Json* existing) {
  std::string name = p.names.back();
  std::string type = Lower(p.types.back());  // "a" or "cname"
  if (existing == nullptr && name != "@" && !IsValidDnsName(Lower(name), 1)) {
    return tl::unexpected(NameInvalid(name, "Microsoft.Network/privateDnsZones/" + p.types.back(),
                                      "Record set names are '@' or DNS labels separated by dots."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, false));
  const Json& zone = *txn_.Get(p.ParentKey());
  std::string zone_name = Lower(zone.value("name", ""));
  std::string other = p.ParentKey() + (type == "a" ? "/cname/" : "/a/") + Lower(name);
  if (txn_.Get(other) != nullptr || (type == "cname" && name == "@")) {
    return ArmFail(409, "Conflict",
                   "The record set " + name + " cannot be created: a " +
                       (type == "a" ? "CNAME" : "non-CNAME") +
                       " record set with the same name exists (a CNAME must be the only record "
                       "set at its name, and cannot be at the zone apex).");
  }
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto ttl, props.Int("ttl"));
  if (ttl && (*ttl < 0 || *ttl > 2147483647)) {
    return tl::unexpected(BadContent("properties.ttl", "must be between 0 and 2147483647"));
  }
  Json& dp = doc["properties"];
  dp["ttl"] = ttl ? *ttl : dp.value("ttl", int64_t{3600});
  dp["fqdn"] = (name == "@" ? zone_name : Lower(name) + "." + zone_name) + ".";
  dp["isAutoRegistered"] = false;
  if (props.present() && props.json()->contains("metadata")) {
    if (!(*props.json())["metadata"].is_object()) {
      return tl::unexpected(BadContent("properties.metadata", "must be an object"));
    }
    dp["metadata"] = (*props.json())["metadata"];
  } else if (!dp.contains("metadata")) {
    dp["metadata"] = Json::object();
  }
  if (type == "a") {
    bool present = false;
    COVE_ASSIGN_OR_RETURN(auto records, props.Array("aRecords", &present));
    if (present || existing == nullptr) {
      Json list = Json::array();
      for (const auto& r : records) {
        COVE_ASSIGN_OR_RETURN(auto ip, r.String("ipv4Address"));
        if (!ip || !ParseIpv4(*ip)) {
          return tl::unexpected(BadContent(r.where() + ".ipv4Address", "must be an IPv4 address"));
        }
        list.push_back({{"ipv4Address", *ip}});
      }
      dp["aRecords"] = list;
    }
  } else {
    COVE_ASSIGN_OR_RETURN(Body cname, props.Object("cnameRecord"));
    COVE_ASSIGN_OR_RETURN(auto target, cname.String("cname"));
    if (target) {
      std::string t = *target;
      if (!t.empty() && t.back() == '.') t.pop_back();
      if (!IsValidDnsName(Lower(t), 1)) {
        return tl::unexpected(BadContent("properties.cnameRecord.cname", "must be a DNS name"));
      }
      dp["cnameRecord"] = {{"cname", *target}};
    } else if (!dp.contains("cnameRecord")) {
      dp["cnameRecord"] = Json::object();
    }
  }
  txn_.Put(p.Key(), doc);
  return {};
}

Status Engine::PutVnetLink(const ArmPath& p, const Json& body, const Json* existing) {
  if (existing == nullptr && !IsValidNetworkName(p.names.back())) {
    return tl::unexpected(NameInvalid(p.names.back(),
                                      "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                                      "Names are 1-80 word characters, '.', '-' or '_'."));
  }
  COVE_ASSIGN_OR_RETURN(Json doc, Envelope(p, body, existing, true, /*global_location=*/true));
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(std::string vnet_id, props.RefId("virtualNetwork"));
  if (vnet_id.empty() && existing != nullptr) {
    vnet_id = (*existing)["properties"]["virtualNetwork"].value("id", "");
  }
  if (vnet_id.empty()) return tl::unexpected(BadContent("properties.virtualNetwork.id", "is required"));
  const Json* vnet = txn_.Get(Lower(vnet_id));
  if (vnet == nullptr ||
      !EqualsIgnoreCase(vnet->value("type", ""), "Microsoft.Network/virtualNetworks")) {
    return tl::unexpected(InvalidReference(vnet_id, doc.value("id", "")));
  }
  COVE_ASSIGN_OR_RETURN(auto registration, props.Bool("registrationEnabled"));
  COVE_ASSIGN_OR_RETURN(auto policy,
                        props.Enum("resolutionPolicy", {"Default", "NxDomainRedirect"}));
  Json& dp = doc["properties"];
  bool reg = registration ? *registration : dp.value("registrationEnabled", false);
  std::string key = p.Key();
  std::string vnet_key = Lower(vnet_id);
  for (const auto& k : txn_.Children(p.ParentKey(), "virtualnetworklinks")) {
    if (k != key && Lower((*txn_.Get(k))["properties"]["virtualNetwork"].value("id", "")) == vnet_key) {
      return ArmFail(409, "Conflict",
                     "Virtual network " + vnet_id + " is already linked to private DNS zone " +
                         txn_.Get(p.ParentKey())->value("name", "") + " by link " +
                         txn_.Get(k)->value("name", "") + ".");
    }
  }
  // Azure refuses a second link of a virtual network to a zone of the same name (in another
  // resource group or subscription): which zone would answer is undefined. The code and message
  // are Azure's. Only equal names are refused here; Azure's "overlapping" may cover more.
  std::string zone_name = txn_.Get(p.ParentKey())->value("name", "");
  for (const auto& [k, d] : txn_.documents()) {
    if (k == key || ParentOfKey(k) == p.ParentKey() ||
        !EqualsIgnoreCase(d->value("type", ""), "Microsoft.Network/privateDnsZones/virtualNetworkLinks") ||
        Lower((*d)["properties"]["virtualNetwork"].value("id", "")) != vnet_key) {
      continue;
    }
    const Json* other_zone = txn_.Get(ParentOfKey(k));
    std::string other_name = other_zone != nullptr ? other_zone->value("name", "") : "";
    if (EqualsIgnoreCase(other_name, zone_name)) {
      return ArmFail(400, "BadRequest",
                     "A virtual network cannot be linked to multiple zones with overlapping "
                     "namespaces. You tried to link virtual network with '" + other_name +
                         "' and '" + zone_name + "' zones.");
    }
  }
  if (reg) {
    for (const auto& [k, d] : txn_.documents()) {
      if (k == key || !EqualsIgnoreCase(d->value("type", ""), "Microsoft.Network/privateDnsZones/virtualNetworkLinks")) {
        continue;
      }
      if (Lower((*d)["properties"]["virtualNetwork"].value("id", "")) == vnet_key &&
          (*d)["properties"].value("registrationEnabled", false)) {
        return ArmFail(400, "BadRequest",
                       "Virtual network " + vnet_id + " already has a registration-enabled link (" +
                           d->value("id", "") + "); a virtual network can be linked with "
                           "auto-registration to only one private DNS zone.");
      }
    }
  }
  dp["virtualNetwork"] = {{"id", vnet->value("id", vnet_id)}};
  dp["registrationEnabled"] = reg;
  dp["resolutionPolicy"] = policy ? *policy : dp.value("resolutionPolicy", "Default");
  dp["virtualNetworkLinkState"] = "Completed";
  txn_.Put(key, doc);
  return {};
}

Json Engine::RenderZone(const Json& doc) const {
  Json out = doc;
  std::string key = Lower(doc.value("id", ""));
  auto links = txn_.Children(key, "virtualnetworklinks");
  int with_registration = 0;
  for (const auto& k : links) with_registration += (*txn_.Get(k))["properties"].value("registrationEnabled", false) ? 1 : 0;
  Json& dp = out["properties"];
  dp["maxNumberOfRecordSets"] = 25000;
  dp["numberOfRecordSets"] = txn_.Children(key, "a").size() + txn_.Children(key, "cname").size() + 1;
  dp["maxNumberOfVirtualNetworkLinks"] = 1000;
  dp["numberOfVirtualNetworkLinks"] = links.size();
  dp["maxNumberOfVirtualNetworkLinksWithRegistration"] = 100;
  dp["numberOfVirtualNetworkLinksWithRegistration"] = with_registration;
  return out;
}

Json Engine::RenderRecordSet(const Json& doc) const { return doc; }

namespace {

void ProjectZone(const std::string& key, const Json& doc, Snapshot& snapshot) {
  ZoneView z;
  z.id = Str(doc, "id");
  z.name = Lower(Str(doc, "name"));
  for (const char* t : {"a", "cname"}) {
    for (const Json* rs : ChildDocuments(snapshot.documents, key, t)) {
      const Json& rp = (*rs)["properties"];
      RecordSetView r;
      r.type = std::string(t) == "a" ? "A" : "CNAME";
      r.name = Str(*rs, "name");
      r.ttl = rp.value("ttl", int64_t{3600});
      for (const auto& a : rp.value("aRecords", Json::array()))
        r.ipv4_addresses.push_back(Str(a, "ipv4Address"));
      if (rp.contains("cnameRecord")) r.cname = Str(rp["cnameRecord"], "cname");
      z.records.push_back(std::move(r));
    }
  }
  for (const Json* l : ChildDocuments(snapshot.documents, key, "virtualnetworklinks")) {
    const Json& lp = (*l)["properties"];
    VnetLinkView lv;
    lv.id = Str(*l, "id");
    lv.name = Str(*l, "name");
    lv.vnet_id = Str(lp["virtualNetwork"], "id");
    lv.registration_enabled = lp.value("registrationEnabled", false);
    lv.resolution_policy = lp.value("resolutionPolicy", "Default");
    z.links.push_back(std::move(lv));
  }
  snapshot.zones.push_back(std::move(z));
}

}  // namespace

void RegisterDnsZoneProviders(ProviderRegistry& registry) {
  registry.Add({.type = "Microsoft.Network/privateDnsZones",
                .location = LocationRule::kGlobal,
                .api_versions = PrivateDnsApiVersions(),
                .delete_rank = 50,
                .put = EngineFn<&Engine::PutZone>,
                .render = EngineFn<&Engine::RenderZone>,
                .project = ProjectZone});
  for (const char* type :
       {"Microsoft.Network/privateDnsZones/A", "Microsoft.Network/privateDnsZones/CNAME"}) {
    registry.Add({.type = type,
                  .api_versions = PrivateDnsApiVersions(),
                  .put = EngineFn<&Engine::PutRecordSet>,
                  .render = EngineFn<&Engine::RenderRecordSet>});
  }
  registry.Add({.type = "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                .location = LocationRule::kGlobal,
                .api_versions = PrivateDnsApiVersions(),
                .put = EngineFn<&Engine::PutVnetLink>});
}

}  // namespace cove::arm
