// Replication between region nodes in one process: each region has its own stores,
// RepositoryService, Replicator and TLS server on 127.0.0.1:0; the regions pull each other's
// journals over the backbone protocol. No sleeps: every wait polls a condition with a deadline.
#include "replication/replicator.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "http/server.h"
#include "http/tls.h"
#include "oci/manifest.h"
#include "registry/repository_service.h"
#include "storage/filesystem_blob_store.h"
#include "storage/sqlite_meta_store.h"
#include "support/temp_dir.h"

namespace cove::replication {
namespace {

using ::cove::testing::TempDir;
using Kind = registry::RepositoryEvent::Kind;

constexpr char kRegistry[] = "reg";
constexpr char kKey[] = "00112233445566778899aabbccddeeff";

// Polls `done` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A port nothing listens on (bound, then closed).
uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Forwards to the current Replicator's handler (503 while there is none), so a region keeps
// its port across a replicator restart.
class SwitchHandler final : public http::Handler {
 public:
  void Set(http::Handler* h) {
    std::lock_guard lock(mu_);
    inner_ = h;
  }
  http::ExchangePtr Start(http::Request request) override {
    std::lock_guard lock(mu_);
    if (inner_ == nullptr) return http::Respond(http::Response::Text(503, "text/plain", "down"));
    return inner_->Start(std::move(request));
  }

 private:
  std::mutex mu_;
  http::Handler* inner_ = nullptr;
};

// Counts events per (kind, digest) to catch content applied twice.
class Recorder final : public registry::RepositoryObserver {
 public:
  void OnRepositoryEvent(const registry::RepositoryEvent& e) override {
    std::lock_guard lock(mu_);
    ++counts_[{e.kind, e.digest.str() + e.tag}];
  }
  int Count(Kind kind, const std::string& key) {
    std::lock_guard lock(mu_);
    return counts_[{kind, key}];
  }
  int MaxCount(Kind kind) {
    std::lock_guard lock(mu_);
    int max = 0;
    for (const auto& [k, n] : counts_) {
      if (k.first == kind) max = std::max(max, n);
    }
    return max;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<Kind, std::string>, int> counts_;
};

// What the backbone shares: one CA for every region.
struct Backbone {
  Backbone() {
    auto loaded = http::CertificateAuthority::LoadOrCreate(dir.Join("ca"), clock);
    EXPECT_TRUE(loaded) << loaded.error().ToString();
    ca = std::move(*loaded);
  }
  TempDir dir;
  SystemClock clock;
  std::unique_ptr<http::CertificateAuthority> ca;
};

struct Region {
  Region(Backbone& backbone, std::string region_name, ReplicatorOptions extra = {})
      : name(std::move(region_name)), options(std::move(extra)) {
    auto b = storage::FilesystemBlobStore::Open(dir.Join("blobs"), backbone.clock);
    EXPECT_TRUE(b) << b.error().ToString();
    blobs = std::move(*b);
    auto m = storage::SqliteMetaStore::Open(dir.Join("meta.db"));
    EXPECT_TRUE(m) << m.error().ToString();
    meta = std::move(*m);
    service = std::make_unique<registry::RepositoryService>(*blobs, *meta, backbone.clock);
    service->Subscribe(&recorder);
    tls = std::make_unique<http::SniContextProvider>(
        *backbone.ca, dir.Join("hosts"), backbone.clock, [](std::string_view) { return true; },
        "127.0.0.1");
    server = std::make_unique<http::Server>(switcher, tls.get());
    http::ListenerOptions listener;
    listener.tls = true;
    auto p = server->Listen(listener);
    EXPECT_TRUE(p) << p.error().ToString();
    port = *p;
    server->Start();
    options.region = name;
    options.journal_path = dir.Join("journal.db");
    options.backbone_key = kKey;
    options.ca_pem = backbone.ca->CertificatePem();
    if (options.poll_wait == ReplicatorOptions{}.poll_wait) {
      options.poll_wait = std::chrono::milliseconds(500);
    }
    options.retry_max = std::chrono::milliseconds(200);
    StartReplicator(backbone.clock);
  }
  ~Region() {
    StopReplicator();
    server->Stop();
    service->Unsubscribe(&recorder);
  }

