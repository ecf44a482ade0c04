// Snapshot: an immutable view of every control-plane resource after one committed change,
// with the typed helpers that the data planes (registry, DNS, fabric, private link) read.
//
// The control plane builds a new Snapshot after each successful write and swaps it in; a
// reader keeps the shared_ptr it loaded for as long as it likes and never blocks a writer.
// `documents` holds the stored JSON of every resource by lowercased path key (the same
// documents the REST API renders); the vectors below are derived from it. Secrets appear only
// as Argon2id hashes (under "_cove" in documents, and in the views); the sealed admin passwords
// never reach a snapshot.
//
// Thread-safety: immutable; share freely.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace cove::arm {

using Json = nlohmann::json;
using Documents = std::map<std::string, std::shared_ptr<const Json>>;

struct IpRule {
  std::string value;  // "203.0.113.7" or "203.0.113.0/24"
  std::string action = "Allow";
};

// A password, client secret or token password as the data plane checks it: never its value.
struct SecretView {
  std::string name;  // "password1"/"password2" (tokens), a client secret's keyId, "password"
  std::string hash;  // Argon2id (auth/password.h)
  std::optional<Clock::TimePoint> expiry;  // none: does not expire
};

// A scope map of a registry, user-defined or one of the three SystemDefined ones.
struct ScopeMapView {
  std::string name;
  bool system_defined = false;
  std::vector<std::string> actions;  // "repositories/<repo>/content/read", ...
};

// A repository-scoped token (user name = name).
struct TokenView {
  std::string name;  // as created
  std::string uid;   // object id made at creation ("_cove.uid"; "" in older data)
  bool enabled = true;
  std::string scope_map;  // the name of a ScopeMapView of the same registry
  std::vector<SecretView> passwords;  // password1 / password2, those that were generated
};

// One region of a registry as the data plane serves it: the home region or a replication.
struct ReplicaView {
  std::string region;                   // lowercase, e.g. "eastus"
  bool region_endpoint_enabled = true;  // regionEndpointEnabled: false → no requests routed
                                        // here, content still replicated
  bool zone_redundant = false;          // zoneRedundancy == Enabled (fixed at creation)
};

struct RegistryView {
  std::string id;               // as created
  std::string uid;              // object id made at creation ("_cove.uid"; "" in older data)
  std::string name;             // lowercased (login servers are lowercase)
  std::string subscription;
  std::string resource_group;
  std::string sku;              // Basic | Standard | Premium
  std::string home_region;
  std::vector<std::string> regions;  // home first, then replications (sorted)
  std::vector<ReplicaView> replicas;  // the same regions in the same order, with their settings
  std::string login_server;          // <name>.<suffix>
  bool data_endpoint_enabled = false;
  std::vector<std::string> data_endpoint_host_names;  // one per region when enabled
  bool public_network_access = true;                   // publicNetworkAccess == Enabled
  std::string default_action = "Allow";               // networkRuleSet.defaultAction
  std::vector<IpRule> ip_rules;
  bool bypass_azure_services = true;  // networkRuleBypassOptions == AzureServices
  bool admin_user_enabled = false;
  bool anonymous_pull_enabled = false;
  // properties.policies.retentionPolicy: untagged manifests older than `days` are deleted while
  // enabled (registry/garbage_collector.h).
  bool retention_enabled = false;
  int retention_days = 7;
  // Argon2id hashes of the admin user's "password" and "password2" (present whether or not the
  // admin user is enabled; "" only for a registry the control plane has not finished making).
  std::array<std::string, 2> admin_password_hashes;
  std::vector<ScopeMapView> scope_maps;  // the SystemDefined ones first
  std::vector<TokenView> tokens;
};

// Who can be given a role: a directory user, a service principal, or a managed identity
// (user-assigned, or the system-assigned one of a machine).
enum class PrincipalKind { kUser, kServicePrincipal, kManagedIdentity };

