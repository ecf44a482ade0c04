#include "auth/authenticator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "auth/password.h"
#include "common/ascii.h"
#include "common/digest.h"
#include "oci/errors.h"

namespace cove::auth {
namespace {

using registry::AccessRequirement;

std::optional<Scope> NeededScope(const AccessRequirement& needed) {
  switch (needed.kind) {
    case AccessRequirement::kLogin:
      return std::nullopt;
    case AccessRequirement::kCatalog:
      return Scope{"registry", "catalog", kAllActions};
    case AccessRequirement::kRepository: {
      Scope s{"repository", needed.repository, 0};
      for (const auto& a : needed.actions) {
        if (auto bits = ParseAction(a)) s.actions |= *bits;
      }
      return s;
    }
  }
  return std::nullopt;
}

// The requirement's or_actions as a scope (nullopt when it has none).
std::optional<Scope> AlternativeScope(const AccessRequirement& needed) {
  if (needed.kind != AccessRequirement::kRepository || needed.or_actions.empty()) {
    return std::nullopt;
  }
  Scope s{"repository", needed.repository, 0};
  for (const auto& a : needed.or_actions) {
    if (auto bits = ParseAction(a)) s.actions |= *bits;
  }
  return s;
}

// JSON text of what may echo the request (a scope, a grant type), which need not be UTF-8:
// invalid bytes become U+FFFD rather than an exception (found by auth_token_fuzz).
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// [{"Type":"repository","Name":"x","Action":"pull"}, ...] as ACR writes it.
std::string Detail(const std::optional<Scope>& scope) {
  if (!scope) return {};
  nlohmann::json d = nlohmann::json::array();
  std::vector<std::string> actions =
      scope->catalog() ? std::vector<std::string>{"*"} : ActionNames(scope->actions);
  for (const auto& a : actions)
    d.push_back({{"Type", scope->type}, {"Name", scope->name}, {"Action", a}});
  return Dump(d);
}

std::string Realm(const http::Request& request, const std::string& login_server) {
  std::string host(request.headers.Get("Host").value_or(""));
  if (host.empty() || host.find_first_of("\"\\ \r\n") != std::string::npos) host = login_server;
  return std::string(request.peer.tls ? "https" : "http") + "://" + host + "/oauth2/token";
}

http::Response Unauthorized(const http::Request& request, const std::string& login_server,
                            const std::optional<Scope>& scope, std::string_view why) {
  auto r = oci::ErrorResponse(oci::ErrorCode::kUnauthorized, kAuthRequiredMessage, Detail(scope));
  std::string challenge =
      "Bearer realm=\"" + Realm(request, login_server) + "\",service=\"" + login_server + "\"";
  if (scope) challenge += ",scope=\"" + FormatScope(*scope) + "\"";
  r.headers.Set("WWW-Authenticate", challenge);
  r.headers.Set("X-Cove-Auth-Error", std::string(why));
  return r;
}

// The network's denial: the message of the Gate's verdict (access/access.h).
http::Response FirewallDenied(const http::Request& request) {
  const access::Verdict* verdict = request.verdict.get();
  return access::DeniedResponse(verdict && !verdict->message.empty()
                                    ? verdict->message
                                    : access::PublicDeniedMessage(request.peer.remote_ip));
}

http::Response TokenError(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"errors", {{{"code", code}, {"message", message}}}}};
  return http::Response::Text(status, "application/json", Dump(body));
}

http::Response TokenUnauthorized(std::string_view why) {
  auto r = TokenError(401, "UNAUTHORIZED", kAuthRequiredMessage);
  r.headers.Set("X-Cove-Auth-Error", std::string(why));
  return r;
}

