#include "replication/replicator.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <utility>

#include "oci/manifest.h"

namespace cove::replication {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using registry::RepositoryEvent;

constexpr std::string_view kPrefix = "/cove/replication/v1/";
constexpr int kMaxIndexDepth = 8;

// Set while this thread applies a remote entry: the events it causes are not local writes.
thread_local bool t_applying = false;

class ApplyingScope {
 public:
  ApplyingScope() : was_(t_applying) { t_applying = true; }
  ~ApplyingScope() { t_applying = was_; }
  ApplyingScope(const ApplyingScope&) = delete;
  ApplyingScope& operator=(const ApplyingScope&) = delete;

 private:
  bool was_;
};

http::Response JsonResponse(int status, const json& body) {
  return http::Response::Text(status, "application/json", body.dump());
}

http::Response ErrorResponse(int status, std::string_view code, const std::string& message) {
  return JsonResponse(status, json{{"error", {{"code", code}, {"message", message}}}});
}

json HlcJson(const Hlc& hlc) {
  return json{{"ms", hlc.ms}, {"logical", hlc.logical}, {"origin", hlc.origin}};
}

json EntryJson(const Entry& e) {
  return json{{"seq", e.seq},
              {"origin", e.hlc.origin},
              {"ms", e.hlc.ms},
              {"logical", e.hlc.logical},
              {"kind", EntryKindName(e.kind)},
              {"registry", e.registry},
              {"repository", e.repository},
              {"tag", e.tag},
              {"digest", e.digest},
              {"media_type", e.media_type},
              {"size", e.size}};
}

Result<Entry> ParseEntry(const json& j) {
  try {
    Entry e;
    e.seq = j.at("seq").get<int64_t>();
    e.hlc = Hlc{j.at("ms").get<int64_t>(), j.at("logical").get<int64_t>(),
                j.at("origin").get<std::string>()};
    auto kind = ParseEntryKind(j.at("kind").get<std::string>());
    if (!kind) return Fail(Code::kInvalidArgument, "unknown entry kind " + j.at("kind").dump());
    e.kind = *kind;
    e.registry = j.at("registry").get<std::string>();
    e.repository = j.at("repository").get<std::string>();
    e.tag = j.at("tag").get<std::string>();
    e.digest = j.at("digest").get<std::string>();
    e.media_type = j.at("media_type").get<std::string>();
    e.size = j.at("size").get<uint64_t>();
    return e;
  } catch (const json::exception& ex) {
    return Fail(Code::kInvalidArgument, std::string("malformed entry: ") + ex.what());
  }
}

std::string ContentPath(std::string_view what, const storage::RepoKey& repo,
                        const std::string& last) {
  return std::string(kPrefix) + std::string(what) + "/" + repo.registry + "/" + repo.repository +
         "/" + last;
}

// A path component or repository name that is safe to put into a URL unencoded (registry,
// repository and tag names, digests all are).
bool PlainName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/' || c == ':';
  });
}

Status Unavailable(const std::string& what, const ClientResponse& r) {
  return Fail(Code::kUnavailable,
              what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200));
}

}  // namespace

std::string_view PeerStateName(PeerStatus::State state) {
  switch (state) {
    case PeerStatus::State::kSyncing:
      return "Syncing";
    case PeerStatus::State::kReady:
      return "Ready";
    case PeerStatus::State::kFailed:
      return "Failed";
  }
  return "Syncing";
}

// ---- per-peer pull state ----

struct Replicator::PeerState {
  std::mutex mu;
  std::condition_variable cv;
  Peer config;                       // guarded by mu
  uint64_t generation = 0;           // guarded by mu; bumped when config changes
  bool stop = false;                 // guarded by mu
  BackboneClient* active = nullptr;  // guarded by mu
  // Status, guarded by mu.
  int64_t cursor = 0;
  int64_t head = 0;
  bool polled = false;
  int failures = 0;
  std::string message;
  int64_t oldest_unapplied_ms = 0;
  std::optional<Clock::TimePoint> last_success;
  std::thread thread;

  // Waits `d` unless stopped first; false when stopped.
  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [&] { return stop; });
    return !stop;
  }
  bool stopped() {
    std::lock_guard lock(mu);
    return stop;
  }
};

// ---- the backbone endpoints ----

// Lets a long poll outlive the Replicator: its calls take `mu` shared and find `replicator`
// null once Stop() ran.
struct Replicator::Liveness {
  std::shared_mutex mu;
  Replicator* replicator = nullptr;  // guarded by mu
};

class Replicator::ChangesExchange final : public http::Exchange {
 public:
  ChangesExchange(std::shared_ptr<Liveness> live, int64_t after, int64_t limit, std::string region,
                  std::chrono::milliseconds wait)
      : live_(std::move(live)),
        after_(after),
        limit_(limit),
        region_(std::move(region)),
        deadline_(SteadyClock::now() + wait) {}

  std::optional<http::Response> OnBody(std::string_view) override { return std::nullopt; }

  bool Await(Stage stage, std::function<void()> ready) override {
    if (stage != Stage::kStarted) return false;
    std::shared_lock lock(live_->mu);
    Replicator* r = live_->replicator;
    if (r == nullptr) return false;
    while (true) {
      uint64_t generation = r->WaiterGeneration();
      auto head = r->journal_->Head();
      if (!head || *head > after_ || SteadyClock::now() >= deadline_) return false;
      if (r->AddWaiter(generation, deadline_, ready)) return true;
    }
  }

