// ArmPath: what an ARM request path (or a resource id inside a body) names.
//
// Paths follow Azure Resource Manager:
//   /subscriptions                                        kSubscriptions
//   /subscriptions/{s}                                    kSubscription
//   /subscriptions/{s}/providers[/{ns}]                   kProviders / kProvider
//   /subscriptions/{s}/providers/{ns}/{word}              kProviderChild (list of a type across
//                                                          the subscription, or an action: register,
//                                                          unregister, checkNameAvailability)
//   /subscriptions/{s}/resourcegroups[/{rg}]              kResourceGroups / kResourceGroup
//   /subscriptions/{s}[/resourceGroups/{rg}]/resources    kGenericResources (every resource of
//                                                          the subscription or group; resource_group
//                                                          empty at the subscription)
//   /subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}]...
//                                                          kResource (pairs complete) or
//                                                          kCollection (a trailing type: a list,
//                                                          or an action when POSTed)
// Segments are percent-decoded; casing is kept as given (callers compare case-insensitively).
// Key() is the lowercased canonical form used to store and look up resources.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::arm {

enum class PathKind {
  kSubscriptions,
  kSubscription,
  kProviders,
  kProvider,
  kProviderChild,
  kResourceGroups,
  kResourceGroup,
  kResource,
  kCollection,
  kGenericResources,
};

struct ArmPath {
  PathKind kind = PathKind::kSubscriptions;
  std::string subscription;
  std::string resource_group;
  std::string provider;            // namespace as written, e.g. "Microsoft.Network"
  std::vector<std::string> types;  // "virtualNetworks", "subnets", ...
  std::vector<std::string> names;  // one per type for kResource; one fewer for kCollection
  std::string word;                // kProviderChild: the segment after the namespace

  // "microsoft.network/virtualnetworks/subnets" (lowercase).
  std::string TypeKey() const;
  // Lowercased path of this resource (kResource, kResourceGroup, kSubscription).
  std::string Key() const;
  // Key of the parent resource (for nested resources) or of the resource group.
  std::string ParentKey() const;
  std::string ResourceGroupKey() const;
  std::string SubscriptionKey() const;
};

// Parses a request path ("/subscriptions/..."; no query). kInvalidArgument with a reason when
// the path is not of any form above (empty segments, a providers segment missing, ...).
Result<ArmPath> ParseArmPath(std::string_view path);

// Parses a fully qualified resource id as found in request bodies; only kResource and
// kResourceGroup ids are accepted.
Result<ArmPath> ParseResourceId(std::string_view id);

// The raw (not yet decoded) segments of an absolute path: "/a/b" → {"a", "b"}, "/" → {""}.
std::vector<std::string> RawPathSegments(std::string_view path);

std::string Lower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace cove::arm
