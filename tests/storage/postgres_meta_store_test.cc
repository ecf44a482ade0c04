#include "storage/postgres_meta_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "storage/meta_store_conformance.h"
#include "storage/meta_store_gc_conformance.h"
#include "support/postgres_cluster.h"

namespace cove::storage {
namespace {

using ::cove::testing::PostgresCluster;
using testing::MetaStoreConformance;
using testing::MetaStoreGcConformance;
using namespace std::chrono_literals;

// One cluster for the whole binary, started by the first test that needs it and stopped when
// the binary exits. A machine without PostgreSQL fails these tests (never skips them).
struct Shared {
  std::unique_ptr<PostgresCluster> cluster;
  std::string error;
};

Shared& SharedCluster() {
  static Shared shared = [] {
    Shared s;
    auto started = PostgresCluster::Start();
    if (started) {
      s.cluster = std::move(*started);
    } else {
      s.error = started.error().ToString();
    }
    return s;
  }();
  return shared;
}

// A schema no other test uses.
std::string FreshSchema() {
  static std::atomic<int> next{0};
  return "t" + std::to_string(::getpid()) + "_" + std::to_string(next++);
}

Result<MetaStorePtr> OpenStore(const std::string& schema, const Clock* clock = nullptr,
                               int pool_size = 4) {
  return PostgresMetaStore::Open({SharedCluster().cluster->conninfo(), schema, pool_size, clock});
}

PostgresMetaStore& Pg(MetaStore& store) { return static_cast<PostgresMetaStore&>(store); }

// A plain libpq connection for what the store does not offer (inspecting locks, editing the
// schema version, holding a row lock from outside).
class RawConnection {
 public:
  explicit RawConnection(const std::string& schema)
      : conn_(PQconnectdb(
            (SharedCluster().cluster->conninfo() + " options='-c search_path=" + schema + "'")
                .c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
  }
  ~RawConnection() { PQfinish(conn_); }

  // Runs `sql`; returns the first column of the first row ("" when none).
  std::string Exec(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType status = PQresultStatus(r);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(r);
    std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

// Waits until `n` backends of the cluster wait for a lock (the evidence that a call blocks on
// another transaction's row lock); false after 10 s.
bool WaitForLockWaiters(int n) {
  RawConnection raw("public");
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(5ms)) {
    if (std::stoi(raw.Exec("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock'")) >= n) {
      return true;
    }
  }
  return false;
}

class PostgresHarness final : public testing::MetaStoreHarness {
 public:
  // `clock`: the store's (queue stamps); null for the system clock.
  explicit PostgresHarness(const Clock* clock = nullptr) : schema_(FreshSchema()), clock_(clock) {
    Restart();
  }
  MetaStore& store() override { return *store_; }
  bool Persistent() const override { return true; }
  void Restart() override {
    store_.reset();
    auto opened = OpenStore(schema_, clock_);
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (opened) store_ = std::move(*opened);
  }

 private:
  std::string schema_;
  const Clock* clock_;
  MetaStorePtr store_;
};

std::unique_ptr<testing::MetaStoreHarness> MakePostgres(const Clock* clock) {
  if (SharedCluster().cluster == nullptr) {
    ADD_FAILURE() << "no PostgreSQL: " << SharedCluster().error;
    return nullptr;
  }
  return std::make_unique<PostgresHarness>(clock);
}

const testing::MetaStoreImpl kPostgres{
    "Postgres", [] { return MakePostgres(nullptr); },
    [](const Clock& clock) { return MakePostgres(&clock); }};

INSTANTIATE_TEST_SUITE_P(Postgres, MetaStoreConformance, ::testing::Values(kPostgres),
                         testing::MetaStoreImplName);
INSTANTIATE_TEST_SUITE_P(Postgres, MetaStoreGcConformance, ::testing::Values(kPostgres),
                         testing::MetaStoreImplName);

class PostgresMetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(SharedCluster().cluster, nullptr) << "no PostgreSQL: " << SharedCluster().error;
    auto opened = OpenStore(schema_, &clock_);
    COVE_ASSERT_OK(opened);
    store_ = std::move(*opened);
  }
  PostgresCluster& cluster() { return *SharedCluster().cluster; }
  MetaStore& store() { return *store_; }