  http::Response Finish() override {
    std::shared_lock lock(live_->mu);
    if (live_->replicator == nullptr) {
      return ErrorResponse(503, "Unavailable", "replication is stopping");
    }
    Replicator& r_ = *live_->replicator;
    auto head = r_.journal_->Head();
    if (!head) return ErrorResponse(500, "Internal", head.error().message);
    auto entries = r_.journal_->After(after_, limit_);
    if (!entries) return ErrorResponse(500, "Internal", entries.error().message);
    json out = json::array();
    int64_t next = after_;
    for (const Entry& e : *entries) {
      next = e.seq;
      if (r_.RegionHolds(region_, e.registry)) out.push_back(EntryJson(e));
    }
    return JsonResponse(200, json{{"head", *head}, {"next", next}, {"entries", std::move(out)}});
  }

 private:
  std::shared_ptr<Liveness> live_;
  int64_t after_;
  int64_t limit_;
  std::string region_;
  SteadyClock::time_point deadline_;
};

class Replicator::Handler final : public http::Handler {
 public:
  explicit Handler(Replicator& r) : r_(r) {}

  http::ExchangePtr Start(http::Request request) override {
    auto authorization = request.headers.Get("authorization");
    if (!r_.CheckKey(authorization.value_or(""))) {
      return http::Respond(
          ErrorResponse(401, "Unauthorized", "the backbone key is missing or wrong"), 0);
    }
    std::string_view path = request.path();
    if (!path.starts_with(kPrefix)) return http::Respond(NotFound("no such endpoint"), 0);
    path.remove_prefix(kPrefix.size());
    bool head = request.method == "HEAD";
    if (request.method != "GET" && !head) {
      return http::Respond(ErrorResponse(405, "MethodNotAllowed", "GET or HEAD only"), 0);
    }
    if (path == "changes" && !head) return Changes(request);
    if (path == "status" && !head) return http::Respond(StatusResponse(), 0);
    for (std::string_view what : {"manifests/", "blobs/", "tags/"}) {
      if (!path.starts_with(what)) continue;
      std::string_view rest = path.substr(what.size());
      size_t first = rest.find('/');
      size_t last = rest.rfind('/');
      if (first == std::string_view::npos || last == first || !PlainName(rest)) break;
      storage::RepoKey repo{std::string(rest.substr(0, first)),
                            std::string(rest.substr(first + 1, last - first - 1))};
      std::string name(rest.substr(last + 1));
      if (what == "tags/") return http::Respond(Tag(repo, name), 0);
      auto digest = Digest::Parse(name);
      if (!digest) return http::Respond(ErrorResponse(400, "BadRequest", "bad digest"), 0);
      return http::Respond(what == "blobs/" ? Blob(repo, *digest) : Manifest(repo, *digest), 0);
    }
    return http::Respond(NotFound("no such endpoint"), 0);
  }

 private:
  static http::Response NotFound(const std::string& message) {
    return ErrorResponse(404, "NotFound", message);
  }

