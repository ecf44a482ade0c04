// PasswordGuard: the failure-limit policy on a ManualClock (no sleeps), the bounded queue and
// the held-back refusals. The same limits over real sockets: tests/security/limits_test.cc.
#include "auth/password_guard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace cove::auth {
namespace {

using namespace std::chrono_literals;

PasswordGuardOptions Small() {
  PasswordGuardOptions o;
  o.workers = 1;
  o.queue = 2;
  o.per_source_in_flight = 2;
  o.source_burst = 3;
  o.source_window = 60s;  // one failure forgiven every 20 s
  o.principal_burst = 5;
  o.principal_window = 100s;  // one every 20 s
  o.known_source_ttl = 3600s;
  return o;
}

TEST(PasswordGuardTest, ASourceIsThrottledAfterItsBurstAndFailuresDecay) {
  ManualClock clock;
  PasswordGuard guard(clock, Small());
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(guard.Throttled("s1", "reg/admin"));
    guard.Failed("s1", "reg/admin");
  }
  EXPECT_FALSE(guard.Throttled("s1", "reg/admin"));  // the third attempt is allowed
  guard.Failed("s1", "reg/admin");
  auto wait = guard.Throttled("s1", "reg/admin");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 20s);                             // until one failure has leaked away
  EXPECT_TRUE(guard.Throttled("s1", "reg/other"));   // every principal, from that source
  EXPECT_FALSE(guard.Throttled("s2", "reg/admin"));  // not other sources
  clock.Advance(19s);
  EXPECT_TRUE(guard.Throttled("s1", "reg/admin"));
  clock.Advance(1s);
  EXPECT_FALSE(guard.Throttled("s1", "reg/admin"));  // decayed: one more try
}

TEST(PasswordGuardTest, AnAttackedPrincipalStaysOpenToSourcesThatSignedInAsIt) {
  ManualClock clock;
  PasswordGuard guard(clock, Small());
  guard.Succeeded("owner", "reg/admin");
  // Five attackers, one failure each: no source is throttled, the principal is.
  for (int i = 0; i < 5; ++i) guard.Failed("attacker" + std::to_string(i), "reg/admin");
  EXPECT_TRUE(guard.Throttled("attacker9", "reg/admin"));
  EXPECT_TRUE(guard.Throttled("owner-new-machine", "reg/admin"));
  EXPECT_FALSE(guard.Throttled("owner", "reg/admin"));  // known source: exempt
  EXPECT_FALSE(guard.Throttled("attacker9", "reg/someone-else"));
  // Failures decay: the owner's new machine gets in once the attack stops.
  clock.Advance(20s);
  EXPECT_FALSE(guard.Throttled("owner-new-machine", "reg/admin"));
  // A known source is forgotten after known_source_ttl.
  for (int i = 0; i < 5; ++i) guard.Failed("attacker" + std::to_string(i), "reg/admin");
  clock.Advance(3600s);
  for (int i = 0; i < 5; ++i) guard.Failed("attacker" + std::to_string(i), "reg/admin");
  EXPECT_TRUE(guard.Throttled("owner", "reg/admin"));
}

TEST(PasswordGuardTest, TheQueueIsBoundedPerSourceAndInTotal) {
  ManualClock clock;
  PasswordGuard guard(clock, Small());
  // Block the one worker until released.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int started = 0;
  auto blocker = [&](bool) {
    std::unique_lock lock(mu);
    ++started;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  EXPECT_EQ(guard.Submit("a", blocker), PasswordGuard::Admission::kQueued);
  {
    std::unique_lock lock(mu);  // the worker holds the first job: the queue is empty again
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return started == 1; }));
  }
  EXPECT_EQ(guard.Submit("a", blocker), PasswordGuard::Admission::kQueued);
  EXPECT_EQ(guard.Submit("a", blocker), PasswordGuard::Admission::kSourceBusy);  // 2 in flight
  EXPECT_EQ(guard.Submit("b", blocker), PasswordGuard::Admission::kQueued);
  EXPECT_EQ(guard.Submit("c", blocker), PasswordGuard::Admission::kQueueFull);  // 2 waiting
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
}  // the destructor runs or cancels every queued job

TEST(PasswordGuardTest, RefusalsAreHeldBackAndReleasedInOrder) {
  ManualClock clock;
  auto options = Small();
  options.refusal_delay = 20ms;
  options.max_delayed = 2;
  PasswordGuard guard(clock, options);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  auto push = [&](int n) {
    return [&, n] {
      std::lock_guard lock(mu);
      order.push_back(n);
      cv.notify_all();
    };
  };
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(guard.Delay(push(1)));
  EXPECT_TRUE(guard.Delay(push(2)));
  EXPECT_FALSE(guard.Delay(push(3)));  // full: the caller answers at once
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return order.size() == 2; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));

  options.refusal_delay = 0ms;
  PasswordGuard undelayed(clock, options);
  EXPECT_FALSE(undelayed.Delay(push(4)));
}

TEST(PasswordGuardTest, RetryAfterTravelsInTheError) {
  EXPECT_EQ(RetryAfterOf(ThrottledError(42s)), 42);
  EXPECT_EQ(ThrottledError(42s).code, Code::kResourceExhausted);
  EXPECT_EQ(RetryAfterOf(Error{Code::kResourceExhausted, "no number"}), 1);
}

}  // namespace
}  // namespace cove::auth
