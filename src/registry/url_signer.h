// UrlSigner: the signed, expiring URLs that send blob downloads to a data endpoint.
//
// ACR answers a blob GET on the login server with a redirect to the registry's data endpoint;
// the URL there carries its own authorization, so the data host needs no token. cove signs
// with HMAC-SHA256 over registry, repository, digest, region and expiry:
//
//   se=<expiry, unix seconds>&sig=<base64url(HMAC(key, "cove-blob-v1\n" registry "\n"
//                                       repository "\n" digest "\n" region "\n" se))>
//
// A URL is issued valid for 20 minutes; the data host accepts it until `se`, and refuses an
// `se` more than 30 minutes ahead (so a leaked key cannot mint long-lived URLs unnoticed),
// matching ACR's 20-30 minute window. The key is 32 random bytes kept in the data directory
// (`keys/blob-url.key`, mode 0600) and shared by every node serving the registry.
//
// Thread-safety: immutable after construction; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/error.h"

namespace cove::registry {

struct BlobUrlClaims {
  std::string registry;
  std::string repository;
  std::string digest;
  std::string region;
};

class UrlSigner {
 public:
  static constexpr int kValidSeconds = 20 * 60;
  static constexpr int kMaxAheadSeconds = 30 * 60;

  UrlSigner(std::string key, const Clock& clock) : key_(std::move(key)), clock_(clock) {}

  // 32 random bytes: a new key.
  static std::string NewKey();
  // Loads the key from `path`, creating it (32 random bytes, 0600) if missing.
  static Result<std::string> LoadOrCreateKey(const std::string& path);

  // The query string "se=...&sig=..." for `claims`, valid from now.
  std::string Sign(const BlobUrlClaims& claims) const;
  // Ok if `se`/`sig` are a valid, unexpired signature of `claims`. kPermissionDenied with a
  // message saying why (missing, malformed, expired, too far ahead, wrong signature) otherwise.
  Status Verify(const BlobUrlClaims& claims, std::string_view se, std::string_view sig) const;

 private:
  std::string Mac(const BlobUrlClaims& claims, std::string_view se) const;
  std::string key_;
  const Clock& clock_;
};

}  // namespace cove::registry