  http::ExchangePtr Changes(const http::Request& request) {
    auto number = [&](std::string_view name, int64_t fallback) -> std::optional<int64_t> {
      auto v = request.QueryParam(name);
      if (!v) return fallback;
      try {
        size_t used = 0;
        int64_t n = std::stoll(*v, &used);
        if (used != v->size() || n < 0) return std::nullopt;
        return n;
      } catch (const std::exception&) {
        return std::nullopt;
      }
    };
    auto after = number("after", 0);
    auto limit = number("limit", 500);
    auto wait = number("wait", 0);
    auto region = request.QueryParam("region");
    if (!after || !limit || !wait || !region || region->empty()) {
      return http::Respond(
          ErrorResponse(400, "BadRequest", "after, limit, wait (numbers) and region needed"), 0);
    }
    int64_t capped_limit = std::clamp<int64_t>(*limit, 1, 10'000);
    int64_t capped_wait = std::min<int64_t>(*wait, 60'000);
    return std::make_unique<ChangesExchange>(r_.live_, *after, capped_limit, *region,
                                             std::chrono::milliseconds(capped_wait));
  }

  http::Response StatusResponse() {
    json peers = json::array();
    for (const PeerStatus& s : r_.Statuses()) {
      json p{{"region", s.region},  {"state", PeerStateName(s.state)}, {"cursor", s.cursor},
             {"head", s.head},      {"lagEntries", s.lag_entries},     {"lagMs", s.lag_ms},
             {"message", s.message}};
      if (s.last_success) {
        p["lastSuccessMs"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 s.last_success->time_since_epoch())
                                 .count();
      }
      peers.push_back(std::move(p));
    }
    return JsonResponse(200, json{{"region", r_.region()}, {"peers", std::move(peers)}});
  }

  http::Response Tag(const storage::RepoKey& repo, const std::string& tag) {
    auto reg = r_.journal_->Get(RegisterKind::kTag, repo.registry, repo.repository, tag);
    if (!reg) return ErrorResponse(500, "Internal", reg.error().message);
    if (!*reg) return NotFound("tag unknown");
    json out{{"hlc", HlcJson((*reg)->hlc)}};
    if ((*reg)->deleted) {
      out["deleted"] = true;
    } else {
      out["digest"] = (*reg)->digest;
    }
    return JsonResponse(200, out);
  }

  http::Response Manifest(const storage::RepoKey& repo, const Digest& digest) {
    auto content = r_.service_.GetManifest(repo, digest);
    if (!content) {
      if (content.error().code == Code::kNotFound) return NotFound("manifest not held");
      return ErrorResponse(500, "Internal", content.error().message);
    }
    return http::Response::Text(200, content->media_type, std::move(content->bytes));
  }

  http::Response Blob(const storage::RepoKey& repo, const Digest& digest) {
    auto size = r_.service_.StatBlob(repo, digest);
    if (!size) {
      if (size.error().code == Code::kNotFound) return NotFound("blob not held");
      return ErrorResponse(500, "Internal", size.error().message);
    }
    std::function<std::optional<std::string>(const Digest&)> fault;
    {
      std::lock_guard lock(r_.mu_);
      fault = r_.blob_fault_;
    }
    if (fault) {
      if (auto bytes = fault(digest)) {
        return http::Response::Text(200, "application/octet-stream", std::move(*bytes));
      }
    }
    auto file = r_.service_.OpenBlob(digest);
    if (!file) return ErrorResponse(500, "Internal", file.error().message);
    http::Response response;
    response.headers.Set("Content-Type", "application/octet-stream");
    response.body = http::FileBody{std::move(file->fd), 0, file->size, file->stream};
    return response;
  }

  Replicator& r_;
};

// ---- lifetime ----

Replicator::Replicator(registry::RepositoryService& service, const Clock& clock,
                       ReplicatorOptions options, std::unique_ptr<Journal> journal)
    : service_(service),
      clock_(clock),
      options_(std::move(options)),
      journal_(std::move(journal)),
      handler_(std::make_unique<Handler>(*this)),
      live_(std::make_shared<Liveness>()),
      hlc_(clock, options_.region),
      backbone_key_(options_.backbone_key) {}

Result<std::unique_ptr<Replicator>> Replicator::Open(registry::RepositoryService& service,
                                                     const Clock& clock,
                                                     ReplicatorOptions options) {
  if (options.region.empty()) return Fail(Code::kInvalidArgument, "replication needs a region");
  COVE_ASSIGN_OR_RETURN(auto journal, Journal::Open(options.journal_path));
  COVE_ASSIGN_OR_RETURN(auto max, journal->MaxHlc());
  std::unique_ptr<Replicator> r(
      new Replicator(service, clock, std::move(options), std::move(journal)));
  if (max) r->hlc_.Observe(*max);
  r->live_->replicator = r.get();
  r->waiter_thread_ = std::thread([raw = r.get()] { raw->WaiterLoop(); });
  service.Subscribe(r.get());
  return r;
}

Replicator::~Replicator() {
  Stop();
  service_.Unsubscribe(this);
}

void Replicator::Stop() {
  {
    std::unique_lock lock(live_->mu);
    live_->replicator = nullptr;
  }
  std::map<std::string, std::shared_ptr<PeerState>> peers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [region, peer] : peers) {
    {
      std::lock_guard lock(peer->mu);
      peer->stop = true;
      if (peer->active != nullptr) peer->active->Abort();
    }
    peer->cv.notify_all();
  }
  for (auto& [region, peer] : peers) {
    if (peer->thread.joinable()) peer->thread.join();
  }
  {
    std::lock_guard lock(waiters_mu_);
    waiters_stop_ = true;
  }
  waiters_cv_.notify_all();
  if (waiter_thread_.joinable()) waiter_thread_.join();
}

http::Handler& Replicator::handler() { return *handler_; }

void Replicator::SetBackboneKey(std::string key) {
  std::lock_guard lock(mu_);
  backbone_key_ = std::move(key);
}

void Replicator::SetBlobFaultForTesting(
    std::function<std::optional<std::string>(const Digest&)> fault) {
  std::lock_guard lock(mu_);
  blob_fault_ = std::move(fault);
}

bool Replicator::CheckKey(std::string_view authorization) const {
  std::string key;
  {
    std::lock_guard lock(mu_);
    key = backbone_key_;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (key.empty() || !authorization.starts_with(kBearer)) return false;
  authorization.remove_prefix(kBearer.size());
  // Hashes have one length, so the comparison takes the same time whatever was sent.
  std::string want = Digest::Of(key).hex();
  std::string got = Digest::Of(authorization).hex();
  return CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
}

// ---- registries and peers ----

bool Replicator::RegionHolds(const std::string& region, const std::string& registry) const {
  std::lock_guard lock(mu_);
  auto it = registries_.find(registry);
  if (it == registries_.end()) return false;
  return std::find(it->second.begin(), it->second.end(), region) != it->second.end();
}

bool Replicator::Holds(const std::string& registry) const {
  return RegionHolds(options_.region, registry);
}

void Replicator::SetRegistries(std::map<std::string, std::vector<std::string>> registries) {
  std::vector<std::string> fresh;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, regions] : registries) {
      bool held = std::find(regions.begin(), regions.end(), options_.region) != regions.end();
      auto old = registries_.find(name);
      bool was = old != registries_.end() && std::find(old->second.begin(), old->second.end(),
                                                       options_.region) != old->second.end();
      if (held && !was) fresh.push_back(name);
    }
    registries_ = std::move(registries);
  }
  if (!fresh.empty()) {
    if (auto reconciled = Reconcile(fresh); !reconciled) {
      spdlog::warn("replication {}: reconcile: {}", options_.region, reconciled.error().message);
    }
  }
}

