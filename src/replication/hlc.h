// Hlc: the hybrid logical clock that orders every replicated write (issue 12).
//
// A stamp is (wall milliseconds, logical counter, origin region). Stamps compare in that order,
// the region name breaking a tie between two regions that wrote in the same millisecond with the
// same counter, so any two writes anywhere are totally ordered and every region picks the same
// winner. HybridClock gives a region's local writes strictly increasing stamps that are never
// below the wall clock and never below any stamp the region has seen (Observe, the max rule), so
// a write made after seeing another is ordered after it (causality).
//
// Thread-safety: Hlc is a plain value. HybridClock is not synchronized; its owner (Replicator)
// guards it with its own mutex.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <tuple>

#include "common/clock.h"

namespace cove::replication {

struct Hlc {
  int64_t ms = 0;       // wall time, milliseconds since the Unix epoch
  int64_t logical = 0;  // orders writes within one millisecond
  std::string origin;   // the region that made the write

  friend bool operator==(const Hlc&, const Hlc&) = default;
  friend std::strong_ordering operator<=>(const Hlc& a, const Hlc& b) {
    return std::tie(a.ms, a.logical, a.origin) <=> std::tie(b.ms, b.logical, b.origin);
  }
  std::string ToString() const {
    return std::to_string(ms) + "." + std::to_string(logical) + "@" + origin;
  }
};

class HybridClock {
 public:
  HybridClock(const Clock& clock, std::string region) : clock_(clock), region_(std::move(region)) {}

  // A stamp for a local write, greater than every stamp returned or observed before.
  Hlc Now() {
    int64_t wall = WallMs();
    if (wall > last_ms_) {
      last_ms_ = wall;
      last_logical_ = 0;
    } else {
      ++last_logical_;
    }
    return Hlc{last_ms_, last_logical_, region_};
  }

  // Takes in a stamp seen from another region (or from the journal after a restart).
  void Observe(const Hlc& seen) {
    if (seen.ms > last_ms_ || (seen.ms == last_ms_ && seen.logical > last_logical_)) {
      last_ms_ = seen.ms;
      last_logical_ = seen.logical;
    }
  }

  int64_t WallMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
        .count();
  }

 private:
  const Clock& clock_;
  std::string region_;
  int64_t last_ms_ = 0;
  int64_t last_logical_ = 0;
};

}  // namespace cove::replication
