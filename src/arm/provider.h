// ResourceProvider: everything the control plane knows about one ARM resource type, in one
// table entry. The Engine (engine.h) runs ARM's generic behaviour once for every type — routing,
// the api-version check, If-Match/If-None-Match, PATCH as a merge of the rendered resource, the
// shared prologue of a write (the parent exists, the namespace is registered, the body is a JSON
// object), listing a collection, resource-group deletes in rank order — and asks the type's
// provider only for what differs: how to validate and write a body (put: the type's name rule,
// then Engine::Envelope for the common fields, then its own properties), what a delete takes
// with it (remove), what is derived on every read (render) and what the type adds to the data
// planes' Snapshot (project).
//
// To add a resource type:
//   1. write its file (say src/arm/widgets.cc) with the put/remove/render/project functions it
//      needs, as free functions of the Engine they are given (engine.txn(), engine.options(),
//      engine.Envelope(...)), and a `void RegisterWidgetProviders(ProviderRegistry&)` that adds
//      one ResourceProvider per type, listing the real Azure api-versions of the type;
//   2. declare that function below and call it from ResourceProviders() (providers.cc);
//   3. add the file to src/arm/CMakeLists.txt, and a view to snapshot.h if the data planes read
//      the type.
// Per-type logic that predates the table is still written as Engine members (network.cc,
// registries.cc, ...); their Register*Providers functions are friends of Engine and wrap them.
//
// Thread-safety: the registry is built once, on first use, and is immutable after.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arm/control_plane.h"
#include "arm/errors.h"
#include "arm/resource_path.h"
#include "arm/snapshot.h"

namespace cove::arm {

class Engine;

enum class LocationRule {
  kNone,      // child resources without a location of their own (subnets, record sets)
  kRegional,  // "location" is required and fixed at creation
  kGlobal,    // "location" is "global" (the default when absent)
};

struct ResourceProvider {
  // Canonical type, as documents and answers spell it: "Microsoft.Network/virtualNetworks".
  std::string type;
  LocationRule location = LocationRule::kNone;
  // The api-versions accepted for the type, newest first (ARM lists them in its
  // InvalidApiVersionParameter message).
  std::vector<std::string> api_versions;
  // Resource-group deletes remove top-level types in ascending rank (dependents first, so each
  // cascade runs as for a single delete); 0: not swept by rank (children go with their parent,
  // and whatever is left goes with the group). Ranks are spaced by ten (VMs 10 ... identities
  // 90) so that a type fits between two others.
  int delete_rank = 0;

  // Validates `body` and writes the resource (and whatever it changes elsewhere) through the
  // engine's Txn. Runs after the shared prologue; `existing` is the stored document or null.
  // Null: the type is read-only (405).
  Status (*put)(Engine& engine, const ArmPath& path, const Json& body,
                const Json* existing) = nullptr;
  // Deletes the stored resource `key` and what goes with it. Null: the document and every key
  // below it are erased.
  Status (*remove)(Engine& engine, const std::string& key) = nullptr;
  // The document as answered, with what is derived on every read filled in ("_cove" is dropped
  // by the engine afterwards). Null: as stored.
  Json (*render)(const Engine& engine, const Json& doc) = nullptr;
  // Adds what the stored document `doc` (at `key`) contributes to the typed views of `snapshot`
  // (snapshot.documents is complete when this runs). Null: no typed view.
  void (*project)(const std::string& key, const Json& doc, Snapshot& snapshot) = nullptr;

