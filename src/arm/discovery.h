// CloudMetadata: ARM's cloud metadata document, GET /metadata/endpoints?api-version=..., which
// tells a client where a cloud's endpoints are — what `az cloud register -n cove
// --endpoint-resource-manager https://<host>:<port>/` reads (through msrestazure's
// _populate_from_metadata_endpoint, api-version 2015-01-01), what `ARM_CLOUD_METADATA_URL`
// loads in az (azure.cli.core.cloud._arm_to_cli_mapper, 2019-05-01 and later), and what
// Terraform's go-azure-sdk reads (2022-09-01).
//
// Three shapes, by api-version:
//   1.0, 2015-01-01   Azure Stack Hub's: {galleryEndpoint, graphEndpoint, portalEndpoint,
//                     authentication: {loginEndpoint, audiences}}
//   2019-05-01, 2020-06-01
//                     an array of clouds, each {name, portal, resourceManager, gallery, graph,
//                     graphAudience, microsoftGraphResourceId, authentication: {loginEndpoint,
//                     audiences, tenant, identityProvider}, suffixes: {acrLoginServer}}
//   2022-09-01        that object alone (the cloud that answered)
// any other: 400 InvalidApiVersionParameter listing these; none: 400 MissingApiVersionParameter.
//
// cove's values: every service endpoint (portal, gallery, graph, resource manager) is the
// listener itself; the login endpoint is "<listener>/adfs", an ADFS-style authority, so MSAL
// (az's, and @azure/identity's) takes it without asking login.microsoftonline.com to validate the
// instance (auth/oidc.h serves its OpenID configuration); the audiences are Azure Resource
// Manager's own two names, which cove's identity tokens carry (auth/token_service.h). Suffixes
// name only what cove serves: the registries' login-server suffix. No storage or keyVaultDns:
// cove serves neither, and a suffix pointing at Azure's would send a client's storage and key
// vault calls out of the machine.
//
// The document describes public endpoints only, so it is served without credentials, as Azure
// and Azure Stack Hub serve it (clients read it before they can sign in).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "arm/snapshot.h"
#include "common/error.h"

namespace cove::arm {

struct CloudEndpoints {
  std::string name = "cove";
  std::string resource_manager;  // "https://127.0.0.1:7780/" (trailing slash)
  std::string login_endpoint;    // "https://127.0.0.1:7780/adfs"
  std::string acr_suffix;        // "azurecr.io"
};

// The api-versions CloudMetadata answers, oldest first.
const std::vector<std::string>& CloudMetadataApiVersions();

// The document for `api_version` (see above), or the 400 errors.
Result<Json> CloudMetadata(const std::optional<std::string>& api_version,
                           const CloudEndpoints& endpoints);

}  // namespace cove::arm