  static Digest D(const std::string& seed) { return Digest::Of(seed); }
  ManifestRecord Manifest(const std::string& seed, std::vector<Digest> blobs = {}) {
    ManifestRecord m;
    m.bytes = "{\"seed\":\"" + seed + "\"}";
    m.digest = Digest::Of(m.bytes);
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.blobs = std::move(blobs);
    m.created = clock_.Now();
    return m;
  }

  ManualClock clock_;
  const std::string schema_ = FreshSchema();
  const RepoKey repo_{"reg1", "team/app"};
  MetaStorePtr store_;
};

// ---- opening ----

TEST(PostgresMetaStoreOpenTest, MalformedConnectionStringIsNamed) {
  auto opened = PostgresMetaStore::Open({"host=/tmp bogus_option=1 password=hunter2", "s"});
  COVE_EXPECT_CODE(opened, Code::kInvalidArgument);
  if (!opened) {
    EXPECT_NE(opened.error().message.find("bogus_option"), std::string::npos)
        << opened.error().message;
    EXPECT_EQ(opened.error().message.find("hunter2"), std::string::npos) << opened.error().message;
  }
  COVE_EXPECT_CODE(PostgresMetaStore::Open({"host=/tmp", "Bad-Schema"}), Code::kInvalidArgument);
  COVE_EXPECT_CODE(PostgresMetaStore::Open({"host=/tmp", "s", 0}), Code::kInvalidArgument);
}

TEST(PostgresMetaStoreOpenTest, UnreachableServerIsUnavailableNamingHostAndDatabase) {
  auto opened =
      PostgresMetaStore::Open({"host=/nonexistent-cove-dir port=5999 dbname=cove_meta", "s"});
  COVE_EXPECT_CODE(opened, Code::kUnavailable);
  if (!opened) {
    EXPECT_NE(opened.error().message.find("/nonexistent-cove-dir"), std::string::npos)
        << opened.error().message;
    EXPECT_NE(opened.error().message.find("cove_meta"), std::string::npos)
        << opened.error().message;
  }
}

TEST_F(PostgresMetaStoreTest, CreatesSchemaAtCurrentVersionAndRefusesNewer) {
  RawConnection raw(schema_);
  EXPECT_EQ(raw.Exec("SELECT version FROM cove_schema"),
            std::to_string(PostgresMetaStore::SchemaVersion()));
  // Reopening an up-to-date schema applies nothing and works.
  auto again = OpenStore(schema_);
  COVE_ASSERT_OK(again);
  COVE_EXPECT_OK((*again)->LinkBlob(repo_, D("b"), 1));

  int newer = PostgresMetaStore::SchemaVersion() + 1;
  raw.Exec("UPDATE cove_schema SET version = " + std::to_string(newer));
  auto refused = OpenStore(schema_);
  COVE_EXPECT_CODE(refused, Code::kFailedPrecondition);
  if (!refused) {
    EXPECT_NE(refused.error().message.find("version " + std::to_string(newer)), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find(std::to_string(newer - 1)), std::string::npos)
        << refused.error().message;
  }
}

TEST_F(PostgresMetaStoreTest, NodesStartingAtOnceMigrateOnce) {
  std::string schema = FreshSchema();
  std::vector<std::future<Result<MetaStorePtr>>> opening;
  for (int i = 0; i < 4; ++i) {
    opening.push_back(std::async(std::launch::async, [&] { return OpenStore(schema); }));
  }
  for (auto& f : opening) COVE_EXPECT_OK(f.get());
  RawConnection raw(schema);
  EXPECT_EQ(raw.Exec("SELECT count(*) FROM cove_schema"), "1");
}

// ---- broken connections and a stopped server ----

TEST_F(PostgresMetaStoreTest, DroppedConnectionsAreResetAndTheCallSucceeds) {
  COVE_ASSERT_OK(store().PutManifest(repo_, Manifest("m"), std::string("v1")));
  // Use several pooled connections, then drop them all.
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] { EXPECT_TRUE(store().ResolveTag(repo_, "v1")); });
  }
  for (auto& t : readers) t.join();
  auto killed = cluster().TerminateBackends();
  COVE_ASSERT_OK(killed);
  EXPECT_GE(*killed, 1);
  // Reads and writes each find a dead connection first and retry on a fresh one.
  for (int i = 0; i < 8; ++i) {
    COVE_EXPECT_OK(store().ResolveTag(repo_, "v1"));
    COVE_EXPECT_OK(store().LinkBlob(repo_, D("after" + std::to_string(i)), 1));
  }
  COVE_EXPECT_OK(store().CreateUpload({"u1", repo_, 0, clock_.Now()}));
  COVE_ASSERT_OK(cluster().TerminateBackends());
  COVE_EXPECT_CODE(store().CreateUpload({"u1", repo_, 0, clock_.Now()}), Code::kAlreadyExists);
}