http::Response Json(nlohmann::json body) {
  auto r = http::Response::Text(200, "application/json; charset=utf-8", body.dump());
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

// A user-supplied name for the log: printable ASCII, at most 80 characters.
std::string ForLog(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

// Credentials were refused: the cause goes to the log, the answer says only
// kInvalidCredentials (an answer must not tell which part of a credential was right).
void LogRefusal(const http::Request& request, const std::string& registry, std::string_view who,
                const Error& cause) {
  spdlog::info("auth: refused credentials of '{}' for {} from {}: {}", ForLog(who), registry,
               request.peer.remote_ip, cause.message);
}

// Who a password attempt comes from, for the failure limits: the link id it came through
// (VNets may overlap) and the client address.
std::string SourceOf(const http::Peer& peer) {
  return (peer.link_id ? std::to_string(*peer.link_id) : std::string()) + "/" + peer.remote_ip;
}

std::string PrincipalKey(const std::string& registry, std::string_view user) {
  return registry + "/" + AsciiLower(user);
}

// 429 TOOMANYREQUESTS for a throttled attempt (ThrottledError), as ACR answers it.
http::Response TooManyRequests(const Error& error) {
  auto r = oci::ErrorResponse(oci::ErrorCode::kTooManyRequests, error.message);
  r.headers.Set("Retry-After", std::to_string(RetryAfterOf(error)));
  return r;
}

// An attempt the password workers did not take.
http::Response Refused(PasswordGuard::Admission admission) {
  auto r = admission == PasswordGuard::Admission::kSourceBusy
               ? oci::ErrorResponse(oci::ErrorCode::kTooManyRequests,
                                    "too many sign-in attempts in progress from this client; "
                                    "retry after 1 seconds")
               : oci::ErrorResponse(oci::ErrorCode::kUnavailable,
                                    "too many sign-in attempts in progress; retry after 1 seconds");
  r.headers.Set("Retry-After", "1");
  return r;
}

// Sends `value` through `send` once the guard's refusal delay has passed (at once when it does
// not hold it): a throttled or busy refusal, see PasswordGuard::Delay.
template <typename T, typename Send>
void HoldBack(PasswordGuard& guard, T value, Send send) {
  auto held = std::make_shared<T>(std::move(value));
  std::function<void()> fn = [held, send]() mutable { send(std::move(*held)); };
  if (!guard.Delay(fn)) fn();
}

// The user and password a token request signs in with, if it carries a password (Basic on
// GET, grant_type=password on POST; not the null GUID, whose password is a token).
std::optional<std::pair<std::string, std::string>> PasswordOf(const http::Request& request,
                                                              std::string_view body) {
  if (request.method == "GET") {
    auto credentials = ParseAuthorization(request.headers.Get("Authorization"));
    if (!credentials || credentials->scheme != Credentials::kBasic ||
        credentials->user == kNullGuid) {
      return std::nullopt;
    }
    return std::make_pair(credentials->user, credentials->password);
  }
  if (request.method != "POST" || request.path() != "/oauth2/token") return std::nullopt;
  auto form = ParseForm(body);
  if (!form || FormValue(*form, "grant_type") != "password") return std::nullopt;
  return std::make_pair(FormValue(*form, "username").value_or(""),
                        FormValue(*form, "password").value_or(""));
}

}  // namespace

Authenticator::Authenticator(const IdentityStore& store, TokenService& tokens, const Clock& clock,
                             AuthenticatorOptions options)
    : store_(store),
      tokens_(tokens),
      clock_(clock),
      options_(options),
      cache_salt_(RandomBytes(32)),
      guard_(std::make_unique<PasswordGuard>(clock, options.passwords)) {}

std::string Authenticator::CacheKey(const RegistryAuth& registry, const std::string& user,
                                    const std::string& password) const {
  return Digest::Of(cache_salt_ + registry.registry + '\0' + user + '\0' + password).str();
}

bool Authenticator::IsCached(const IdentitySnapshot& snapshot, const RegistryAuth& registry,
                             const std::string& user, const std::string& password) {
  std::string key = CacheKey(registry, user, password);
  auto now = clock_.Now();
  std::lock_guard lock(cache_mu_);
  auto it = credential_cache_.find(key);
  return it != credential_cache_.end() && it->second.generation == snapshot.generation() &&
         now < it->second.expiry;
}

Result<Authenticator::Caller> Authenticator::Resolve(const IdentitySnapshot& snapshot,
                                                     const RegistryAuth& registry,
                                                     const Subject& subject,
                                                     const std::string& credential) const {
  Caller c;
  c.subject = subject;
  c.binding.registry = registry.uid;
  c.binding.credential = credential;
  switch (subject.kind) {
    case Subject::kAdmin:
      if (subject.id != registry.registry || !registry.admin.enabled) {
        return Fail(Code::kUnauthenticated, "the admin user is disabled");
      }
      if (!AdminHasCredential(registry.admin, credential)) {
        return Fail(Code::kUnauthenticated, "the admin password was regenerated");
      }
      c.binding.object = registry.uid;
      c.permissions = Permissions::All();
      return c;
    case Subject::kToken: {
      const RepositoryToken* token = snapshot.Token(registry.registry, subject.id);
      if (!token) return Fail(Code::kUnauthenticated, "token no longer exists");
      if (!token->enabled) return Fail(Code::kUnauthenticated, "token is disabled");
      if (!TokenHasCredential(*token, credential, clock_.Now())) {
        return Fail(Code::kUnauthenticated,
                    "the token password was regenerated, deleted or has expired");
      }
      c.binding.object = token->uid;
      c.permissions = snapshot.TokenPermissions(registry.registry, *token);
      return c;
    }
    case Subject::kPrincipal: {
      c.principal = snapshot.PrincipalById(subject.id);
      if (!c.principal) return Fail(Code::kUnauthenticated, "principal no longer exists");
      if (!c.principal->enabled) return Fail(Code::kUnauthenticated, "principal is disabled");
      // No credential: a managed identity's token from IMDS (or an identity token issued
      // without one); the principal itself must still exist and be enabled.
      if (!credential.empty() && !PrincipalHasCredential(*c.principal, credential, clock_.Now())) {
        return Fail(Code::kUnauthenticated,
                    "the principal's password or secret was changed, deleted or has expired");
      }
      c.binding.object = c.principal->id;
      c.permissions =
          snapshot.RolePermissions(subject.id, registry.registry).value_or(Permissions());
      return c;
    }
    case Subject::kAnonymous:
      if (!registry.anonymous_pull) {
        return Fail(Code::kUnauthenticated, "anonymous pull is disabled");
      }
      c.binding.object = registry.uid;
      c.binding.credential.clear();
      c.permissions = Permissions::Uniform({kPull, false});
      return c;
  }
  return Fail(Code::kUnauthenticated, "unknown subject");
}

Result<Authenticator::Caller> Authenticator::ResolveToken(const IdentitySnapshot& snapshot,
                                                          const RegistryAuth& registry,
                                                          const Subject& subject,
                                                          const Binding& binding) const {
  COVE_ASSIGN_OR_RETURN(auto caller, Resolve(snapshot, registry, subject, binding.credential));
  if (caller.binding != binding) {
    return Fail(Code::kUnauthenticated,
                "token was issued for an earlier registry or subject of the same name");
  }
  // A principal's tokens came through a role assignment on this registry (the exchange asks
  // for one); with none left they are refused, not answered with empty grants.
  if (subject.kind == Subject::kPrincipal &&
      !snapshot.RolePermissions(subject.id, registry.registry)) {
    return Fail(Code::kUnauthenticated, "the principal has no role assignment here any more");
  }
  return caller;
}

Result<Authenticator::VerifiedPassword> Authenticator::VerifyPassword(
    const IdentitySnapshot& snapshot, const RegistryAuth& registry, const std::string& user,
    const std::string& password) {
  auto now = clock_.Now();
  std::string key = CacheKey(registry, user, password);
  {
    std::lock_guard lock(cache_mu_);
    auto it = credential_cache_.find(key);
    if (it != credential_cache_.end()) {
      if (it->second.generation == snapshot.generation() && now < it->second.expiry) {
        return it->second.verified;
      }
      credential_cache_.erase(it);
    }
  }
  VerifiedPassword verified;
  Clock::TimePoint expiry = now + options_.credential_cache_ttl;
  if (EqualsIgnoreCase(user, registry.registry)) {
    if (!registry.admin.enabled) return Fail(Code::kUnauthenticated, "the admin user is disabled");
    for (size_t i = 0; i < registry.admin.password_hashes.size(); ++i) {
      const std::string& hash = registry.admin.password_hashes[i];
      if (!hash.empty() && auth::VerifyPassword(password, hash)) {
        verified.credential = registry.admin.password_ids[i];
      }
    }
    if (verified.credential.empty()) return Fail(Code::kUnauthenticated, "wrong admin password");
    verified.subject = {Subject::kAdmin, registry.registry};
  } else if (const RepositoryToken* token = snapshot.Token(registry.registry, user)) {
    bool matched_expired = false;
    for (const auto& p : token->passwords) {
      if (!p || !auth::VerifyPassword(password, p->hash)) continue;
      if (p->expiry && now >= *p->expiry) {
        matched_expired = true;
        continue;
      }
      verified.credential = p->id;
      if (p->expiry) expiry = std::min(expiry, *p->expiry);
    }
    if (verified.credential.empty()) {
      return Fail(Code::kUnauthenticated,
                  matched_expired ? "token password has expired" : "wrong token password");
    }
    if (!token->enabled) return Fail(Code::kUnauthenticated, "token is disabled");
    verified.subject = {Subject::kToken, token->name};
  } else {
    const Principal* p = snapshot.FindPrincipal(user);
    if (!p || p->kind != PrincipalKind::kServicePrincipal) {
      return Fail(Code::kUnauthenticated, "no such user");
    }
    auto credential = MatchPrincipalPassword(*p, password, now);
    if (!credential) {
      return Fail(Code::kUnauthenticated,
                  p->enabled ? "wrong or expired client secret" : "service principal is disabled");
    }
    verified = {{Subject::kPrincipal, p->id}, std::move(*credential)};
  }
  std::lock_guard lock(cache_mu_);
  if (credential_cache_.size() >= options_.credential_cache_entries) credential_cache_.clear();
  credential_cache_[key] = {snapshot.generation(), verified, expiry};
  return verified;
}

Result<Authenticator::Caller> Authenticator::AuthenticatePassword(const IdentitySnapshot& snapshot,
                                                                  const RegistryAuth& registry,
                                                                  const std::string& user,
                                                                  const std::string& password,
                                                                  const std::string& login_server,
                                                                  const std::string& source) {
  if (user == kNullGuid) {
    // ACR: the null GUID says "the password is an ACR refresh token". Access tokens are not
    // passwords: one would otherwise mint new access tokens for as long as each lives.
    COVE_ASSIGN_OR_RETURN(auto refresh, tokens_.VerifyRefreshToken(password, login_server));
    COVE_ASSIGN_OR_RETURN(auto caller,
                          ResolveToken(snapshot, registry, refresh.subject, refresh.binding));
    caller.caller_resource = refresh.caller_resource;
    caller.refresh_token = password;
    return caller;
  }
  std::string principal = PrincipalKey(registry.registry, user);
  if (auto wait = guard_->Throttled(source, principal)) return Fail(ThrottledError(*wait));
  auto verified = VerifyPassword(snapshot, registry, user, password);
  if (!verified) {
    guard_->Failed(source, principal);
    return Fail(verified.error());
  }
  guard_->Succeeded(source, principal);
  return Resolve(snapshot, registry, verified->subject, verified->credential);
}

std::optional<http::Response> Authenticator::Check(const http::Request& request,
                                                   const registry::RegistryInfo& info,
                                                   const std::string& login_server,
                                                   const AccessRequirement& needed) {
  auto snapshot = store_.Get();
  const RegistryAuth* registry = snapshot ? snapshot->Registry(info.name) : nullptr;
  if (!registry) return std::nullopt;  // open registry
  auto scope = NeededScope(needed);
  auto alternative = AlternativeScope(needed);
  const access::Verdict* network = request.verdict.get();  // the Gate's

  auto credentials = ParseAuthorization(request.headers.Get("Authorization"));
  if (!credentials) return Unauthorized(request, login_server, scope, credentials.error().message);
  switch (credentials->scheme) {
    case Credentials::kNone:
    case Credentials::kOther: {
      if (!MayChallenge(network)) {
        return FirewallDenied(request);
      }
      // Even with anonymous pull every request carries a token (an anonymous one from the
      // token endpoint), as in Docker's protocol: one path for every client.
      return Unauthorized(request, login_server, scope,
                          credentials->scheme == Credentials::kNone
                              ? "no credentials"
                              : "unsupported authorization scheme");
    }
    case Credentials::kBearer: {
      auto claims = tokens_.VerifyAccessToken(credentials->token, login_server);
      auto caller = claims ? ResolveToken(*snapshot, *registry, claims->subject, claims->binding)
                           : Fail(claims.error());
      if (caller) caller->caller_resource = claims->caller_resource;
      if (!caller) {
        if (!MayChallenge(network)) {
          return FirewallDenied(request);
        }
        LogRefusal(request, info.name, claims ? claims->subject.ToString() : "bearer token",
                   caller.error());
        return Unauthorized(request, login_server, scope, kInvalidCredentials);
      }
      if (DecideNetworkAccess(network, caller->principal, caller->caller_resource) ==
          NetworkDecision::kDenied) {
        return FirewallDenied(request);
      }
      if (!scope) return std::nullopt;
      // The token's grant serves only as far as the caller still holds it now (a removed role
      // assignment or scope-map action ends it at once).
      bool holds_now = Covers(caller->permissions.Intersect({*scope}), *scope);
      if (holds_now && Covers(claims->access, *scope)) return std::nullopt;
      // A token for the alternative (a pull token listing tags) serves when the caller holds
      // the needed permission itself now (metadata_read through its role or scope map).
      if (holds_now && alternative && Covers(claims->access, *alternative)) return std::nullopt;
      return Unauthorized(request, login_server, scope, "token does not grant this scope");
    }
    case Credentials::kBasic: {
      auto caller = AuthenticatePassword(*snapshot, *registry, credentials->user,
                                         credentials->password, login_server,
                                         SourceOf(request.peer));
      if (!caller) {
        if (!MayChallenge(network)) {
          return FirewallDenied(request);
        }
        if (caller.error().code == Code::kResourceExhausted) return TooManyRequests(caller.error());
        LogRefusal(request, info.name, credentials->user, caller.error());
        return Unauthorized(request, login_server, scope, kInvalidCredentials);
      }
      if (DecideNetworkAccess(network, caller->principal, caller->caller_resource) ==
          NetworkDecision::kDenied) {
        return FirewallDenied(request);
      }
      if (!scope || Covers(caller->permissions.Intersect({*scope}), *scope)) return std::nullopt;
      return oci::ErrorResponse(oci::ErrorCode::kDenied,
                                "requested access to the resource is denied");
    }
  }
  return Unauthorized(request, login_server, scope, "unreachable");
}

bool Authenticator::CheckLater(const http::Request& request, const registry::RegistryInfo& info,
                               const std::string& login_server, const AccessRequirement& needed,
                               std::function<void(std::optional<http::Response>)> done) {
  auto credentials = ParseAuthorization(request.headers.Get("Authorization"));
  if (!credentials || credentials->scheme != Credentials::kBasic ||
      credentials->user == kNullGuid) {
    return false;  // no password to hash
  }
  auto snapshot = store_.Get();
  const RegistryAuth* registry = snapshot ? snapshot->Registry(info.name) : nullptr;
  if (!registry) return false;
  std::string source = SourceOf(request.peer);
  auto send = [done](http::Response r) { done(std::move(r)); };
  if (guard_->Throttled(source, PrincipalKey(registry->registry, credentials->user))) {
    // Check answers 429 (or the firewall's 403) without hashing; the answer is held back.
    auto answer = Check(request, info, login_server, needed);
    if (!answer) {  // the limits moved meanwhile: let it through now
      done(std::nullopt);
      return true;
    }
    HoldBack(*guard_, std::move(*answer), send);
    return true;
  }
  // Verified recently: cheap, Check answers at once.
  if (IsCached(*snapshot, *registry, credentials->user, credentials->password)) return false;
  auto admission =
      guard_->Submit(source, [this, request, info, login_server, needed, done](bool cancelled) {
        if (cancelled) {
          done(Refused(PasswordGuard::Admission::kQueueFull));
          return;
        }
        done(Check(request, info, login_server, needed));
      });
  if (admission == PasswordGuard::Admission::kSourceBusy) {
    HoldBack(*guard_, Refused(admission), send);
  } else if (admission == PasswordGuard::Admission::kQueueFull) {
    done(Refused(admission));
  }
  return true;
}

http::ExchangePtr Authenticator::Serve(const http::Request& request,
                                       const registry::RegistryInfo& registry,
                                       const std::string& login_server) {
  auto too_large = TokenError(413, "UNSUPPORTED", "request body too large");
  return http::BufferLater(
      options_.max_form_bytes, std::move(too_large),
      [this, request, name = registry.name, login_server](std::string body, http::Answer answer) {
        AnswerTokenRequest(request, std::move(body), name, login_server, std::move(answer));
      });
}

void Authenticator::AnswerTokenRequest(const http::Request& request, std::string body,
                                       const std::string& registry_name,
                                       const std::string& login_server, http::Answer answer) {
  auto password = PasswordOf(request, body);
  auto snapshot = store_.Get();
  const RegistryAuth* registry = snapshot ? snapshot->Registry(registry_name) : nullptr;
  std::string source = SourceOf(request.peer);
  if (password && registry &&
      guard_->Throttled(source, PrincipalKey(registry->registry, password->first))) {
    // 429 (or the firewall's 403) without hashing, held back.
    HoldBack(*guard_, HandleTokenRequest(request, body, registry_name, login_server), answer);
    return;
  }
  if (!password || !registry || IsCached(*snapshot, *registry, password->first, password->second)) {
    answer(HandleTokenRequest(request, body, registry_name, login_server));
    return;
  }
  auto admission = guard_->Submit(
      source, [this, request, body, registry_name, login_server, answer](bool cancelled) {
        answer(cancelled ? Refused(PasswordGuard::Admission::kQueueFull)
                         : HandleTokenRequest(request, body, registry_name, login_server));
      });
  if (admission == PasswordGuard::Admission::kSourceBusy) {
    HoldBack(*guard_, Refused(admission), answer);
  } else if (admission == PasswordGuard::Admission::kQueueFull) {
    answer(Refused(admission));
  }
}

http::Response Authenticator::HandleTokenRequest(const http::Request& request,
                                                 std::string_view body,
                                                 const std::string& registry_name,
                                                 const std::string& login_server, Via via) {
  auto snapshot = store_.Get();
  const RegistryAuth* registry = snapshot ? snapshot->Registry(registry_name) : nullptr;
  std::string_view path = request.path();
  bool token_path = path == "/oauth2/token";
  bool exchange_path = path == "/oauth2/exchange";
  if (!registry || (!token_path && !exchange_path)) {
    return oci::ErrorResponse(oci::ErrorCode::kNameUnknown,
                              registry ? "no such endpoint: " + std::string(path)
                                       : "authentication is not enabled on this registry");
  }
  bool get = request.method == "GET";
  bool post = request.method == "POST";
  if ((exchange_path && !post) || (token_path && !get && !post)) {
    auto r = TokenError(405, "UNSUPPORTED", "method not allowed here");
    r.headers.Set("Allow", exchange_path ? "POST" : "GET, POST");
    return r;
  }

  // Parameters: the query for GET, the form body for POST.
  Form form;
  if (post) {
    auto parsed = ParseForm(body);
    if (!parsed) return TokenError(400, "UNSUPPORTED", parsed.error().message);
    form = std::move(*parsed);
  } else {
    for (const auto& name : {"service", "scope", "client_id", "account"}) {
      for (auto& v : request.QueryParams(name)) form.emplace(name, std::move(v));
    }
  }
  auto service = FormValue(form, "service");
  if (service && !EqualsIgnoreCase(*service, login_server)) {
    return TokenUnauthorized("service '" + *service + "' is not this registry (" + login_server +
                             ")");
  }
  std::vector<Scope> requested;
  for (const auto& text : FormValues(form, "scope")) {
    auto scopes = ParseScopes(text);
    if (!scopes) return TokenError(400, "UNSUPPORTED", scopes.error().message);
    requested.insert(requested.end(), scopes->begin(), scopes->end());
  }
  const access::Verdict* network = request.verdict.get();  // the Gate's
  if (via == Via::kControlPlane) network = nullptr;        // no network path

  if (exchange_path) {
    auto grant = FormValue(form, "grant_type").value_or("");
    if (grant != "access_token") {
      return TokenError(400, "UNSUPPORTED", "grant_type must be access_token");
    }
    auto identity = tokens_.VerifyIdentityToken(FormValue(form, "access_token").value_or(""));
    auto caller = identity
                      ? Resolve(*snapshot, *registry, {Subject::kPrincipal, identity->principal_id},
                                identity->credential)
                      : Fail(identity.error());
    if (!caller) {
      LogRefusal(request, registry_name,
                 identity ? "principal:" + identity->principal_id : "identity token",
                 caller.error());
      return TokenUnauthorized(kInvalidCredentials);
    }
    caller->caller_resource = identity->caller_resource;
    if (!snapshot->RolePermissions(identity->principal_id, registry_name)) {
      return TokenUnauthorized("the identity has no role assignment on registry " + registry_name);
    }
    if (DecideNetworkAccess(network, caller->principal, caller->caller_resource) ==
        NetworkDecision::kDenied) {
      return FirewallDenied(request);
    }
    auto refresh = tokens_.IssueRefreshToken(caller->subject, caller->binding, login_server,
                                             caller->caller_resource);
    if (!refresh) return TokenError(500, "UNAVAILABLE", refresh.error().message);
    return Json({{"refresh_token", *refresh}});
  }

  Result<Caller> caller = Fail(Code::kUnauthenticated, "no credentials");
  std::string who;  // whose credentials were presented ("" for none)
  bool offline = false;
  if (get) {
    auto credentials = ParseAuthorization(request.headers.Get("Authorization"));
    if (!credentials) return TokenUnauthorized(credentials.error().message);
    if (credentials->scheme == Credentials::kBasic) {
      who = credentials->user;
      caller = AuthenticatePassword(*snapshot, *registry, credentials->user, credentials->password,
                                    login_server, SourceOf(request.peer));
    } else if (credentials->scheme == Credentials::kNone) {
      caller = Resolve(*snapshot, *registry, {Subject::kAnonymous, ""}, "");
    } else {
      return TokenUnauthorized("the token endpoint takes Basic credentials");
    }
  } else {
    auto grant = FormValue(form, "grant_type").value_or("");
    if (grant == "password") {
      who = FormValue(form, "username").value_or("");
      caller = AuthenticatePassword(*snapshot, *registry, who,
                                    FormValue(form, "password").value_or(""), login_server,
                                    SourceOf(request.peer));
      offline = FormValue(form, "access_type") == "offline";
    } else if (grant == "refresh_token") {
      auto refresh =
          tokens_.VerifyRefreshToken(FormValue(form, "refresh_token").value_or(""), login_server);
      who = refresh ? refresh->subject.ToString() : "refresh token";
      caller = refresh ? ResolveToken(*snapshot, *registry, refresh->subject, refresh->binding)
                       : Fail(refresh.error());
      if (caller) caller->caller_resource = refresh->caller_resource;
    } else {
      return TokenError(400, "UNSUPPORTED", "grant_type must be password or refresh_token");
    }
  }
  if (!caller) {
    // Behind the firewall an outsider learns nothing about credentials.
    if (!MayChallenge(network)) {
      return FirewallDenied(request);
    }
    if (caller.error().code == Code::kResourceExhausted) return TooManyRequests(caller.error());
    if (who.empty()) return TokenUnauthorized(caller.error().message);  // anonymous
    LogRefusal(request, registry_name, who, caller.error());
    return TokenUnauthorized(kInvalidCredentials);
  }
  if (DecideNetworkAccess(network, caller->principal, caller->caller_resource) ==
      NetworkDecision::kDenied) {
    return FirewallDenied(request);
  }
  auto granted = caller->permissions.Intersect(requested);
  auto access = tokens_.IssueAccessToken(caller->subject, caller->binding, login_server, granted,
                                         caller->caller_resource);
  if (!access) return TokenError(500, "UNAVAILABLE", access.error().message);
  nlohmann::json out = {{"access_token", *access}};
  if (offline && !caller->refresh_token.empty()) {
    // A refresh token presented as the password is not renewed: the client gets it back.
    out["refresh_token"] = caller->refresh_token;
  } else if (offline) {
    auto refresh = tokens_.IssueRefreshToken(caller->subject, caller->binding, login_server,
                                             caller->caller_resource);
    if (!refresh) return TokenError(500, "UNAVAILABLE", refresh.error().message);
    out["refresh_token"] = *refresh;
  }
  spdlog::debug("auth: {} on {} granted {}", caller->subject.ToString(), login_server,
                AccessClaimJson(granted));
  return Json(std::move(out));
}

Result<std::string> Authenticator::Login(std::string_view name_or_id, std::string_view password,
                                         const std::string& source,
                                         const std::string& audience) {
  auto snapshot = store_.Get();
  const Principal* p = snapshot ? snapshot->FindPrincipal(name_or_id) : nullptr;
  std::string principal = "login/" + (p ? p->id : AsciiLower(name_or_id));
  if (auto wait = guard_->Throttled(source, principal)) return Fail(ThrottledError(*wait));
  auto credential = p ? MatchPrincipalPassword(*p, password, clock_.Now()) : std::nullopt;
  if (!credential) {
    guard_->Failed(source, principal);
    return Fail(Code::kUnauthenticated, "invalid user name or password");
  }
  guard_->Succeeded(source, principal);
  // The identity token names the credential, so the registry tokens exchanged for it end
  // when that password or secret is changed or deleted.
  return tokens_.IssueIdentityToken(*p, {.audience = audience, .credential = *credential});
}

void Authenticator::LoginLater(std::string name_or_id, std::string password, std::string source,
                               std::function<void(Result<std::string>)> done,
                               std::string audience) {
  auto snapshot = store_.Get();
  const Principal* p = snapshot ? snapshot->FindPrincipal(name_or_id) : nullptr;
  std::string principal = "login/" + (p ? p->id : AsciiLower(name_or_id));
  if (guard_->Throttled(source, principal)) {
    // kResourceExhausted without hashing, held back.
    HoldBack(*guard_, Login(name_or_id, password, source, audience), done);
    return;
  }
  static constexpr char kBusy[] = "too many sign-in attempts in progress; retry after 1 seconds";
  auto admission =
      guard_->Submit(source, [this, name_or_id, password, source, done,
                              audience](bool cancelled) {
        if (cancelled) {
          done(Fail(Code::kUnavailable, kBusy));
          return;
        }
        done(Login(name_or_id, password, source, audience));
      });
  switch (admission) {
    case PasswordGuard::Admission::kQueued:
      return;
    case PasswordGuard::Admission::kSourceBusy:
      HoldBack(*guard_, Result<std::string>(Fail(ThrottledError(std::chrono::seconds(1)))), done);
      return;
    case PasswordGuard::Admission::kQueueFull:
      done(Fail(Code::kUnavailable, kBusy));
      return;
  }
}

}  // namespace cove::auth
