// Cove.OnPremises: the on-premises networks of issue 14, as resources of cove's own (they are
// not Azure's: in Azure the on-premises side exists only as a local network gateway or a
// circuit's peering). The data plane realizes a site as namespaces — a site router, its hosts
// and its DNS server — and connects it to Azure through the gateways of gateways.cc.
//
// sites     PUT .../providers/Cove.OnPremises/sites/{site}
//           {"location", "properties": {
//              "addressPrefixes": ["192.168.0.0/16"],          required, not overlapping
//              "publicIpAddress": "192.0.2.130",               the site router's internet address:
//                                                              in 192.0.2.130-254, allocated
//                                                              (lowest free) when absent
//              "dnsServer": {"software": "bind"|"unbound"|"none",   default none
//                            "address": "192.168.0.53",        in a prefix; default the first
//                                                              prefix's network + 53 (network + 2
//                                                              when the prefix is smaller)
//                            "forwarders": [{"domainName": "azurecr.io",
//                                            "targetDnsServers": ["10.0.2.4"]}]},
//              "bgp": {"asn": 65010},                          optional; not reserved by Azure
//              "vpnDevice": {"sharedKey": "..."}}}             the key the site's VPN device is
//                                                              configured with; absent: the key
//                                                              of each connection to the site
//                                                              (a device configured from Azure's
//                                                              device configuration). Kept when
//                                                              a PUT leaves vpnDevice out, ""
//                                                              clears it; never rendered.
//           Answers add properties.routerAddress: the first prefix's network + 1 (the site
//           router's inside address). A site's software "none" has no address and no
//           forwarders.
// machines  PUT .../sites/{site}/machines/{machine} {"properties": {"address": "192.168.0.10"}}
//           A host of the site. address: in a prefix of the site, not its network, broadcast,
//           router or DNS address, not another machine's; allocated from the first prefix's
//           network + 10 up when absent, kept on updates.
//
// Errors are cove's (the type is): 400 InvalidPublicIpAddress, PublicIPAddressInUse,
// SiteAddressPrefixesOverlap, InvalidDnsServerAddress, InvalidMachineAddress,
// MachineAddressInUse, InUseSiteAddressPrefixCannotBeChanged, and the shared ones
// (InvalidRequestContent, InvalidAddressPrefixFormat, InvalidCIDRNotation, InvalidAsn).
#include <map>
#include <set>

#include "arm/onprem_support.h"
#include "arm/projection.h"
#include "arm/provider.h"

