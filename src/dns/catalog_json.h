// CatalogSpecFromJson: reads a CatalogSpec (catalog.h) from JSON, for tools and files (the DNS
// bench server, a single-host setup). The control plane builds CatalogSpec structs directly.
//
//   {"public_zones":  [{"name": "azurecr.io", "soa": {"ttl": 3600, "minimum": 300, ...},
//                       "records": [{"name": "myregistry", "type": "CNAME", "ttl": 60,
//                                    "value": "myregistry.privatelink.azurecr.io."}]}],
//    "private_zones": [{"id": "zone-1", "name": "privatelink.azurecr.io", "records": [...]}],
//    "views":         [{"id": "vnet-1", "links": [{"zone": "zone-1",
//                                                  "policy": "NxDomainRedirect"}],
//                       "forwards": [{"domain": "contoso.local.", "enabled": true,
//                                     "targets": [{"ip": "192.168.1.10", "port": 53}]}]}]}
//
// Every key is optional except a zone's "name", a record's "name", "type" and "value", a view's
// "id", a link's "zone", a forward's "domain" and "targets" and a target's "ip". "type" is one of
// A, AAAA, CNAME, TXT, MX, NS, PTR; "policy" is Default or NxDomainRedirect; "soa" fields default
// as in SoaSpec.
//
// Thread-safety: a pure function.
#pragma once

#include <string_view>

#include "common/error.h"
#include "dns/catalog.h"

namespace cove::dns {

// Returns the spec, or kInvalidArgument saying what is malformed. Record values are checked
// later, by Catalog::Build.
Result<CatalogSpec> CatalogSpecFromJson(std::string_view json);

}  // namespace cove::dns