TEST_F(PostgresMetaStoreTest, StoppedServerIsUnavailableAndTheSameStoreServesAfterRestart) {
  COVE_ASSERT_OK(store().PutManifest(repo_, Manifest("m"), std::string("v1")));
  COVE_ASSERT_OK(cluster().Stop());
  auto down = store().ResolveTag(repo_, "v1");
  COVE_EXPECT_CODE(down, Code::kUnavailable);
  if (!down) {
    EXPECT_NE(down.error().message.find(cluster().dir()), std::string::npos)
        << down.error().message;
  }
  COVE_EXPECT_CODE(store().LinkBlob(repo_, D("x"), 1), Code::kUnavailable);
  COVE_ASSERT_OK(cluster().Restart());
  EXPECT_EQ(*store().ResolveTag(repo_, "v1"), Manifest("m").digest);
  COVE_EXPECT_OK(store().LinkBlob(repo_, D("x"), 1));
}

// ---- transaction retries ----

// A trigger that fails the first `failures` tag writes with `sqlstate`; a sequence counts
// (nextval is not rolled back with the failing transaction).
void InjectTagFailures(RawConnection& raw, int failures, const std::string& sqlstate) {
  raw.Exec("CREATE SEQUENCE tag_attempts");
  raw.Exec(
      "CREATE FUNCTION fail_tags() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "IF nextval('tag_attempts') <= " +
      std::to_string(failures) + " THEN RAISE EXCEPTION 'injected' USING ERRCODE = '" + sqlstate +
      "'; END IF; RETURN NEW; END $$");
  raw.Exec(
      "CREATE TRIGGER fail_tags BEFORE INSERT OR UPDATE ON tags FOR EACH ROW "
      "EXECUTE FUNCTION fail_tags()");
}

