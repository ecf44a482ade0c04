#include "dns/catalog_json.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace cove::dns {
namespace {

using nlohmann::json;

const std::map<std::string, uint16_t, std::less<>> kTypes = {
    {"A", kTypeA},   {"AAAA", kTypeAAAA}, {"CNAME", kTypeCNAME}, {"TXT", kTypeTXT},
    {"MX", kTypeMX}, {"NS", kTypeNS},     {"PTR", kTypePTR}};

// Throws json exceptions on malformed input; the caller catches them.
ZoneSpec ReadZone(const json& j) {
  ZoneSpec z;
  z.id = j.value("id", "");
  z.name = j.at("name").get<std::string>();
  if (j.contains("soa")) {
    const json& s = j.at("soa");
    z.soa.mname = s.value("mname", z.soa.mname);
    z.soa.rname = s.value("rname", z.soa.rname);
    z.soa.serial = s.value("serial", z.soa.serial);
    z.soa.refresh = s.value("refresh", z.soa.refresh);
    z.soa.retry = s.value("retry", z.soa.retry);
    z.soa.expire = s.value("expire", z.soa.expire);
    z.soa.minimum = s.value("minimum", z.soa.minimum);
    z.soa.ttl = s.value("ttl", z.soa.ttl);
  }
  for (const json& r : j.value("records", json::array())) {
    RecordSpec rec;
    rec.name = r.at("name").get<std::string>();
    std::string type = r.at("type").get<std::string>();
    auto it = kTypes.find(type);
    if (it == kTypes.end()) throw std::invalid_argument("unknown record type " + type);
    rec.type = it->second;
    rec.ttl = r.value("ttl", rec.ttl);
    rec.value = r.at("value").get<std::string>();
    z.records.push_back(std::move(rec));
  }
  return z;
}

}  // namespace

Result<CatalogSpec> CatalogSpecFromJson(std::string_view text) {
  try {
    json j = json::parse(text);
    CatalogSpec spec;
    for (const json& z : j.value("public_zones", json::array())) {
      spec.public_zones.push_back(ReadZone(z));
    }
    for (const json& z : j.value("private_zones", json::array())) {
      spec.private_zones.push_back(ReadZone(z));
    }
    for (const json& v : j.value("views", json::array())) {
      ViewSpec view;
      view.id = v.at("id").get<std::string>();
      for (const json& l : v.value("links", json::array())) {
        LinkSpec link;
        link.zone_id = l.at("zone").get<std::string>();
        std::string policy = l.value("policy", "Default");
        if (policy == "NxDomainRedirect") {
          link.policy = ResolutionPolicy::kNxDomainRedirect;
        } else if (policy != "Default") {
          return Fail(Code::kInvalidArgument, "unknown resolutionPolicy " + policy);
        }
        view.links.push_back(std::move(link));
      }
      for (const json& f : v.value("forwards", json::array())) {
        ForwardRuleSpec rule;
        rule.domain = f.at("domain").get<std::string>();
        rule.enabled = f.value("enabled", true);
        for (const json& t : f.at("targets")) {
          rule.targets.push_back({t.at("ip").get<std::string>(), t.value("port", uint16_t{53})});
        }
        view.forwards.push_back(std::move(rule));
      }
      spec.views.push_back(std::move(view));
    }
    return spec;
  } catch (const std::exception& e) {
    return Fail(Code::kInvalidArgument, std::string("catalog JSON: ") + e.what());
  }
}

}  // namespace cove::dns