  // --- hooks for the few types that bend the generic flow
  // A PATCH of an existing resource changes its tags only (ACI's Update).
  bool patch_updates_tags_only = false;
  // True for a stored document another resource owns and deletes (a private endpoint's NIC):
  // a resource-group delete leaves it to its owner.
  bool (*owned_by_other)(const Json& doc) = nullptr;
  // Types that are not stored but computed (privateLinkResources): answers a GET of one
  // (single) or of the collection. Set: every other method is refused.
  Result<ArmResponse> (*computed)(Engine& engine, const ArmPath& path, bool single) = nullptr;
  // A computed type below a part of a stored resource that is not itself stored (a container
  // group's containers/{c}/logs): the parent check looks one level further up (the group), and
  // `computed` finds the part.
  bool parent_not_stored = false;
  // A resource the provider answers itself for every method (the SystemDefined scope maps);
  // nullopt: the generic flow runs.
  std::optional<Result<ArmResponse>> (*intercept)(Engine& engine, const ArmRequest& request,
                                                  const ArmPath& path) = nullptr;
  // Entries listed before the stored children of a collection GET (the SystemDefined scope
  // maps); `parent_key` is the collection's parent.
  Json (*list_prefix)(const Engine& engine, const std::string& parent_key) = nullptr;
  // POST {resource}/{action}: answers the actions the type supports (registries'
  // listCredentials, ...); nullopt: not supported. `action` is lowercase.
  std::optional<Result<ArmResponse>> (*action)(Engine& engine, const ArmPath& target,
                                               const std::string& action,
                                               const std::string& body) = nullptr;
  // Served by its own routes (Microsoft.Authorization extension resources at any scope), not by
  // the generic resource routes; listed here for its projection.
  bool extension = false;
  // The ids of what the stored document `doc` places in the subnet `subnet_key` (a gateway's
  // ipConfiguration, a DNS resolver endpoint): they render in the subnet's ipConfigurations and
  // keep it from being deleted or renumbered (Engine::SubnetUsers). Null: none.
  std::vector<std::string> (*subnet_users)(const Json& doc, const std::string& subnet_key) = nullptr;
};

// Every provider, by lowercase type key.
class ProviderRegistry {
 public:
  // Adds `provider`; a second provider of the same type is dropped and its type recorded in
  // duplicates() (the provider table test fails on any).
  void Add(ResourceProvider provider);
  // The provider of `type_key` (any casing), or null.
  const ResourceProvider* Find(std::string_view type) const;
  // Like Find, but only types served by the generic resource routes (not extensions).
  const ResourceProvider* FindRouted(std::string_view type) const;
  const std::map<std::string, ResourceProvider>& all() const { return providers_; }
  const std::vector<std::string>& duplicates() const { return duplicates_; }

 private:
  std::map<std::string, ResourceProvider> providers_;
  std::vector<std::string> duplicates_;
};

// The one registry of every type cove serves.
const ProviderRegistry& ResourceProviders();

// The 400 InvalidApiVersionParameter ARM answers when `api_version` is not one of `provider`'s;
// ok when it is.
Status CheckApiVersion(const ResourceProvider& provider, const std::string& api_version);

// The api-versions of each namespace's types, newest first (providers.cc). Beside Azure's own,
// each list keeps the versions cove's test fixtures and deploy planner send for every type
// (2023-09-01, 2023-01-01, 2022-09-01) until they send each type's own.
const std::vector<std::string>& NetworkApiVersions();     // Microsoft.Network
const std::vector<std::string>& PrivateDnsApiVersions();  // Microsoft.Network/privateDnsZones
const std::vector<std::string>& ContainerRegistryApiVersions();
const std::vector<std::string>& ComputeApiVersions();
const std::vector<std::string>& ContainerInstanceApiVersions();
const std::vector<std::string>& ManagedIdentityApiVersions();
const std::vector<std::string>& AuthorizationApiVersions();
const std::vector<std::string>& DnsResolverApiVersions();  // Microsoft.Network/dnsResolvers, ...
const std::vector<std::string>& OnPremisesApiVersions();   // Cove.OnPremises (cove's own)
const std::vector<std::string>& ContainerServiceApiVersions();  // Microsoft.ContainerService
const std::vector<std::string>& KubernetesApiVersions();  // Cove.Kubernetes (cove's own)

// Each resource file registers the providers it implements.
void RegisterNetworkProviders(ProviderRegistry& registry);       // network.cc
void RegisterEndpointProviders(ProviderRegistry& registry);      // endpoints.cc
void RegisterComputeProviders(ProviderRegistry& registry);       // compute.cc
void RegisterContainerProviders(ProviderRegistry& registry);     // containers.cc
void RegisterRegistryProviders(ProviderRegistry& registry);      // registries.cc
void RegisterRegistryAuthProviders(ProviderRegistry& registry);  // registry_auth.cc
void RegisterDnsZoneProviders(ProviderRegistry& registry);       // dns_zones.cc
void RegisterIdentityProviders(ProviderRegistry& registry);      // identities.cc
// publicIPAddresses, virtualNetworkGateways, localNetworkGateways, connections,
// expressRouteCircuits (+peerings)
void RegisterGatewayProviders(ProviderRegistry& registry);       // gateways.cc
// dnsResolvers (+inbound/outboundEndpoints), dnsForwardingRulesets (+forwardingRules,
// virtualNetworkLinks)
void RegisterDnsResolverProviders(ProviderRegistry& registry);   // dns_resolvers.cc
void RegisterSiteProviders(ProviderRegistry& registry);          // sites.cc: Cove.OnPremises
// managedClusters (+agentPools), Cove.Kubernetes/deployments
void RegisterClusterProviders(ProviderRegistry& registry);       // clusters.cc

}  // namespace cove::arm