namespace cove::arm {
namespace {

constexpr char kSiteType[] = "Cove.OnPremises/sites";
constexpr char kMachineType[] = "Cove.OnPremises/sites/machines";
constexpr int kSitePoolFirst = 130, kSitePoolLast = 254;  // 192.0.2.x
constexpr uint32_t kFirstMachineHost = 10;

std::vector<Cidr> SitePrefixes(const Json& site) {
  std::vector<Cidr> out;
  for (const auto& s : Field(Field(site, "properties"), "addressPrefixes")) {
    if (!s.is_string()) continue;
    if (auto c = ParseCidr(s.get<std::string>()).cidr) out.push_back(*c);
  }
  return out;
}

// An address a host may take in one of `prefixes`: not a network or broadcast address.
bool IsHostAddress(const std::vector<Cidr>& prefixes, uint32_t a) {
  for (const Cidr& c : prefixes) {
    if (c.Contains(a) && (c.length >= 31 || (a != c.First() && a != c.Last()))) return true;
  }
  return false;
}

Result<std::string> SitePublicIp(const Txn& txn, const std::string& key,
                                 const std::optional<std::string>& wanted, const Json* old,
                                 const std::string& id) {
  std::map<std::string, std::string> used;  // address → site id
  for (const auto& k : KeysOfType(txn, kSiteType)) {
    if (k != key)
      used[Str(Field(*txn.Get(k), "properties"), "publicIpAddress")] = txn.Get(k)->value("id", "");
  }
  if (wanted) {
    auto a = ParseIpv4(*wanted);
    uint32_t first = *ParseIpv4("192.0.2." + std::to_string(kSitePoolFirst));
    uint32_t last = *ParseIpv4("192.0.2." + std::to_string(kSitePoolLast));
    if (!a || *a < first || *a > last) {
      return ArmFail(400, "InvalidPublicIpAddress",
                     "The public IP address '" + *wanted + "' of site " + id +
                         " must be in 192.0.2.130-254, the on-premises sites' public addresses.");
    }
    if (used.count(*wanted)) {
      return ArmFail(400, "PublicIPAddressInUse",
                     "The public IP address " + *wanted + " of site " + id +
                         " is already used by site " + used[*wanted] + ".");
    }
    return *wanted;
  }
  std::string mine = old != nullptr ? Str(*old, "publicIpAddress") : "";
  if (!mine.empty()) return mine;
  for (int h = kSitePoolFirst; h <= kSitePoolLast; ++h) {
    std::string a = "192.0.2." + std::to_string(h);
    if (!used.count(a)) return a;
  }
  return ArmFail(400, "PublicIPCountLimitReached",
                 "No public IP address left: on-premises sites share 192.0.2.130-254.");
}

Result<Json> DnsServer(const Body& dns, const std::vector<Cidr>& prefixes, const std::string& id) {
  COVE_ASSIGN_OR_RETURN(auto software, dns.Enum("software", {"bind", "unbound", "none"}));
  COVE_ASSIGN_OR_RETURN(auto address, dns.String("address"));
  COVE_ASSIGN_OR_RETURN(auto forwarders, dns.Array("forwarders"));
  std::string sw = software.value_or("none");
  if (sw == "none") {
    if (!forwarders.empty() || (address && !address->empty())) {
      return tl::unexpected(
          BadContent("properties.dnsServer", "has no address or forwarders when software is none"));
    }
    return Json{{"software", "none"}, {"address", ""}, {"forwarders", Json::array()}};
  }
  const Cidr& first = prefixes.front();
  uint32_t dns_address = first.Size() > 54 ? first.First() + 53 : first.First() + 2;
  std::string given = address && !address->empty() ? *address : FormatIpv4(dns_address);
  {
    auto a = ParseIpv4(given);
    if (!a || !IsHostAddress(prefixes, *a) || *a == first.First() + 1) {
      return ArmFail(400, "InvalidDnsServerAddress",
                     "The DNS server address '" + given + "' of site " + id +
                         " must be a host address in the site's prefixes (not the router's, "
                         "the first prefix's network + 1).");
    }
    dns_address = *a;
  }
  Json list = Json::array();
  for (const auto& f : forwarders) {
    COVE_ASSIGN_OR_RETURN(auto domain, f.String("domainName"));
    COVE_ASSIGN_OR_RETURN(auto targets, f.StringArray("targetDnsServers"));
    std::string d = domain.value_or("");
    if (!d.empty() && d.back() == '.') d.pop_back();
    if (!IsValidDnsName(d, 1)) {
      return tl::unexpected(BadContent(f.where() + ".domainName", "must be a DNS name"));
    }
    if (targets.empty()) {
      return tl::unexpected(BadContent(f.where() + ".targetDnsServers", "needs an address"));
    }
    for (const auto& t : targets) {
      if (!ParseIpv4(t)) {
        return tl::unexpected(
            BadContent(f.where() + ".targetDnsServers", "holds '" + t + "', not an IPv4 address"));
      }
    }
    list.push_back({{"domainName", d}, {"targetDnsServers", targets}});
  }
  return Json{{"software", sw}, {"address", FormatIpv4(dns_address)}, {"forwarders", list}};
}

Status PutSite(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kSiteType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, true));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  std::string key = p.Key();
  const Json* old = existing != nullptr ? &Field(*existing, "properties") : nullptr;
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  bool have_prefixes = false;
  COVE_ASSIGN_OR_RETURN(auto prefix_text, props.StringArray("addressPrefixes", &have_prefixes));
  COVE_ASSIGN_OR_RETURN(auto public_ip, props.String("publicIpAddress"));
  COVE_ASSIGN_OR_RETURN(Body bgp, props.Object("bgp"));
  COVE_ASSIGN_OR_RETURN(auto asn, bgp.Int("asn"));
  COVE_ASSIGN_OR_RETURN(Body vpn_device, props.Object("vpnDevice"));
  COVE_ASSIGN_OR_RETURN(auto device_key, vpn_device.String("sharedKey"));
  if (!have_prefixes && old) prefix_text = Strings(Field(*old, "addressPrefixes"));
  if (prefix_text.empty()) {
    return tl::unexpected(BadContent("properties.addressPrefixes", "needs at least one prefix"));
  }
  std::vector<Cidr> prefixes;
  for (const auto& t : prefix_text) {
    COVE_ASSIGN_OR_RETURN(Cidr c, ParseAddressPrefix(t, id));
    for (const Cidr& other : prefixes) {
      if (c.Overlaps(other)) {
        return ArmFail(400, "SiteAddressPrefixesOverlap",
                       "The address prefixes " + other.ToString() + " and " + c.ToString() +
                           " of site " + id + " overlap.");
      }
    }
    prefixes.push_back(c);
  }
  COVE_ASSIGN_OR_RETURN(std::string address, SitePublicIp(txn, key, public_ip, old, id));
  COVE_ASSIGN_OR_RETURN(Body dns_body, props.Object("dnsServer"));
  Json kept_dns;
  if (!dns_body.present() && old != nullptr && old->contains("dnsServer")) {
    kept_dns = (*old)["dnsServer"];  // kept, and checked again against the new prefixes
    dns_body = Body(&kept_dns, "properties.dnsServer");
  }
  COVE_ASSIGN_OR_RETURN(Json dns, DnsServer(dns_body, prefixes, id));
  Json bgp_doc;
  if (bgp.present()) {
    if (!asn) return tl::unexpected(BadContent("properties.bgp.asn", "is required"));
    COVE_RETURN_IF_ERROR(CheckAsn(*asn, "site " + id, false));
    bgp_doc = {{"asn", *asn}};
  } else if (old && old->contains("bgp") && !b.json()->contains("properties")) {
    bgp_doc = (*old)["bgp"];
  }
  // The hosts already there must keep their addresses.
  for (const auto& k : txn.Children(key, "machines")) {
    std::string a = Str(Field(*txn.Get(k), "properties"), "address");
    auto ip = ParseIpv4(a);
    if (!ip || !IsHostAddress(prefixes, *ip) || a == Str(dns, "address") ||
        *ip == prefixes.front().First() + 1) {
      return ArmFail(400, "InUseSiteAddressPrefixCannotBeChanged",
                     "Machine " + txn.Get(k)->value("id", "") + " uses " + a +
                         ", which the new address prefixes or DNS server address of site " + id +
                         " would leave without a place; move or delete it first.");
    }
  }
  // The device's key is a secret: kept beside the rendered document, never answered.
  std::string key_text = existing ? Str(Field(*existing, "_cove"), "vpnSharedKey") : "";
  if (device_key) key_text = *device_key;
  if (key_text.empty()) {
    doc.erase("_cove");
  } else {
    doc["_cove"]["vpnSharedKey"] = key_text;
  }
  doc["properties"].erase("vpnDevice");
  Json& dp = doc["properties"];
  dp["addressPrefixes"] = prefix_text;
  dp["publicIpAddress"] = address;
  dp["routerAddress"] = FormatIpv4(prefixes.front().First() + 1);
  dp["dnsServer"] = dns;
  if (bgp_doc.is_null()) {
    dp.erase("bgp");
  } else {
    dp["bgp"] = bgp_doc;
  }
  engine.txn().Put(key, doc);
  return {};
}

