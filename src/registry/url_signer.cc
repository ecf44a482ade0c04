#include "registry/url_signer.h"

#include <cstdlib>

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/unique_fd.h"

namespace cove::registry {
namespace {

std::string Base64Url(const unsigned char* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == n) {
    uint32_t v = data[i] << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (i + 2 == n) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

std::string UrlSigner::NewKey() {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof(key)) != 1) std::abort();  // no entropy: nothing is safe to sign
  return std::string(reinterpret_cast<char*>(key), sizeof(key));
}

Result<std::string> UrlSigner::LoadOrCreateKey(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.valid()) {
    char buf[64];
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n != 32) return Fail(Code::kCorruption, "signing key " + path + " is not 32 bytes");
    return std::string(buf, 32);
  }
  if (errno != ENOENT) return Fail(Code::kIOError, ErrnoText("open", path));
  std::string key = NewKey();
  std::string tmp = path + ".tmp";
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return Fail(Code::kIOError, ErrnoText("create", tmp));
  if (::write(out.get(), key.data(), key.size()) != static_cast<ssize_t>(key.size()) ||
      ::fsync(out.get()) != 0) {
    return Fail(Code::kIOError, ErrnoText("write", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Fail(Code::kIOError, ErrnoText("rename", tmp));
  return key;
}

UrlSigner::UrlSigner(std::vector<std::string> keys, const Clock& clock) : clock_(clock) {
  SetKeys(std::move(keys));
}

void UrlSigner::SetKeys(std::vector<std::string> keys) {
  keys_.store(std::make_shared<const std::vector<std::string>>(std::move(keys)));
}

std::string UrlSigner::Mac(const std::string& key, const BlobUrlClaims& c, std::string_view se) {
  std::string msg = "cove-blob-v1\n" + c.registry + "\n" + c.repository + "\n" + c.digest + "\n" +
                    c.region + "\n" + std::string(se);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return Base64Url(mac, len);
}

std::string UrlSigner::Sign(const BlobUrlClaims& claims) const {
  std::string se = std::to_string(UnixSeconds(clock_.Now()) + kValidSeconds);
  return "se=" + se + "&sig=" + Mac(keys_.load()->back(), claims, se);
}

bool UrlSigner::Matches(const Keys& keys, const BlobUrlClaims& claims, std::string_view se,
                        std::string_view sig) {
  for (auto key = keys->rbegin(); key != keys->rend(); ++key) {  // the newest is the likeliest
    std::string want = Mac(*key, claims, se);
    if (want.size() == sig.size() && CRYPTO_memcmp(want.data(), sig.data(), sig.size()) == 0) {
      return true;
    }
  }
  return false;
}

Status UrlSigner::Verify(const BlobUrlClaims& claims, std::string_view se,
                         std::string_view sig) const {
  if (se.empty() || sig.empty()) {
    return Fail(Code::kPermissionDenied, "the data endpoint needs a signed URL (se and sig)");
  }
  int64_t expiry = 0;
  auto [end, ec] = std::from_chars(se.data(), se.data() + se.size(), expiry);
  if (ec != std::errc() || end != se.data() + se.size()) {
    return Fail(Code::kPermissionDenied, "the URL's expiry 'se' is not a number");
  }
  int64_t now = UnixSeconds(clock_.Now());
  if (expiry < now) return Fail(Code::kPermissionDenied, "the signed URL has expired");
  if (expiry > now + kMaxAheadSeconds) {
    return Fail(Code::kPermissionDenied, "the signed URL's expiry is too far in the future");
  }
  if (Matches(keys_.load(), claims, se, sig)) return Ok();
  if (reload_ && reload_() && Matches(keys_.load(), claims, se, sig)) return Ok();
  return Fail(Code::kPermissionDenied, "the URL's signature does not match");
}

}  // namespace cove::registry
