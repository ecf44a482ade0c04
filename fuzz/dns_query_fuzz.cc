// Fuzzes DNS query processing (bytes → Process → bytes) against a small catalog with public and
// private zones, CNAME chains, a large RRset and a view with forwarding rules. Checks that Process
// never crashes, and that every response it gives parses, keeps the query's id, has QR set, and
// fits the size the transport allows (UDP: at most 1232 octets here, TCP: 65535).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/catalog.h"
#include "dns/query.h"
#include "dns/wire.h"

namespace {

using namespace cove::dns;

void Check(bool ok) {
  if (!ok) std::abort();
}

CatalogPtr MakeCatalog() {
  ZoneSpec pub{.id = "", .name = "azurecr.io", .soa = {}, .records = {}};
  pub.records = {{"myregistry", kTypeCNAME, 60, "myregistry.privatelink.azurecr.io."},
                 {"myregistry.westus.data", kTypeCNAME, 60,
                  "myregistry.westus.data.privatelink.azurecr.io."},
                 {"loop1", kTypeCNAME, 60, "loop2"},
                 {"loop2", kTypeCNAME, 60, "loop1"},
                 {"away", kTypeCNAME, 60, "x.example.net."},
                 {"txt", kTypeTXT, 60, std::string(600, 't')},
                 {"@", kTypeNS, 60, "ns1.azurecr.io."}};
  for (int i = 1; i <= 80; ++i) {
    pub.records.push_back({"many", kTypeA, 60, "198.51.100." + std::to_string(i)});
  }
  ZoneSpec pub_pl{.id = "", .name = "privatelink.azurecr.io", .soa = {}, .records = {}};
  pub_pl.records = {{"myregistry", kTypeA, 60, "203.0.113.10"}};
  ZoneSpec priv{.id = "z1", .name = "privatelink.azurecr.io", .soa = {}, .records = {}};
  priv.records = {{"myregistry", kTypeA, 10, "10.0.0.5"},
                  {"myregistry.westus.data", kTypeA, 10, "10.0.0.6"},
                  {"v6", kTypeAAAA, 10, "fd00::5"}};
  CatalogSpec spec;
  spec.public_zones = {pub, pub_pl};
  spec.private_zones = {priv};
  spec.views = {{"linked", {{"z1", ResolutionPolicy::kDefault}}},
                {"redirect", {{"z1", ResolutionPolicy::kNxDomainRedirect}}},
                {"rules",
                 {{"z1", ResolutionPolicy::kDefault}},
                 {{"corp.example.", {{"192.0.2.1", 53}}, true},
                  {".", {{"192.0.2.2", 53}}, true},
                  {"privatelink.azurecr.io.", {{"10.0.2.4", 53}}, true}}}};
  auto built = Catalog::Build(spec);
  Check(built.has_value());
  return *built;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const CatalogPtr catalog = MakeCatalog();
  std::span<const uint8_t> query(data, size);
  std::vector<uint8_t> out;
  for (const char* view : {"", "linked", "redirect", "rules"}) {
    for (bool tcp : {false, true}) {
      ProcessResult r = Process(query, *catalog, catalog->view(view), {.tcp = tcp}, out);
      if (!r.respond) {
        Check(out.empty());
        Check(!r.forward || std::string_view(view) == "rules");
        continue;
      }
      Check(!r.forward);
      Check(size >= kHeaderSize);
      Check(out.size() <= (tcp ? 65535u : 1232u));
      auto m = Parse(out);
      Check(m.has_value());
      Check(m->header.qr);
      Check(out[0] == data[0] && out[1] == data[1]);
      Check((m->header.rcode | (m->edns ? m->edns->extended_rcode << 4 : 0)) == r.rcode);
      Check(m->header.tc == r.truncated);
    }
  }
  return 0;
}
