#include "common/digest.h"

#include <openssl/evp.h>

namespace cove {
namespace {

const EVP_MD* Md(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? EVP_sha256() : EVP_sha512();
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<Digest> Digest::Parse(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Fail(Code::kInvalidArgument, "digest has no algorithm prefix");
  }
  std::string_view algorithm = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  DigestAlgorithm alg;
  size_t want;
  if (algorithm == "sha256") {
    alg = DigestAlgorithm::kSha256;
    want = 64;
  } else if (algorithm == "sha512") {
    alg = DigestAlgorithm::kSha512;
    want = 128;
  } else {
    return Fail(Code::kInvalidArgument, "unsupported digest algorithm");
  }
  if (hex.size() != want || !IsLowerHex(hex)) {
    return Fail(Code::kInvalidArgument, "digest is not " + std::to_string(want) +
                                            " lowercase hex characters");
  }
  return Digest(alg, std::string(hex));
}

Digest Digest::Of(std::string_view data, DigestAlgorithm algorithm) {
  Hasher h(algorithm);
  h.Update(data);
  return h.Finish();
}

std::string_view Digest::algorithm_name() const {
  return algorithm_ == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

struct Hasher::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), state_(std::make_unique<State>()) {
  EVP_DigestInit_ex(state_->ctx, Md(algorithm), nullptr);
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(state_->ctx, data.data(), data.size());
}

Digest Hasher::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  return Digest(algorithm_, HexEncode(std::string_view(reinterpret_cast<char*>(md), len)));
}

}  // namespace cove
