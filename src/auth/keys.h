// KeyRing: the ECDSA P-256 keys that sign and verify cove's JWTs, and where they are kept.
//
// A KeyRing reads and writes its keys through a KeyStorage, one per purpose (registry tokens,
// cove's stand-in Entra identity tokens):
//   - a directory (OpenKeyDirectory; <data>/keys/token-signing/, <data>/keys/identity-signing/),
//     one file per key: <kid>.pem, the private key as PKCS#8 PEM, mode 0600, written atomically
//     (tmp + rename). Nodes of one machine share the directory;
//   - a table of the shared metadata database (storage/postgres_secrets.h), for registry nodes
//     on several machines.
// kid = "<created, unix seconds>-<8 hex random>", so the creation time needs no extra field.
//
// Rotation: the newest key signs; older keys still verify, until `retain` (the longest token
// lifetime) after the key that replaced them was created — by then every token they signed
// has expired, and Maintain() deletes them. Maintain() also creates a new key when the
// newest is older than `rotate_after`. Tokens name their key in the JWT header (`kid`).
// Nodes that share a storage see each other's keys after Reload(): Maintain() reloads first,
// and a verifier that meets a kid it does not know calls ReloadSoon() (at most once a second)
// before it refuses the token, so a key another node just made is not refused for long. Two
// nodes that rotate at the same moment both add a key; the newer signs, both verify.
//
// Thread-safety: Keys() returns an immutable snapshot and may be called from any thread;
// Rotate/Maintain/Reload swap in a new snapshot (one writer at a time).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

// Where a KeyRing keeps its private keys (see above). Thread-safety: any thread.
class KeyStorage {
 public:
  virtual ~KeyStorage() = default;
  // Every stored key: kid → PKCS#8 PEM of the private key.
  virtual Result<std::map<std::string, std::string>> List() = 0;
  // Stores a new key (durably, before it returns Ok).
  virtual Status Put(const std::string& kid, const std::string& private_pem) = 0;
  // Forgets a key; Ok when it was already gone.
  virtual Status Remove(const std::string& kid) = 0;
  // Where the keys are, for error messages ("/var/lib/cove/keys/token-signing").
  virtual std::string Describe() const = 0;
};

// The directory `dir` (created, 0700) as a KeyStorage, one file <kid><extension> per key.
// kIOError naming it.
Result<std::unique_ptr<KeyStorage>> OpenKeyDirectory(std::string dir,
                                                     std::string extension = ".pem");

class KeyRing {
 public:
  // Loads the keys in `storage`, creating the first key when there is none; then runs
  // Maintain(). kIOError / kCorruption naming the key that could not be used.
  static Result<std::unique_ptr<KeyRing>> Open(std::unique_ptr<KeyStorage> storage,
                                               const Clock& clock, KeyRingOptions options = {});
  // The same over OpenKeyDirectory(dir).
  static Result<std::unique_ptr<KeyRing>> Open(std::string dir, const Clock& clock,
                                               KeyRingOptions options = {});

  KeySetPtr Keys() const { return keys_.load(); }
  // Creates a new key that signs from now on.
  Status Rotate();
  // Re-reads the storage (keys another node made or retired), then rotates when due and
  // deletes keys no token can still need. `rotate` false: only re-reads (a node that shares
  // keys it does not own).
  Status Maintain(bool rotate = true);
  // Re-reads the storage. Keys that fail to load are skipped with a warning; the signing key
  // is always kept.
  Status Reload();
  // Reload() unless one happened in the last second; true when it ran and changed the keys.
  bool ReloadSoon();

 private:
  KeyRing(std::unique_ptr<KeyStorage> storage, const Clock& clock, KeyRingOptions options)
      : storage_(std::move(storage)), clock_(clock), options_(options) {}

  std::unique_ptr<KeyStorage> storage_;
  const Clock& clock_;
  KeyRingOptions options_;
  std::mutex write_mu_;
  std::atomic<KeySetPtr> keys_;
  std::atomic<int64_t> last_reload_ns_{0};  // steady clock
};

// Key ids: "<created, unix seconds>-<8 hex random>" (also the data-endpoint URL keys',
// daemon/url_keys.h). NewKid makes one; KidCreated reads the time back (nullopt for other ids).
std::string NewKid(Clock::TimePoint created);
std::optional<Clock::TimePoint> KidCreated(std::string_view kid);

// A new P-256 key (PEM private, PEM public). kInternal when OpenSSL fails.
Result<SigningKey> GenerateSigningKey(std::string kid, Clock::TimePoint created);

}  // namespace cove::auth
