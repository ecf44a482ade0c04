// Helpers shared by the providers of on-premises connectivity (issue 14): gateways.cc
// (public IPs, VNet and local gateways, connections, ExpressRoute circuits), dns_resolvers.cc
// (DNS Private Resolver) and sites.cc (cove's on-premises sites). Internal to cove_arm.
//
// Error codes. Where Azure's own code is known it is used: PublicIPAddressInUse,
// PublicIPAddressCannotBeDeleted, VirtualNetworkGatewayCannotBeDeleted,
// SubnetMissingRequiredDelegation, InUseSubnetCannotBeDeleted, InvalidResourceReference,
// InvalidServiceNameOnDelegation, and the message of the DNS resolver's subnet-size refusal
// (code BadRequest). Where Azure's code could not be confirmed, cove names the refusal in
// Azure's style ({What}CannotBeDeleted, Invalid{What}, ...) and says so where it is raised
// ("cove's name").
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arm/engine.h"

namespace cove::arm {

// InvalidResourceName for a new resource (`existing` null) whose name breaks Microsoft.Network's
// rule (1-80 word characters, '.', '-', '_'; begins with a word character).
Status CheckNewNetworkName(const ArmPath& p, const Json* existing, const std::string& type);

// The stored document `id` names when it is of `type` (any casing); null otherwise.
const Json* FindOfType(const Txn& txn, const std::string& id, std::string_view type);

// InvalidResourceReference (whose message asks for the same region) unless `doc` is in the
// location of `dependency`.
Status CheckSameRegion(const Json& doc, const Json& dependency);

// The keys of the stored documents of `type` whose properties.<field>.id names `key`.
std::vector<std::string> ReferencesTo(const Txn& txn, std::string_view type, const char* field,
                                      const std::string& key);

// The ids of the documents `keys` name, joined with ", " (for messages).
std::string IdsOf(const Txn& txn, const std::vector<std::string>& keys);

// Refuses (400 InvalidAsn, cove's name) an ASN outside 1-4294967294 or reserved by Azure
// (8074, 8075, 12076, 65515, 65517-65520) or IANA (23456, 64496-64511, 65535-65551).
// `azure_side`: the ASN of a VNet gateway, for which Azure's default 65515 is allowed. `what`
// names the field in the message.
Status CheckAsn(int64_t asn, const std::string& what, bool azure_side);

// Reading stored documents without throwing: j[key] when j is an object holding an object or an
// array there, else an empty object (Field); j[key] when it is an integer, else `fallback`
// (IntField). Strings: Str (projection.h).
const Json& Field(const Json& j, const char* key);
int64_t IntField(const Json& j, const char* key, int64_t fallback);

}  // namespace cove::arm