  void StartReplicator(const Clock& clock) {
    auto r = Replicator::Open(*service, clock, options);
    ASSERT_TRUE(r) << r.error().ToString();
    replicator = std::move(*r);
    switcher.Set(&replicator->handler());
  }
  void StopReplicator() {
    switcher.Set(nullptr);
    replicator.reset();
  }

  Peer AsPeer() const { return Peer{name, "127.0.0.1", port, ""}; }

  storage::RepoKey Repo(const std::string& repository) const {
    return storage::RepoKey{kRegistry, repository};
  }

  Digest PushBlob(const std::string& repository, const std::string& bytes) {
    auto session = service->StartUpload(Repo(repository));
    EXPECT_TRUE(session) << session.error().ToString();
    EXPECT_TRUE(session->upload->Append(bytes));
    Digest digest = Digest::Of(bytes);
    auto committed = service->CommitUpload(session->record, session->upload, digest);
    EXPECT_TRUE(committed) << committed.error().ToString();
    return digest;
  }

  // Pushes an image (config, one layer, manifest) and tags it; returns the manifest digest.
  Digest PushImage(const std::string& repository, const std::optional<std::string>& tag,
                   const std::string& layer, const std::string& note = "") {
    std::string config = R"({"architecture":"amd64","os":"linux"})";
    Digest c = PushBlob(repository, config);
    Digest l = PushBlob(repository, layer);
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
        c.str() + R"(","size":)" + std::to_string(config.size()) +
        R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
        l.str() + R"(","size":)" + std::to_string(layer.size()) + R"(}],"annotations":{"note":")" +
        note + R"("}})";
    return PutJson(repository, tag, json, oci::kOciManifest);
  }

  Digest PutJson(const std::string& repository, const std::optional<std::string>& tag,
                 const std::string& json, std::string_view media_type) {
    auto parsed = oci::ParseManifest(json, media_type);
    EXPECT_TRUE(parsed) << parsed.error().ToString();
    Digest digest = Digest::Of(json);
    auto put = service->PutManifest(Repo(repository), *parsed, digest, json, tag);
    EXPECT_TRUE(put) << put.error().ToString();
    return digest;
  }

  // Pushes an index of `children` (manifests of `repository`) and tags it.
  Digest PushIndex(const std::string& repository, const std::optional<std::string>& tag,
                   const std::vector<Digest>& children) {
    std::string index =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
    for (size_t i = 0; i < children.size(); ++i) {
      auto child = service->GetManifest(Repo(repository), children[i]);
      EXPECT_TRUE(child) << child.error().ToString();
      index += std::string(i == 0 ? "" : ",") +
               R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
               children[i].str() + R"(","size":)" + std::to_string(child->bytes.size()) + "}";
    }
    return PutJson(repository, tag, index + "]}", oci::kOciIndex);
  }

  std::optional<Digest> Tag(const std::string& repository, const std::string& tag) {
    auto d = service->ResolveTag(Repo(repository), tag);
    if (!d) return std::nullopt;
    return *d;
  }
  bool HasManifest(const std::string& repository, const Digest& d) {
    return service->GetManifest(Repo(repository), d).has_value();
  }
  std::optional<std::string> BlobBytes(const std::string& repository, const Digest& d) {
    if (!service->StatBlob(Repo(repository), d)) return std::nullopt;
    auto bytes = blobs->Read(d, 256 << 20);
    if (!bytes) return std::nullopt;
    return *bytes;
  }

  // repository → tag → digest.
  std::map<std::string, std::map<std::string, std::string>> Listing() {
    std::map<std::string, std::map<std::string, std::string>> out;
    auto repos = service->ListRepositories(kRegistry, {});
    if (!repos) return out;
    for (const auto& repo : *repos) {
      auto& tags = out[repo];
      auto listed = service->ListTags(Repo(repo), {});
      if (!listed) continue;
      for (const auto& t : *listed) {
        if (auto d = Tag(repo, t)) tags[t] = d->str();
      }
    }
    return out;
  }

  std::optional<PeerStatus> StatusOf(const std::string& peer) {
    for (auto& s : replicator->Statuses()) {
      if (s.region == peer) return s;
    }
    return std::nullopt;
  }
  bool ReadyFor(const std::string& peer) {
    auto s = StatusOf(peer);
    return s && s->state == PeerStatus::State::kReady;
  }

  std::string name;
  TempDir dir;
  ReplicatorOptions options;
  storage::BlobStorePtr blobs;
  storage::MetaStorePtr meta;
  std::unique_ptr<registry::RepositoryService> service;
  Recorder recorder;
  std::unique_ptr<http::SniContextProvider> tls;
  SwitchHandler switcher;
  std::unique_ptr<http::Server> server;
  uint16_t port = 0;
  std::unique_ptr<Replicator> replicator;
};

