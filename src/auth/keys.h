// KeyRing: the ECDSA P-256 keys that sign and verify cove's JWTs, kept in the data directory.
//
// On disk, one directory per purpose (registry tokens: <data>/keys/token-signing/, cove's
// stand-in Entra identity tokens: <data>/keys/identity-signing/), one file per key:
//   <kid>.pem   the private key, PKCS#8 PEM, mode 0600, written atomically (tmp + rename)
// where kid = "<created, unix seconds>-<8 hex random>", so the creation time needs no extra
// file. Every node serving a registry shares the directory (or a copy of it).
//
// Rotation: the newest key signs; older keys still verify, until `retain` (the longest token
// lifetime) after the key that replaced them was created — by then every token they signed
// has expired, and Maintain() deletes them. Maintain() also creates a new key when the
// newest is older than `rotate_after`. Tokens name their key in the JWT header (`kid`).
//
// Thread-safety: Keys() returns an immutable snapshot and may be called from any thread;
// Rotate/Maintain swap in a new snapshot (one writer at a time).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace cove::auth {

// One key. `pkey` is the parsed key, made once when the key is loaded or generated: parsing a
// PEM costs OpenSSL 3 ≈ 0.8 ms, signing with a parsed key ≈ 0.05 ms (see auth/jwt.h).
struct SigningKey {
  std::string kid;
  std::string private_pem;
  std::string public_pem;
  Clock::TimePoint created;
  std::shared_ptr<EVP_PKEY> pkey;  // private + public; immutable after load, shared by copies
};

// The keys valid now; `keys` is sorted oldest first, the last one signs.
struct KeySet {
  std::vector<SigningKey> keys;
  const SigningKey& active() const { return keys.back(); }
  const SigningKey* Find(std::string_view kid) const;
};
using KeySetPtr = std::shared_ptr<const KeySet>;

struct KeyRingOptions {
  std::chrono::seconds rotate_after{30 * 24 * 3600};
  std::chrono::seconds retain{24 * 3600};  // ≥ the longest lifetime of a token signed
};

class KeyRing {
 public:
  // Loads the keys in `dir` (creating it, 0700), creating the first key when there is none;
  // then runs Maintain(). kIOError / kCorruption naming the file that could not be used.
  static Result<std::unique_ptr<KeyRing>> Open(std::string dir, const Clock& clock,
                                               KeyRingOptions options = {});

  KeySetPtr Keys() const { return keys_.load(); }
  // Creates a new key that signs from now on.
  Status Rotate();
  // Rotates when due and deletes keys no token can still need.
  Status Maintain();

 private:
  KeyRing(std::string dir, const Clock& clock, KeyRingOptions options)
      : dir_(std::move(dir)), clock_(clock), options_(options) {}
  Status Reload();

  std::string dir_;
  const Clock& clock_;
  KeyRingOptions options_;
  std::mutex write_mu_;
  std::atomic<KeySetPtr> keys_;
};

// A new P-256 key (PEM private, PEM public). kInternal when OpenSSL fails.
Result<SigningKey> GenerateSigningKey(std::string kid, Clock::TimePoint created);

}  // namespace cove::auth
