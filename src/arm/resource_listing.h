// Generic resource listing: GET /subscriptions/{s}/resources and
// GET /subscriptions/{s}/resourceGroups/{rg}/resources (Microsoft.Resources' "Resources - List"
// and "List By Resource Group"), as `az resource list`, `az acr` (which finds a registry's group
// by listing `resourceType eq 'Microsoft.ContainerRegistry/registries'`) and the SDKs'
// ResourceManagementClient call them. Internal to cove_arm; the Engine routes PathKind
// kGenericResources here.
//
// Items: every tracked resource of the scope (one with a location) — top-level resources and
// located children such as registry replications and virtual network links, never resource
// groups — as ARM's GenericResourceExpanded: {id, name, type, location, tags} plus sku, kind,
// identity, managedBy when the resource has them, and provisioningState when $expand names it
// (az sends $expand=createdTime,changedTime,provisioningState; cove keeps no such times). A
// child's name is its parents' and its own joined by '/' ("myregistry/eastus"), as ARM lists
// it, and `name eq` compares that. Ordered by lowercase id, so paging is stable while other
// requests write.
//
// $filter: one or more clauses joined by ` and ` (any casing of the keyword):
//   resourceType eq '<namespace>/<type>[/<child>]'   name eq '<name>'
//   resourceGroup eq '<group>'                        location eq '<region>'
//   tagName eq '<key>'  (optionally with  tagValue eq '<value>')
// Types, names, groups, locations and tag names compare case-insensitively, as ARM compares them;
// tag values exactly. A quote inside a value is written twice (OData). Any other filter — other
// fields, `or`, functions such as substringof — is refused with 400 InvalidFilterInQueryString
// ("Invalid $filter '<filter>' specified in the query string.", ARM's code and message) rather
// than answered unfiltered: a client that gets more than it asked for may act on it.
//
// Paging: a page holds at most $top items (1..1000; default 1000, ARM's page size). When more
// remain, the answer carries "nextLink": the same path and query with $skiptoken = the
// base64url of the last item's lowercase id (path-absolute; the transport makes it a URL, see
// arm/api.h). A malformed $top is 400 InvalidTopInQueryString, a $skiptoken cove did not make
// 400 InvalidSkipTokenInQueryString (cove's codes, after ARM's pattern for $filter). The
// transport's RBAC filters each page after it is made (daemon/arm_node.h), so a caller who may
// read only part of the scope can get pages shorter than $top, or empty ones with a nextLink,
// which ARM's paging contract allows.
//
// api-version: one of Microsoft.Resources' (ResourcesApiVersions), else 400
// InvalidApiVersionParameter listing them. A group that does not exist is 404
// ResourceGroupNotFound.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/engine.h"

namespace cove::arm {

// What a $filter keeps; empty members match anything.
struct ResourceFilter {
  std::string resource_type;   // lowercase
  std::string name;            // lowercase
  std::string resource_group;  // lowercase
  std::string location;        // normalized (NormalizeLocation)
  std::string tag_name;        // lowercase
  std::optional<std::string> tag_value;
};

// Parses a $filter as described above ("" keeps everything); the 400 InvalidFilterInQueryString
// error otherwise.
Result<ResourceFilter> ParseResourceFilter(std::string_view filter);

// The api-versions Microsoft.Resources accepts for resource listing, newest first.
const std::vector<std::string>& ResourcesApiVersions();

// The answer to a GET of `p` (kind kGenericResources): {"value": [...], "nextLink"?}, or the
// errors above.
Result<ArmResponse> ListResources(const Txn& txn, const ArmRequest& r, const ArmPath& p);

}  // namespace cove::arm
