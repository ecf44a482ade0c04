// UrlKeys: the keys that sign data-endpoint URLs (registry/url_signer.h), kept in an
// auth::KeyStorage — <secrets>/keys/blob-url/ for the embedded engines, the shared database's
// cove_secrets (kind "blob-url") for nodes over PostgreSQL — and rotated.
//
// A key is 32 random bytes, stored as hex under kid "<created, unix seconds>-<8 hex>". The
// newest key signs; a key is dropped once the key after it is older than `retain` (by then no
// URL it signed can still be accepted: they live at most UrlSigner::kMaxAheadSeconds). A new key
// is made when the newest is older than `rotate_after`. Nodes that share the storage see each
// other's keys on Maintain (every maintenance pass) and, at most once a second, when a URL
// matches no key they hold (ReloadSoon, wired to UrlSigner::SetReload), so a URL signed by a
// node that just rotated is not refused elsewhere.
//
// Upgrade: a data directory from before rotation has one key in <secrets>/keys/blob-url.key;
// it becomes the first key (so URLs signed before the upgrade stay good), and the file is left.
//
// Thread-safety: Keys() from any thread; Maintain/ReloadSoon swap the set under a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/keys.h"
#include "common/clock.h"
#include "common/error.h"

namespace cove::daemon {

struct UrlKeyOptions {
  std::chrono::seconds rotate_after{30 * 24 * 3600};
  std::chrono::seconds retain{3600};  // > UrlSigner::kMaxAheadSeconds
};

class UrlKeys {
 public:
  // Loads the keys, importing `legacy` (the pre-rotation key, "" for none) when the storage has
  // none, else making the first one. Errors name the storage.
  static Result<std::unique_ptr<UrlKeys>> Open(std::unique_ptr<auth::KeyStorage> storage,
                                               const Clock& clock, const std::string& legacy,
                                               UrlKeyOptions options = {});

  // The secrets, oldest first (the last signs).
  std::vector<std::string> Keys() const;
  // Re-reads the storage; with `rotate`, makes a new key when due and drops expired ones.
  Status Maintain(bool rotate);
  // Re-reads the storage unless that happened in the last second; true when the keys changed.
  bool ReloadSoon();

 private:
  struct Key {
    std::string kid;
    std::string secret;
    Clock::TimePoint created;
  };
  UrlKeys(std::unique_ptr<auth::KeyStorage> storage, const Clock& clock, UrlKeyOptions options)
      : storage_(std::move(storage)), clock_(clock), options_(options) {}
  Status Reload();
  Status Add(const std::string& secret);

  std::unique_ptr<auth::KeyStorage> storage_;
  const Clock& clock_;
  const UrlKeyOptions options_;
  mutable std::mutex mu_;
  std::vector<Key> keys_;  // guarded by mu_; oldest first
  std::atomic<int64_t> last_reload_ns_{0};
};

}  // namespace cove::daemon