// Both regions hold the registry and pull each other.
void Pair(Region& a, Region& b) {
  std::map<std::string, std::vector<std::string>> registries{{kRegistry, {a.name, b.name}}};
  a.replicator->SetRegistries(registries);
  b.replicator->SetRegistries(registries);
  a.replicator->SetPeers({b.AsPeer()});
  b.replicator->SetPeers({a.AsPeer()});
}

std::string Layer(size_t size, char seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(seed + i * 31 + (i >> 10));
  return out;
}

TEST(HlcTest, OrdersByMillisThenCounterThenRegion) {
  EXPECT_LT((Hlc{1, 9, "z"}), (Hlc{2, 0, "a"}));
  EXPECT_LT((Hlc{2, 0, "z"}), (Hlc{2, 1, "a"}));
  EXPECT_LT((Hlc{2, 1, "eastus"}), (Hlc{2, 1, "westus"}));
  ManualClock clock;
  HybridClock hlc(clock, "eastus");
  Hlc first = hlc.Now();
  Hlc second = hlc.Now();
  EXPECT_LT(first, second);  // same millisecond: the counter moves
  hlc.Observe(Hlc{first.ms + 1000, 7, "westus"});
  Hlc after = hlc.Now();
  EXPECT_GT(after, (Hlc{first.ms + 1000, 7, "westus"}));  // causality: after what it saw
}

class ReplicationTest : public ::testing::Test {
 protected:
  Backbone backbone_;
};

TEST_F(ReplicationTest, PushReplicatesByteIdenticalAndDeletesFollow) {
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  Pair(a, b);
  std::string layer = Layer(3 << 20, 'a');
  Digest manifest = a.PushImage("app", "v1", layer);
  ASSERT_TRUE(WaitFor([&] { return b.Tag("app", "v1") == manifest; }));
  EXPECT_EQ(b.BlobBytes("app", Digest::Of(layer)), layer);
  EXPECT_EQ(b.service->GetManifest(b.Repo("app"), manifest)->bytes,
            a.service->GetManifest(a.Repo("app"), manifest)->bytes);
  EXPECT_EQ(b.service->GetManifest(b.Repo("app"), manifest)->media_type, oci::kOciManifest);
  ASSERT_TRUE(WaitFor([&] { return a.ReadyFor("westus") && b.ReadyFor("eastus"); }));
  EXPECT_EQ(b.StatusOf("eastus")->lag_entries, 0);
  EXPECT_EQ(b.StatusOf("eastus")->lag_ms, 0);
  EXPECT_TRUE(b.StatusOf("eastus")->last_success.has_value());
  // B's own copy is not a local write of B: A sees no echo of it.
  EXPECT_EQ(a.recorder.MaxCount(Kind::kManifestPut), 1);

  ASSERT_TRUE(a.service->DeleteTag(a.Repo("app"), "v1"));
  ASSERT_TRUE(WaitFor([&] { return !b.Tag("app", "v1").has_value(); }));
  EXPECT_TRUE(b.HasManifest("app", manifest));
  ASSERT_TRUE(a.service->DeleteManifest(a.Repo("app"), manifest));
  ASSERT_TRUE(WaitFor([&] { return !b.HasManifest("app", manifest); }));

  // Writes in B replicate to A as well (active-active).
  Digest from_b = b.PushImage("app", "v2", Layer(1000, 'b'));
  ASSERT_TRUE(WaitFor([&] { return a.Tag("app", "v2") == from_b; }));
}

