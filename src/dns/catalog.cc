#include "dns/catalog.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <utility>

namespace cove::dns {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v));
}

std::string Tail(uint16_t type, uint32_t ttl, std::string_view rdata) {
  std::string out;
  out.reserve(10 + rdata.size());
  Put16(out, type);
  Put16(out, kClassIN);
  Put32(out, ttl);
  Put16(out, static_cast<uint16_t>(rdata.size()));
  out.append(rdata);
  return out;
}

bool IsSubdomain(const WireName& name, const WireName& apex) {
  const std::string& n = name.lower;
  const std::string& a = apex.lower;
  if (a.size() > n.size()) return false;
  size_t pos = 0;
  while (n.size() - pos > a.size()) pos += 1 + static_cast<uint8_t>(n[pos]);
  return n.size() - pos == a.size() && n.compare(pos, std::string::npos, a) == 0;
}

// The parent of a wire name (which must not be the root).
std::string_view Parent(std::string_view lower) {
  return lower.substr(1 + static_cast<uint8_t>(lower[0]));
}

Result<Name> ParseName(std::string_view text, const Name& origin) {
  if (text == "@") return origin;
  if (!text.empty() && text.back() == '.') return Name::FromString(text);
  COVE_ASSIGN_OR_RETURN(Name relative, Name::FromString(text));
  std::vector<std::string> labels = relative.labels();
  labels.insert(labels.end(), origin.labels().begin(), origin.labels().end());
  return Name::FromLabels(std::move(labels));
}

Result<std::string> EncodeRdata(const RecordSpec& r, const Name& origin) {
  std::string rdata;
  switch (r.type) {
    case kTypeA: {
      uint8_t a[4];
      if (inet_pton(AF_INET, r.value.c_str(), a) != 1) {
        return Fail(Code::kInvalidArgument, "not an IPv4 address: " + r.value);
      }
      rdata.assign(reinterpret_cast<const char*>(a), 4);
      return rdata;
    }
    case kTypeAAAA: {
      uint8_t a[16];
      if (inet_pton(AF_INET6, r.value.c_str(), a) != 1) {
        return Fail(Code::kInvalidArgument, "not an IPv6 address: " + r.value);
      }
      rdata.assign(reinterpret_cast<const char*>(a), 16);
      return rdata;
    }
    case kTypeCNAME:
    case kTypeNS:
    case kTypePTR: {
      COVE_ASSIGN_OR_RETURN(Name target, ParseName(r.value, origin));
      return ToWireName(target).wire;
    }
    case kTypeMX: {
      size_t space = r.value.find(' ');
      uint16_t pref = 0;
      if (space == std::string::npos) return Fail(Code::kInvalidArgument, "MX needs 'pref host'");
      auto [p, ec] = std::from_chars(r.value.data(), r.value.data() + space, pref);
      if (ec != std::errc() || p != r.value.data() + space) {
        return Fail(Code::kInvalidArgument, "bad MX preference: " + r.value);
      }
      COVE_ASSIGN_OR_RETURN(Name host, ParseName(r.value.substr(space + 1), origin));
      Put16(rdata, pref);
      rdata += ToWireName(host).wire;
      return rdata;
    }
    case kTypeTXT: {
      std::string_view v = r.value;
      do {
        size_t n = std::min<size_t>(v.size(), 255);
        rdata.push_back(static_cast<char>(n));
        rdata.append(v.substr(0, n));
        v.remove_prefix(n);
      } while (!v.empty());
      if (rdata.size() > 65535) return Fail(Code::kInvalidArgument, "TXT value too long");
      return rdata;
    }
    default:
      return Fail(Code::kInvalidArgument, "unsupported record type " + std::to_string(r.type));
  }
}