struct PrincipalView {
  PrincipalKind kind = PrincipalKind::kUser;
  std::string id;      // object id; a managed identity's principalId
  std::string name;    // users: UPN; service principals: displayName; identities: resource
                       // name (system-assigned: the machine's name)
  std::string app_id;  // service principals: appId (their login name); identities: clientId
  std::string resource_id;  // managed identities: the ARM id (system-assigned: the machine's)
  bool enabled = true;      // users: accountEnabled
  // Users: one ("password"); service principals: their application's client secrets (by
  // keyId, with expiries); managed identities: none.
  std::vector<SecretView> secrets;
};

struct RoleAssignmentView {
  std::string id;
  std::string name;  // a GUID
  std::string principal_id;
  std::string principal_type;      // User | ServicePrincipal
  std::string role_definition_id;  // /subscriptions/{sub}/providers/.../roleDefinitions/{guid}
  std::string role_name;           // AcrPull, AcrPush, AcrDelete, Owner, Contributor, Reader
  std::string scope;               // a subscription, resource group or resource id, as created
};

struct EndpointMember {
  std::string member_name;  // "registry" or "registry_data_<region>"
  std::string group_id;     // "registry"
  std::string ip;
  std::vector<std::string> fqdns;
  bool static_ip = false;
};

struct PrivateEndpointView {
  std::string id;
  std::string name;
  std::string location;
  std::string subnet_id;
  std::string vnet_id;
  std::string nic_id;
  std::string target_id;         // the registry's id
  std::string registry_name;     // lowercased
  std::string connection_id;     // the registry's privateEndpointConnection
  std::string connection_status; // Pending | Approved | Rejected | Disconnected
  bool manual = false;
  uint32_t link_id = 0;
  std::vector<EndpointMember> members;
};

struct SubnetView {
  std::string id;
  std::string name;
  std::string address_prefix;
  std::string private_endpoint_network_policies;  // Disabled | Enabled | ...
  std::string network_security_group_id;          // "" when none
};

struct PeeringView {
  std::string id;
  std::string name;
  std::string remote_vnet_id;
  std::string peering_state;  // Initiated | Connected | Disconnected
  bool allow_virtual_network_access = true;
  bool allow_forwarded_traffic = false;
  bool allow_gateway_transit = false;  // the remote VNet may use this VNet's gateway
  bool use_remote_gateways = false;    // this VNet uses the remote VNet's gateway
};

struct VnetView {
  std::string id;
  std::string name;
  std::string location;
  std::vector<std::string> address_prefixes;
  std::vector<std::string> dns_servers;
  std::vector<SubnetView> subnets;
  std::vector<PeeringView> peerings;
};

struct SecurityRuleView {
  std::string name;
  int priority = 0;
  std::string direction, access, protocol;
  std::vector<std::string> source_prefixes, destination_prefixes;
  std::vector<std::string> source_ports, destination_ports;
};

struct NsgView {
  std::string id;
  std::string name;
  std::vector<SecurityRuleView> rules;  // user rules by priority (defaults not included)
};

struct RecordSetView {
  std::string type;  // "A" or "CNAME"
  std::string name;  // relative: "myregistry", "@"
  int64_t ttl = 3600;
  std::vector<std::string> ipv4_addresses;
  std::string cname;
};

struct VnetLinkView {
  std::string id;
  std::string name;
  std::string vnet_id;
  bool registration_enabled = false;
  std::string resolution_policy = "Default";  // or NxDomainRedirect
};

struct ZoneView {
  std::string id;
  std::string name;  // lowercased, e.g. "privatelink.azurecr.io"
  std::vector<RecordSetView> records;
  std::vector<VnetLinkView> links;
};

// A managed identity as a machine holds it: a user-assigned identity (resource_id = its ARM
// id) or the machine's own system-assigned one (resource_id = the machine's id).
struct MachineIdentityView {
  std::string resource_id, principal_id, client_id;
};

