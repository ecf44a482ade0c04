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

// Creation time from "<unix seconds>-<hex>"; nullopt for other names.
std::optional<Clock::TimePoint> CreatedFromKid(std::string_view kid) {
  auto dash = kid.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  int64_t secs = 0;
  auto [end, ec] = std::from_chars(kid.data(), kid.data() + dash, secs);
  if (ec != std::errc() || end != kid.data() + dash) return std::nullopt;
  return Clock::TimePoint(std::chrono::seconds(secs));
}

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

Result<SigningKey> LoadKey(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Fail(Code::kIOError, "cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string pem = ss.str();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return Fail(Code::kCorruption, path.string() + " is not a PEM private key");
  auto shared = Share(key);
  bool p256 = EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256;
  auto pub = PublicPemOf(key);
  if (!p256) return Fail(Code::kCorruption, path.string() + " is not a P-256 key");
  if (!pub) return Fail(pub.error());
  SigningKey k;
  k.pkey = std::move(shared);
  k.kid = path.stem().string();
  k.private_pem = std::move(pem);
  k.public_pem = std::move(*pub);
  k.created = *CreatedFromKid(k.kid);
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

}  // namespace

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

Result<std::unique_ptr<KeyRing>> KeyRing::Open(std::string dir, const Clock& clock,
                                               KeyRingOptions options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail(Code::kIOError, "cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<KeyRing> ring(new KeyRing(std::move(dir), clock, options));
  COVE_RETURN_IF_ERROR(ring->Reload());
  if (ring->Keys()->keys.empty()) COVE_RETURN_IF_ERROR(ring->Rotate());
  COVE_RETURN_IF_ERROR(ring->Maintain());
  return ring;
}

Status KeyRing::Reload() {
  auto set = std::make_shared<KeySet>();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".pem" || !CreatedFromKid(entry.path().stem().string())) {
      continue;
    }
    COVE_ASSIGN_OR_RETURN(auto key, LoadKey(entry.path()));
    set->keys.push_back(std::move(key));
  }
  if (ec) return Fail(Code::kIOError, "cannot list " + dir_ + ": " + ec.message());
  std::sort(set->keys.begin(), set->keys.end(), [](const SigningKey& a, const SigningKey& b) {
    return a.created != b.created ? a.created < b.created : a.kid < b.kid;
  });
  keys_.store(std::move(set));
  return Ok();
}

Status KeyRing::Rotate() {
  std::lock_guard lock(write_mu_);
  auto now = clock_.Now();
  std::string kid = std::to_string(UnixSeconds(now)) + "-" + HexEncode(RandomBytes(4));
  COVE_ASSIGN_OR_RETURN(auto key, GenerateSigningKey(kid, now));
  COVE_RETURN_IF_ERROR(WriteAtomically(fs::path(dir_) / (kid + ".pem"), key.private_pem));
  auto set = std::make_shared<KeySet>(*keys_.load());
  // Creation times are whole seconds: keep the new key last even within one second.
  key.created = std::max(now, set->keys.empty() ? now : set->keys.back().created);
  set->keys.push_back(std::move(key));
  keys_.store(std::move(set));
  return Ok();
}

Status KeyRing::Maintain() {
  auto now = clock_.Now();
  if (now - Keys()->active().created >= options_.rotate_after) COVE_RETURN_IF_ERROR(Rotate());
  std::lock_guard lock(write_mu_);
  auto set = std::make_shared<KeySet>(*keys_.load());
  std::vector<SigningKey> kept;
  for (size_t i = 0; i < set->keys.size(); ++i) {
    bool last = i + 1 == set->keys.size();
    if (!last && now > set->keys[i + 1].created + options_.retain) {
      ::unlink((fs::path(dir_) / (set->keys[i].kid + ".pem")).c_str());
      continue;
    }
    kept.push_back(std::move(set->keys[i]));
  }
  set->keys = std::move(kept);
  keys_.store(std::move(set));
  return Ok();
}

}  // namespace cove::auth
