// ArmApi: the ARM-shaped REST API over HTTP — an http::Handler that turns each request into an
// ArmRequest for the ControlPlane and its ArmResponse into JSON. It does not authenticate:
// coved serves it behind daemon/arm_node.h (HTTPS, bearer tokens, RBAC, Host check) on loopback
// (config arm_listen, default 127.0.0.1:7780); the `cove` CLI is its client.
//
// Bodies are limited to 4 MiB (413 with an ARM error body past that). Every answer carries
// Content-Type: application/json; charset=utf-8 and an x-ms-request-id.
//
// A page of a listing names the next one in "nextLink" as a URL, as ARM does: the control
// plane answers it path-absolute, and it becomes <scheme>://<the request's Host><path>.
//
// Every request needs ?api-version=<anything> (else 400 MissingApiVersionParameter). Paths are
// Azure's; ids and names are case-insensitive and come back in the casing they were created with.
// PUT creates (201) or updates (200); PATCH merges into what GET returns and then validates it
// as a PUT; DELETE answers 200, or 204 when absent; GET on a collection answers {"value":[...]}.
// Everything completes synchronously with properties.provisioningState "Succeeded"; writes of
// the types Azure runs as long-running operations also carry Azure-AsyncOperation (and, for a
// DELETE, Location) and Retry-After headers naming operation status resources, as ARM's do
// (arm/operations.h). Errors are {"error":{"code","message"}}.
//
// A run of slashes in the path counts as one, as in ARM: clients that join a scope beginning
// with "/" to a template beginning with "/{scope}" (@azure/arm-authorization) send
// "//subscriptions/...".
//
//   /subscriptions                                   GET (list)
//   /subscriptions/{sub}                             GET; PUT {"displayName"} (cove extension:
//                                                    a new subscription, no providers registered)
//   /subscriptions/{sub}/providers[/{ns}]            GET (registrationState)
//   /subscriptions/{sub}/providers/{ns}/register|unregister                      POST
//   /subscriptions/{sub}/providers/Microsoft.ContainerRegistry/checkNameAvailability  POST
//   /subscriptions/{sub}/providers/{ns}/{type}       GET: a top-level type across the subscription
//   /subscriptions/{sub}/resourcegroups[/{rg}]       GET, HEAD, PUT, PATCH, DELETE (cascades)
//   /subscriptions/{sub}[/resourceGroups/{rg}]/resources   GET: every resource, $filter, $top,
//                                                    nextLink (arm/resource_listing.h)
//   {rg}/providers/Microsoft.Network/virtualNetworks/{v}[/subnets/{s}|/virtualNetworkPeerings/{p}]
//   {rg}/providers/Microsoft.Network/networkSecurityGroups/{n}[/securityRules/{r}]
//   {rg}/providers/Microsoft.Network/networkInterfaces/{nic}       (made by private endpoints)
//   {rg}/providers/Microsoft.Network/privateEndpoints/{pe}[/privateDnsZoneGroups/{g}]
//   {rg}/providers/Microsoft.Network/privateDnsZones/{zone}[/A/{n}|/CNAME/{n}|/virtualNetworkLinks/{l}]
//       .../privateDnsZones/{zone}/ALL (or /recordsets) lists A and CNAME sets together
//   {rg}/providers/Microsoft.ContainerRegistry/registries/{r}[/replications/{region}|
//       /privateEndpointConnections/{c}|/privateLinkResources[/registry]|/scopeMaps/{m}|
//       /tokens/{t}]
//   {rg}/providers/Microsoft.ContainerRegistry/registries/{r}/listCredentials|
//       regenerateCredential|generateCredentials                                       POST
//   {rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}
//   {scope}/providers/Microsoft.Authorization/roleAssignments[/{guid}][?$filter=principalId eq '<id>']
//   {scope}/providers/Microsoft.Authorization/roleDefinitions[/{guid}][?$filter=roleName eq '<n>']
//       {scope}: /subscriptions/{sub}, a resource group, or any resource id
//   /v1.0/users[/{id|upn}], /v1.0/applications[/{id}[/addPassword|/removePassword]],
//   /v1.0/servicePrincipals[/{id}]   Microsoft Graph-shaped directory (arm/directory.h): no
//       api-version, Graph's error bodies
//
// Thread-safety: Start() may be called from any server thread; the ControlPlane serialises
// writes.
#pragma once

#include <functional>
#include <string>

#include "arm/control_plane.h"
#include "http/message.h"

namespace cove::arm {

// `target` (origin-form: path and query) with every run of slashes in its path made one.
std::string CollapseSlashes(std::string_view target);

class ArmApi final : public http::Handler {
 public:
  // `scheme` ("http" or "https") is the one nextLink URLs are given.
  explicit ArmApi(ControlPlane& control_plane, std::string scheme = "http")
      : control_plane_(control_plane), scheme_(std::move(scheme)) {}
  http::ExchangePtr Start(http::Request request) override;
  // The same, with `filter` applied to the answer before it is rendered (the transport's RBAC
  // keeps the items of a list the caller may read, daemon/arm_node.h).
  using Filter = std::function<void(ArmResponse&)>;
  http::ExchangePtr Start(http::Request request, Filter filter);

 private:
  ControlPlane& control_plane_;
  std::string scheme_;
};

}  // namespace cove::arm
