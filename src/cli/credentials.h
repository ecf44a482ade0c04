// The CLI's credential files: the identity `cove login` holds, and the registry credentials
// `cove acr login` writes for container tools.
//
// Login file: <config dir>/login.json (next to the `config` file of context.h, i.e.
// $XDG_CONFIG_HOME/cove/login.json; az keeps the same facts in ~/.azure/azureProfile.json and
// its MSAL token cache). One JSON object:
//   {"user": {"name": "<UPN or appId>", "type": "user"|"servicePrincipal"},
//    "tenantId": "...", "accessToken": "<identity JWT>", "expiresOn": <unix seconds>}
// Only the identity token is kept — never the password or client secret.
// A managed-identity account (`cove login --identity`, inside a VM or container group) has az's
// user {"name": "systemAssignedIdentity"|"userAssignedIdentity", "type": "servicePrincipal",
// "assignedIdentityInfo": "MSI"|"MSIClient-<id>"|"MSIObject-<id>"|"MSIResource-<id>"} and also
// "subscriptionId" (from IMDS's /metadata/instance) and "acrLoginServerSuffix" (the registry
// suffix of its cloud); its token is a cache, asked again from IMDS when it expires.
//
// Docker config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json — the file docker,
// containerd's tools (nerdctl, crictl via its config) and, when no containers auth.json has an
// entry for the server, skopeo/podman/buildah (containers-auth.json(5)) read. StoreDockerAuth sets
// auths[<server>] = {"auth": base64("<user>:<password>")} and leaves every other key and entry
// as it was. A file that is not a JSON object is refused, not overwritten.
//
// Both files are written atomically with mode 0600: a temporary file in the same directory
// (created 0600, never wider), flushed with fsync, then renamed over the old one; the directory
// is created 0700 when missing.
//
// Thread-safety: functions only; concurrent writers of one file race (the last rename wins, no
// file is ever half-written).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace cove::cli {

// The null GUID: the user name of a registry refresh token (az's EMPTY_GUID).
inline constexpr char kNullGuid[] = "00000000-0000-0000-0000-000000000000";

// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~): for
// path segments and query values (`$filter=roleName eq 'AcrPush'`).
std::string PercentEncode(std::string_view text);
// An application/x-www-form-urlencoded body: name=value pairs joined by '&', both encoded.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

std::string Base64Encode(std::string_view data);
// Standard or URL-safe alphabet, padding optional. nullopt on any other character.
std::optional<std::string> Base64Decode(std::string_view text);

// The claims (payload) of a JWT, not verified — the CLI only reads its own token's expiry and
// subject; the daemon verifies. nullopt when `token` is not three dot-separated parts with a JSON
// object in the middle.
std::optional<nlohmann::json> JwtClaims(const std::string& token);

// Writes `data` to `path` atomically, mode 0600 (see above). kIOError naming the path on failure.
Result<void> WriteFileAtomic(const std::string& path, const std::string& data);

struct LoginState {
  std::string user_name;  // UPN for a user, appId for a service principal
  std::string user_type;  // "user" | "servicePrincipal" (az's user.type)
  std::string tenant;
  std::string access_token;
  int64_t expires_on = 0;  // unix seconds
  // Managed identities only (empty otherwise): az's user.assignedIdentityInfo, the
  // subscription IMDS named, the registry login-server suffix ("azurecr.io").
  std::string assigned_identity_info;
  std::string subscription;
  std::string acr_suffix;
  bool IsManagedIdentity() const { return !assigned_identity_info.empty(); }
};

// <directory of config_path>/login.json
std::string LoginPath(const std::string& config_path);
// nullopt when there is no login file; kInvalidArgument when it is not one this CLI wrote.
Result<std::optional<LoginState>> ReadLogin(const std::string& path);
Result<void> WriteLogin(const std::string& path, const LoginState& login);
// true when a file was removed.
Result<bool> RemoveLogin(const std::string& path);

// $DOCKER_CONFIG/config.json when `docker_config_env` is set and non-empty, else
// <home>/.docker/config.json.
std::string DockerConfigPath(const char* docker_config_env, const char* home);
// Sets auths[server].auth = base64(user:password), keeping the rest of the file.
Result<void> StoreDockerAuth(const std::string& path, const std::string& server,
                             const std::string& user, const std::string& password);
// The credential helper docker would ask for `server` instead of reading auths (credHelpers
// [server], else credsStore); nullopt when there is none or the file cannot be read.
std::optional<std::string> DockerCredentialHelper(const std::string& path,
                                                  const std::string& server);
// The user and password stored for `server` (what a client reading the file would use);
// nullopt when there is none.
Result<std::optional<std::pair<std::string, std::string>>> ReadDockerAuth(
    const std::string& path, const std::string& server);

}  // namespace cove::cli