void Replicator::SetPeers(std::vector<Peer> peers) {
  std::vector<std::shared_ptr<PeerState>> removed;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    std::map<std::string, Peer> wanted;
    for (auto& p : peers) {
      if (p.region != options_.region) wanted[p.region] = std::move(p);
    }
    for (auto it = peers_.begin(); it != peers_.end();) {
      if (wanted.count(it->first) == 0) {
        removed.push_back(it->second);
        it = peers_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [region, config] : wanted) {
      auto it = peers_.find(region);
      if (it != peers_.end()) {
        PeerState& state = *it->second;
        std::lock_guard peer_lock(state.mu);
        if (state.config.address != config.address || state.config.port != config.port ||
            state.config.server_name != config.server_name) {
          state.config = config;
          ++state.generation;
          if (state.active != nullptr) state.active->Abort();
        }
        continue;
      }
      auto state = std::make_shared<PeerState>();
      state->config = config;
      peers_[region] = state;
      state->thread = std::thread([this, state] { PullLoop(state); });
    }
  }
  for (auto& state : removed) {
    {
      std::lock_guard lock(state->mu);
      state->stop = true;
      if (state->active != nullptr) state->active->Abort();
    }
    state->cv.notify_all();
    if (state->thread.joinable()) state->thread.join();
  }
}