TEST_F(ReplicationTest, BackboneRequestsNeedTheKey) {
  Region a(backbone_, "eastus");
  a.replicator->SetRegistries({{kRegistry, {"eastus", "westus"}}});
  Digest manifest = a.PushImage("app", "v1", "layer");
  std::string path = "/cove/replication/v1/manifests/reg/app/" + manifest.str();
  auto get = [&](const std::string& key, const std::string& target) {
    BackboneClient client(PeerEndpoint{"127.0.0.1", a.port, ""},
                          ClientOptions{backbone_.ca->CertificatePem(), key});
    auto r = client.Send("GET", target, std::chrono::seconds(10));
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : ClientResponse{};
  };
  for (const std::string& key : {std::string(), std::string("wrong")}) {
    for (const std::string& target :
         {path, std::string("/cove/replication/v1/changes?after=0&limit=10&wait=0&region=westus"),
          std::string("/cove/replication/v1/status"),
          std::string("/cove/replication/v1/tags/reg/app/v1")}) {
      ClientResponse r = get(key, target);
      EXPECT_EQ(r.status, 401) << target;
      EXPECT_EQ(r.body.find("schemaVersion"), std::string::npos);
      EXPECT_NE(r.body.find("Unauthorized"), std::string::npos);
    }
  }
  ClientResponse ok = get(kKey, path);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(Digest::Of(ok.body), manifest);
  ClientResponse changes =
      get(kKey, "/cove/replication/v1/changes?after=0&limit=100&wait=0&region=westus");
  ASSERT_EQ(changes.status, 200);
  auto body = nlohmann::json::parse(changes.body);
  EXPECT_EQ(body["entries"].size(), 4u);  // config, layer, manifest, tag
  // A region that does not hold the registry gets none of its entries.
  ClientResponse other =
      get(kKey, "/cove/replication/v1/changes?after=0&limit=100&wait=0&region=brazilsouth");
  EXPECT_EQ(nlohmann::json::parse(other.body)["entries"].size(), 0u);

  // The key is replaced: the old one no longer opens anything.
  a.replicator->SetBackboneKey("ffeeddccbbaa99887766554433221100");
  EXPECT_EQ(get(kKey, path).status, 401);
  EXPECT_EQ(get("ffeeddccbbaa99887766554433221100", path).status, 200);
}

