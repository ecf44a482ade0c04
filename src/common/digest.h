// Digest: a content address, "algorithm:hex", as the OCI image spec defines it; and Hasher, the
// streaming hash that produces one.
//
// cove accepts the two registered algorithms, sha256 (64 lowercase hex) and sha512 (128 lowercase
// hex). Parse() rejects anything else with kInvalidArgument; the registry maps that to
// DIGEST_INVALID. Hasher wraps OpenSSL's EVP digests.
//
// Thread-safety: Digest is a plain value. A Hasher is used by one thread at a time.
#pragma once

#include <compare>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cove {

enum class DigestAlgorithm { kSha256, kSha512 };

class Digest {
 public:
  Digest() = default;

  // Parses "sha256:<64 hex>" or "sha512:<128 hex>", lowercase only.
  // Returns kInvalidArgument with a message naming the problem otherwise.
  static Result<Digest> Parse(std::string_view text);

  // Digest of `data` with `algorithm`.
  static Digest Of(std::string_view data, DigestAlgorithm algorithm = DigestAlgorithm::kSha256);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;
  const std::string& hex() const { return hex_; }
  std::string str() const { return std::string(algorithm_name()) + ":" + hex_; }
  bool empty() const { return hex_.empty(); }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest& a, const Digest& b) {
    if (auto c = a.algorithm_ <=> b.algorithm_; c != 0) return c;
    return a.hex_ <=> b.hex_;
  }

 private:
  Digest(DigestAlgorithm algorithm, std::string hex) : algorithm_(algorithm), hex_(std::move(hex)) {}
  friend class Hasher;

  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
};

// Streaming hasher. Update() any number of times, then Finish() once.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  void Update(std::string_view data);
  // REQUIRES: not called before on this hasher.
  Digest Finish();
  DigestAlgorithm algorithm() const { return algorithm_; }

 private:
  struct State;
  DigestAlgorithm algorithm_;
  std::unique_ptr<State> state_;
};

std::string HexEncode(std::string_view bytes);

}  // namespace cove