std::vector<PeerStatus> Replicator::Statuses() const {
  std::vector<PeerStatus> out;
  int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count();
  std::lock_guard lock(mu_);
  for (const auto& [region, state] : peers_) {
    std::lock_guard peer_lock(state->mu);
    PeerStatus s;
    s.region = region;
    s.cursor = state->cursor;
    s.head = state->head;
    s.lag_entries = std::max<int64_t>(0, state->head - state->cursor);
    s.lag_ms = state->oldest_unapplied_ms > 0
                   ? std::max<int64_t>(0, now_ms - state->oldest_unapplied_ms)
                   : 0;
    s.last_success = state->last_success;
    if (state->failures >= options_.failed_after) {
      s.state = PeerStatus::State::kFailed;
      s.message = state->message;
    } else if (state->polled && state->failures == 0 && state->cursor >= state->head) {
      s.state = PeerStatus::State::kReady;
    } else {
      s.state = PeerStatus::State::kSyncing;
      s.message = state->message;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// ---- local writes ----

void Replicator::OnRepositoryEvent(const RepositoryEvent& event) {
  if (t_applying) return;
  Entry e;
  e.registry = event.repo.registry;
  e.repository = event.repo.repository;
  e.digest = event.digest.empty() ? std::string() : event.digest.str();
  e.size = event.size;
  e.media_type = event.media_type;
  e.tag = event.tag;
  if (event.kind == RepositoryEvent::Kind::kRegistryDeleted) {
    if (auto forgot = journal_->ForgetRegistry(event.repo.registry); !forgot) {
      spdlog::error("replication {}: forgetting registry {}: {}", options_.region,
                    event.repo.registry, forgot.error().message);
    }
    return;
  }
  static const std::map<RepositoryEvent::Kind, EntryKind> kKinds = {
      {RepositoryEvent::Kind::kBlobLinked, EntryKind::kBlobLinked},
      {RepositoryEvent::Kind::kBlobUnlinked, EntryKind::kBlobUnlinked},
      {RepositoryEvent::Kind::kManifestPut, EntryKind::kManifestPut},
      {RepositoryEvent::Kind::kManifestDeleted, EntryKind::kManifestDeleted},
      {RepositoryEvent::Kind::kTagSet, EntryKind::kTagSet},
      {RepositoryEvent::Kind::kTagDeleted, EntryKind::kTagDeleted},
  };
  auto kind = kKinds.find(event.kind);
  if (kind == kKinds.end()) return;
  e.kind = kind->second;
  RecordLocal(std::move(e));
}

void Replicator::RecordLocal(Entry entry) {
  {
    std::lock_guard lock(clock_mu_);
    entry.hlc = hlc_.Now();
    // Under the clock's lock: this region's entries are journaled in HLC order.
    if (auto recorded = journal_->Record(entry); !recorded) {
      spdlog::error("replication {}: journaling {} {}/{}: {}", options_.region,
                    EntryKindName(entry.kind), entry.registry, entry.repository,
                    recorded.error().message);
      return;
    }
  }
  NotifyWaiters();
}

Status Replicator::Reconcile(const std::vector<std::string>& registries) {
  for (const std::string& registry : registries) {
    COVE_ASSIGN_OR_RETURN(auto repos, service_.ListRepositories(registry, {}));
    for (const std::string& repository : repos) {
      storage::RepoKey repo{registry, repository};
      auto tags = service_.ListTags(repo, {});
      if (!tags) {
        if (tags.error().code == Code::kNotFound) continue;
        return Fail(std::move(tags).error());
      }
      for (const std::string& tag : *tags) {
        auto digest = service_.ResolveTag(repo, tag);
        if (!digest) continue;  // deleted meanwhile
        COVE_ASSIGN_OR_RETURN(auto manifest_reg, journal_->Get(RegisterKind::kManifest, registry,
                                                               repository, digest->str()));
        if (!manifest_reg) {
          auto content = service_.GetManifest(repo, *digest);
          if (content) {
            Entry put{0,
                      {},
                      EntryKind::kManifestPut,
                      registry,
                      repository,
                      "",
                      digest->str(),
                      content->media_type,
                      content->bytes.size()};
            RecordLocal(std::move(put));
          }
        }
        COVE_ASSIGN_OR_RETURN(auto reg,
                              journal_->Get(RegisterKind::kTag, registry, repository, tag));
        if (reg && !reg->deleted && reg->digest == digest->str()) continue;
        spdlog::info("replication {}: journaling unrecorded tag {}/{}:{}", options_.region,
                     registry, repository, tag);
        RecordLocal(
            Entry{0, {}, EntryKind::kTagSet, registry, repository, tag, digest->str(), "", 0});
      }
    }
  }
  return Ok();
}

// ---- long polls ----

uint64_t Replicator::WaiterGeneration() {
  std::lock_guard lock(waiters_mu_);
  return waiter_generation_;
}

bool Replicator::AddWaiter(uint64_t generation, SteadyClock::time_point deadline,
                           std::function<void()> ready) {
  {
    std::lock_guard lock(waiters_mu_);
    if (generation != waiter_generation_ || waiters_stop_) return false;
    waiters_.push_back(Waiter{deadline, std::move(ready)});
  }
  waiters_cv_.notify_all();
  return true;
}

void Replicator::NotifyWaiters() {
  std::vector<Waiter> fire;
  {
    std::lock_guard lock(waiters_mu_);
    ++waiter_generation_;
    fire.swap(waiters_);
  }
  for (auto& w : fire) w.ready();
}

void Replicator::WaiterLoop() {
  std::unique_lock lock(waiters_mu_);
  while (true) {
    if (waiters_stop_) break;
    auto now = SteadyClock::now();
    std::vector<Waiter> fire;
    auto earliest = SteadyClock::time_point::max();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->deadline <= now) {
        fire.push_back(std::move(*it));
        it = waiters_.erase(it);
      } else {
        earliest = std::min(earliest, it->deadline);
        ++it;
      }
    }
    if (!fire.empty()) {
      lock.unlock();
      for (auto& w : fire) w.ready();
      lock.lock();
      continue;
    }
    if (earliest == SteadyClock::time_point::max()) {
      waiters_cv_.wait(lock);
    } else {
      waiters_cv_.wait_until(lock, earliest);
    }
  }
  std::vector<Waiter> fire;
  fire.swap(waiters_);
  lock.unlock();
  for (auto& w : fire) w.ready();
}

// ---- pulling ----

void Replicator::PullLoop(std::shared_ptr<PeerState> peer) {
  std::string region;
  {
    std::lock_guard lock(peer->mu);
    region = peer->config.region;
  }
  while (true) {
    auto cursor = journal_->Cursor(region);
    if (cursor) {
      std::lock_guard lock(peer->mu);
      peer->cursor = *cursor;
      break;
    }
    if (!peer->Sleep(options_.retry_max)) return;
  }
  std::unique_ptr<BackboneClient> client;
  uint64_t generation = 0;
  auto backoff = options_.retry_initial;
  while (true) {
    // Read before peer->mu: the lock order is mu_, then a peer's mu (SetPeers, Statuses).
    const std::string key = CurrentKey();
    {
      std::lock_guard lock(peer->mu);
      if (peer->stop) break;
      if (!client || generation != peer->generation) {
        peer->active = nullptr;
        client = std::make_unique<BackboneClient>(
            PeerEndpoint{peer->config.address, peer->config.port, peer->config.server_name},
            ClientOptions{options_.ca_pem, key});
        generation = peer->generation;
        peer->active = client.get();
      }
    }
    Status pulled = PullOnce(*peer, *client);
    if (pulled) {
      backoff = options_.retry_initial;
      continue;
    }
    {
      std::lock_guard lock(peer->mu);
      if (peer->stop) break;
      ++peer->failures;
      peer->message = pulled.error().message;
      // A client that failed starts over (a new connection, the current key).
      ++peer->generation;
    }
    spdlog::debug("replication {} <- {}: {}", options_.region, region, pulled.error().message);
    if (!peer->Sleep(backoff)) break;
    backoff = std::min(backoff * 2, options_.retry_max);
  }
  std::lock_guard lock(peer->mu);
  peer->active = nullptr;
}

std::string Replicator::CurrentKey() const {
  std::lock_guard lock(mu_);
  return backbone_key_;
}

Status Replicator::PullOnce(PeerState& peer, BackboneClient& client) {
  std::string region;
  int64_t cursor = 0;
  {
    std::lock_guard lock(peer.mu);
    region = peer.config.region;
    cursor = peer.cursor;
  }
  std::string target = std::string(kPrefix) + "changes?after=" + std::to_string(cursor) +
                       "&limit=" + std::to_string(options_.batch_limit) +
                       "&wait=" + std::to_string(options_.poll_wait.count()) +
                       "&region=" + options_.region;
  COVE_ASSIGN_OR_RETURN(
      ClientResponse response,
      client.Send("GET", target, options_.poll_wait + options_.request_timeout, 64 << 20));
  if (response.status != 200) return Unavailable("changes from " + region, response);
  int64_t head = 0, next = 0;
  std::vector<Entry> entries;
  try {
    json body = json::parse(response.body);
    head = body.at("head").get<int64_t>();
    next = body.at("next").get<int64_t>();
    for (const json& j : body.at("entries")) {
      COVE_ASSIGN_OR_RETURN(Entry e, ParseEntry(j));
      entries.push_back(std::move(e));
    }
  } catch (const json::exception& ex) {
    return Fail(Code::kUnavailable, "changes from " + region + ": " + ex.what());
  }
  // A manifest put that ends a partial batch waits for the next one, where the tag entry that
  // usually follows it can be applied with it (Apply: one put, one event).
  if (entries.size() > 1 && entries.back().kind == EntryKind::kManifestPut &&
      head > entries.back().seq) {
    next = entries.back().seq - 1;
    entries.pop_back();
  }
  {
    std::lock_guard lock(peer.mu);
    peer.head = head;
    peer.polled = true;
    peer.oldest_unapplied_ms = entries.empty() ? 0 : entries.front().hlc.ms;
  }
  if (!entries.empty() && options_.apply_delay.count() > 0) {
    if (!peer.Sleep(options_.apply_delay)) return Ok();
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (peer.stopped()) return Ok();
    const Entry* next_entry = i + 1 < entries.size() ? &entries[i + 1] : nullptr;
    COVE_RETURN_IF_ERROR(ApplyRemote(entries[i], client, &region, next_entry));
    std::lock_guard lock(peer.mu);
    peer.cursor = entries[i].seq;
    peer.oldest_unapplied_ms = i + 1 < entries.size() ? entries[i + 1].hlc.ms : 0;
  }
  if (next > cursor) {
    bool advance = false;
    {
      std::lock_guard lock(peer.mu);
      advance = next > peer.cursor;
    }
    if (advance) COVE_RETURN_IF_ERROR(journal_->SetCursor(region, next));
  }
  std::lock_guard lock(peer.mu);
  peer.cursor = std::max(peer.cursor, next);
  peer.failures = 0;
  peer.message.clear();
  peer.last_success = clock_.Now();
  return Ok();
}

Status Replicator::ApplyRemote(const Entry& entry, BackboneClient& client, const std::string* peer,
                               const Entry* next) {
  auto skip = [&]() -> Status {
    if (peer == nullptr) return Ok();
    return journal_->SetCursor(*peer, entry.seq);
  };
  if (entry.hlc.origin == options_.region || !Holds(entry.registry)) return skip();
  COVE_ASSIGN_OR_RETURN(bool seen, journal_->Has(entry.hlc));
  if (seen) return skip();
  {
    std::lock_guard lock(clock_mu_);
    hlc_.Observe(entry.hlc);
  }
  COVE_RETURN_IF_ERROR(Apply(entry, client, next));
  COVE_RETURN_IF_ERROR(journal_->Record(entry, peer, entry.seq));
  NotifyWaiters();
  return Ok();
}

// ---- applying ----

Status Replicator::Apply(const Entry& e, BackboneClient& client, const Entry* next) {
  ApplyingScope applying;
  storage::RepoKey repo{e.registry, e.repository};
  RegisterKind register_kind = RegisterKind::kBlob;
  std::string name = e.digest;
  switch (e.kind) {
    case EntryKind::kTagSet:
    case EntryKind::kTagDeleted:
      register_kind = RegisterKind::kTag;
      name = e.tag;
      break;
    case EntryKind::kManifestPut:
    case EntryKind::kManifestDeleted:
      register_kind = RegisterKind::kManifest;
      break;
    default:
      break;
  }
  COVE_ASSIGN_OR_RETURN(auto reg, journal_->Get(register_kind, e.registry, e.repository, name));
  bool newer = !reg || e.hlc > reg->hlc;
  if (!newer && e.kind != EntryKind::kManifestPut) return Ok();
  auto ignore_missing = [](Status s) -> Status {
    if (!s && s.error().code == Code::kNotFound) return Ok();
    return s;
  };
  // kNotFound from a peer: it no longer holds what the entry names; a later entry says why.
  auto gone_ok = [&](Status s) -> Status {
    if (!s && s.error().code == Code::kNotFound) {
      spdlog::info("replication {}: {} {}/{} {}: {}", options_.region, EntryKindName(e.kind),
                   e.registry, e.repository, e.tag.empty() ? e.digest : e.tag, s.error().message);
      return Ok();
    }
    return s;
  };
  if (e.kind == EntryKind::kTagSet || e.kind == EntryKind::kTagDeleted) {
    if (e.kind == EntryKind::kTagDeleted) return ignore_missing(service_.DeleteTag(repo, e.tag));
    auto digest = Digest::Parse(e.digest);
    if (!digest) return Fail(Code::kInvalidArgument, "entry digest: " + digest.error().message);
    return gone_ok(PointTag(repo, e.tag, *digest, client));
  }
  if (e.kind == EntryKind::kManifestDeleted || e.kind == EntryKind::kBlobUnlinked) {
    auto digest = Digest::Parse(e.digest);
    if (!digest) return Fail(Code::kInvalidArgument, "entry digest: " + digest.error().message);
    return ignore_missing(e.kind == EntryKind::kManifestDeleted
                              ? service_.DeleteManifest(repo, *digest)
                              : service_.UnlinkBlob(repo, *digest));
  }
  auto digest = Digest::Parse(e.digest);
  if (!digest) return Fail(Code::kInvalidArgument, "entry digest: " + digest.error().message);
  if (e.kind == EntryKind::kManifestPut) {
    // A newer tombstone wins over this (older) put.
    if (reg && reg->deleted && !newer) return Ok();
    // A push is a manifest put followed by its tag: when the tag entry comes next and will
    // win, the manifest is stored with its tag at once (one put, one event, as in the origin).
    std::optional<std::string> tag;
    if (next != nullptr && next->kind == EntryKind::kTagSet && next->hlc.origin == e.hlc.origin &&
        next->registry == e.registry && next->repository == e.repository &&
        next->digest == e.digest) {
      COVE_ASSIGN_OR_RETURN(auto tag_reg,
                            journal_->Get(RegisterKind::kTag, e.registry, e.repository, next->tag));
      if (!tag_reg || next->hlc > tag_reg->hlc) tag = next->tag;
    }
    return gone_ok(EnsureManifest(repo, *digest, client, 0, tag));
  }
  return gone_ok(EnsureBlob(repo, *digest, client));
}

Status Replicator::PointTag(const storage::RepoKey& repo, const std::string& tag,
                            const Digest& digest, BackboneClient& client) {
  auto current = service_.ResolveTag(repo, tag);
  if (current && *current == digest) return Ok();
  COVE_RETURN_IF_ERROR(EnsureManifest(repo, digest, client, 0));
  COVE_ASSIGN_OR_RETURN(auto content, service_.GetManifest(repo, digest));
  auto parsed = oci::ParseManifest(content.bytes, content.media_type);
  if (!parsed) return Fail(Code::kCorruption, "stored manifest: " + parsed.error().message);
  return service_.PutManifest(repo, *parsed, digest, std::move(content.bytes), tag);
}

Status Replicator::EnsureManifest(const storage::RepoKey& repo, const Digest& digest,
                                  BackboneClient& client, int depth,
                                  const std::optional<std::string>& tag) {
  if (depth > kMaxIndexDepth) {
    return Fail(Code::kInvalidArgument, "index nesting deeper than " +
                                            std::to_string(kMaxIndexDepth) + " at " + digest.str());
  }
  if (service_.GetManifest(repo, digest)) return Ok();
  std::string what = "manifest " + repo.registry + "/" + repo.repository + "@" + digest.str();
  COVE_ASSIGN_OR_RETURN(ClientResponse response,
                        client.Send("GET", ContentPath("manifests", repo, digest.str()),
                                    options_.request_timeout, oci::kMaxManifestSize));
  if (response.status == 404) return Fail(Code::kNotFound, what + " is not held by the peer");
  if (response.status != 200) return Unavailable(what, response);
  if (Digest::Of(response.body, digest.algorithm()) != digest) {
    return Fail(Code::kUnavailable, what + ": the peer sent bytes of another digest");
  }
  std::string media_type = response.headers["content-type"];
  auto parsed = oci::ParseManifest(response.body, media_type);
  if (!parsed) return Fail(Code::kCorruption, what + ": " + parsed.error().message);
  for (const auto& child : parsed->manifests) {
    COVE_RETURN_IF_ERROR(EnsureManifest(repo, child.digest, client, depth + 1));
  }
  std::vector<Digest> blobs;
  if (parsed->config) blobs.push_back(parsed->config->digest);
  for (const auto& layer : parsed->layers) {
    if (!oci::IsForeignLayer(layer.media_type)) blobs.push_back(layer.digest);
  }
  for (const Digest& blob : blobs) COVE_RETURN_IF_ERROR(EnsureBlob(repo, blob, client));
  return service_.PutManifest(repo, *parsed, digest, std::move(response.body), tag);
}

Status Replicator::EnsureBlob(const storage::RepoKey& repo, const Digest& digest,
                              BackboneClient& client) {
  if (service_.StatBlob(repo, digest)) return Ok();
  std::string what = "blob " + repo.registry + "/" + repo.repository + "@" + digest.str();
  COVE_ASSIGN_OR_RETURN(registry::UploadSession session, service_.StartUpload(repo));
  auto fetched =
      client.Stream(ContentPath("blobs", repo, digest.str()), options_.request_timeout,
                    [&](std::string_view piece) { return session.upload->Append(piece); });
  auto discard = [&] {
    session.upload.reset();
    service_.DiscardUpload(session.record.id);
  };
  if (!fetched) {
    discard();
    return Fail(std::move(fetched).error());
  }
  if (fetched->status != 200) {
    discard();
    if (fetched->status == 404) return Fail(Code::kNotFound, what + " is not held by the peer");
    return Unavailable(what, *fetched);
  }
  auto committed = service_.CommitUpload(session.record, session.upload, digest);
  if (!committed) {
    discard();
    if (committed.error().code == Code::kInvalidArgument) {
      return Fail(Code::kUnavailable,
                  what + ": transfer failed verification: " + committed.error().message);
    }
    return Fail(std::move(committed).error());
  }
  return Ok();
}

// ---- ContentSource ----

std::vector<std::pair<Peer, std::unique_ptr<BackboneClient>>> Replicator::ReachablePeers() {
  std::vector<std::pair<Peer, std::unique_ptr<BackboneClient>>> out;
  auto now = SteadyClock::now();
  std::lock_guard lock(mu_);
  for (const auto& [region, state] : peers_) {
    auto down = down_until_.find(region);
    if (down != down_until_.end() && down->second > now) continue;
    Peer config;
    {
      std::lock_guard peer_lock(state->mu);
      config = state->config;
    }
    auto client = std::make_unique<BackboneClient>(
        PeerEndpoint{config.address, config.port, config.server_name},
        ClientOptions{options_.ca_pem, backbone_key_});
    out.emplace_back(std::move(config), std::move(client));
  }
  return out;
}

void Replicator::MarkDown(const std::string& region) {
  std::lock_guard lock(mu_);
  down_until_[region] = SteadyClock::now() + options_.down_for;
}

Status Replicator::RefreshTag(const storage::RepoKey& repo, const std::string& tag) {
  if (!Holds(repo.registry) || !PlainName(repo.repository) || !PlainName(tag)) return Ok();
  auto peers = ReachablePeers();
  std::vector<std::optional<Register>> answers(peers.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < peers.size(); ++i) {
    threads.emplace_back([&, i] {
      auto response =
          peers[i].second->Send("GET", ContentPath("tags", repo, tag), options_.source_timeout);
      if (!response) {
        MarkDown(peers[i].first.region);
        return;
      }
      if (response->status != 200) return;
      try {
        json body = json::parse(response->body);
        const json& h = body.at("hlc");
        Register reg;
        reg.hlc = Hlc{h.at("ms").get<int64_t>(), h.at("logical").get<int64_t>(),
                      h.at("origin").get<std::string>()};
        reg.deleted = body.value("deleted", false);
        if (!reg.deleted) reg.digest = body.at("digest").get<std::string>();
        answers[i] = std::move(reg);
      } catch (const json::exception&) {
      }
    });
  }
  for (auto& t : threads) t.join();
  std::optional<size_t> best;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i] && (!best || answers[i]->hlc > answers[*best]->hlc)) best = i;
  }
  if (!best) return Ok();
  const Register& newest = *answers[*best];
  Entry entry{0,
              newest.hlc,
              newest.deleted ? EntryKind::kTagDeleted : EntryKind::kTagSet,
              repo.registry,
              repo.repository,
              tag,
              newest.digest,
              "",
              0};
  // The peer's copy may be older than ours, or one we already applied: ApplyRemote compares.
  Status applied = ApplyRemote(entry, *peers[*best].second, nullptr, nullptr);
  if (!applied && applied.error().code != Code::kNotFound) {
    return Fail(Code::kUnavailable, "refreshing tag " + tag + " from " + peers[*best].first.region +
                                        ": " + applied.error().message);
  }
  return Ok();
}