// A machine the fabric realizes and IMDS serves: a VM (Microsoft.Compute/virtualMachines), a
// container group (Microsoft.ContainerInstance/containerGroups) or a node of an AKS cluster's
// agent pool (kClusterNode: private, in its pool's subnet, in the cluster's node resource group,
// id ".../virtualMachineScaleSets/<vmss>/virtualMachines/<i>", with the kubelet identity as its
// one user-assigned identity; arm/clusters.cc). user_assigned lists only identities that still
// exist.
struct MachineView {
  enum class Kind { kVirtualMachine, kContainerGroup, kClusterNode } kind = Kind::kVirtualMachine;
  std::string id, name, subscription, resource_group, location;
  std::string machine_id;            // VMs: properties.vmId; groups, nodes: a GUID kept in the doc
  bool is_public = false;
  std::string address;               // private IP, or the public one
  std::string subnet_id, vnet_id;    // private VMs only
  std::optional<MachineIdentityView> system_assigned;  // resource_id = the machine's id
  std::vector<MachineIdentityView> user_assigned;
};

// ---- on-premises connectivity (issue 14): gateways.cc, dns_resolvers.cc, sites.cc ----

// A Microsoft.Network/publicIPAddresses resource: Standard, Static, from 192.0.2.10-126.
struct PublicIpView {
  std::string id, name;
  std::string address;
};

// A Microsoft.Network/virtualNetworkGateways resource, in its VNet's GatewaySubnet.
struct VnetGatewayView {
  std::string id, name;
  std::string vnet_id;
  std::string gateway_subnet_id;
  std::string gateway_subnet_prefix;  // "10.0.255.0/27"
  std::string gateway_type;           // Vpn | ExpressRoute
  std::string sku;                    // VpnGw1, ..., Standard, ErGw1AZ, ...
  std::string public_ip;              // the address of its public IP ("" when none: ER)
  bool enable_bgp = false;            // Vpn: BGP on its connections; ExpressRoute: always BGP
  uint32_t bgp_asn = 65515;
  std::string bgp_peering_address;    // in GatewaySubnet: Vpn the last usable address, ER the one
                                      // before it
};

// A Microsoft.Network/localNetworkGateways resource: the on-premises side of a VPN.
struct LocalGatewayView {
  std::string id, name;
  std::string gateway_ip;  // the site's public address
  std::vector<std::string> address_prefixes;
  uint32_t bgp_asn = 0;              // 0: no BGP
  std::string bgp_peering_address;   // "" without BGP
};

// A Microsoft.Network/connections resource.
struct ConnectionView {
  std::string id, name;
  std::string type;              // IPsec | ExpressRoute
  std::string gateway_id;        // virtualNetworkGateway1
  std::string local_gateway_id;  // IPsec: localNetworkGateway2
  std::string circuit_id;        // ExpressRoute: peer
  std::string shared_key;        // IPsec: the pre-shared key (IKE PSK)
  std::string protocol;          // IPsec: IKEv2
  bool enable_bgp = false;
};

// The AzurePrivatePeering of an ExpressRoute circuit.
struct CircuitPeeringView {
  std::string name;  // AzurePrivatePeering
  uint32_t peer_asn = 0;
  uint32_t azure_asn = 12076;
  int vlan_id = 0;
  std::string primary_prefix;    // a /30: .1 is the customer's router, .2 Microsoft's
  std::string secondary_prefix;  // a /30
  bool enabled = true;           // state == Enabled
};

// A Microsoft.Network/expressRouteCircuits resource (cove is the connectivity provider).
struct CircuitView {
  std::string id, name;
  int bandwidth_mbps = 0;
  std::string provider, peering_location;
  std::string service_key;
  std::vector<CircuitPeeringView> peerings;
};

struct DnsInboundEndpointView {
  std::string id, subnet_id, address;
};
struct DnsOutboundEndpointView {
  std::string id, subnet_id;
};

// A Microsoft.Network/dnsResolvers resource with its endpoints.
struct DnsResolverView {
  std::string id, name, vnet_id;
  std::vector<DnsInboundEndpointView> inbound;
  std::vector<DnsOutboundEndpointView> outbound;
};

struct DnsTargetView {
  std::string ip;
  int port = 53;
};
struct ForwardingRuleView {
  std::string name;
  std::string domain;  // "azurecr.io." (with the trailing dot, as Azure keeps it)
  std::vector<DnsTargetView> targets;
  bool enabled = true;
};