TEST_F(PostgresMetaStoreTest, SerializationFailuresAndDeadlocksAreRetried) {
  RawConnection raw(schema_);
  InjectTagFailures(raw, 2, "40001");
  ManifestRecord m = Manifest("m");
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::string("v1")));
  EXPECT_EQ(raw.Exec("SELECT last_value FROM tag_attempts"), "3");
  EXPECT_EQ(*store().ResolveTag(repo_, "v1"), m.digest);
  EXPECT_EQ(store().GetManifest(repo_, m.digest)->bytes, m.bytes);  // stored once

  raw.Exec("ALTER SEQUENCE tag_attempts RESTART");
  raw.Exec(
      "CREATE OR REPLACE FUNCTION fail_tags() RETURNS trigger LANGUAGE plpgsql AS $$ "
      "BEGIN IF nextval('tag_attempts') <= 1 THEN RAISE EXCEPTION 'injected' USING "
      "ERRCODE = '40P01'; END IF; RETURN NEW; END $$");
  COVE_ASSERT_OK(store().PutManifest(repo_, Manifest("n"), std::string("v2")));

  // A failure that persists gives up after a bounded number of attempts.
  raw.Exec("ALTER SEQUENCE tag_attempts RESTART");
  raw.Exec(
      "CREATE OR REPLACE FUNCTION fail_tags() RETURNS trigger LANGUAGE plpgsql AS $$ "
      "BEGIN PERFORM nextval('tag_attempts'); RAISE EXCEPTION 'injected' USING "
      "ERRCODE = '40001'; END $$");
  COVE_EXPECT_CODE(store().PutManifest(repo_, Manifest("o"), std::string("v3")),
                   Code::kUnavailable);
  EXPECT_EQ(raw.Exec("SELECT last_value FROM tag_attempts"), "5");
  COVE_EXPECT_CODE(store().GetManifest(repo_, Manifest("o").digest), Code::kNotFound);
}

TEST_F(PostgresMetaStoreTest, ConcurrentWritersOnTheSameKeys) {
  // Two store objects (two nodes), four threads each, moving the same tags and linking and
  // deleting the same manifests' blobs.
  auto other = OpenStore(schema_, &clock_);
  COVE_ASSERT_OK(other);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    MetaStore& s = t % 2 == 0 ? store() : **other;
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string n = std::to_string((t + i) % 5);
        EXPECT_TRUE(s.LinkBlob(repo_, D("blob" + n), 1));
        auto put = s.PutManifest(repo_, Manifest("m" + n, {D("blob" + n)}), std::string("latest"));
        EXPECT_TRUE(put) << put.error().ToString();
        auto deleted = s.DeleteManifest(repo_, Manifest("m" + std::to_string(i % 5)).digest);
        EXPECT_TRUE(deleted || deleted.error().code == Code::kNotFound)
            << deleted.error().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  // The tag, if still there, points at a stored manifest.
  auto latest = store().ResolveTag(repo_, "latest");
  if (latest) COVE_EXPECT_OK(store().GetManifest(repo_, *latest));
}

// ---- change feed ----

class Feed {
 public:
  void Push(const Invalidation& change) {
    std::lock_guard lock(mu_);
    changes_.push_back(change);
    cv_.notify_all();
  }
  // The next change, waiting up to 10 s; nullopt on timeout.
  std::optional<Invalidation> Next() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, 10s, [&] { return next_ < changes_.size(); })) return std::nullopt;
    return changes_[next_++];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Invalidation> changes_;
  size_t next_ = 0;
};

TEST_F(PostgresMetaStoreTest, ListenDeliversChangesFromAnotherNode) {
  Feed feed;
  COVE_ASSERT_OK(Pg(store()).Listen([&](const Invalidation& c) { feed.Push(c); }));
  COVE_EXPECT_CODE(Pg(store()).Listen([](const Invalidation&) {}), Code::kFailedPrecondition);
  auto other = OpenStore(schema_, &clock_);
  COVE_ASSERT_OK(other);
  MetaStore& writer = **other;

  ManifestRecord one = Manifest("one"), two = Manifest("two");
  COVE_ASSERT_OK(writer.PutManifest(repo_, one, std::string("latest")));  // new tag: no change
  COVE_ASSERT_OK(writer.PutManifest(repo_, two, std::string("latest")));  // moved
  auto moved = feed.Next();
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->everything);
  EXPECT_EQ(moved->registry, "reg1");
  EXPECT_EQ(moved->repository, "team/app");
  EXPECT_EQ(moved->tag, "latest");

  COVE_ASSERT_OK(writer.DeleteManifest(repo_, one.digest));
  auto deleted = feed.Next();
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->repository, "team/app");
  EXPECT_EQ(deleted->digest, one.digest.str());

  COVE_ASSERT_OK(writer.DeleteTag(repo_, "latest"));
  auto untagged = feed.Next();
  ASSERT_TRUE(untagged.has_value());
  EXPECT_EQ(untagged->tag, "latest");

  COVE_ASSERT_OK(writer.DeleteRegistry("reg1"));
  auto gone = feed.Next();
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->registry, "reg1");
  EXPECT_TRUE(gone->repository.empty());
  EXPECT_FALSE(gone->everything);

  // The feed's connection drops: after reconnecting, everything is invalidated, and later
  // changes arrive again.
  COVE_ASSERT_OK(cluster().TerminateBackends());
  auto lost = feed.Next();
  ASSERT_TRUE(lost.has_value());
  EXPECT_TRUE(lost->everything);
  COVE_ASSERT_OK(writer.PutManifest(repo_, one, std::string("v")));
  COVE_ASSERT_OK(writer.PutManifest(repo_, two, std::string("v")));
  auto again = feed.Next();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->tag, "v");
}

