#include "auth/keys.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <spdlog/spdlog.h>

#include "auth/password.h"
#include "common/digest.h"

namespace cove::auth {
namespace {

namespace fs = std::filesystem;

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

Result<std::string> PublicPemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio || PEM_write_bio_PUBKEY(bio, key) != 1) {
    BIO_free(bio);
    return Fail(Code::kInternal, "cannot write a public key");
  }
  std::string pem = BioString(bio);
  BIO_free(bio);
  return pem;
}

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

Result<SigningKey> ParseKey(const std::string& kid, std::string pem, const std::string& where) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return Fail(Code::kCorruption, where + " is not a PEM private key");
  auto shared = Share(key);
  bool p256 = EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256;
  auto pub = PublicPemOf(key);
  if (!p256) return Fail(Code::kCorruption, where + " is not a P-256 key");
  if (!pub) return Fail(pub.error());
  SigningKey k;
  k.pkey = std::move(shared);
  k.kid = kid;
  k.private_pem = std::move(pem);
  k.public_pem = std::move(*pub);
  k.created = *KidCreated(k.kid);
  return k;
}

Status WriteAtomically(const fs::path& path, const std::string& bytes) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(Code::kIOError, "cannot create " + tmp.string());
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Fail(Code::kIOError, "cannot write " + path.string());
  }
  return Ok();
}

class KeyDirectory final : public KeyStorage {
 public:
  KeyDirectory(std::string dir, std::string extension)
      : dir_(std::move(dir)), extension_(std::move(extension)) {}

  Result<std::map<std::string, std::string>> List() override {
    std::map<std::string, std::string> keys;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.path().extension() != extension_) continue;
      std::ifstream in(entry.path());
      if (!in) return Fail(Code::kIOError, "cannot read " + entry.path().string());
      std::stringstream ss;
      ss << in.rdbuf();
      keys[entry.path().stem().string()] = ss.str();
    }
    if (ec) return Fail(Code::kIOError, "cannot list " + dir_ + ": " + ec.message());
    return keys;
  }
  Status Put(const std::string& kid, const std::string& private_pem) override {
    return WriteAtomically(fs::path(dir_) / (kid + extension_), private_pem);
  }
  Status Remove(const std::string& kid) override {
    fs::path path = fs::path(dir_) / (kid + extension_);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Fail(Code::kIOError, "cannot delete " + path.string());
    }
    return Ok();
  }
  std::string Describe() const override { return dir_; }

 private:
  std::string dir_, extension_;
};

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<KeyStorage>> OpenKeyDirectory(std::string dir, std::string extension) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Code::kIOError, "cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  return std::unique_ptr<KeyStorage>(new KeyDirectory(std::move(dir), std::move(extension)));
}

std::string NewKid(Clock::TimePoint created) {
  return std::to_string(UnixSeconds(created)) + "-" + HexEncode(RandomBytes(4));
}

std::optional<Clock::TimePoint> KidCreated(std::string_view kid) {
  auto dash = kid.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  int64_t secs = 0;
  auto [end, ec] = std::from_chars(kid.data(), kid.data() + dash, secs);
  if (ec != std::errc() || end != kid.data() + dash) return std::nullopt;
  return Clock::TimePoint(std::chrono::seconds(secs));
}

const SigningKey* KeySet::Find(std::string_view kid) const {
  for (const auto& k : keys) {
    if (k.kid == kid) return &k;
  }
  return nullptr;
}

Result<SigningKey> GenerateSigningKey(std::string kid, Clock::TimePoint created) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) return Fail(Code::kInternal, "cannot generate a P-256 key");
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio || PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    BIO_free(bio);
    EVP_PKEY_free(key);
    return Fail(Code::kInternal, "cannot write a private key");
  }
  SigningKey k;
  k.pkey = Share(key);
  k.kid = std::move(kid);
  k.private_pem = BioString(bio);
  BIO_free(bio);
  auto pub = PublicPemOf(key);
  if (!pub) return Fail(pub.error());
  k.public_pem = std::move(*pub);
  k.created = created;
  return k;
}

