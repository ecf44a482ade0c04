// Authenticator: ACR's authentication and authorization for the registry endpoint — the token
// endpoints and the check before every Distribution API request (registry::Authorizer).
//
// Token endpoints on the login server (shapes from ACR's AAD-OAuth and Token-BasicAuth docs):
//   GET  /oauth2/token?service=<login server>&scope=<scope>[&scope=...]
//        Authorization: Basic <user:password>, or nothing when anonymous pull is on
//        → 200 {"access_token":"<JWT>"}
//   POST /oauth2/token  (form) grant_type=password&username=&password=[&access_type=offline]
//                              grant_type=refresh_token&refresh_token=
//                       with service= and repeatable scope=
//        → 200 {"access_token":...} (+ "refresh_token" for password grants with offline access)
//   POST /oauth2/exchange (form) grant_type=access_token&service=&tenant=&access_token=<identity
//        token issued by cove, its stand-in for an Entra token>
//        → 200 {"refresh_token":"<JWT>"}
// Access granted = requested ∩ allowed (an identity may get an empty `access`).
//
// Basic user names: the registry's name (admin user, when enabled; either password), a
// repository-scoped token's name (either unexpired password; not when disabled), a service
// principal's appId/id or name, or the null GUID 00000000-0000-0000-0000-000000000000 with an
// ACR refresh token as the password (never an access token: access tokens are not passwords).
// Users and managed identities do not authenticate with passwords at the registry; they
// exchange an identity token (as in ACR, where `az acr login` does the exchange). Login() is
// where a user's password is checked, for the control plane's `cove login`.
//
// Revocation. Every token minted carries what the subject may do at that moment, recomputed
// from the current identity snapshot (never copied from the token presented), and is bound to
// the registry's and subject's object ids and to the credential that began its chain
// (auth/token_service.h, Binding). Every use of a token — as a bearer, as a refresh token, as
// the null GUID's password — checks that binding against the current snapshot: a deleted,
// disabled or re-created subject, a regenerated, deleted or expired password or secret, and a
// re-created registry end the tokens at once; a role change takes effect at the next request
// (bearer tokens are also checked against the subject's permissions now, and a principal's
// tokens are refused outright once it holds no role assignment on the registry). A refresh token
// used as a password (null GUID, password grant with access_type=offline) is answered with that
// same refresh token, never a fresh one, so it cannot renew itself past its own expiry and binding.
//
// Check() on /v2 requests accepts `Bearer <access token>` and, as ACR does for the admin user,
// service principals and tokens, `Basic` credentials directly. Answers:
//   401 UNAUTHORIZED + WWW-Authenticate: Bearer realm="https://<login server>/oauth2/token",
//       service="<login server>",scope="repository:<name>:<actions>" — no credentials, invalid
//       credentials (wrong password, expired/forged/revoked token, another registry's token),
//       or a
//       bearer token whose `access` does not cover the route (the client should fetch a token
//       for that scope, as Docker's protocol has it). Body: ACR's
//       {"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit
//       https://aka.ms/acr/authorization for more information.","detail":[{"Type":..,"Name":..,
//       "Action":..}]}]}. Why (for people debugging) is in the X-Cove-Auth-Error header —
//       except for credentials that were refused: then it says only kInvalidCredentials,
//       whatever the cause (unknown user, wrong password, expired or disabled credential or
//       subject, revoked token), so an answer never tells which part of a credential was
//       right; the cause goes to the server log.
//   403 DENIED — the caller is known and no new token can help: Basic credentials without the
//       permission ("requested access to the resource is denied"), or the trusted-services
//       network decision (auth/network.h) refusing the caller.
// The network is not decided here: the access Gate in front of the registry decides once per
// request and attaches its Verdict (http::Request::verdict, access/access.h). Authentication
// reads it: a caller who has not authenticated is challenged unless the verdict denies, and
// when the verdict allows only a trusted service machine's own identity, every other caller is
// DENIED with the verdict's message (auth/network.h). A request without a verdict (the
// control-plane listener: Via::kControlPlane) meets no network rules.
// The realm uses the scheme and Host the request came with, so clients reach the same
// listener; with the default TLS listener on 443 it is exactly ACR's.
//
// A registry with no RegistryAuth in the current identity snapshot is open: Check() lets
// everything through and the token endpoints answer 404 — the registry behaves as before auth.
//
// Passwords (auth/password_guard.h): Argon2id never runs on the caller's thread when the caller
// is an HTTP I/O thread — CheckLater, Serve and LoginLater hand attempts that need a hash to the
// guard's bounded workers and answer through Exchange::Await. Every password attempt (also in
// the synchronous Check, HandleTokenRequest and Login) first asks the guard's failure limits:
// a throttled source, or a throttled principal from a source that has not signed in as it
// recently, gets 429 TOOMANYREQUESTS with Retry-After (ACR's error body), correct password or
// not. An attempt the workers cannot take is refused: 429 when its source already has attempts
// in flight, 503 UNAVAILABLE at once when the queue is full (both Retry-After: 1). Throttled and
// busy refusals on the asynchronous paths are held back for the guard's refusal delay (a
// tarpit: PasswordGuard::Delay), so a flood cannot keep the I/O threads busy refusing it.
// Entra's endpoint (daemon/arm_node.cc) gets the same through LoginLater.
//
// Verified Basic credentials are cached for `credential_cache_ttl` (keyed by a salted SHA-256
// of registry, user and password, valid only for the snapshot generation they were checked
// against), so clients that send Basic on every request do not pay Argon2id every time.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/identity.h"
#include "auth/network.h"
#include "auth/password_guard.h"
#include "auth/token_service.h"
#include "auth/wire.h"
#include "common/clock.h"
#include "authz/authorizer.h"