Status Replicator::FetchManifest(const storage::RepoKey& repo, const Digest& digest) {
  if (!Holds(repo.registry) || !PlainName(repo.repository)) {
    return Fail(Code::kNotFound, "no region holds the manifest");
  }
  ApplyingScope applying;
  return FromPeers([&](BackboneClient& client) { return EnsureManifest(repo, digest, client, 0); });
}

Status Replicator::FetchBlob(const storage::RepoKey& repo, const Digest& digest) {
  if (!Holds(repo.registry) || !PlainName(repo.repository)) {
    return Fail(Code::kNotFound, "no region holds the blob");
  }
  ApplyingScope applying;
  return FromPeers([&](BackboneClient& client) { return EnsureBlob(repo, digest, client); });
}

Status Replicator::FromPeers(const std::function<Status(BackboneClient&)>& fetch) {
  std::optional<Error> failure;
  for (auto& [peer, client] : ReachablePeers()) {
    Status got = fetch(*client);
    if (got) return Ok();
    if (got.error().code == Code::kNotFound) continue;
    if (got.error().code == Code::kUnavailable) MarkDown(peer.region);
    failure = Error{Code::kUnavailable, peer.region + ": " + got.error().message};
  }
  if (failure) return Fail(std::move(*failure));
  return Fail(Code::kNotFound, "no reachable region holds it");
}

std::optional<std::string> Replicator::RegionHolding(const storage::RepoKey& repo,
                                                     const Digest& digest) {
  if (!Holds(repo.registry) || !PlainName(repo.repository)) return std::nullopt;
  for (auto& [peer, client] : ReachablePeers()) {
    auto response =
        client->Send("HEAD", ContentPath("blobs", repo, digest.str()), options_.source_timeout);
    if (!response) {
      MarkDown(peer.region);
      continue;
    }
    if (response->status == 200) return peer.region;
  }
  return std::nullopt;
}

}  // namespace cove::replication