Result<std::unique_ptr<Zone>> BuildZone(const ZoneSpec& spec, bool is_private) {
  auto fail = [&spec](const std::string& what) {
    return Fail(Code::kInvalidArgument, "zone '" + spec.name + "': " + what);
  };
  auto apex = Name::FromString(spec.name);
  if (!apex || apex->IsRoot()) return fail("bad zone name");
  auto zone = std::make_unique<Zone>();
  zone->apex = ToWireName(*apex);
  zone->is_private = is_private;
  zone->id = spec.id;

  auto mname = ParseName(spec.soa.mname, *apex);
  auto rname = ParseName(spec.soa.rname, *apex);
  if (!mname || !rname) return fail("bad SOA names");
  std::string soa_rdata = ToWireName(*mname).wire + ToWireName(*rname).wire;
  for (uint32_t v :
       {spec.soa.serial, spec.soa.refresh, spec.soa.retry, spec.soa.expire, spec.soa.minimum}) {
    Put32(soa_rdata, v);
  }
  // RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM).
  zone->soa_tail = Tail(kTypeSOA, std::min(spec.soa.ttl, spec.soa.minimum), soa_rdata);
  zone->soa_tail_positive = Tail(kTypeSOA, spec.soa.ttl, soa_rdata);

  Node& apex_node = zone->nodes[zone->apex.lower];
  apex_node.owner = zone->apex;
  apex_node.rrsets.push_back({kTypeSOA, 1, zone->soa_tail_positive});

  for (const RecordSpec& r : spec.records) {
    std::string where = "record '" + r.name + "' type " + std::to_string(r.type) + ": ";
    auto owner = ParseName(r.name, *apex);
    if (!owner) return fail(where + owner.error().message);
    WireName key = ToWireName(*owner);
    if (!IsSubdomain(key, zone->apex)) return fail(where + "outside the zone");
    if (r.type == kTypeSOA) return fail(where + "the SOA comes from the zone's soa field");
    auto rdata = EncodeRdata(r, *apex);
    if (!rdata) return fail(where + rdata.error().message);
    Node& node = zone->nodes[key.lower];
    if (node.owner.lower.empty()) node.owner = key;
    bool other_data = !node.rrsets.empty();
    if (r.type == kTypeCNAME) {
      if (node.has_cname || other_data) return fail(where + "a CNAME must be alone at its name");
      node.has_cname = true;
      node.cname_ttl = r.ttl;
      auto target = ParseName(r.value, *apex);
      node.cname_target = ToWireName(*target);
      continue;
    }
    if (node.has_cname) return fail(where + "a CNAME must be alone at its name");
    std::string tail = Tail(r.type, r.ttl, *rdata);
    auto it = std::find_if(node.rrsets.begin(), node.rrsets.end(),
                           [&r](const RRset& s) { return s.type == r.type; });
    if (it == node.rrsets.end()) {
      node.rrsets.push_back({r.type, 0, {}});
      it = node.rrsets.end() - 1;
    }
    // Records that differ only in TTL are one record (RFC 2181 §5.2: an RRset has one TTL).
    bool duplicate = false;
    it->ForEach([&](std::string_view existing) {
      duplicate = duplicate || existing.substr(8) == std::string_view(tail).substr(8);
    });
    if (!duplicate) {
      if (it->count == 65535) return fail(where + "too many records");
      it->records += tail;
      ++it->count;
    }
  }

  // Empty non-terminals: every ancestor of an owner name, down to the apex, exists.
  std::vector<std::string> owners;
  for (const auto& [key, node] : zone->nodes) owners.push_back(key);
  for (const std::string& key : owners) {
    std::string_view name = key;
    while (name.size() > zone->apex.lower.size()) {
      std::string_view lower = name;
      name = Parent(name);
      Node& parent = zone->nodes[std::string(name)];
      if (parent.owner.lower.empty()) {
        const Node& child = zone->nodes[std::string(lower)];
        size_t cut = child.owner.wire.size() - name.size();
        parent.owner = {std::string(name), child.owner.wire.substr(cut)};
      }
    }
  }
  for (auto& [key, node] : zone->nodes) {
    std::sort(node.rrsets.begin(), node.rrsets.end(),
              [](const RRset& a, const RRset& b) { return a.type < b.type; });
  }
  return zone;
}

// Compiles the enabled rules of `spec` into `view`.
Status AddRules(const ViewSpec& spec, View& view) {
  for (const ForwardRuleSpec& r : spec.forwards) {
    auto fail = [&](const std::string& what) {
      return Fail(Code::kInvalidArgument,
                  "view '" + spec.id + "': forwarding rule '" + r.domain + "': " + what);
    };
    auto domain = Name::FromString(r.domain);
    if (!domain) return fail(domain.error().message);
    if (r.targets.empty()) return fail("no target");
    for (const ForwardTarget& t : r.targets) {
      uint8_t a[16];
      if (inet_pton(AF_INET, t.ip.c_str(), a) != 1 && inet_pton(AF_INET6, t.ip.c_str(), a) != 1) {
        return fail("not an IP address: " + t.ip);
      }
      if (t.port == 0) return fail("port 0");
    }
    if (!r.enabled) continue;
    ForwardRule rule{ToWireName(*domain), r.targets};
    std::string key = rule.domain.lower;
    if (!view.rules.TryEmplace(key, std::move(rule))) return fail("the domain has two rules");
  }
  return Ok();
}

}  // namespace