// ---- online garbage collection ----

TEST_F(PostgresMetaStoreTest, GcQueuesSweepsRetentionAndUsage) {
  Digest layer = D("layer"), orphan = D("orphan");
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 100));
  COVE_ASSERT_OK(store().LinkBlob(repo_, orphan, 7));
  COVE_ASSERT_OK(store().LinkBlob({"reg1", "other"}, layer, 100));
  ManifestRecord m = Manifest("m", {layer});
  COVE_ASSERT_OK(store().PutManifest(repo_, m, std::nullopt));
  EXPECT_EQ(*store().RegistryUsage("reg1"), 107u + m.bytes.size());
  EXPECT_EQ(store().PendingReviews()->links, 3u);
  EXPECT_EQ(store().PendingReviews()->blobs, 0u);

  // Not yet due.
  EXPECT_EQ(*store().SweepLinks(clock_.Now() - 1s, 100), 0u);
  EXPECT_EQ(store().PendingReviews()->links, 3u);
  clock_.Advance(1h);
  // The referenced link stays; the two unreferenced ones go and their blobs are queued.
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 100), 2u);
  COVE_EXPECT_OK(store().LinkedBlob(repo_, layer));
  COVE_EXPECT_CODE(store().LinkedBlob(repo_, orphan), Code::kNotFound);
  EXPECT_EQ(store().PendingReviews()->links, 0u);
  EXPECT_EQ(store().PendingReviews()->blobs, 2u);

  std::vector<Digest> deleted;
  auto remember = [&](const Digest& d) -> Status {
    deleted.push_back(d);
    return Ok();
  };
  for (int i = 0; i < 2; ++i) {
    auto swept = store().SweepNextBlob(clock_.Now(), remember);
    COVE_ASSERT_OK(swept);
    ASSERT_TRUE(swept->has_value());
    EXPECT_EQ((*swept)->deleted, (*swept)->reviewed == orphan);
  }
  EXPECT_EQ(deleted, std::vector<Digest>{orphan});  // layer is still referenced
  EXPECT_FALSE(store().SweepNextBlob(clock_.Now(), remember)->has_value());

  // A failing delete keeps the review.
  COVE_ASSERT_OK(store().ProtectBlob(orphan));
  clock_.Advance(1h);
  COVE_EXPECT_CODE(
      store().SweepNextBlob(clock_.Now(),
                            [](const Digest&) -> Status { return Fail(Code::kIOError, "disk"); }),
      Code::kIOError);
  EXPECT_EQ(store().PendingReviews()->blobs, 1u);
  auto missing = store().SweepNextBlob(
      clock_.Now(), [](const Digest&) -> Status { return Fail(Code::kNotFound, "gone"); });
  COVE_ASSERT_OK(missing);
  EXPECT_TRUE((*missing)->deleted);

  // Retention: untagged, old enough, not an index child, subject gone.
  ManifestRecord tagged = Manifest("tagged"), child = Manifest("child");
  ManifestRecord index = Manifest("index");
  index.manifests = {child.digest};
  ManifestRecord sig = Manifest("sig");
  sig.subject = tagged.digest;
  COVE_ASSERT_OK(store().PutManifest(repo_, tagged, std::string("v1")));
  COVE_ASSERT_OK(store().PutManifest(repo_, child, std::nullopt));
  COVE_ASSERT_OK(store().PutManifest(repo_, index, std::string("idx")));
  COVE_ASSERT_OK(store().PutManifest(repo_, sig, std::nullopt));
  ManifestRecord young = Manifest("young");
  young.created = clock_.Now() + 1h;
  COVE_ASSERT_OK(store().PutManifest(repo_, young, std::nullopt));
  // Only `m` qualifies.
  EXPECT_EQ(*store().DeleteUntaggedManifests("reg1", clock_.Now() + 1s, 100), 1u);
  COVE_EXPECT_CODE(store().GetManifest(repo_, m.digest), Code::kNotFound);
  for (const auto* kept : {&tagged, &child, &index, &sig, &young}) {
    COVE_EXPECT_OK(store().GetManifest(repo_, kept->digest));
  }
  // The deletion queued the link of its blob and a review of its own digest.
  EXPECT_EQ(store().PendingReviews()->links, 1u);
  EXPECT_EQ(store().PendingReviews()->blobs, 1u);
  // With its subject gone, the signature goes too.
  COVE_ASSERT_OK(store().DeleteManifest(repo_, tagged.digest));
  EXPECT_EQ(*store().DeleteUntaggedManifests("reg1", clock_.Now() + 1s, 100), 1u);
  COVE_EXPECT_CODE(store().GetManifest(repo_, sig.digest), Code::kNotFound);
  EXPECT_EQ(*store().RegistryUsage("reg2"), 0u);
}