TEST_F(ReplicationTest, ConcurrentWritesAndAPartitionConverge) {
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  Pair(a, b);
  Digest shared = a.PushImage("app", "stable", "shared layer");
  ASSERT_TRUE(WaitFor([&] { return b.Tag("app", "stable") == shared; }));

  // Partition: each region's peer address now leads nowhere.
  a.replicator->SetPeers({Peer{"westus", "127.0.0.1", ClosedPort(), ""}});
  b.replicator->SetPeers({Peer{"eastus", "127.0.0.1", ClosedPort(), ""}});

  Digest x = a.PushImage("app", "latest", "x layer", "x");
  Digest y = b.PushImage("app", "latest", "y layer", "y");
  Digest only_a = a.PushImage("tools", "v1", "tools layer");
  ASSERT_TRUE(b.service->DeleteTag(b.Repo("app"), "stable"));
  Digest re_pushed = b.PushImage("gone", "v1", "gone layer");
  ASSERT_TRUE(b.service->DeleteManifest(b.Repo("gone"), re_pushed));
  auto reg_a = a.replicator->journal().Get(RegisterKind::kTag, kRegistry, "app", "latest");
  auto reg_b = b.replicator->journal().Get(RegisterKind::kTag, kRegistry, "app", "latest");
  ASSERT_TRUE(reg_a && *reg_a && reg_b && *reg_b);
  Digest winner = (*reg_a)->hlc > (*reg_b)->hlc ? x : y;
  Hlc winner_hlc = std::max((*reg_a)->hlc, (*reg_b)->hlc);

  // Neither side sees the other meanwhile, and says so.
  ASSERT_TRUE(WaitFor([&] {
    auto s = a.StatusOf("westus");
    return s && s->state == PeerStatus::State::kFailed && !s->message.empty();
  }));
  EXPECT_EQ(b.Tag("app", "latest"), y);
  EXPECT_EQ(a.Tag("app", "latest"), x);

  // Heal.
  a.replicator->SetPeers({b.AsPeer()});
  b.replicator->SetPeers({a.AsPeer()});
  ASSERT_TRUE(WaitFor([&] {
    return a.ReadyFor("westus") && b.ReadyFor("eastus") && a.Listing() == b.Listing() &&
           a.Tag("app", "latest") == winner;
  }));
  EXPECT_EQ(a.Listing(), b.Listing());
  EXPECT_EQ(b.Tag("app", "latest"), winner);
  EXPECT_FALSE(a.Tag("app", "stable").has_value());  // B's delete is newer than A's push
  EXPECT_EQ(b.Tag("tools", "v1"), only_a);
  for (Region* r : {&a, &b}) {
    EXPECT_TRUE(r->HasManifest("app", x)) << r->name;  // the loser stays, untagged
    EXPECT_TRUE(r->HasManifest("app", y)) << r->name;
    EXPECT_FALSE(r->HasManifest("gone", re_pushed)) << r->name;
    auto reg = r->replicator->journal().Get(RegisterKind::kTag, kRegistry, "app", "latest");
    ASSERT_TRUE(reg && *reg);
    EXPECT_EQ((*reg)->hlc, winner_hlc) << r->name;
  }

  // A re-push after the delete wins over the older tombstone, everywhere.
  Digest again = a.PushImage("gone", "v1", "gone layer");
  EXPECT_EQ(again, re_pushed);
  ASSERT_TRUE(WaitFor([&] { return b.Tag("gone", "v1") == again; }));
  EXPECT_TRUE(b.HasManifest("gone", again));
}

TEST_F(ReplicationTest, SameMillisecondTieGoesToTheRegionName) {
  // Both regions' clocks stand still: equal ms and counters, the region name decides.
  ManualClock frozen;
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  a.StopReplicator();
  b.StopReplicator();
  a.StartReplicator(frozen);
  b.StartReplicator(frozen);
  std::map<std::string, std::vector<std::string>> registries{{kRegistry, {"eastus", "westus"}}};
  a.replicator->SetRegistries(registries);
  b.replicator->SetRegistries(registries);
  Digest x = a.PushImage("app", "t", "x", "x");
  Digest y = b.PushImage("app", "t", "y", "y");
  auto reg_a = a.replicator->journal().Get(RegisterKind::kTag, kRegistry, "app", "t");
  auto reg_b = b.replicator->journal().Get(RegisterKind::kTag, kRegistry, "app", "t");
  ASSERT_EQ((*reg_a)->hlc.ms, (*reg_b)->hlc.ms);
  ASSERT_EQ((*reg_a)->hlc.logical, (*reg_b)->hlc.logical);
  Pair(a, b);
  ASSERT_TRUE(WaitFor([&] { return a.Tag("app", "t") == y && b.Tag("app", "t") == y; }));
  (void)x;
}

