// cove: the command-line client. It mirrors `az` for the resources of Azure's container
// registry private-endpoint architecture, against coved's ARM-shaped REST API
// (COVE_ENDPOINT, default http://127.0.0.1:7780).
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
//   cove acr replication create|show|list|delete
//   cove acr private-endpoint-connection list|show|approve|reject|delete
//   cove acr network-rule add|list|remove
//   cove provider register|unregister|show|list
//   cove account show|list|set (+ cove-only `account create`)
//   cove vm create|show|list|delete|list-ip-addresses, vm exec VM -- CMD   (commands_vm.cc)
//   cove deploy -f FILE, cove up, cove down (cove only; see deploy.h, commands_vm.cc)
//   cove ca show [--data-dir DIR]          (cove only: the CA coved's TLS chains to)
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
// - No login, tenants or clouds: coved is the cloud. `account show|list` build az's account
//   shape from GET /subscriptions (environmentName AzureCloud, user = $USER); `account set`
//   writes the subscription to $XDG_CONFIG_HOME/cove/config (az: ~/.azure). `account create`
//   is cove's own (PUT /subscriptions/{id}), to test cross-subscription private endpoints.
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
//   registry's names, pushes a sample OCI image with skopeo and pulls it back, printing the DNS
//   answers and the per-endpoint counters (coved's GET /cove/counters) of each step; without
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