TEST_F(PostgresMetaStoreTest, ProtectBlobWaitsWhileASweepDecides) {
  Digest blob = D("blob");
  COVE_ASSERT_OK(store().ProtectBlob(blob));
  clock_.Advance(1h);
  Clock::TimePoint due = clock_.Now();
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  auto sweep = std::async(std::launch::async, [&] {
    return store().SweepNextBlob(due, [&](const Digest&) -> Status {
      entered.set_value();
      released.wait();
      return Ok();
    });
  });
  entered.get_future().wait();
  clock_.Advance(1s);
  auto other = OpenStore(schema_, &clock_);
  COVE_ASSERT_OK(other);
  std::atomic<bool> protected_done{false};
  auto protect = std::async(std::launch::async, [&] {
    Status s = (*other)->ProtectBlob(blob);
    protected_done = true;
    return s;
  });
  // ProtectBlob waits on the review's row lock while the callback runs.
  ASSERT_TRUE(WaitForLockWaiters(1));
  EXPECT_FALSE(protected_done.load());
  release.set_value();
  auto swept = sweep.get();
  COVE_ASSERT_OK(swept);
  ASSERT_TRUE(swept->has_value());
  EXPECT_TRUE((*swept)->deleted);
  COVE_ASSERT_OK(protect.get());
  // The protection is a fresh review, stamped after the decision: not due at `due`.
  EXPECT_EQ(store().PendingReviews()->blobs, 1u);
  EXPECT_FALSE(store().SweepNextBlob(due, [](const Digest&) { return Ok(); })->has_value());
}

