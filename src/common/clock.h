// Clock: the one source of time for business logic (token expiry, signed URLs, upload purging).
//
// Code never calls std::chrono::system_clock::now() itself; it is handed a Clock. SystemClock is
// the real one; ManualClock is a real implementation that tests move by hand (no sleeps).
//
// Thread-safety: both implementations may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>

namespace cove {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint(std::chrono::seconds(1'700'000'000)))
      : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void Advance(std::chrono::system_clock::duration d) { now_ += d.count(); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> now_;
};

// Seconds since the Unix epoch.
inline int64_t UnixSeconds(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace cove
