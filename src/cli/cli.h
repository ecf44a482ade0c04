// cove: the command-line client. It mirrors `az` for the resources of Azure's container
// registry private-endpoint architecture, against coved's ARM-shaped REST API
// (COVE_ENDPOINT, default https://127.0.0.1:7780, with a bearer token: cli/context.h).
//
//   cove group create|show|list|delete|exists
//   cove network vnet create|show|list|update|delete
//   cove network vnet subnet create|show|list|update|delete
//   cove network vnet peering create|show|list|delete
//   cove network nsg create|show|list|delete, network nsg rule create|show|list|delete
//   cove network nic show|list
//   cove network private-endpoint create|show|list|update|delete
//   cove network private-endpoint dns-zone-group create|add|remove|show|list|delete
//   cove network private-dns zone create|show|list|delete
//   cove network private-dns link vnet create|show|list|update|delete
//   cove network private-dns record-set a add-record|remove-record|create|show|list|delete
//   cove network private-dns record-set cname set-record|show|list|delete, record-set list
//   cove acr create|show|list|update|delete|show-endpoints|check-name
//   cove acr replication create|show|list|update|delete
//   cove acr private-endpoint-connection list|show|approve|reject|delete
//   cove acr network-rule add|list|remove
//   cove acr login, acr credential show|renew                        (commands_acr_auth.cc)
//   cove acr scope-map create|update|show|list|delete
//   cove acr token create|update|show|list|delete, acr token credential generate
//   cove provider register|unregister|show|list
//   cove account show|list|set|get-access-token (+ cove-only `account create`)
//   cove login, cove logout                                          (commands_identity.cc)
//   cove ad user create|list|show|delete, ad sp create-for-rbac|list|show|delete
//   cove role assignment create|list|delete, role definition list
//   cove identity create|show|list|delete
//   cove vm create|show|list|delete|list-ip-addresses, vm exec VM -- CMD   (commands_vm.cc)
//   cove vm identity assign|show|remove, login --identity               (commands_mi.cc)
//   cove container create|show|list|delete|exec                 (commands_container.cc)
//   cove deploy -f FILE, cove up, cove down (cove only; see deploy.h, commands_vm.cc)
//   cove ca show [--data-dir DIR]          (cove only: the CA coved's TLS chains to)
//   cove network public-ip|vnet-gateway|local-gateway|vpn-connection|express-route ...
//   cove network vpn-connection shared-key show|update, network express-route peering ...
//                                                                  (commands_gateway.cc)
//   cove dns-resolver create|show|list|delete, dns-resolver inbound-endpoint|outbound-endpoint|
//        forwarding-ruleset|forwarding-rule|vnet-link ...      (commands_dns_resolver.cc)
//   cove onprem site|machine create|show|list|(update)|delete (cove only: commands_onprem.cc)
// Global: -o/--output json|jsonc|table|tsv|yaml|yamlc|none, --query JMESPATH, --subscription,
// --only-show-errors, --verbose, --debug, -h/--help (on every group and command).
//
// As az: output goes to stdout through --query then --output (src/query formats exactly as az);
// errors to stderr as "ERROR: ..." — ARM errors as "(Code) message" / "Code: ..." /
// "Message: ..."; exit codes 0 ok, 1 service error, 2 usage error (unknown command or flag,
// missing or bad argument), 3 `show` of a missing resource. Bad input is refused before any
// request is sent, so it changes nothing.
//
// Where cove differs from az (and why):
// - No clouds and one tenant (c0ffee00-0000-4000-8000-0000000000ff); the ARM listener needs no
//   login (it is loopback-only and trusts its caller as the subscription's owner), so every
//   command but `acr login` and `account get-access-token` works without `cove login`.
//   `account show|list` build az's account shape from GET /subscriptions (environmentName
//   AzureCloud; user = the logged-in identity, else $USER); `account set` writes the
//   subscription to $XDG_CONFIG_HOME/cove/config (az: ~/.azure). `account create` is cove's own
//   (PUT /subscriptions/{id}), to test cross-subscription private endpoints.
// - `login` takes -u/-p (a user's UPN and password, or --service-principal with appId,
//   secret and --tenant), or --identity inside a cove VM or container group (commands_mi.cc:
//   only where 169.254.169.254 is a local address; the account is the machine's subscription,
//   not ARM's list); no browser or device code. It keeps only the identity
//   token (1 hour, no refresh token) in $XDG_CONFIG_HOME/cove/login.json (0600; az: ~/.azure's
//   MSAL cache); when it expires, commands that need it say "Please run 'cove login' to setup
//   account." as az does when it cannot refresh. `logout` removes the file.
//   `account get-access-token` hands out that token for https://management.azure.com/ only
//   (other --resource/--scope values are refused).
// - `acr login` with a managed-identity account talks to the registry itself over verified
//   HTTPS, as az does (commands_mi.cc). With other accounts it talks to the ARM listener: it exchanges the identity token
//   at POST /cove/acr/{loginServer}/oauth2/exchange (the registry's own /oauth2/exchange body
//   and answer, served by coved on the ARM listener). The CLI runs on the host, where a
//   registry's private endpoints are not routable (in Azure, `az acr login` from outside the
//   VNet fails against a registry whose public access is disabled); this way a host-side login
//   works for every registry coved owns, and clients inside the VNet use what it wrote.
//   Instead of running `docker login` it writes the Docker config itself ($DOCKER_CONFIG/
//   config.json, else ~/.docker/config.json; 0600, atomic, other entries kept):
//   auths[loginServer].auth = base64("00000000-0000-0000-0000-000000000000:" + refresh token),
//   or the -u/-p given (admin user, repository-scoped token) — read by docker, containerd's
//   tools, skopeo and podman — and prints docker's "Login Succeeded". So no docker daemon is
//   needed, and -u/-p are written without being tried against the registry (docker login would
//   try them). `--expose-token` prints az's classic {accessToken, loginServer} (az 2.6x also
//   prints refreshToken and username) and writes nothing.
// - `ad sp create-for-rbac`: default name cove-cli-<time> (az: azure-cli-<time>); no
//   certificates (--cert/--create-cert/--keyvault) and no --sdk-auth.
// - `ad user|sp list` filter (--upn, --display-name, --spn) on the client; no --filter (OData).
// - `role assignment` resolves --assignee among users, service principals and the
//   subscription's user-assigned managed identities (az asks Graph, where a managed identity
//   is a service principal). No groups, conditions or custom roles; `role definition` has
//   only `list` (cove's built-in roles: AcrPull, AcrPush, AcrDelete, Owner, Contributor,
//   Reader).
// - `acr token credential delete`, `acr token create --gateway` and scope maps' gateway
//   actions are not implemented (no connected registries in cove).
// - Scope-map action and --repository checks, and argument conflicts of `acr token create`,
//   exit 2 (cove's usage errors) where az raises them as CLIError (exit 1).
// - Generic update arguments (--set/--add/--remove/--force-string) are not implemented; each
//   update takes the typed flags az documents.
// - --no-wait is accepted and ignored: coved finishes operations before answering (cove still
//   follows Azure-AsyncOperation/Location polling if the server asks for it).
// - Argument abbreviations (argparse's --reso for --resource-group) are not accepted: they
//   break when flags are added, and az warns against them.
// - `group exists` sends GET, not HEAD (same answer; one code path in the client).
// - Unknown commands: "'x' is not in the 'cove y' command group." (az's older wording, without
//   its AI-suggested examples); help has no "Examples from AI knowledge base".
// - `acr create` also takes --data-endpoint-enabled and --anonymous-pull-enabled (az only has
//   them on `acr update`), so one command builds the seed's registry.
// - `--default-action` without Premium and other service rules are checked by coved, not by
//   the client, so the error is ARM's own.
// - Output is az's view of a service answer (cli/output.h AzView): `properties` flattened into
//   each network / registry / private DNS resource and a `resourceGroup` field added, as az's
//   SDKs do; property names stay the REST API's (`privateIPAddress`, as az's newer aaz-based
//   commands print them; older az versions printed `privateIpAddress`).
// - `vm create` makes client machines (network namespaces coved realizes as root) and needs an
//   existing subnet or --public; `vm delete` also deletes the <vm>VMNic it made; `vm exec` is
//   cove's (root; --fabric-prefix / COVE_FABRIC_PREFIX name coved's namespaces). See
//   commands_vm.cc.
// - `up` applies its deployment (with client VM vm1, 10.0.0.4), then from inside vm1 digs the
//   registry's names, makes a service principal `cove-up-<registry>` with AcrPush on the
//   registry and signs in with it exactly as typed commands would (`ad sp create-for-rbac`,
//   `login --service-principal`, `acr login`; login and docker config kept in a temp dir, so the
//   user's own stay untouched), pushes a sample OCI image with skopeo and pulls it back,
//   printing the DNS answers and the per-endpoint counters (coved's GET /cove/counters) of
//   each step; without
//   root or a running fabric it says so and stops after the deployment. With -o/--query its
//   stdout is the deployment's list and the narrative goes to stderr. `down` deletes up's
//   resource group (--all: every group), or without coved the namespaces themselves.
// - `deploy` and `up` are cove's, not az's (`az deployment` takes ARM templates; cove's file
//   is a plain list of REST bodies).
//
// Thread-safety: Run() uses its own Context; the command table is immutable.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "cli/context.h"

namespace cove::cli {

// Runs one command line (`args` without the program name). Returns the exit code.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Environment& env);

}  // namespace cove::cli
