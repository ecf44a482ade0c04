// Declarative deployments: `cove deploy -f FILE` and the built-in one behind `cove up`.
//
// A deployment file (YAML or JSON) lists resources:
//
//   resources:                                   # or the list itself at top level
//   - type: Microsoft.Network/virtualNetworks    # ARM type; children as in ARM templates:
//     name: myVNet                               #   type .../virtualNetworks/subnets,
//     resourceGroup: myResourceGroup             #   name myVNet/mySubnet
//     apiVersion: 2024-05-01                     # optional; default: the version az uses
//     body: {location: westus, properties: {...}}  # the REST body, exactly as Azure's API
//   - id: /subscriptions/${subscription}/resourceGroups/g/providers/NS/type/name
//     body: {...}
//
// `${name}` in any string is replaced by a parameter: `subscription` (the selected one),
// `resourceGroup` (-g) and any `--parameters name=value`; an unknown one is an error.
// A resource without `resourceGroup` uses -g. Resource groups are
// `type: Microsoft.Resources/resourceGroups`.
//
// Order: a resource comes after every resource of the file whose id is a prefix of its own
// (its group and parents) and after the resources its body refers to (any string that is a
// resource id; a reference to a child, such as a subnet inside a VNet of the file, depends on
// the closest resource of the file above it). A reference to nothing in the file must exist on
// the server, else the deployment fails before changing anything ("unknown reference"); so does
// a cycle. Then each resource is read: absent → PUT ("created"); present with every field of
// `body` already equal → nothing ("unchanged"); else PUT ("updated"). Running a file twice
// changes nothing the second time.
//
// The answer is a list of {"action", "id", "type"} in the order applied.
//
// Thread-safety: one command, one thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/context.h"

namespace cove::cli {

// Parses YAML or JSON text into JSON (YAML scalars: plain true/false/null/numbers are typed,
// quoted ones stay strings). Returns kInvalidArgument with the parser's position on bad input.
Result<nlohmann::json> ParseDeploymentText(const std::string& text);

// Replaces ${name} in every string. Returns kInvalidArgument naming an unknown parameter.
Result<nlohmann::json> Substitute(const nlohmann::json& doc,
                                  const std::map<std::string, std::string>& parameters);

struct PlannedResource {
  std::string id;
  std::string type;
  std::string api_version;
  nlohmann::json body;
};

// Turns a substituted document into resources in dependency order (no server calls).
// Returns kInvalidArgument for malformed entries, duplicate ids or a cycle.
// `references` receives, per resource index in the result, the ids it refers to that no
// resource of the file covers (to be checked on the server).
Result<std::vector<PlannedResource>> Plan(const nlohmann::json& doc,
                                          const std::string& default_group,
                                          const std::string& subscription,
                                          std::vector<std::vector<std::string>>* outside_refs);

// True when every field in `desired` is in `actual` with the same value (strings compared
// case-insensitively; each desired array element matches some actual element).
bool Contains(const nlohmann::json& actual, const nlohmann::json& desired);

// The api-version az uses for an ARM type ("Microsoft.Network/privateDnsZones/A" → 2020-06-01).
std::string ApiVersionFor(const std::string& type);

// Plans and applies a document (already parsed, not yet substituted).
Outcome ApplyDeployment(Context& ctx, const nlohmann::json& doc, const std::string& default_group,
                        std::map<std::string, std::string> parameters);

// The deployment `cove up` applies: the seed's first diagram.
const char* UpDeployment();

}  // namespace cove::cli