namespace cove::auth {

inline constexpr char kNullGuid[] = "00000000-0000-0000-0000-000000000000";
inline constexpr char kInvalidCredentials[] = "invalid credentials";
inline constexpr char kAuthRequiredMessage[] =
    "authentication required, visit https://aka.ms/acr/authorization for more information.";

struct AuthenticatorOptions {
  std::chrono::seconds credential_cache_ttl{300};
  size_t credential_cache_entries = 4096;
  uint64_t max_form_bytes = 64 * 1024;
  PasswordGuardOptions passwords;
};

class Authenticator final : public registry::Authorizer {
 public:
  // `store` and `tokens` must outlive the authenticator.
  Authenticator(const IdentityStore& store, TokenService& tokens, const Clock& clock,
                AuthenticatorOptions options = {});

  http::ExchangePtr Serve(const http::Request& request, const registry::RegistryInfo& registry,
                          const std::string& login_server) override;
  std::optional<http::Response> Check(const http::Request& request,
                                      const registry::RegistryInfo& registry,
                                      const std::string& login_server,
                                      const registry::AccessRequirement& needed) override;
  bool CheckLater(const http::Request& request, const registry::RegistryInfo& registry,
                  const std::string& login_server, const registry::AccessRequirement& needed,
                  std::function<void(std::optional<http::Response>)> done) override;

  // The token endpoints as a function of the request and its (complete) body. `via` says where
  // the request came in: at the registry's endpoints network rules apply (403 DENIED); coved's
  // control-plane listener (loopback, `cove acr login` on the host) is not a network path to
  // the registry, so they do not — the tokens it hands out still meet the rules at every use.
  enum class Via { kRegistryEndpoint, kControlPlane };
  http::Response HandleTokenRequest(const http::Request& request, std::string_view body,
                                    const std::string& registry, const std::string& login_server,
                                    Via via = Via::kRegistryEndpoint);

  // `cove login`: a user's or service principal's name/id and password → an identity token
  // for `audience` (one of IdentityAudiences; kInvalidArgument for another).
  // kUnauthenticated when the name or password is wrong; kResourceExhausted (RetryAfterOf
  // says when to retry) when `source` or the principal is throttled.
  Result<std::string> Login(std::string_view name_or_id, std::string_view password,
                            const std::string& source = {},
                            const std::string& audience = kIdentityAudience);
  // Login on the password workers: `done` gets Login's result on a worker, or at once when
  // the attempt is throttled (kResourceExhausted), its source has attempts in flight
  // (kResourceExhausted, retry after 1 s) or the queue is full (kUnavailable).
  void LoginLater(std::string name_or_id, std::string password, std::string source,
                  std::function<void(Result<std::string>)> done,
                  std::string audience = kIdentityAudience);

  PasswordGuard& password_guard() { return *guard_; }

 private:
  // An authenticated caller of one registry.
  struct Caller {
    Subject subject;
    Binding binding;  // what the tokens minted for it are bound to
    Permissions permissions;
    const Principal* principal = nullptr;  // for principals only
    std::string caller_resource;  // a managed identity's machine (xms_az_rid), from its token
    std::string refresh_token;    // the refresh token it presented as a password, if it did
  };
  // A subject whose password matched, and which credential it was (CredentialId).
  struct VerifiedPassword {
    Subject subject;
    std::string credential;
  };
  // What the subject may do now, with its binding; kUnauthenticated (the cause, for the log)
  // if it no longer exists, is disabled, or `credential` ("" for none) no longer names one of
  // its live credentials.
  Result<Caller> Resolve(const IdentitySnapshot& snapshot, const RegistryAuth& registry,
                         const Subject& subject, const std::string& credential) const;
  // Resolve() for a token's subject, which must still be bound as `binding` says (and, for a
  // principal, still hold a role assignment on the registry).
  Result<Caller> ResolveToken(const IdentitySnapshot& snapshot, const RegistryAuth& registry,
                              const Subject& subject, const Binding& binding) const;
  // kResourceExhausted (ThrottledError) when the guard throttles `source` for this user.
  Result<Caller> AuthenticatePassword(const IdentitySnapshot& snapshot,
                                      const RegistryAuth& registry, const std::string& user,
                                      const std::string& password, const std::string& login_server,
                                      const std::string& source);
  Result<VerifiedPassword> VerifyPassword(const IdentitySnapshot& snapshot,
                                          const RegistryAuth& registry, const std::string& user,
                                          const std::string& password);
  std::string CacheKey(const RegistryAuth& registry, const std::string& user,
                       const std::string& password) const;
  bool IsCached(const IdentitySnapshot& snapshot, const RegistryAuth& registry,
                const std::string& user, const std::string& password);
  // The token endpoints' answer, from the workers when the request carries a password.
  void AnswerTokenRequest(const http::Request& request, std::string body,
                          const std::string& registry, const std::string& login_server,
                          http::Answer answer);

  const IdentityStore& store_;
  TokenService& tokens_;
  const Clock& clock_;
  AuthenticatorOptions options_;
  std::string cache_salt_;

  struct CachedCredential {
    uint64_t generation;
    VerifiedPassword verified;
    Clock::TimePoint expiry;
  };
  std::mutex cache_mu_;
  std::unordered_map<std::string, CachedCredential> credential_cache_;
  // Last: destroyed first, while everything its queued jobs use is still there.
  std::unique_ptr<PasswordGuard> guard_;
};

}  // namespace cove::auth
