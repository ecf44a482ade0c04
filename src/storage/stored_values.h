// How the metadata stores (SQLite, PostgreSQL) write values into columns and read them back:
// times as nanoseconds since the epoch, sizes as signed 64-bit integers (SQL has no unsigned),
// digests as text checked on the way out, and the kind of a manifest's reference.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/digest.h"
#include "common/error.h"

namespace cove::storage::stored {

// manifest_refs.kind
constexpr int64_t kRefBlob = 0;
constexpr int64_t kRefManifest = 1;

inline int64_t ToNanos(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

inline Clock::TimePoint FromNanos(int64_t ns) {
  return Clock::TimePoint(
      std::chrono::duration_cast<Clock::TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

// Sizes past INT64_MAX (never real) are stored as INT64_MAX.
inline int64_t ToInt64(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}

// A digest read from a column; kCorruption when it does not parse.
inline Result<Digest> ParseStored(std::string_view text) {
  auto digest = Digest::Parse(text);
  if (!digest) {
    return Fail(Code::kCorruption, "stored digest '" + std::string(text) + "' is invalid");
  }
  return *digest;
}

}  // namespace cove::storage::stored
