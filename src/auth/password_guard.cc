#include "auth/password_guard.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace cove::auth {
namespace {

constexpr std::string_view kRetryPrefix = "retry after ";

}  // namespace

PasswordGuard::PasswordGuard(const Clock& clock, PasswordGuardOptions options)
    : clock_(clock), options_(options) {
  int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { Work(); });
  releaser_ = std::thread([this] { Release(); });
}

PasswordGuard::~PasswordGuard() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : workers_) t.join();
  // Whatever is still queued answers without hashing.
  std::deque<std::pair<std::string, Job>> left;
  {
    std::lock_guard lock(queue_mu_);
    left.swap(queue_);
  }
  for (auto& [source, job] : left) job(true);
  {
    std::lock_guard lock(delay_mu_);
    delay_stopping_ = true;
  }
  delay_cv_.notify_all();
  releaser_.join();
  // Refusals still held back go out now.
  for (auto& [due, fn] : delayed_) fn();
}

bool PasswordGuard::Delay(std::function<void()> fn) {
  if (options_.refusal_delay.count() <= 0) return false;
  {
    std::lock_guard lock(delay_mu_);
    if (delay_stopping_ || delayed_.size() >= options_.max_delayed) return false;
    // The tarpit is transport timing, not business logic: a steady clock, not the Clock seam.
    delayed_.emplace_back(std::chrono::steady_clock::now() + options_.refusal_delay, std::move(fn));
  }
  delay_cv_.notify_one();
  return true;
}

void PasswordGuard::Release() {
  std::unique_lock lock(delay_mu_);
  while (!delay_stopping_) {
    if (delayed_.empty()) {
      delay_cv_.wait(lock);
      continue;
    }
    auto due = delayed_.front().first;
    if (std::chrono::steady_clock::now() < due) {
      delay_cv_.wait_until(lock, due);
      continue;
    }
    auto fn = std::move(delayed_.front().second);
    delayed_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
  }
}

double PasswordGuard::Drain(const Bucket& b, Clock::TimePoint now, int burst,
                            std::chrono::seconds window) {
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed <= 0 || window.count() <= 0) return b.level;
  double rate = static_cast<double>(burst) / static_cast<double>(window.count());
  return std::max(0.0, b.level - elapsed * rate);
}

std::chrono::seconds PasswordGuard::Wait(double level, int burst, std::chrono::seconds window) {
  // One more failure is allowed once level + 1 <= burst.
  double excess = level + 1 - burst;
  double rate =
      static_cast<double>(burst) / static_cast<double>(std::max<int64_t>(1, window.count()));
  auto s = static_cast<int64_t>(std::ceil(excess / rate));
  return std::chrono::seconds(std::max<int64_t>(1, s));
}

std::optional<std::chrono::seconds> PasswordGuard::Throttled(const std::string& source,
                                                             const std::string& principal) {
  auto now = clock_.Now();
  std::lock_guard lock(limits_mu_);
  std::optional<std::chrono::seconds> wait;
  if (auto it = sources_.find(source); it != sources_.end()) {
    double level = Drain(it->second, now, options_.source_burst, options_.source_window);
    if (level + 1 > options_.source_burst) {
      wait = Wait(level, options_.source_burst, options_.source_window);
    }
  }
  if (auto it = principals_.find(principal); it != principals_.end()) {
    auto known = it->second.known_sources.find(source);
    bool exempt =
        known != it->second.known_sources.end() && now - known->second < options_.known_source_ttl;
    double level =
        Drain(it->second.bucket, now, options_.principal_burst, options_.principal_window);
    if (!exempt && level + 1 > options_.principal_burst) {
      auto w = Wait(level, options_.principal_burst, options_.principal_window);
      wait = wait ? std::max(*wait, w) : w;
    }
  }
  return wait;
}

void PasswordGuard::Failed(const std::string& source, const std::string& principal) {
  auto now = clock_.Now();
  std::lock_guard lock(limits_mu_);
  SweepLocked(now);
  Bucket& s = sources_[source];
  s.level = Drain(s, now, options_.source_burst, options_.source_window) + 1;
  s.updated = now;
  Bucket& p = principals_[principal].bucket;
  p.level = Drain(p, now, options_.principal_burst, options_.principal_window) + 1;
  p.updated = now;
}

void PasswordGuard::Succeeded(const std::string& source, const std::string& principal) {
  auto now = clock_.Now();
  std::lock_guard lock(limits_mu_);
  SweepLocked(now);
  auto& known = principals_[principal].known_sources;
  if (known.size() >= 64 && !known.count(source)) {
    // Keep the most recent ones: forget the oldest.
    auto oldest = std::min_element(known.begin(), known.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;
    });
    known.erase(oldest);
  }
  known[source] = now;
}

void PasswordGuard::SweepLocked(Clock::TimePoint now) {
  if (sources_.size() + principals_.size() < options_.max_tracked) return;
  std::erase_if(sources_, [&](const auto& kv) {
    return Drain(kv.second, now, options_.source_burst, options_.source_window) <= 0;
  });
  for (auto& [key, state] : principals_) {
    std::erase_if(state.known_sources,
                  [&](const auto& k) { return now - k.second >= options_.known_source_ttl; });
  }
  std::erase_if(principals_, [&](const auto& kv) {
    return kv.second.known_sources.empty() &&
           Drain(kv.second.bucket, now, options_.principal_burst, options_.principal_window) <= 0;
  });
  // Still full (an attack from very many addresses): forget arbitrary entries.
  while (!sources_.empty() && sources_.size() + principals_.size() >= options_.max_tracked) {
    sources_.erase(sources_.begin());
  }
  while (!principals_.empty() && principals_.size() >= options_.max_tracked) {
    principals_.erase(principals_.begin());
  }
}

PasswordGuard::Admission PasswordGuard::Submit(const std::string& source, Job job) {
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_ || queue_.size() >= options_.queue) return Admission::kQueueFull;
    size_t& n = in_flight_[source];
    if (n >= options_.per_source_in_flight) return Admission::kSourceBusy;
    ++n;
    queue_.emplace_back(source, std::move(job));
  }
  queue_cv_.notify_one();
  return Admission::kQueued;
}

void PasswordGuard::Work() {
  // Hashing yields to the I/O threads (per-thread nice on Linux); failing is harmless.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  for (;;) {
    std::pair<std::string, Job> next;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    next.second(false);
    std::lock_guard lock(queue_mu_);
    auto it = in_flight_.find(next.first);
    if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
  }
}

Error ThrottledError(std::chrono::seconds retry_after) {
  return Error{Code::kResourceExhausted, "too many failed sign-in attempts; " +
                                             std::string(kRetryPrefix) +
                                             std::to_string(retry_after.count()) + " seconds"};
}

int64_t RetryAfterOf(const Error& error) {
  auto p = error.message.rfind(kRetryPrefix);
  if (p == std::string::npos) return 1;
  const char* begin = error.message.data() + p + kRetryPrefix.size();
  int64_t n = 1;
  auto [end, ec] = std::from_chars(begin, error.message.data() + error.message.size(), n);
  return ec == std::errc() && n > 0 ? n : 1;
}

}  // namespace cove::auth
