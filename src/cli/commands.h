// The command table: every `cove` group and command, and the helpers their handlers share.
//
// Each Add*Commands function registers one area (mirroring az's command modules):
//   resources: group, provider, account        network: vnet, subnet, peering, nsg, nic,
//   private-endpoint (+ dns-zone-group)        dns: network private-dns zone|link|record-set
//   acr: acr, replication, private-endpoint-connection, network-rule
//   deploy: deploy, up                         ca: ca show (the CA coved issues TLS from)
//
// Handlers follow az's flow: read arguments, build the Azure REST body, call ARM, return what the
// service returned (or az's own shape where az reshapes it, e.g. `vnet create` → {"newVNet"}).
//
// Thread-safety: registration happens once; handlers run on the caller's thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/credentials.h"
#include "http/client.h"
#include "cli/imds.h"

namespace cove::cli {

void AddResourceCommands(Registry& registry);
void AddNetworkCommands(Registry& registry);
void AddDnsCommands(Registry& registry);
void AddAcrCommands(Registry& registry);
void AddDeployCommands(Registry& registry);
void AddCaCommands(Registry& registry);
void AddVmCommands(Registry& registry);  // vm ..., down (commands_vm.cc)
// ad user|sp, login, logout, account get-access-token, role, identity (commands_identity.cc)
void AddIdentityCommands(Registry& registry);
// acr login, acr credential, acr scope-map, acr token (commands_acr_auth.cc)
void AddAcrAuthCommands(Registry& registry);
// container create|show|list|delete|exec (commands_container.cc)
void AddContainerCommands(Registry& registry);
// On-premises connectivity (issue 14): network public-ip, vnet-gateway, local-gateway,
// vpn-connection, express-route (commands_gateway.cc); dns-resolver and its endpoints, rulesets,
// rules and links (commands_dns_resolver.cc); onprem site|machine (commands_onprem.cc).
void AddGatewayCommands(Registry& registry);
void AddDnsResolverCommands(Registry& registry);
void AddOnPremCommands(Registry& registry);
// aks, aks nodepool, aks deploy|deployment (commands_aks.cc)
void AddAksCommands(Registry& registry);
// cloud show: the az cloud register command and client environment (commands_cloud.cc)
void AddCloudCommands(Registry& registry);

// Splits a command line as a POSIX shell splits words (az uses shlex.split): blanks separate
// words; '...' is literal; "..." keeps blanks and takes \ before " \ $ `; \ escapes one
// character. nullopt for an unclosed quote or a trailing backslash. No expansion of any kind.
std::optional<std::vector<std::string>> SplitCommandLine(const std::string& line);

// cove's one tenant.
inline constexpr char kCoveTenant[] = "c0ffee00-0000-4000-8000-0000000000ff";

// `cove up`'s client steps after its deployment (commands_vm.cc): builds a sample image, pushes
// and pulls it from inside VM `vm` and narrates on `narrate`. Exit 0 also when it stops early
// because the fabric is not running (it says why).
Outcome RunUpClient(Context& ctx, std::ostream& narrate, const std::string& group,
                    const std::string& vm, const std::string& registry, bool push);

// The full table.
const Registry& Commands();

// ---- argument specs shared by many commands (az's help texts) ----
ArgSpec GroupArg(bool required = true, bool id_part = true);
ArgSpec NameArg(const std::string& help, bool required = true, bool id_part = true);
ArgSpec LocationArg(const std::string& help_extra = "");
ArgSpec TagsArg();
ArgSpec YesArg();
ArgSpec NoWaitArg();

// {"k": "v"} from az's `--tags k=v k2` list.
nlohmann::json TagsJson(const std::vector<std::string>& tags);

// Builds the ARM path of the resource a command names (from the subscription and arguments).
using PathFn = std::function<std::string(const std::string& sub, const ParsedArgs& args)>;

// Runs `body` once per --ids value (collecting the values into a list when there are several),
// or once for the path `path_of` builds.
Outcome ForEachTarget(Context& ctx, const ParsedArgs& args, const PathFn& path_of,
                      const std::function<Outcome(const std::string& path)>& body);

// Runs `body` with the subscription resolved (most create commands).
Outcome WithSub(Context& ctx, const std::function<Outcome(const std::string&)>& body);
// GET → modify → PUT, az's generic update; `shape` reshapes the answer (as is when null).
Outcome GetModifyPut(Context& ctx, const std::string& path, const std::string& api,
                     const std::function<std::optional<Outcome>(nlohmann::json&)>& modify,
                     const std::function<nlohmann::json(const nlohmann::json&)>& shape = nullptr);
// --location, else the location of the group --resource-group names.
ArmResult<std::string> LocationOr(Context& ctx, const ParsedArgs& a, const std::string& sub);
// The integer value of argument `name` into `out` (left unset when absent); argparse's usage
// error ("argument --asn: invalid int value: 'x'") when it is not one.
std::optional<Outcome> ReadInt(const ParsedArgs& a, const std::string& name,
                               std::optional<int64_t>& out);

// GET → Value (404: exit 3 as az's show commands).
Outcome ShowAt(Context& ctx, const std::string& path, const std::string& api);
// GET collection → list.
Outcome ListAt(Context& ctx, const std::string& path, const std::string& api);
// DELETE → nothing.
Outcome DeleteAt(Context& ctx, const std::string& path, const std::string& api);
// PUT → Value.
Outcome PutAt(Context& ctx, const std::string& path, const std::string& api,
              const nlohmann::json& body);

// az's confirmation prompt for destructive commands: proceeds with --yes, prompts on a TTY,
// fails otherwise (az: "Unable to prompt for confirmation as no tty available. Use --yes.").
std::optional<Outcome> Confirm(Context& ctx, const ParsedArgs& args, const std::string& question);

// The location of resource group `group` (az's default for --location).
ArmResult<std::string> GroupLocation(Context& ctx, const std::string& sub,
                                     const std::string& group);

// `value` when it is a resource id, else the id of resource `value` of `type_path` in the group.
std::string NameOrId(const std::string& value, const std::string& sub, const std::string& group,
                     const std::string& type_path);

// ---- registries (commands_acr.cc), shared by the acr auth commands ----
// --name/-n (or e.g. --registry/-r): the registry, required.
ArgSpec RegistryNameArg(const std::string& name = "--name",
                        std::vector<std::string> aliases = {"-n"});
// The ARM path of the registry named by `name_arg`; without -g the registry is looked up in the
// subscription as az does (exit 3 with az's message when it is not there).
std::variant<std::string, Outcome> RegistryPath(Context& ctx, const ParsedArgs& a,
                                                const std::string& name_arg = "--name");
// Runs `body` with the registry's path.
Outcome WithRegistry(Context& ctx, const ParsedArgs& a, const std::string& name_arg,
                     const std::function<Outcome(const std::string&)>& body);
// The show, list and delete of a registry's child collection ("replications", "scopeMaps",
// "tokens", "privateEndpointConnections"): the registry comes from --registry (and -g, as
// WithRegistry finds it), the child from --name. `view` reshapes what the server answered (for
// list, the whole array); `confirm` makes delete's question from the child's name (no question when
// null).
using ValueView = std::function<nlohmann::json(nlohmann::json)>;
Handler RegistryChildShow(std::string collection, ValueView view = nullptr);
Handler RegistryChildList(std::string collection, ValueView view = nullptr);
Handler RegistryChildDelete(std::string collection,
                            std::function<std::string(const std::string& name)> confirm = nullptr);

// The identity `cove login` stored (cli/credentials.h), if any (an unreadable file counts as
// none; `cove logout` removes it).
std::optional<LoginState> CurrentLogin(const Context& ctx);
// az's account shape (`account show|list`) for one subscription and its user {name, type}.
nlohmann::json AccountJson(const nlohmann::json& sub, const std::string& selected,
                           const nlohmann::json& user);

// Creates a role assignment of `role` (name, GUID or definition id) at `scope` for the service
// principal `principal_id` (a managed identity), as `role assignment create --assignee-object-id
// ID --assignee-principal-type ServicePrincipal` does; an existing identical assignment is
// fine. Returns the assignment in az's shape, or az's error.
Outcome AssignRoleToServicePrincipal(Context& ctx, const std::string& scope,
                                     const std::string& role, const std::string& principal_id);

// ---- managed identities (commands_mi.cc) ----
// `login --identity` (REQUIRES: --identity given).
Outcome LoginWithIdentity(Context& ctx, const ParsedArgs& a);
// az's user of a managed-identity account: {assignedIdentityInfo, name, type}.
nlohmann::json ManagedIdentityUser(const LoginState& login);
// A token for `resource` for the managed-identity account `login`: its cached management token
// while it has 5 minutes left (unless `fresh`), else a new one from IMDS (which refreshes the
// cache when it is the management resource).
std::variant<ImdsToken, Outcome> ManagedIdentityToken(Context& ctx, const LoginState& login,
                                                      const std::string& resource, bool fresh);
// `account get-access-token` for a managed-identity account.
Outcome ManagedIdentityAccessToken(Context& ctx, const ParsedArgs& a, const LoginState& login);
// `acr login -n REG`'s login server for a managed identity: REG when it has a dot, else
// REG.<the account's registry suffix>.
std::string ManagedIdentityLoginServer(const std::string& registry, const LoginState& login);
// The registry refresh token for `server`: a fresh IMDS token exchanged at
// https://<server>/oauth2/exchange. On refusal warns as az does and answers its error.
std::variant<std::string, Outcome> ManagedIdentityRefreshToken(Context& ctx,
                                                               const LoginState& login,
                                                               const std::string& server,
                                                               const http::HttpsOptions& tls = {});
// POST https://<server>/oauth2/exchange with `access_token` (an identity token): the registry
// refresh token, or (401/403/...) az's warning and error, with the registry's own error shown.
std::variant<std::string, Outcome> ExchangeAtRegistry(Context& ctx, const std::string& server,
                                                      const std::string& tenant,
                                                      const std::string& access_token,
                                                      const http::HttpsOptions& tls = {});

// What --assign-identity / --identities name: the system-assigned identity and user-assigned
// identity ids.
struct ManagedIdentityRequest {
  bool system = false;
  std::vector<std::string> user;  // resource ids
};
// az's --assign-identity values: none or "[system]" = system-assigned; names (in `group`) or
// ids of user-assigned identities. Usage error for anything else.
std::variant<ManagedIdentityRequest, Outcome> ParseIdentities(
    const std::vector<std::string>& values, const std::string& sub, const std::string& group);
// The ARM request block: {"type", "userAssignedIdentities": {id: {}}} ("None" when empty).
nlohmann::json IdentityRequestJson(const ManagedIdentityRequest& req);
// What an ARM answer's identity block holds, as a request.
ManagedIdentityRequest IdentityRequestOf(const nlohmann::json& identity);
// az's rule: --role and --scope come together, and only with the system-assigned identity.
std::optional<Outcome> CheckRoleAndScope(const ParsedArgs& a, bool system);
// --assign-identity/--role/--scope of a create command (`vm create`, `container create`),
// checked before anything is sent: the identity request, or nullopt when none was asked for.
std::variant<std::optional<ManagedIdentityRequest>, Outcome> CreateIdentityRequest(
    const ParsedArgs& a, const std::string& sub, const std::string& group);
// After the create: the role assignment --role/--scope ask for, for the system-assigned
// identity in the answer's `identity` block; nullopt when done (or none was asked for).
std::optional<Outcome> AssignSystemRole(Context& ctx, const ParsedArgs& a,
                                        const nlohmann::json& identity);
// az's view of an identity after create/assign: {systemAssignedIdentity, userAssignedIdentities
// [, role, scope]}.
nlohmann::json AzIdentityView(const nlohmann::json& identity,
                              const std::optional<std::string>& role,
                              const std::optional<std::string>& scope);

// A random version-4 GUID (resource names such as role assignments; never a secret).
std::string NewGuid();

// Expands helpers into a standard show/list/delete trio for simple resources.
struct SimpleResource {
  std::vector<std::string> group_path;  // {"network", "nsg"}
  std::string noun;                     // "network security group"
  std::string name_help;
  std::string api;
  PathFn path_of;                    // one resource
  PathFn list_path;                  // the collection (args may lack --name)
  std::vector<ArgSpec> parent_args;  // e.g. --vnet-name, required for every command
  bool list_group_optional = false;  // list without -g lists the subscription
  PathFn subscription_list_path;     // used when -g is absent
  bool delete_confirms = false;
};
void AddShowListDelete(Registry& registry, const SimpleResource& r, bool show = true,
                       bool list = true, bool del = true);

}  // namespace cove::cli
