#include "storage/sqlite_meta_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "storage/caching_meta_store.h"
#include "storage/meta_store_conformance.h"
#include "storage/meta_store_gc_conformance.h"
#include "support/temp_dir.h"

namespace cove::storage {
namespace {

using ::cove::testing::TempDir;
using testing::MetaStoreConformance;
using testing::MetaStoreGcConformance;

class SqliteHarness final : public testing::MetaStoreHarness {
 public:
  // `clock`: the store's (queue stamps); null for the system clock.
  explicit SqliteHarness(bool in_file, const Clock* clock = nullptr)
      : in_file_(in_file), clock_(clock) {
    Restart();
  }
  MetaStore& store() override { return *store_; }
  bool Persistent() const override { return in_file_; }
  void Restart() override {
    store_.reset();
    std::string path = in_file_ ? dir_.Join("meta.db") : ":memory:";
    auto opened = clock_ ? SqliteMetaStore::Open(path, *clock_) : SqliteMetaStore::Open(path);
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (opened) store_ = std::move(*opened);
  }

 private:
  bool in_file_;
  const Clock* clock_;
  TempDir dir_;
  MetaStorePtr store_;
};

testing::MetaStoreImpl Impl(const char* name, bool in_file) {
  return {name, [in_file] { return std::make_unique<SqliteHarness>(in_file); },
          [in_file](const Clock& clock) { return std::make_unique<SqliteHarness>(in_file, &clock); }};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreConformance,
                         ::testing::Values(Impl("Memory", false), Impl("File", true)),
                         testing::MetaStoreImplName);
INSTANTIATE_TEST_SUITE_P(Sqlite, MetaStoreGcConformance,
                         ::testing::Values(Impl("Memory", false), Impl("File", true)),
                         testing::MetaStoreImplName);

// The same suite through a CachingMetaStore: caching changes no answer.
class CachingHarness final : public testing::MetaStoreHarness {
 public:
  CachingHarness() { Restart(); }
  MetaStore& store() override { return *store_; }
  bool Persistent() const override { return true; }
  void Restart() override {
    store_.reset();
    auto opened = SqliteMetaStore::Open(dir_.Join("meta.db"));
    EXPECT_TRUE(opened) << opened.error().ToString();
    if (opened) store_ = std::make_unique<CachingMetaStore>(std::move(*opened));
  }

 private:
  TempDir dir_;
  MetaStorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(
    Caching, MetaStoreConformance,
    ::testing::Values(testing::MetaStoreImpl{
        "OverSqlite", [] { return std::make_unique<CachingHarness>(); }}),
    testing::MetaStoreImplName);

// Runs `sql` on the database file directly and returns the first column of the first row.
std::string Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

TEST(SqliteMetaStoreTest, FileDatabaseIsWalWithCurrentSchema) {
  TempDir dir;
  std::string path = dir.Join("meta.db");
  {
    auto store = SqliteMetaStore::Open(path);
    COVE_ASSERT_OK(store);
  }
  EXPECT_EQ(Query(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(Query(path, "PRAGMA user_version"), std::to_string(SqliteMetaStore::SchemaVersion()));
  // Reopening an up-to-date database applies nothing and works.
  auto again = SqliteMetaStore::Open(path);
  COVE_ASSERT_OK(again);
  COVE_EXPECT_OK((*again)->LinkBlob({"r", "x"}, Digest::Of("b"), 1));
}

TEST(SqliteMetaStoreTest, MigrationTwoQueuesTheLinksItFinds) {
  TempDir dir;
  std::string path = dir.Join("meta.db");
  {
    auto store = SqliteMetaStore::Open(path);
    COVE_ASSERT_OK(store);
    COVE_ASSERT_OK((*store)->LinkBlob({"r", "a"}, Digest::Of("one"), 1));
    COVE_ASSERT_OK((*store)->LinkBlob({"r", "b"}, Digest::Of("two"), 2));
  }
  // Back to a version 1 database: links, no review queues.
  Query(path, "DROP TABLE gc_link_reviews");
  Query(path, "DROP TABLE gc_blob_reviews");
  Query(path, "PRAGMA user_version = 1");
  ManualClock clock;  // far before the migration's real time
  auto store = SqliteMetaStore::Open(path, clock);
  COVE_ASSERT_OK(store);
  auto pending = (*store)->PendingReviews();
  COVE_ASSERT_OK(pending);
  EXPECT_EQ(pending->links, 2u);
  EXPECT_EQ(pending->blobs, 0u);
  // Stamped with the migration's time: not due before that.
  EXPECT_EQ(*(*store)->SweepLinks(clock.Now(), 10), 0u);
}

TEST(SqliteMetaStoreTest, RefusesNewerSchema) {
  TempDir dir;
  std::string path = dir.Join("meta.db");
  { COVE_ASSERT_OK(SqliteMetaStore::Open(path)); }
  Query(path, "PRAGMA user_version = " + std::to_string(SqliteMetaStore::SchemaVersion() + 1));
  COVE_EXPECT_CODE(SqliteMetaStore::Open(path), Code::kCorruption);
}

TEST(SqliteMetaStoreTest, RefusesFileThatIsNotADatabase) {
  TempDir dir;
  std::string path = dir.Join("junk.db");
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(4096, 'x');
  }
  COVE_EXPECT_CODE(SqliteMetaStore::Open(path), Code::kCorruption);
}

TEST(SqliteMetaStoreTest, UnopenablePathIsIOError) {
  TempDir dir;
  COVE_EXPECT_CODE(SqliteMetaStore::Open(dir.Join("missing/dir/meta.db")), Code::kIOError);
}

}  // namespace
}  // namespace cove::storage
