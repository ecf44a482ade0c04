// TokenService: issues and verifies the three kinds of JWT cove uses.
//
//   access token   (ACR's): aud = login server, iss = "Azure Container Registry",
//                  grant_type "access_token", `access` = what was granted; 75 minutes.
//   refresh token  (ACR's): aud = login server, grant_type "refresh_token", no access claim —
//                  permissions are looked up again each time it is used, so a removed role
//                  assignment takes effect at the next access token; 3 hours.
//   identity token (cove's stand-in for an Entra access token, what `cove login` holds):
//                  aud = "https://management.azure.com/" (or another resource a managed
//                  identity asked IMDS for, IdentityAudiences), iss = kIdentityIssuer, oid = the
//                  principal's id, tid = tenant; 1 hour. A managed identity's token from a
//                  machine's instance metadata service (src/imds) also names the identity
//                  (xms_mirid, appid) and the machine it was issued in (xms_az_rid). Signed with
//                  a separate key ring, so it can never pass as a registry token and vice versa.
// Registry tokens made from a managed identity's token keep its xms_az_rid: where the caller
// runs decides whether it is a trusted Azure service (auth/network.h), for as long as the
// tokens derived from that exchange live.
// Every token has jti (random), sub, iat, nbf, exp; registry tokens carry `sub` as
// "<kind>:<id>" (Subject) so the registry can check the subject still exists and is enabled.
// Registry tokens are also bound (claim "cove": {"rid", "oid", "cid"}, a Binding) to the
// registry's object id, the subject's object id and the credential that began their chain
// (the admin or token password, client secret or user password — its CredentialId — or none
// for a managed identity and anonymous pull). The authenticator checks the binding against
// the current identity snapshot at every use, so deleting or regenerating that credential, or
// deleting and re-creating the registry, token or principal under the same name, ends the
// tokens. An identity token from `cove login` carries the credential it was issued for (claim
// "cove": {"cid"}), and the exchange passes it on to the refresh token.
//
// VerifyAccessToken keeps a small cache of tokens it already verified (keyed by the token's
// text, dropped at the token's expiry), so a client presenting the same bearer token on every
// request pays for one ECDSA verification, not one per request.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/access.h"
#include "auth/identity.h"
#include "auth/jwt.h"
#include "auth/keys.h"
#include "common/clock.h"
#include "common/error.h"

namespace cove::auth {

inline constexpr char kRegistryIssuer[] = "Azure Container Registry";
inline constexpr char kIdentityIssuer[] = "https://sts.cove.local/";
inline constexpr char kIdentityAudience[] = "https://management.azure.com/";
// Microsoft Graph's resource: the audience of tokens for cove's directory (arm/directory.h).
inline constexpr char kGraphAudience[] = "https://graph.microsoft.com/";

// Who a registry token speaks for.
struct Subject {
  enum Kind { kPrincipal, kAdmin, kToken, kAnonymous };
  Kind kind = kAnonymous;
  std::string id;  // principal id, registry name (admin), token name; empty for anonymous

  std::string ToString() const;  // "principal:<id>", "admin:<registry>", "token:<name>", ...
  static std::optional<Subject> Parse(std::string_view text);
  bool operator==(const Subject&) const = default;
};

// What a registry token is bound to (see the top of this file).
struct Binding {
  std::string registry;    // the registry's object id (RegistryAuth::uid)
  std::string object;      // the subject's object id: principal id, token uid, registry uid
  std::string credential;  // CredentialId of the credential that began the chain, or ""
  bool operator==(const Binding&) const = default;
};

struct AccessTokenClaims {
  Subject subject;
  Binding binding;
  std::vector<Scope> access;
  Clock::TimePoint expiry;
  std::string caller_resource;  // xms_az_rid: the machine a managed identity called from, or ""
};

struct RefreshTokenClaims {
  Subject subject;
  Binding binding;
  std::string caller_resource;  // as in AccessTokenClaims
  Clock::TimePoint expiry;
};

// What an identity token says beyond the principal (all optional).
struct IdentityTokenOptions {
  std::string tenant = "cove";
  std::string audience = kIdentityAudience;  // one of IdentityAudiences()
  std::string client_id;                     // appid (a managed identity's clientId)
  std::string identity_resource_id;          // xms_mirid
  std::string caller_resource_id;            // xms_az_rid: the VM or container group
  std::string credential;                    // CredentialId of the password it was issued for
};

struct IdentityClaims {
  std::string principal_id;     // oid
  std::string caller_resource;  // xms_az_rid, or ""
  std::string credential;       // as in IdentityTokenOptions, or ""
  std::string audience;         // aud: one of IdentityAudiences()
};

// The audiences (Entra "resources") an identity token may be issued for: Azure Resource
// Manager's two names, ACR's AAD resource and Microsoft Graph's (with and without its trailing
// slash), as `az acr login`, `az ad` and IMDS clients ask for them.
const std::vector<std::string>& IdentityAudiences();

struct TokenServiceOptions {
  std::chrono::seconds access_lifetime{75 * 60};
  std::chrono::seconds refresh_lifetime{3 * 3600};
  std::chrono::seconds identity_lifetime{3600};
  size_t verified_cache_entries = 8192;
};

class TokenService {
 public:
  // The key rings must outlive the service.
  TokenService(KeyRing& registry_keys, KeyRing& identity_keys, const Clock& clock,
               TokenServiceOptions options = {});

  Result<std::string> IssueAccessToken(const Subject& subject, const Binding& binding,
                                       const std::string& login_server,
                                       const std::vector<Scope>& granted,
                                       const std::string& caller_resource = "");
  Result<std::string> IssueRefreshToken(const Subject& subject, const Binding& binding,
                                        const std::string& login_server,
                                        const std::string& caller_resource = "");
  // kInvalidArgument when options.audience is not one of IdentityAudiences().
  Result<std::string> IssueIdentityToken(const Principal& principal,
                                         const IdentityTokenOptions& options = {});

  // kUnauthenticated (why) unless `token` is a valid, unexpired access token for login_server
  // with a subject and a binding (whether the binding still holds is the caller's question).
  Result<AccessTokenClaims> VerifyAccessToken(const std::string& token,
                                              const std::string& login_server);
  // Same for refresh tokens.
  Result<RefreshTokenClaims> VerifyRefreshToken(const std::string& token,
                                                const std::string& login_server);
  // Same for identity tokens (any of IdentityAudiences()).
  Result<IdentityClaims> VerifyIdentityToken(const std::string& token);

  const TokenServiceOptions& options() const { return options_; }
  // The keys that sign identity tokens (their JWKS, auth/oidc.h).
  KeySetPtr IdentityKeys() const { return identity_keys_.Keys(); }

 private:
  Result<std::string> Sign(const KeyRing& ring, nlohmann::json claims,
                           std::chrono::seconds lifetime);
  Result<nlohmann::json> VerifyWith(KeyRing& ring, const std::string& token,
                                    const VerifyOptions& v);
  Result<nlohmann::json> VerifyRegistryToken(const std::string& token,
                                             const std::string& login_server,
                                             std::string_view grant_type);

  KeyRing& registry_keys_;
  KeyRing& identity_keys_;
  const Clock& clock_;
  TokenServiceOptions options_;

  struct Cached {
    std::string login_server;
    AccessTokenClaims claims;
  };
  std::mutex cache_mu_;
  std::unordered_map<std::string, Cached> verified_;
};

}  // namespace cove::auth