// A Microsoft.Network/dnsForwardingRulesets resource: rules and the VNets linked to it.
struct ForwardingRulesetView {
  std::string id, name;
  std::vector<std::string> outbound_endpoint_ids;
  std::vector<ForwardingRuleView> rules;
  std::vector<std::string> vnet_ids;
};

struct SiteForwarderView {
  std::string domain;                // "azurecr.io"
  std::vector<std::string> targets;  // IPv4 addresses
};
struct SiteMachineView {
  std::string id, name, address;
};

// A Cove.OnPremises/sites resource: an on-premises network of cove's own (not an Azure type)
// with its hosts (Cove.OnPremises/sites/machines).
struct SiteView {
  std::string id, name;
  std::vector<std::string> address_prefixes;
  std::string public_ip;      // 192.0.2.130-254
  std::string dns_software;   // bind | unbound | none
  std::string dns_address;    // in the first prefix ("" when none)
  std::vector<SiteForwarderView> forwarders;
  uint32_t bgp_asn = 0;       // 0: no BGP
  std::string vpn_shared_key;  // its VPN device's own key; "": each connection's
  std::vector<SiteMachineView> machines;
};

// ---- AKS (issue 16): arm/clusters.cc ----

// A node of an agent pool: machine_id is the MachineView::id of the node (nodes are MachineViews
// of kind kClusterNode, in their pool's subnet, with the kubelet identity as their one
// user-assigned identity).
struct ClusterNodeView {
  std::string name;        // aks-<pool>-<8 digits>-vmss00000<i>
  std::string machine_id;
};
// A Microsoft.ContainerService/managedClusters/agentPools resource.
struct AgentPoolView {
  std::string id, name, subnet_id, vnet_id;
  int count = 0;
  std::vector<ClusterNodeView> nodes;
};
// A Microsoft.ContainerService/managedClusters resource.
struct ClusterView {
  std::string id, name, resource_group, location, node_resource_group;
  std::string kubelet_identity_id, kubelet_client_id, kubelet_object_id;
  std::vector<AgentPoolView> pools;
};
struct WorkloadContainerView {
  std::string name, image;
  std::vector<std::string> command, args;
  std::vector<std::pair<std::string, std::string>> env;
};
// A Cove.Kubernetes/deployments resource (cove's own): replicas of its containers on the nodes
// of the cluster `cluster_id`.
struct WorkloadView {
  std::string id, name, cluster_id;
  int replicas = 1;
  std::vector<WorkloadContainerView> containers;
};

struct Snapshot {
  uint64_t version = 0;  // increases with every committed change
  std::string dns_suffix;
  Documents documents;
  std::vector<RegistryView> registries;
  std::vector<PrivateEndpointView> private_endpoints;
  std::vector<VnetView> vnets;
  std::vector<NsgView> network_security_groups;
  std::vector<ZoneView> zones;
  std::vector<PrincipalView> principals;
  std::vector<RoleAssignmentView> role_assignments;
  // VMs, container groups and cluster nodes. Their system-assigned identities are also in `principals` (as
  // kManagedIdentity: id = principalId, name = machine name, app_id = clientId,
  // resource_id = machine id).
  std::vector<MachineView> machines;
  // On-premises connectivity (issue 14).
  std::vector<PublicIpView> public_ips;
  std::vector<VnetGatewayView> vnet_gateways;
  std::vector<LocalGatewayView> local_gateways;
  std::vector<ConnectionView> connections;
  std::vector<CircuitView> circuits;
  std::vector<DnsResolverView> dns_resolvers;
  std::vector<ForwardingRulesetView> forwarding_rulesets;
  std::vector<SiteView> sites;
  // AKS (issue 16).
  std::vector<ClusterView> clusters;
  std::vector<WorkloadView> workloads;

  const RegistryView* FindRegistry(std::string_view name) const;
  // Looks a resource document up by id (any casing); null when absent.
  const Json* Find(std::string_view id) const;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Builds the typed views from documents (used by the control plane after each commit).
SnapshotPtr BuildSnapshot(uint64_t version, std::string dns_suffix, Documents documents);

}  // namespace cove::arm
