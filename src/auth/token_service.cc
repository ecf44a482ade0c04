#include "auth/token_service.h"

#include <algorithm>

#include "auth/jwt.h"
#include "auth/password.h"
#include "common/digest.h"

namespace cove::auth {
namespace {

// A random version-4 style GUID for jti.
std::string NewGuid() {
  std::string hex = HexEncode(RandomBytes(16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

// A string claim's value, or "" when absent or not a string.
std::string StringClaim(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : "";
}

nlohmann::json BindingClaim(const Binding& b) {
  return {{"rid", b.registry}, {"oid", b.object}, {"cid", b.credential}};
}

// The "cove" claim of a registry token; kUnauthenticated when it is missing (a token from
// before bindings existed) or malformed.
Result<Binding> ParseBinding(const nlohmann::json& claims) {
  auto it = claims.find("cove");
  if (it == claims.end() || !it->is_object()) {
    return Fail(Code::kUnauthenticated, "token carries no binding");
  }
  Binding b{StringClaim(*it, "rid"), StringClaim(*it, "oid"), StringClaim(*it, "cid")};
  if (b.registry.empty() || b.object.empty()) {
    return Fail(Code::kUnauthenticated, "token binding is incomplete");
  }
  return b;
}

Result<Subject> ParseSubject(const nlohmann::json& claims) {
  auto sub = claims.find("sub");
  auto subject = sub != claims.end() && sub->is_string() ? Subject::Parse(sub->get<std::string>())
                                                         : std::nullopt;
  if (!subject) return Fail(Code::kUnauthenticated, "token has no valid subject");
  return *subject;
}

}  // namespace

std::string Subject::ToString() const {
  switch (kind) {
    case kPrincipal:
      return "principal:" + id;
    case kAdmin:
      return "admin:" + id;
    case kToken:
      return "token:" + id;
    case kAnonymous:
      return "anonymous";
  }
  return "anonymous";
}

std::optional<Subject> Subject::Parse(std::string_view text) {
  if (text == "anonymous") return Subject{kAnonymous, ""};
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return std::nullopt;
  std::string_view kind = text.substr(0, colon);
  std::string id(text.substr(colon + 1));
  if (kind == "principal") return Subject{kPrincipal, id};
  if (kind == "admin") return Subject{kAdmin, id};
  if (kind == "token") return Subject{kToken, id};
  return std::nullopt;
}

TokenService::TokenService(KeyRing& registry_keys, KeyRing& identity_keys,
                           const Clock& clock, TokenServiceOptions options)
    : registry_keys_(registry_keys),
      identity_keys_(identity_keys),
      clock_(clock),
      options_(options) {}

Result<std::string> TokenService::Sign(const KeyRing& ring, nlohmann::json claims,
                                       std::chrono::seconds lifetime) {
  int64_t now = UnixSeconds(clock_.Now());
  claims["jti"] = NewGuid();
  claims["iat"] = now;
  claims["nbf"] = now;
  claims["exp"] = now + lifetime.count();
  return SignJwt(ring.Keys()->active(), claims);
}

const std::vector<std::string>& IdentityAudiences() {
  static const std::vector<std::string> kAudiences = {
      kIdentityAudience, "https://management.azure.com", "https://management.core.windows.net/",
      "https://containerregistry.azure.net", kGraphAudience, "https://graph.microsoft.com"};
  return kAudiences;
}

Result<std::string> TokenService::IssueAccessToken(const Subject& subject, const Binding& binding,
                                                   const std::string& login_server,
                                                   const std::vector<Scope>& granted,
                                                   const std::string& caller_resource) {
  nlohmann::json claims = {{"sub", subject.ToString()},
                           {"iss", kRegistryIssuer},
                           {"aud", login_server},
                           {"version", "1.0"},
                           {"grant_type", "access_token"},
                           {"roles", nlohmann::json::array()},
                           {"access", nlohmann::json::parse(AccessClaimJson(granted))},
                           {"cove", BindingClaim(binding)}};
  if (!caller_resource.empty()) claims["xms_az_rid"] = caller_resource;
  return Sign(registry_keys_, std::move(claims), options_.access_lifetime);
}

Result<std::string> TokenService::IssueRefreshToken(const Subject& subject, const Binding& binding,
                                                    const std::string& login_server,
                                                    const std::string& caller_resource) {
  nlohmann::json claims = {
      {"sub", subject.ToString()},
      {"iss", kRegistryIssuer},
      {"aud", login_server},
      {"version", "1.0"},
      {"grant_type", "refresh_token"},
      {"permissions", {{"actions", {"*"}}, {"notActions", nlohmann::json::array()}}},
      {"roles", nlohmann::json::array()},
      {"cove", BindingClaim(binding)}};
  if (!caller_resource.empty()) claims["xms_az_rid"] = caller_resource;
  return Sign(registry_keys_, std::move(claims), options_.refresh_lifetime);
}

Result<std::string> TokenService::IssueIdentityToken(const Principal& principal,
                                                     const IdentityTokenOptions& options) {
  const auto& audiences = IdentityAudiences();
  if (std::find(audiences.begin(), audiences.end(), options.audience) == audiences.end()) {
    return Fail(Code::kInvalidArgument, "no such resource: " + options.audience);
  }
  nlohmann::json claims = {{"sub", principal.id},
                           {"oid", principal.id},
                           {"tid", options.tenant},
                           {"name", principal.name},
                           {"idtyp", std::string(PrincipalKindName(principal.kind))},
                           {"iss", std::string(kIdentityIssuer) + options.tenant + "/"},
                           {"aud", options.audience}};
  if (!options.client_id.empty()) claims["appid"] = options.client_id;
  if (!options.identity_resource_id.empty()) claims["xms_mirid"] = options.identity_resource_id;
  if (!options.caller_resource_id.empty()) claims["xms_az_rid"] = options.caller_resource_id;
  if (!options.credential.empty()) claims["cove"] = {{"cid", options.credential}};
  return Sign(identity_keys_, std::move(claims), options_.identity_lifetime);
}

// A key another node of the same storage made a moment ago is not refused: an unknown or
// retired kid (or any failure) re-reads the storage at most once a second and tries again.
Result<nlohmann::json> TokenService::VerifyWith(KeyRing& ring, const std::string& token,
                                                const VerifyOptions& v) {
  auto claims = VerifyJwt(token, *ring.Keys(), v);
  if (!claims && ring.ReloadSoon()) return VerifyJwt(token, *ring.Keys(), v);
  return claims;
}

Result<nlohmann::json> TokenService::VerifyRegistryToken(const std::string& token,
                                                         const std::string& login_server,
                                                         std::string_view grant_type) {
  VerifyOptions v;
  v.now = clock_.Now();
  v.audience = login_server;
  v.issuer = kRegistryIssuer;
  COVE_ASSIGN_OR_RETURN(auto claims, VerifyWith(registry_keys_, token, v));
  auto gt = claims.find("grant_type");
  if (gt == claims.end() || !gt->is_string() || gt->get<std::string>() != grant_type) {
    return Fail(Code::kUnauthenticated, "token is not an " + std::string(grant_type));
  }
  return claims;
}

Result<AccessTokenClaims> TokenService::VerifyAccessToken(const std::string& token,
                                                          const std::string& login_server) {
  auto now = clock_.Now();
  {
    std::lock_guard lock(cache_mu_);
    auto it = verified_.find(token);
    if (it != verified_.end()) {
      if (now < it->second.claims.expiry && it->second.login_server == login_server) {
        return it->second.claims;
      }
      if (now >= it->second.claims.expiry) verified_.erase(it);
    }
  }
  COVE_ASSIGN_OR_RETURN(auto claims, VerifyRegistryToken(token, login_server, "access_token"));
  AccessTokenClaims out;
  COVE_ASSIGN_OR_RETURN(out.subject, ParseSubject(claims));
  COVE_ASSIGN_OR_RETURN(out.binding, ParseBinding(claims));
  auto access = claims.find("access");
  if (access != claims.end()) {
    COVE_ASSIGN_OR_RETURN(out.access, ParseAccessClaim(access->dump()));
  }
  out.expiry = Clock::TimePoint(std::chrono::seconds(claims["exp"].get<int64_t>()));
  out.caller_resource = StringClaim(claims, "xms_az_rid");
  {
    std::lock_guard lock(cache_mu_);
    if (verified_.size() >= options_.verified_cache_entries) {
      // Drop expired entries; if still full, start over (cheap and bounded).
      std::erase_if(verified_, [&](const auto& kv) { return now >= kv.second.claims.expiry; });
      if (verified_.size() >= options_.verified_cache_entries) verified_.clear();
    }
    verified_.emplace(token, Cached{login_server, out});
  }
  return out;
}

Result<RefreshTokenClaims> TokenService::VerifyRefreshToken(const std::string& token,
                                                            const std::string& login_server) {
  COVE_ASSIGN_OR_RETURN(auto claims, VerifyRegistryToken(token, login_server, "refresh_token"));
  RefreshTokenClaims out;
  COVE_ASSIGN_OR_RETURN(out.subject, ParseSubject(claims));
  COVE_ASSIGN_OR_RETURN(out.binding, ParseBinding(claims));
  out.caller_resource = StringClaim(claims, "xms_az_rid");
  out.expiry = Clock::TimePoint(std::chrono::seconds(claims["exp"].get<int64_t>()));
  return out;
}

Result<IdentityClaims> TokenService::VerifyIdentityToken(const std::string& token) {
  VerifyOptions v;
  v.now = clock_.Now();
  COVE_ASSIGN_OR_RETURN(auto claims, VerifyWith(identity_keys_, token, v));
  std::string aud = StringClaim(claims, "aud");
  const auto& audiences = IdentityAudiences();
  if (std::find(audiences.begin(), audiences.end(), aud) == audiences.end()) {
    return Fail(Code::kUnauthenticated, "token is for another audience");
  }
  auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() ||
      !iss->get<std::string>().starts_with(kIdentityIssuer)) {
    return Fail(Code::kUnauthenticated, "identity token is from another issuer");
  }
  auto oid = claims.find("oid");
  if (oid == claims.end() || !oid->is_string() || oid->get<std::string>().empty()) {
    return Fail(Code::kUnauthenticated, "identity token names no principal (oid)");
  }
  auto cove = claims.find("cove");
  std::string credential =
      cove != claims.end() && cove->is_object() ? StringClaim(*cove, "cid") : "";
  return IdentityClaims{oid->get<std::string>(), StringClaim(claims, "xms_az_rid"), credential,
                        aud};
}

}  // namespace cove::auth
