// JWT signing and verification (ES256 only), with OpenSSL and keys parsed once.
//
// cove first used Debian's libjwt 1.10 here. libjwt takes the key as PEM text and parses it on
// every call, which under OpenSSL 3 costs ≈ 0.8 ms — 95% of issuing a token (bench/auth). So the
// signature itself is OpenSSL's EVP_DigestSign/Verify over the key SigningKey holds parsed,
// converted between DER and JOSE's R||S (RFC 7518 §3.4); libjwt stays as the test oracle
// (tests/auth: tokens we sign verify in libjwt and tokens libjwt signs verify here). The rest is
// the part JWT libraries get wrong, done strictly:
//   - the verification key comes from the header's `kid`; unknown kids are refused;
//   - every algorithm but ES256 is refused before any crypto runs ("none", and "HS256" with
//     the public key as the HMAC secret — the classic algorithm-confusion forgery);
//   - exactly three base64url parts, a 64-byte signature, JSON objects for header and payload;
//   - times and audience (VerifyOptions) are checked after the signature.
// Claims go in and come out as JSON objects.
//
// Thread-safety: pure functions (OpenSSL contexts are local to each call; EVP_PKEY is shared
// read-only).
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