// 1000 manifests: about 5 s on a quiet disk (2 s of it the backfill; seeding eastus fsyncs the
// blob store, metadata and journal for every push, so a busy disk makes it slower).
TEST_F(ReplicationTest, ANewReplicaBackfillsEverything) {
  constexpr int kManifests = 1000;
  Region a(backbone_, "eastus");
  a.replicator->SetRegistries({{kRegistry, {"eastus", "westus"}}});
  std::vector<Digest> digests;
  for (int i = 0; i < kManifests; ++i) {
    digests.push_back(a.PushImage("app", "v" + std::to_string(i), "layer", std::to_string(i)));
  }
  auto started = std::chrono::steady_clock::now();
  Region b(backbone_, "westus");
  Pair(a, b);
  ASSERT_TRUE(WaitFor([&] { return b.ReadyFor("eastus"); }, std::chrono::seconds(120)));
  for (int i = 0; i < kManifests; ++i) {
    ASSERT_EQ(b.Tag("app", "v" + std::to_string(i)), digests[i]) << i;
  }
  EXPECT_EQ(a.Listing(), b.Listing());
  std::cout << "backfill of " << kManifests << " manifests: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms\n";
}

TEST_F(ReplicationTest, RestartResumesFromTheCursor) {
  constexpr int kImages = 20;
  Region a(backbone_, "eastus");
  ReplicatorOptions slow;
  slow.batch_limit = 8;
  slow.apply_delay = std::chrono::milliseconds(20);
  Region b(backbone_, "westus", slow);
  std::vector<Digest> digests;
  for (int i = 0; i < kImages; ++i) {
    digests.push_back(a.PushImage("app", "v" + std::to_string(i), Layer(2000, char(i)), ""));
  }
  Pair(a, b);
  ASSERT_TRUE(WaitFor([&] {
    auto s = b.StatusOf("eastus");
    return s && s->cursor > 0;
  }));
  b.StopReplicator();
  int64_t stopped_at = 0;
  {
    auto journal = Journal::Open(b.options.journal_path);
    ASSERT_TRUE(journal) << journal.error().ToString();
    stopped_at = *(*journal)->Cursor("eastus");
  }
  EXPECT_GT(stopped_at, 0);
  EXPECT_LT(stopped_at, *a.replicator->journal().Head()) << "B must stop mid-stream";

  b.StartReplicator(backbone_.clock);
  Pair(a, b);
  ASSERT_TRUE(WaitFor([&] { return b.ReadyFor("eastus"); }));
  for (int i = 0; i < kImages; ++i) {
    EXPECT_EQ(b.Tag("app", "v" + std::to_string(i)), digests[i]) << i;
    EXPECT_EQ(b.recorder.Count(Kind::kManifestPut, digests[i].str()), 1) << i;
    EXPECT_EQ(b.recorder.Count(Kind::kBlobLinked, Digest::Of(Layer(2000, char(i))).str()), 1);
  }
  EXPECT_EQ(b.recorder.MaxCount(Kind::kTagSet), 1);
  EXPECT_GE(*b.replicator->journal().Cursor("eastus"), stopped_at);
}