Status PutMachine(Engine& engine, const ArmPath& p, const Json& body, const Json* existing) {
  COVE_RETURN_IF_ERROR(CheckNewNetworkName(p, existing, kMachineType));
  COVE_ASSIGN_OR_RETURN(Json doc, engine.Envelope(p, body, existing, false));
  const Txn& txn = engine.txn();
  std::string id = doc.value("id", "");
  std::string key = p.Key();
  const Json& site = *txn.Get(p.ParentKey());
  std::vector<Cidr> prefixes = SitePrefixes(site);
  Body b(&body, "");
  COVE_ASSIGN_OR_RETURN(Body props, b.Object("properties"));
  COVE_ASSIGN_OR_RETURN(auto wanted, props.String("address"));
  std::set<uint32_t> reserved;
  for (const auto& k : txn.Children(p.ParentKey(), "machines")) {
    if (k == key) continue;
    if (auto a = ParseIpv4(Str(Field(*txn.Get(k), "properties"), "address"))) reserved.insert(*a);
  }
  std::string dns = Str(Field(Field(site, "properties"), "dnsServer"), "address");
  uint32_t router = prefixes.front().First() + 1;
  if (!wanted && existing != nullptr) wanted = Str(Field(*existing, "properties"), "address");
  uint32_t ip = 0;
  if (wanted && !wanted->empty()) {
    auto a = ParseIpv4(*wanted);
    if (!a || !IsHostAddress(prefixes, *a) || *a == router || *wanted == dns) {
      return ArmFail(400, "InvalidMachineAddress",
                     "The address '" + *wanted + "' of machine " + id +
                         " must be a host address in the prefixes of site " +
                         site.value("name", "") + ", other than its router's (" +
                         FormatIpv4(router) + ") and its DNS server's.");
    }
    if (reserved.count(*a)) {
      return ArmFail(400, "MachineAddressInUse",
                     "The address " + *wanted + " of machine " + id +
                         " is already used by another machine of site " + site.value("name", "") +
                         ".");
    }
    ip = *a;
  } else {
    const Cidr& first = prefixes.front();
    if (auto d = ParseIpv4(dns)) reserved.insert(*d);
    for (uint64_t a = uint64_t{first.First()} + kFirstMachineHost; ip == 0 && a < first.Last();
         ++a) {
      if (!reserved.count(static_cast<uint32_t>(a))) ip = static_cast<uint32_t>(a);
    }
    if (ip == 0) {
      return ArmFail(400, "SubnetIsFull",
                     "Site " + site.value("name", "") + "'s prefix " + first.ToString() +
                         " has no address left for machine " + id + ".");
    }
  }
  doc["properties"]["address"] = FormatIpv4(ip);
  engine.txn().Put(key, doc);
  return {};
}