WireName ToWireName(const Name& name) {
  WireName out;
  for (const std::string& label : name.labels()) {
    out.wire.push_back(static_cast<char>(label.size()));
    out.wire += label;
  }
  out.wire.push_back(0);
  out.lower = out.wire;
  for (char& c : out.lower) c = LowerAscii(c);
  return out;
}

const Node* Zone::Find(std::string_view lower_wire_name) const {
  return nodes.Find(lower_wire_name);
}

const ZoneRef* View::FindZone(std::string_view lower_wire_name) const {
  std::string_view name = lower_wire_name;
  while (!name.empty()) {
    if (const ZoneRef* z = zones.Find(name)) return z;
    if (name[0] == 0) break;
    name = Parent(name);
  }
  return nullptr;
}

const ForwardRule* View::FindRule(std::string_view lower_wire_name, const View& reserved) const {
  if (rules.size() == 0) return nullptr;
  std::string_view name = lower_wire_name;
  while (!name.empty()) {
    if (const ForwardRule* r = rules.Find(name)) {
      if (name[0] != 0 || !reserved.FindZone(lower_wire_name)) return r;
      return nullptr;  // the wildcard rule, for a name Azure keeps for its services
    }
    if (name[0] == 0) break;
    name = Parent(name);
  }
  return nullptr;
}

Result<std::shared_ptr<const Catalog>> Catalog::Build(const CatalogSpec& spec) {
  std::shared_ptr<Catalog> catalog(new Catalog());
  std::map<std::string, const Zone*> private_by_id;
  for (const ZoneSpec& z : spec.public_zones) {
    COVE_ASSIGN_OR_RETURN(std::unique_ptr<Zone> zone, BuildZone(z, false));
    if (!catalog->public_view_.zones.TryEmplace(zone->apex.lower, ZoneRef{zone.get()})) {
      return Fail(Code::kInvalidArgument, "public zone '" + z.name + "' is given twice");
    }
    catalog->zones_.push_back(std::move(zone));
  }
  for (const ZoneSpec& z : spec.private_zones) {
    COVE_ASSIGN_OR_RETURN(std::unique_ptr<Zone> zone, BuildZone(z, true));
    if (z.id.empty() || !private_by_id.emplace(z.id, zone.get()).second) {
      return Fail(Code::kInvalidArgument,
                  "private zone '" + z.name + "' needs a unique id (got '" + z.id + "')");
    }
    catalog->zones_.push_back(std::move(zone));
  }
  for (const ViewSpec& v : spec.views) {
    if (v.id.empty()) return Fail(Code::kInvalidArgument, "a view needs an id");
    View view{v.id, {}};
    std::set<std::string> linked;
    for (const LinkSpec& link : v.links) {
      auto it = private_by_id.find(link.zone_id);
      if (it == private_by_id.end()) {
        return Fail(Code::kInvalidArgument,
                    "view '" + v.id + "' links unknown private zone '" + link.zone_id + "'");
      }
      const Zone* zone = it->second;
      if (!linked.insert(zone->apex.lower).second) {
        return Fail(
            Code::kInvalidArgument,
            "view '" + v.id + "' links two private zones with the name of '" + link.zone_id + "'");
      }
      view.zones[zone->apex.lower] = ZoneRef{zone, link.policy};
    }
    // A linked private zone answers for every name under it: public zones at or below a linked
    // private apex are not visible in this view, so the longest match below prefers private.
    for (const auto& [apex, ref] : catalog->public_view_.zones) {
      bool shadowed = false;
      for (const std::string& p : linked) {
        shadowed = shadowed || IsSubdomain(WireName{apex, apex}, WireName{p, p});
      }
      if (!shadowed) view.zones.TryEmplace(apex, ref);
    }
    COVE_RETURN_IF_ERROR(AddRules(v, view));
    if (!catalog->views_.emplace(v.id, std::move(view)).second) {
      return Fail(Code::kInvalidArgument, "view '" + v.id + "' is given twice");
    }
  }
  return std::shared_ptr<const Catalog>(std::move(catalog));
}

const View& Catalog::view(std::string_view id) const {
  auto it = views_.find(id);
  return it == views_.end() ? public_view_ : it->second;
}

CatalogStore::CatalogStore() : current_(*Catalog::Build({})) {}

}  // namespace cove::dns