TEST_F(ReplicationTest, CorruptTransferIsNeverVisibleAndIsRetried) {
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  std::string layer = Layer(100'000, 'c');
  Digest layer_digest = Digest::Of(layer);
  std::atomic<int> served_bad{0};
  a.replicator->SetBlobFaultForTesting([&](const Digest& d) -> std::optional<std::string> {
    if (d != layer_digest) return std::nullopt;
    ++served_bad;
    std::string bad = layer;
    bad[5000] ^= 1;
    return bad;
  });
  Digest manifest = a.PushImage("app", "v1", layer);
  Pair(a, b);
  ASSERT_TRUE(WaitFor([&] {
    auto s = b.StatusOf("eastus");
    return served_bad >= 3 && s && s->state == PeerStatus::State::kFailed &&
           s->message.find("verification") != std::string::npos;
  }));
  EXPECT_FALSE(b.service->StatBlob(b.Repo("app"), layer_digest));
  EXPECT_FALSE(b.blobs->Stat(layer_digest));
  EXPECT_FALSE(b.HasManifest("app", manifest));
  EXPECT_FALSE(b.Tag("app", "v1").has_value());
  EXPECT_GT(b.StatusOf("eastus")->lag_entries, 0);

  a.replicator->SetBlobFaultForTesting(nullptr);
  ASSERT_TRUE(WaitFor([&] { return b.Tag("app", "v1") == manifest; }));
  EXPECT_EQ(b.BlobBytes("app", layer_digest), layer);
  auto uploads = b.blobs->ListUploads();
  ASSERT_TRUE(uploads);
  EXPECT_TRUE(uploads->empty()) << "a failed transfer left its staged bytes";
}

TEST_F(ReplicationTest, ContentSourceReadsThroughBeforeThePullLoop) {
  ReplicatorOptions slow;
  slow.apply_delay = std::chrono::seconds(600);  // B's pull loop never gets to apply
  Region a(backbone_, "eastus"), b(backbone_, "westus", slow);
  Pair(a, b);
  Digest v1 = a.PushImage("app", "latest", "one");
  ASSERT_TRUE(b.replicator->RefreshTag(b.Repo("app"), "latest"));
  EXPECT_EQ(b.Tag("app", "latest"), v1);
  Digest v2 = a.PushImage("app", "latest", "two");
  ASSERT_TRUE(b.replicator->RefreshTag(b.Repo("app"), "latest"));
  EXPECT_EQ(b.Tag("app", "latest"), v2);
  ASSERT_TRUE(a.service->DeleteTag(a.Repo("app"), "latest"));
  ASSERT_TRUE(b.replicator->RefreshTag(b.Repo("app"), "latest"));
  EXPECT_FALSE(b.Tag("app", "latest").has_value());
  // A tag nobody knows: nothing to do.
  EXPECT_TRUE(b.replicator->RefreshTag(b.Repo("app"), "nope"));

  Digest untagged = a.PushImage("tools", std::nullopt, "three");
  EXPECT_FALSE(b.HasManifest("tools", untagged));
  ASSERT_TRUE(b.replicator->FetchManifest(b.Repo("tools"), untagged));
  EXPECT_TRUE(b.HasManifest("tools", untagged));
  EXPECT_EQ(b.BlobBytes("tools", Digest::Of(std::string("three"))), "three");
  auto missing = b.replicator->FetchManifest(b.Repo("tools"), Digest::Of(std::string("none")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kNotFound);

  Digest blob = a.PushBlob("blobs", "only in eastus");
  EXPECT_EQ(b.replicator->RegionHolding(b.Repo("blobs"), blob), "eastus");
  EXPECT_EQ(b.replicator->RegionHolding(b.Repo("blobs"), Digest::Of(std::string("x"))),
            std::nullopt);
  ASSERT_TRUE(b.replicator->FetchBlob(b.Repo("blobs"), blob));

  // An index the region lacks comes with its child manifests and their blobs.
  Digest child1 = a.PushImage("multi", std::nullopt, "c1", "1");
  Digest child2 = a.PushImage("multi", std::nullopt, "c2", "2");
  Digest index = a.PushIndex("multi", std::nullopt, {child1, child2});
  ASSERT_TRUE(b.replicator->FetchManifest(b.Repo("multi"), index));
  EXPECT_TRUE(b.HasManifest("multi", index));
  EXPECT_TRUE(b.HasManifest("multi", child1));
  EXPECT_EQ(b.BlobBytes("multi", Digest::Of(std::string("c2"))), "c2");
  EXPECT_EQ(b.BlobBytes("blobs", blob), "only in eastus");

  // An unreachable peer is skipped within the timeout: the region serves what it has.
  b.replicator->SetPeers({Peer{"eastus", "127.0.0.1", ClosedPort(), ""}});
  EXPECT_TRUE(b.replicator->RefreshTag(b.Repo("app"), "latest"));
  EXPECT_EQ(b.replicator->RegionHolding(b.Repo("blobs"), blob), std::nullopt);
}

TEST_F(ReplicationTest, ReconcileJournalsTagsTheJournalMissed) {
  Region a(backbone_, "eastus");
  // A write made while no replicator watched (a crash between commit and journal append).
  a.StopReplicator();
  Digest lost = a.PushImage("app", "v1", "lost");
  a.StartReplicator(backbone_.clock);
  Region b(backbone_, "westus");
  Pair(a, b);  // SetRegistries reconciles the registry A now holds
  ASSERT_TRUE(WaitFor([&] { return b.Tag("app", "v1") == lost; }));
}

TEST_F(ReplicationTest, StatusEndpointDescribesPeers) {
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  Pair(a, b);
  Digest pushed = a.PushImage("app", "v1", "layer");
  BackboneClient client(PeerEndpoint{"127.0.0.1", b.port, ""},
                        ClientOptions{backbone_.ca->CertificatePem(), kKey});
  nlohmann::json body;
  ASSERT_TRUE(WaitFor([&] {
    if (b.Tag("app", "v1") != pushed) return false;
    auto r = client.Send("GET", "/cove/replication/v1/status", std::chrono::seconds(10));
    if (!r || r->status != 200) return false;
    body = nlohmann::json::parse(r->body);
    return body["peers"].size() == 1 && body["peers"][0]["state"] == "Ready";
  }));
  EXPECT_EQ(body["region"], "westus");
  ASSERT_EQ(body["peers"].size(), 1u);
  EXPECT_EQ(body["peers"][0]["region"], "eastus");
  EXPECT_EQ(body["peers"][0]["state"], "Ready");
  EXPECT_EQ(body["peers"][0]["lagEntries"], 0);
}

TEST_F(ReplicationTest, PeersMustPresentACertificateFromTheCa) {
  Region a(backbone_, "eastus");
  Backbone other;  // another CA
  BackboneClient client(PeerEndpoint{"127.0.0.1", a.port, ""},
                        ClientOptions{other.ca->CertificatePem(), kKey});
  auto r = client.Send("GET", "/cove/replication/v1/status", std::chrono::seconds(10));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
}

TEST_F(ReplicationTest, IndexesAndLargeLayersReplicate) {
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  Pair(a, b);
  std::string big = Layer(64 << 20, 'L');  // streamed in pieces, never whole in the replicator
  Digest amd64 = a.PushImage("multi", std::nullopt, big, "amd64");
  Digest arm64 = a.PushImage("multi", std::nullopt, "small arm layer", "arm64");
  Digest index_digest = a.PushIndex("multi", "latest", {amd64, arm64});
  ASSERT_TRUE(
      WaitFor([&] { return b.Tag("multi", "latest") == index_digest; }, std::chrono::seconds(120)));
  EXPECT_TRUE(b.HasManifest("multi", amd64));
  EXPECT_TRUE(b.HasManifest("multi", arm64));
  auto copied = b.BlobBytes("multi", Digest::Of(big));
  ASSERT_TRUE(copied.has_value());
  EXPECT_TRUE(*copied == big);
}

TEST_F(ReplicationTest, ARemovedPeerIsNoLongerPulled) {
  Region a(backbone_, "eastus"), b(backbone_, "westus");
  Pair(a, b);
  ASSERT_EQ(b.replicator->Statuses().size(), 1u);
  b.replicator->SetPeers({});
  EXPECT_TRUE(b.replicator->Statuses().empty());
  // Its cursor stays: a peer added back resumes where it was.
  Digest pushed = a.PushImage("app", "v1", "layer");
  b.replicator->SetPeers({a.AsPeer()});
  ASSERT_TRUE(WaitFor([&] { return b.Tag("app", "v1") == pushed; }));
}

}  // namespace
}  // namespace cove::replication
