// Credentials for a pull: what the caller hands `coved pull` on stdin, the registry's
// WWW-Authenticate challenge, and turning a managed identity into an ACR refresh token as ACI's
// agent and AKS's acr-credential-provider do:
//
//   GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01
//       &resource=https://management.azure.com/&client_id=<id>        Metadata: true
//     → {"access_token": <identity token>, ...}
//   POST https://<registry>/oauth2/exchange   (form, what `cove acr login --identity` sends)
//       grant_type=access_token&service=<registry>&tenant=<tid claim>&access_token=<token>
//     → {"refresh_token": <ACR refresh token>}
//
// Thread-safety: plain values and functions; a Transport is used by one thread at a time.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/transport.h"

namespace cove::runtime {

inline constexpr char kImdsEndpoint[] = "http://169.254.169.254";
inline constexpr char kManagementResource[] = "https://management.azure.com/";
inline constexpr char kNullGuid[] = "00000000-0000-0000-0000-000000000000";

struct Credential {
  enum class Kind { kAnonymous, kBasic, kIdentity, kRefreshToken };
  Kind kind = Kind::kAnonymous;
  std::string username, password;  // kBasic
  std::string identity;            // kIdentity: a user-assigned identity's client id
  std::string refresh_token;       // kRefreshToken: an ACR refresh token
};

// Parses stdin's credential object: {} | {"username","password"} | {"identity"}.
// kInvalidArgument for anything else (not JSON, mixed kinds, non-string values).
Result<Credential> ParseCredential(std::string_view json_text);

// One challenge of a WWW-Authenticate header: scheme lowercased ("bearer", "basic"), parameter
// names lowercased, values unquoted.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Parses a WWW-Authenticate value (RFC 7235: comma-separated challenges, auth-params with
// token or quoted-string values). kInvalidArgument when it is not one.
Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view header);

std::string Base64Encode(std::string_view bytes);
// Accepts base64 and base64url, padded or not. kInvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);

// "Basic base64(user:password)".
std::string BasicAuthorization(const std::string& username, const std::string& password);

// RFC 3986 percent-encoding of everything but unreserved characters (query values, forms).
std::string PercentEncode(std::string_view s);

// application/x-www-form-urlencoded.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

// The tid claim of a JWT's payload, or "" when it has none or is not a JWT.
std::string TenantOf(std::string_view jwt);

// IMDS's access token for `client_id` and `resource`. Errors: the transport's (reason CONNECT),
// or ResponseError of IMDS's answer; kInvalidArgument when a 200 has no access_token.
Result<std::string> ImdsAccessToken(Transport& transport, const std::string& client_id,
                                    const std::string& resource = kManagementResource,
                                    const std::string& imds = kImdsEndpoint);

// POST https://<registry>/oauth2/exchange → the refresh token. Errors as ImdsAccessToken's.
Result<std::string> ExchangeForRefreshToken(Transport& transport, const std::string& registry,
                                            const std::string& access_token);

}  // namespace cove::runtime