Result<std::unique_ptr<KeyRing>> KeyRing::Open(std::unique_ptr<KeyStorage> storage,
                                               const Clock& clock, KeyRingOptions options) {
  std::unique_ptr<KeyRing> ring(new KeyRing(std::move(storage), clock, options));
  COVE_RETURN_IF_ERROR(ring->Reload());
  if (ring->Keys()->keys.empty()) COVE_RETURN_IF_ERROR(ring->Rotate());
  COVE_RETURN_IF_ERROR(ring->Maintain());
  return ring;
}

Result<std::unique_ptr<KeyRing>> KeyRing::Open(std::string dir, const Clock& clock,
                                               KeyRingOptions options) {
  COVE_ASSIGN_OR_RETURN(auto storage, OpenKeyDirectory(std::move(dir)));
  return Open(std::move(storage), clock, options);
}

Status KeyRing::Reload() {
  std::lock_guard lock(write_mu_);
  last_reload_ns_ = SteadyNanos();
  COVE_ASSIGN_OR_RETURN(auto stored, storage_->List());
  auto set = std::make_shared<KeySet>();
  KeySetPtr current = keys_.load();
  for (auto& [kid, pem] : stored) {
    if (!KidCreated(kid)) continue;
    const SigningKey* known = current ? current->Find(kid) : nullptr;
    if (known && known->private_pem == pem) {  // parsed once (≈ 0.8 ms each)
      set->keys.push_back(*known);
      continue;
    }
    std::string where = storage_->Describe() + "/" + kid;
    auto key = ParseKey(kid, std::move(pem), where);
    if (!key) {
      // One bad key must not take the others down on a reload; at start there is nothing to
      // keep, and the error stops the node.
      if (!current) return Fail(key.error());
      spdlog::warn("signing keys: skipping {}", key.error().ToString());
      continue;
    }
    set->keys.push_back(std::move(*key));
  }
  std::sort(set->keys.begin(), set->keys.end(), [](const SigningKey& a, const SigningKey& b) {
    return a.created != b.created ? a.created < b.created : a.kid < b.kid;
  });
  // A storage that lost every key does not leave this node without one to sign with.
  if (set->keys.empty() && current) set->keys = current->keys;
  keys_.store(std::move(set));
  return Ok();
}

bool KeyRing::ReloadSoon() {
  if (SteadyNanos() - last_reload_ns_.load() < 1'000'000'000) return false;
  KeySetPtr before = keys_.load();
  if (auto reloaded = Reload(); !reloaded) {
    spdlog::warn("signing keys: {}", reloaded.error().ToString());
    return false;
  }
  KeySetPtr after = keys_.load();
  if (before->keys.size() != after->keys.size()) return true;
  for (size_t i = 0; i < after->keys.size(); ++i) {
    if (before->keys[i].kid != after->keys[i].kid) return true;
  }
  return false;
}

Status KeyRing::Rotate() {
  std::lock_guard lock(write_mu_);
  auto now = clock_.Now();
  std::string kid = NewKid(now);
  COVE_ASSIGN_OR_RETURN(auto key, GenerateSigningKey(kid, now));
  COVE_RETURN_IF_ERROR(storage_->Put(kid, key.private_pem));
  KeySetPtr current = keys_.load();
  auto set = current ? std::make_shared<KeySet>(*current) : std::make_shared<KeySet>();
  // Creation times are whole seconds: keep the new key last even within one second.
  key.created = std::max(now, set->keys.empty() ? now : set->keys.back().created);
  set->keys.push_back(std::move(key));
  keys_.store(std::move(set));
  return Ok();
}

Status KeyRing::Maintain(bool rotate) {
  COVE_RETURN_IF_ERROR(Reload());
  if (!rotate) return Ok();
  auto now = clock_.Now();
  if (now - Keys()->active().created >= options_.rotate_after) COVE_RETURN_IF_ERROR(Rotate());
  std::lock_guard lock(write_mu_);
  auto set = std::make_shared<KeySet>(*keys_.load());
  std::vector<SigningKey> kept;
  for (size_t i = 0; i < set->keys.size(); ++i) {
    bool last = i + 1 == set->keys.size();
    if (!last && now > set->keys[i + 1].created + options_.retain) {
      if (auto removed = storage_->Remove(set->keys[i].kid); !removed) {
        spdlog::warn("signing keys: {}", removed.error().ToString());
      }
      continue;
    }
    kept.push_back(std::move(set->keys[i]));
  }
  set->keys = std::move(kept);
  keys_.store(std::move(set));
  return Ok();
}

}  // namespace cove::auth