void ProjectSite(const std::string& key, const Json& doc, Snapshot& snapshot) {
  const Json& props = Field(doc, "properties");
  const Json& dns = Field(props, "dnsServer");
  SiteView s;
  s.id = Str(doc, "id");
  s.name = Str(doc, "name");
  s.address_prefixes = Strings(Field(props, "addressPrefixes"));
  s.public_ip = Str(props, "publicIpAddress");
  s.dns_software = Str(dns, "software");
  if (s.dns_software.empty()) s.dns_software = "none";
  s.dns_address = Str(dns, "address");
  for (const auto& f : Field(dns, "forwarders")) {
    s.forwarders.push_back({Str(f, "domainName"), Strings(Field(f, "targetDnsServers"))});
  }
  s.bgp_asn = static_cast<uint32_t>(IntField(Field(props, "bgp"), "asn", 0));
  s.vpn_shared_key = Str(Field(doc, "_cove"), "vpnSharedKey");
  for (const Json* m : ChildDocuments(snapshot.documents, key, "machines")) {
    s.machines.push_back({Str(*m, "id"), Str(*m, "name"), Str(Field(*m, "properties"), "address")});
  }
  snapshot.sites.push_back(std::move(s));
}

}  // namespace

void RegisterSiteProviders(ProviderRegistry& registry) {
  registry.Add({.type = kSiteType,
                .location = LocationRule::kRegional,
                .api_versions = OnPremisesApiVersions(),
                .delete_rank = 15,
                .put = PutSite,
                .project = ProjectSite});
  registry.Add({.type = kMachineType, .api_versions = OnPremisesApiVersions(), .put = PutMachine});
}

}  // namespace cove::arm
