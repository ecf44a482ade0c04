// The `auth:` section of coved's configuration: identities as YAML, until the control plane
// (ARM resources, `cove role assignment create`, `cove acr token create`...) owns them.
// Passwords appear only as Argon2id hashes (make one with `cove-hash-password`).
//
//   auth:
//     principals:
//       - {id: 5b7e..., kind: servicePrincipal, name: ci-pusher, password_hash: "$argon2id$..."}
//       - {id: 9d1c..., kind: user, name: alice@contoso.com, password_hash: "$argon2id$..."}
//       - {id: 77aa..., kind: managedIdentity, name: aci}
//     role_assignments:
//       - {principal: ci-pusher, role: AcrPush, registry: myregistry}   # principal: id or name
//     registries:
//       - name: myregistry                # a registry listed here requires authentication
//         admin_user: {enabled: true, password_hashes: ["$argon2id$...", "$argon2id$..."]}
//         anonymous_pull: false
//         public_network_access: true          # these two are the access Gate's rules
//         network_rule_bypass: AzureServices   # or None (daemon/registry_node.h)
//         scope_maps:
//           - {name: app-read, actions: [repositories/app/content/read,
//                                        repositories/app/metadata/read]}
//         tokens:
//           - name: ci
//             scope_map: app-read
//             enabled: true
//             passwords: [{hash: "$argon2id$...", expiry: 1767225600}]   # expiry: unix secs
//
// Registries not listed stay open.
//
// Thread-safety: pure function.
#pragma once

#include <yaml-cpp/yaml.h>

#include "auth/identity.h"
#include "common/error.h"

namespace cove::auth {

// kInvalidArgument naming the field that is wrong (unknown keys, kinds, roles, bad hashes are
// caught here; cross-references by IdentitySnapshot::Build, which this also runs).
Result<IdentityData> ParseBootstrap(const YAML::Node& node);

}  // namespace cove::auth