TEST_F(PostgresMetaStoreTest, LinkSweepWaitsForAPutManifestReferencingTheBlob) {
  Digest layer = D("layer");
  COVE_ASSERT_OK(store().LinkBlob(repo_, layer, 10));
  clock_.Advance(1h);
  ManifestRecord m = Manifest("m", {layer});
  // Hold PutManifest mid-transaction: another transaction has inserted the same manifest row
  // and not committed, so PutManifest (holding FOR SHARE on the link) waits on it.
  RawConnection blocker(schema_);
  blocker.Exec("BEGIN");
  blocker.Exec("INSERT INTO manifests VALUES ('reg1', 'team/app', '" + m.digest.str() +
               "', 'x', '', '', NULL, '', 0)");
  auto put = std::async(std::launch::async,
                        [&] { return store().PutManifest(repo_, m, std::string("v1")); });
  ASSERT_TRUE(WaitForLockWaiters(1));
  auto other = OpenStore(schema_, &clock_);
  COVE_ASSERT_OK(other);
  auto sweep =
      std::async(std::launch::async, [&] { return (*other)->SweepLinks(clock_.Now(), 10); });
  ASSERT_TRUE(WaitForLockWaiters(2));  // the sweep waits for the link
  blocker.Exec("ROLLBACK");
  COVE_ASSERT_OK(put.get());
  auto removed = sweep.get();
  COVE_ASSERT_OK(removed);
  EXPECT_EQ(*removed, 0u);  // it saw the committed manifest
  COVE_EXPECT_OK(store().LinkedBlob(repo_, layer));

  // The other order: the sweep removes the link first; a later manifest still protects the
  // bytes, since the blob review finds it referenced.
  Digest late = D("late");
  COVE_ASSERT_OK(store().LinkBlob(repo_, late, 10));
  clock_.Advance(1h);
  EXPECT_EQ(*store().SweepLinks(clock_.Now(), 10), 1u);
  COVE_ASSERT_OK(store().PutManifest(repo_, Manifest("late", {late}), std::nullopt));
  auto swept = store().SweepNextBlob(clock_.Now(), [](const Digest&) -> Status {
    ADD_FAILURE() << "a referenced blob was deleted";
    return Ok();
  });
  COVE_ASSERT_OK(swept);
  ASSERT_TRUE(swept->has_value());
  EXPECT_FALSE((*swept)->deleted);
}

TEST_F(PostgresMetaStoreTest, SweepsOnTwoNodesNeverTakeTheSameReview) {
  constexpr int kBlobs = 60;
  for (int i = 0; i < kBlobs; ++i) COVE_ASSERT_OK(store().ProtectBlob(D(std::to_string(i))));
  for (int i = 0; i < kBlobs; ++i) {
    COVE_ASSERT_OK(store().LinkBlob(repo_, D("link" + std::to_string(i)), 1));
  }
  clock_.Advance(1h);
  auto other = OpenStore(schema_, &clock_);
  COVE_ASSERT_OK(other);
  std::mutex mu;
  std::multiset<std::string> deleted;
  std::set<std::string> in_progress;
  std::atomic<uint64_t> links_removed{0};
  auto sweeper = [&](MetaStore& s) {
    while (true) {
      auto links = s.SweepLinks(clock_.Now(), 3);
      ASSERT_TRUE(links) << links.error().ToString();
      links_removed += *links;
      auto swept = s.SweepNextBlob(clock_.Now(), [&](const Digest& d) -> Status {
        {
          std::lock_guard lock(mu);
          EXPECT_TRUE(in_progress.insert(d.str()).second) << "taken twice: " << d.str();
        }
        std::this_thread::sleep_for(1ms);  // widen the window for a double take
        std::lock_guard lock(mu);
        in_progress.erase(d.str());
        deleted.insert(d.str());
        return Ok();
      });
      ASSERT_TRUE(swept) << swept.error().ToString();
      if (!swept->has_value() && *links == 0) return;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { sweeper(t % 2 == 0 ? store() : **other); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(links_removed.load(), static_cast<uint64_t>(kBlobs));
  // Each protected blob and each unlinked blob deleted exactly once.
  EXPECT_EQ(deleted.size(), static_cast<size_t>(2 * kBlobs));
  for (const std::string& d : deleted) EXPECT_EQ(deleted.count(d), 1u) << d;
  EXPECT_EQ(store().PendingReviews()->links, 0u);
  EXPECT_EQ(store().PendingReviews()->blobs, 0u);
}

}  // namespace
}  // namespace cove::storage
