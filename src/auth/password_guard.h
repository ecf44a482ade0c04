// PasswordGuard: where password attempts wait and how many may fail — a bounded pool of
// workers for Argon2id (so hashing never runs on an HTTP I/O thread) and failure limits per
// source address and per principal (so one client can neither stall everyone nor guess fast).
//
// Workers: `workers` threads (at a lower CPU priority than the I/O threads: nice +10) take
// jobs from a queue of at most `queue` entries. Submit refuses at once — never queues without
// bound — when the queue is full (kQueueFull) or when the source already has
// `per_source_in_flight` attempts queued or running (kSourceBusy), so a flood from one address
// occupies a few slots, not all of them.
//
// Failure limits (the policy; auth/authenticator.h applies it to every password attempt):
//   - Each failed attempt fills the source's bucket and the principal's bucket by one; buckets
//     leak continuously: `source_burst` failures per `source_window` for a source,
//     `principal_burst` per `principal_window` for a principal. Failures decay: nothing is
//     locked forever, and a client that stops failing gets back in within one window.
//   - A source whose next failure would overflow its bucket is throttled: every password
//     attempt from it is refused with 429 TOOMANYREQUESTS + Retry-After, correct or not and
//     cached or not (were cached credentials let through, 200 versus 429 would tell a throttled
//     guesser which guess was right). Bearer tokens from it are unaffected.
//   - A principal whose bucket is full (many sources failing for it) is throttled for sources
//     that have not signed in as it successfully within `known_source_ttl`: an attack from
//     many addresses cannot lock the owner out of the machines it already uses, and a new
//     machine of the owner gets in once the failures have decayed (Retry-After says when).
//   - Refused attempts (throttled, busy, queue full) are not failures: they cost no hash and
//     do not extend anyone's lockout.
//   - A refusal for being throttled or busy is held back for `refusal_delay` (a tarpit, on a
//     timer thread; the connection waits without an I/O thread): a flood from one address then
//     runs at about (its connections) / refusal_delay attempts per second instead of as fast as
//     the I/O threads can refuse it, and leaves them to everyone else. At most `max_delayed`
//     refusals wait; past that they go out at once. A full queue (503) is answered at once.
// Principals are keys chosen by the caller ("<registry>/<lowercased user>", "login/<name>").
// The tables are bounded by `max_tracked` entries: decayed entries are swept first, then
// arbitrary ones (which only forgives some failures).
//
// Time comes from the Clock (tests move a ManualClock).
//
// Thread-safety: every method may be called from any thread. The destructor stops the workers;
// jobs still queued then run with `cancelled` true (they must answer without hashing).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/error.h"

namespace cove::auth {

struct PasswordGuardOptions {
  int workers = 2;
  size_t queue = 64;
  size_t per_source_in_flight = 4;
  int source_burst = 10;
  std::chrono::seconds source_window{60};
  int principal_burst = 50;
  std::chrono::seconds principal_window{300};
  std::chrono::seconds known_source_ttl{24 * 3600};
  size_t max_tracked = 100'000;
  std::chrono::milliseconds refusal_delay{1000};
  size_t max_delayed = 20'000;
};

class PasswordGuard {
 public:
  PasswordGuard(const Clock& clock, PasswordGuardOptions options = {});
  ~PasswordGuard();
  PasswordGuard(const PasswordGuard&) = delete;
  PasswordGuard& operator=(const PasswordGuard&) = delete;

  // nullopt when `source` may try a password for `principal` now; otherwise how long until it
  // may (at least one second): the Retry-After.
  std::optional<std::chrono::seconds> Throttled(const std::string& source,
                                                const std::string& principal);
  // The outcome of a password attempt that was checked.
  void Failed(const std::string& source, const std::string& principal);
  void Succeeded(const std::string& source, const std::string& principal);

  enum class Admission { kQueued, kSourceBusy, kQueueFull };
  // Runs `job(cancelled)` on a worker, counted against `source`'s in-flight attempts until it
  // returns. Anything but kQueued means the job will not run.
  using Job = std::function<void(bool cancelled)>;
  Admission Submit(const std::string& source, Job job);

  // Calls `fn` after options().refusal_delay on the guard's timer thread. False — `fn` is not
  // called — when the delay is 0 or max_delayed calls are already waiting.
  bool Delay(std::function<void()> fn);

  const PasswordGuardOptions& options() const { return options_; }

 private:
  struct Bucket {
    double level = 0;
    Clock::TimePoint updated;
  };
  struct PrincipalState {
    Bucket bucket;
    std::unordered_map<std::string, Clock::TimePoint> known_sources;  // source → last success
  };
  static double Drain(const Bucket& b, Clock::TimePoint now, int burst,
                      std::chrono::seconds window);
  static std::chrono::seconds Wait(double level, int burst, std::chrono::seconds window);
  void SweepLocked(Clock::TimePoint now);
  void Work();
  void Release();

  const Clock& clock_;
  const PasswordGuardOptions options_;

  std::mutex limits_mu_;
  std::unordered_map<std::string, Bucket> sources_;             // guarded by limits_mu_
  std::unordered_map<std::string, PrincipalState> principals_;  // guarded by limits_mu_

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::pair<std::string, Job>> queue_;      // guarded by queue_mu_
  std::unordered_map<std::string, size_t> in_flight_;  // guarded by queue_mu_
  bool stopping_ = false;                              // guarded by queue_mu_
  std::vector<std::thread> workers_;

  // Delayed refusals, in due order (a FIFO: every one waits the same delay).
  std::mutex delay_mu_;
  std::condition_variable delay_cv_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::function<void()>>>
      delayed_;                  // guarded by delay_mu_
  bool delay_stopping_ = false;  // guarded by delay_mu_
  std::thread releaser_;
};

// The error AuthenticatePassword returns for a throttled attempt (kResourceExhausted; the
// message says when to retry), and the Retry-After seconds it carries (1 when it carries none).
Error ThrottledError(std::chrono::seconds retry_after);
int64_t RetryAfterOf(const Error& error);

}  // namespace cove::auth
