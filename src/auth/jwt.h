// JWT signing and verification (ES256 only), on Debian's libjwt 1.10.
//
// libjwt 1.10 does ES256 with OpenSSL and writes the JOSE signature form (R||S, 64 bytes), so
// cove uses it rather than hand-written JWT code. What libjwt does not do, this wrapper does:
//   - it picks the verification key from the header's `kid` (libjwt takes one key);
//   - it refuses every algorithm but ES256 *before and after* libjwt runs: libjwt accepts
//     "alg":"none" when no key is given and would verify an "HS256" token with the public key
//     as the HMAC secret (the classic algorithm-confusion forgery);
//   - it checks times and audience (VerifyOptions), which libjwt 1.10 leaves to the caller.
// Claims go in and come out as JSON objects.
//
// Thread-safety: pure functions (libjwt objects are local to each call).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "auth/keys.h"
#include "common/clock.h"
#include "common/error.h"

namespace cove::auth {

// Signs `claims` (a JSON object) with `key`; header {"alg":"ES256","typ":"JWT","kid":...}.
// kInternal when libjwt fails.
Result<std::string> SignJwt(const SigningKey& key, const nlohmann::json& claims);

struct VerifyOptions {
  Clock::TimePoint now;
  std::chrono::seconds leeway{60};  // clock skew allowed for nbf/iat; exp has none
  std::string audience;             // required `aud` (exact match); empty: not checked
  std::string issuer;               // required `iss`; empty: not checked
};

// The claims of a token signed by one of `keys`, valid at options.now, for options.audience.
// kUnauthenticated with a message saying why: malformed, unknown kid, algorithm not ES256,
// bad signature, expired, not yet valid, wrong audience or issuer.
Result<nlohmann::json> VerifyJwt(std::string_view token, const KeySet& keys,
                                 const VerifyOptions& options);

// The decoded header and payload without any verification (diagnostics and fuzzing only).
Result<std::pair<nlohmann::json, nlohmann::json>> DecodeJwtUnverified(std::string_view token);

// base64url without padding, both ways (decoding accepts missing padding, refuses bad chars).
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace cove::auth
