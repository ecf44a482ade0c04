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
// matching ACR's 20-30 minute window. Keys are 32 random bytes, shared by every node serving
// the registry and rotated (daemon/url_keys.h keeps and rotates them): the newest key signs,
// every key still held verifies, so a URL signed just before a rotation stays good.
//
// Thread-safety: Sign and Verify from any thread; SetKeys swaps the key set atomically.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

  // `keys`: oldest first; the last signs, every one verifies. REQUIRES: not empty.
  UrlSigner(std::vector<std::string> keys, const Clock& clock);
  UrlSigner(std::string key, const Clock& clock)
      : UrlSigner(std::vector<std::string>{std::move(key)}, clock) {}

  // Replaces the keys (a rotation here, or keys another node made). REQUIRES: not empty.
  void SetKeys(std::vector<std::string> keys);
  // Asked when a signature matches no key; returns true when it set keys that may match (a key
  // another node made a moment ago), and Verify then tries once more. Set it before the signer
  // is shared.
  void SetReload(std::function<bool()> reload) { reload_ = std::move(reload); }

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
  using Keys = std::shared_ptr<const std::vector<std::string>>;
  static std::string Mac(const std::string& key, const BlobUrlClaims& claims, std::string_view se);
  static bool Matches(const Keys& keys, const BlobUrlClaims& claims, std::string_view se,
                      std::string_view sig);
  std::atomic<Keys> keys_;
  const Clock& clock_;
  std::function<bool()> reload_;
};

}  // namespace cove::registry
