// The catalog the DNS tests answer from: the seed's registry `myregistry` with a westus data
// endpoint, public and private, and three VNets (linked, linked with NxDomainRedirect to a
// second zone of the same name, and unlinked), plus names for edge cases.
#pragma once

#include <string>

#include "dns/catalog.h"

namespace cove::dns::testing {

inline constexpr char kZoneId1[] =
    "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Network/privateDnsZones/"
    "privatelink.azurecr.io";
inline constexpr char kZoneId2[] =
    "/subscriptions/s/resourceGroups/rg2/providers/Microsoft.Network/privateDnsZones/"
    "privatelink.azurecr.io";
inline constexpr char kLinkedVnet[] = "vnet-linked";
inline constexpr char kRedirectVnet[] = "vnet-redirect";
inline constexpr char kUnlinkedVnet[] = "vnet-unlinked";

inline CatalogSpec SeedSpec() {
  SoaSpec public_soa{.mname = "ns1-01.azure-dns.com.",
                     .rname = "azuredns-hostmaster.microsoft.com.",
                     .serial = 1,
                     .refresh = 3600,
                     .retry = 300,
                     .expire = 2419200,
                     .minimum = 300,
                     .ttl = 3600};
  ZoneSpec azurecr{.id = "", .name = "azurecr.io", .soa = public_soa, .records = {}};
  azurecr.records = {
      {"@", kTypeNS, 3600, "ns1-01.azure-dns.com."},
      {"myregistry", kTypeCNAME, 60, "myregistry.privatelink.azurecr.io."},
      {"myregistry.westus.data", kTypeCNAME, 60, "myregistry.westus.data.privatelink.azurecr.io."},
      {"newreg", kTypeCNAME, 60, "newreg.privatelink.azurecr.io."},
      {"loop1", kTypeCNAME, 60, "loop2"},
      {"loop2", kTypeCNAME, 60, "loop1"},
      {"away", kTypeCNAME, 60, "somewhere.example.net."},
      {"txt", kTypeTXT, 60, "v=cove hello"},
      {"mx", kTypeMX, 60, "10 mail.azurecr.io."},
  };
  for (int i = 1; i <= 60; ++i) {
    azurecr.records.push_back({"many", kTypeA, 60, "198.51.100." + std::to_string(i)});
  }
  ZoneSpec public_pl{.id = "", .name = "privatelink.azurecr.io", .soa = public_soa, .records = {}};
  public_pl.records = {
      {"myregistry", kTypeA, 60, "203.0.113.10"},
      {"myregistry.westus.data", kTypeA, 60, "203.0.113.11"},
      {"newreg", kTypeA, 60, "203.0.113.12"},
  };
  ZoneSpec private1{.id = kZoneId1, .name = "privatelink.azurecr.io", .soa = {}, .records = {}};
  private1.records = {
      {"myregistry", kTypeA, 10, "10.0.0.5"},
      {"myregistry.westus.data", kTypeA, 10, "10.0.0.6"},
      {"vm1", kTypeA, 10, "10.0.1.4"},
      {"v6", kTypeAAAA, 10, "fd00::5"},
  };
  ZoneSpec private2{.id = kZoneId2, .name = "privatelink.azurecr.io", .soa = {}, .records = {}};
  private2.records = {{"myregistry", kTypeA, 10, "10.1.0.5"}};
  CatalogSpec spec;
  spec.public_zones = {azurecr, public_pl};
  spec.private_zones = {private1, private2};
  spec.views = {
      {kLinkedVnet, {{kZoneId1, ResolutionPolicy::kDefault}}},
      {kRedirectVnet, {{kZoneId2, ResolutionPolicy::kNxDomainRedirect}}},
      {kUnlinkedVnet, {}},
  };
  return spec;
}

}  // namespace cove::dns::testing
