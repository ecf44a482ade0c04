#include "storage/sqlite_meta_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/sqlite_error.h"
#include "storage/stored_values.h"

namespace cove::storage {
namespace {

using stored::FromNanos;
using stored::kRefBlob;
using stored::kRefManifest;
using stored::ParseStored;
using stored::ToInt64;
using stored::ToNanos;

// Schema migrations, applied in order; user_version is the number applied. Append new ones at
// the end; never change one that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE blob_links (
  registry   TEXT    NOT NULL COLLATE BINARY,
  repository TEXT    NOT NULL COLLATE BINARY,
  digest     TEXT    NOT NULL COLLATE BINARY,
  size       INTEGER NOT NULL,
  PRIMARY KEY (registry, repository, digest)
) WITHOUT ROWID;
CREATE INDEX blob_links_by_digest ON blob_links (digest);

CREATE TABLE manifests (
  registry      TEXT    NOT NULL COLLATE BINARY,
  repository    TEXT    NOT NULL COLLATE BINARY,
  digest        TEXT    NOT NULL COLLATE BINARY,
  media_type    TEXT    NOT NULL,
  bytes         BLOB    NOT NULL,
  artifact_type TEXT    NOT NULL COLLATE BINARY,
  subject       TEXT             COLLATE BINARY,
  annotations   TEXT    NOT NULL,
  created_ns    INTEGER NOT NULL,
  PRIMARY KEY (registry, repository, digest)
);
CREATE INDEX manifests_by_subject ON manifests (registry, repository, subject)
  WHERE subject IS NOT NULL;
CREATE INDEX manifests_by_digest ON manifests (digest);

CREATE TABLE manifest_refs (
  registry        TEXT    NOT NULL COLLATE BINARY,
  repository      TEXT    NOT NULL COLLATE BINARY,
  manifest_digest TEXT    NOT NULL COLLATE BINARY,
  kind            INTEGER NOT NULL,
  position        INTEGER NOT NULL,
  ref_digest      TEXT    NOT NULL COLLATE BINARY,
  PRIMARY KEY (registry, repository, manifest_digest, kind, position),
  FOREIGN KEY (registry, repository, manifest_digest)
    REFERENCES manifests (registry, repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX manifest_refs_by_ref ON manifest_refs (ref_digest);

CREATE TABLE tags (
  registry   TEXT NOT NULL COLLATE BINARY,
  repository TEXT NOT NULL COLLATE BINARY,
  tag        TEXT NOT NULL COLLATE BINARY,
  digest     TEXT NOT NULL COLLATE BINARY,
  PRIMARY KEY (registry, repository, tag),
  FOREIGN KEY (registry, repository, digest)
    REFERENCES manifests (registry, repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags (registry, repository, digest);

CREATE TABLE uploads (
  id           TEXT    NOT NULL PRIMARY KEY COLLATE BINARY,
  registry     TEXT    NOT NULL,
  repository   TEXT    NOT NULL,
  acknowledged INTEGER NOT NULL,
  started_ns   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_by_started ON uploads (started_ns);
)sql",
    // 2: online garbage collection's review queues (meta_store.h). Links that exist already are
    // queued once, stamped with the migration's (real) time, so uploads whose manifest never
    // came are collected a grace period after the upgrade.
    R"sql(
CREATE TABLE gc_link_reviews (
  registry   TEXT    NOT NULL COLLATE BINARY,
  repository TEXT    NOT NULL COLLATE BINARY,
  digest     TEXT    NOT NULL COLLATE BINARY,
  queued_ns  INTEGER NOT NULL,
  PRIMARY KEY (registry, repository, digest)
) WITHOUT ROWID;
CREATE INDEX gc_link_reviews_by_queued ON gc_link_reviews (queued_ns);

CREATE TABLE gc_blob_reviews (
  digest    TEXT    NOT NULL PRIMARY KEY COLLATE BINARY,
  queued_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX gc_blob_reviews_by_queued ON gc_blob_reviews (queued_ns);

INSERT INTO gc_link_reviews (registry, repository, digest, queued_ns)
  SELECT registry, repository, digest, unixepoch() * 1000000000 FROM blob_links;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr int kBusyTimeoutMs = 5000;

// One use of a cached prepared statement: binds parameters in order, steps, reads columns, and
// resets the statement when it goes out of scope.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Query(Query&& other) noexcept
      : db_(other.db_),
        stmt_(std::exchange(other.stmt_, nullptr)),
        next_(other.next_),
        bind_rc_(other.bind_rc_) {}
  Query& operator=(Query&&) = delete;
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  Query& Text(std::string_view v) {
    return Check(sqlite3_bind_text64(stmt_, next_++, v.empty() ? "" : v.data(), v.size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Query& Blob(std::string_view v) {
    return Check(
        sqlite3_bind_blob64(stmt_, next_++, v.empty() ? "" : v.data(), v.size(), SQLITE_TRANSIENT));
  }
  Query& Int(int64_t v) { return Check(sqlite3_bind_int64(stmt_, next_++, v)); }
  Query& Null() { return Check(sqlite3_bind_null(stmt_, next_++)); }
  Query& Limit(const std::optional<uint64_t>& limit) {
    return Int(limit ? ToInt64(*limit) : -1);  // SQLite: a negative LIMIT means none
  }

  // True if a row is ready; false when done.
  Result<bool> Step() {
    if (bind_rc_ != SQLITE_OK) return Fail(SqlError(db_, bind_rc_, "bind"));
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(SqlError(db_, rc, "step"));
  }
  // Runs a statement that returns no rows.
  Status Run() {
    COVE_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Ok();
  }

  std::string ColText(int i) const {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string ColBlob(int i) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  int64_t ColInt(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool ColNull(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  Query& Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_ = 1;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace

class SqliteMetaStore::Db {
 public:
  explicit Db(sqlite3* db) : db_(db) {}
  ~Db() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }
  std::mutex& mu() { return mu_; }

  // A cached statement for `sql`, which must be a string literal (its address is not used as
  // the key, its text is, but it must outlive the store).
  Result<Query> Prepare(std::string_view sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return Fail(SqlError(db_, rc, "prepare"));
      it = cache_.emplace(sql, stmt).first;
    }
    return Query(db_, it->second);
  }

  Status Exec(const char* sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    sqlite3_free(message);
    if (rc != SQLITE_OK) return Fail(SqlError(db_, rc, "exec"));
    return Ok();
  }

  // Runs a statement without parameters and rows.
  Status Run(std::string_view sql) {
    COVE_ASSIGN_OR_RETURN(Query q, Prepare(sql));
    return q.Run();
  }

  int64_t Changes() const { return sqlite3_changes64(db_); }

 private:
  sqlite3* db_;
  std::mutex mu_;
  std::unordered_map<std::string_view, sqlite3_stmt*> cache_;
};

namespace {

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(SqliteMetaStore::Db& db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_.Run("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin() {
    COVE_RETURN_IF_ERROR(db_.Run("BEGIN IMMEDIATE"));
    open_ = true;
    return Ok();
  }
  Status Commit() {
    COVE_RETURN_IF_ERROR(db_.Run("COMMIT"));
    open_ = false;
    return Ok();
  }

 private:
  SqliteMetaStore::Db& db_;
  bool open_ = false;
};

// ---- review queues (meta_store.h, "online garbage collection") ----
// A later event on the same key moves the stamp later, never earlier.

Status QueueLinkReview(SqliteMetaStore::Db& db, const RepoKey& repo, std::string_view digest,
                       int64_t now_ns) {
  COVE_ASSIGN_OR_RETURN(
      Query q, db.Prepare("INSERT INTO gc_link_reviews (registry, repository, digest, queued_ns) "
                          "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
                          "SET queued_ns = max(queued_ns, excluded.queued_ns)"));
  return q.Text(repo.registry).Text(repo.repository).Text(digest).Int(now_ns).Run();
}

Status QueueBlobReview(SqliteMetaStore::Db& db, std::string_view digest, int64_t now_ns) {
  COVE_ASSIGN_OR_RETURN(
      Query q, db.Prepare("INSERT INTO gc_blob_reviews (digest, queued_ns) VALUES (?, ?) "
                          "ON CONFLICT DO UPDATE SET queued_ns = max(queued_ns, excluded.queued_ns)"));
  return q.Text(digest).Int(now_ns).Run();
}

// Deletes one manifest (tags and references cascade) inside the caller's transaction, queueing
// a link review for each blob it referenced and a blob review for its own digest. False when
// `repo` has no such manifest (nothing queued).
Result<bool> DeleteManifestQueued(SqliteMetaStore::Db& db, const RepoKey& repo,
                                  std::string_view digest, int64_t now_ns) {
  std::vector<std::string> blobs;
  {
    COVE_ASSIGN_OR_RETURN(
        Query q, db.Prepare("SELECT DISTINCT ref_digest FROM manifest_refs WHERE registry = ? "
                            "AND repository = ? AND manifest_digest = ? AND kind = 0"));
    q.Text(repo.registry).Text(repo.repository).Text(digest);
    while (true) {
      COVE_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      blobs.push_back(q.ColText(0));
    }
  }
  {
    COVE_ASSIGN_OR_RETURN(
        Query q, db.Prepare("DELETE FROM manifests WHERE registry = ? AND repository = ? AND "
                            "digest = ?"));
    COVE_RETURN_IF_ERROR(q.Text(repo.registry).Text(repo.repository).Text(digest).Run());
  }
  if (db.Changes() == 0) return false;
  for (const std::string& blob : blobs) {
    COVE_RETURN_IF_ERROR(QueueLinkReview(db, repo, blob, now_ns));
  }
  COVE_RETURN_IF_ERROR(QueueBlobReview(db, digest, now_ns));
  return true;
}

// True while anything references blob `digest`: a link, a manifest's reference, or a manifest
// with that digest (its bytes may be kept as a blob).
Result<bool> Referenced(SqliteMetaStore::Db& db, std::string_view digest) {
  COVE_ASSIGN_OR_RETURN(
      Query q, db.Prepare("SELECT EXISTS (SELECT 1 FROM blob_links WHERE digest = ?1) "
                          "OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = ?1) "
                          "OR EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Text(digest).Step());
  return row && q.ColInt(0) != 0;
}

Status Migrate(SqliteMetaStore::Db& db) {
  COVE_ASSIGN_OR_RETURN(Query q, db.Prepare("PRAGMA user_version"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Step());
  int version = row ? static_cast<int>(q.ColInt(0)) : 0;
  if (version > kSchemaVersion) {
    return Fail(Code::kCorruption, "database schema version " + std::to_string(version) +
                                       " is newer than this build's " +
                                       std::to_string(kSchemaVersion));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    COVE_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    Status applied = db.Exec(kMigrations[v]);
    if (applied) {
      std::string set = "PRAGMA user_version = " + std::to_string(v + 1);
      applied = db.Exec(set.c_str());
    }
    if (applied) applied = db.Exec("COMMIT");
    if (!applied) {
      (void)db.Exec("ROLLBACK");
      return Fail(applied.error().code, "migration to schema version " + std::to_string(v + 1) +
                                            ": " + applied.error().message);
    }
  }
  return Ok();
}

}  // namespace

SqliteMetaStore::SqliteMetaStore(std::unique_ptr<Db> db, const Clock& clock)
    : db_(std::move(db)), clock_(clock) {}
SqliteMetaStore::~SqliteMetaStore() = default;

int SqliteMetaStore::SchemaVersion() { return kSchemaVersion; }

Result<MetaStorePtr> SqliteMetaStore::Open(std::string path) {
  static const SystemClock system_clock;
  return Open(std::move(path), system_clock);
}

Result<MetaStorePtr> SqliteMetaStore::Open(std::string path, const Clock& clock) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error error = SqlError(raw, rc, "open " + path);
    if ((rc & 0xff) == SQLITE_CANTOPEN) error.code = Code::kIOError;
    sqlite3_close_v2(raw);
    return Fail(std::move(error));
  }
  auto db = std::make_unique<Db>(raw);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // journal_mode answers "memory" for ":memory:", which is fine.
  COVE_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL"));
  COVE_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = FULL"));
  COVE_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  COVE_RETURN_IF_ERROR(Migrate(*db));
  return MetaStorePtr(new SqliteMetaStore(std::move(db), clock));
}

// ---- blobs in repositories ----

Status SqliteMetaStore::LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) {
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  {
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare(
            "INSERT INTO blob_links (registry, repository, digest, size) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET size = excluded.size"));
    COVE_RETURN_IF_ERROR(
        q.Text(repo.registry).Text(repo.repository).Text(digest.str()).Int(ToInt64(size)).Run());
  }
  // An upload whose manifest never comes: its link is reviewed after the grace period.
  COVE_RETURN_IF_ERROR(QueueLinkReview(*db_, repo, digest.str(), NowNanos()));
  return txn.Commit();
}

Result<uint64_t> SqliteMetaStore::LinkedBlob(const RepoKey& repo, const Digest& digest) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare(
          "SELECT size FROM blob_links WHERE registry = ? AND repository = ? AND digest = ?"));
  q.Text(repo.registry).Text(repo.repository).Text(digest.str());
  COVE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) {
    return Fail(Code::kNotFound, "blob " + digest.str() + " is not linked in " + repo.repository);
  }
  return static_cast<uint64_t>(q.ColInt(0));
}

Status SqliteMetaStore::UnlinkBlob(const RepoKey& repo, const Digest& digest) {
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  {
    COVE_ASSIGN_OR_RETURN(
        Query q, db_->Prepare(
                     "DELETE FROM blob_links WHERE registry = ? AND repository = ? AND digest = ?"));
    COVE_RETURN_IF_ERROR(q.Text(repo.registry).Text(repo.repository).Text(digest.str()).Run());
  }
  if (db_->Changes() == 0) {
    return Fail(Code::kNotFound, "blob " + digest.str() + " is not linked in " + repo.repository);
  }
  COVE_RETURN_IF_ERROR(QueueBlobReview(*db_, digest.str(), NowNanos()));
  return txn.Commit();
}

Result<bool> SqliteMetaStore::BlobReferenced(const Digest& digest) {
  std::lock_guard lock(db_->mu());
  return Referenced(*db_, digest.str());
}

// ---- manifests and tags ----

Status SqliteMetaStore::PutManifest(const RepoKey& repo, const ManifestRecord& manifest,
                                    const std::optional<std::string>& tag) {
  if (manifest.digest.empty()) return Fail(Code::kInvalidArgument, "manifest has no digest");
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  {
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare("INSERT INTO manifests (registry, repository, digest, media_type, bytes, "
                     "artifact_type, "
                     "subject, annotations, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT DO NOTHING"));
    q.Text(repo.registry).Text(repo.repository).Text(manifest.digest.str());
    q.Text(manifest.media_type).Blob(manifest.bytes).Text(manifest.artifact_type);
    if (manifest.subject) {
      q.Text(manifest.subject->str());
    } else {
      q.Null();
    }
    q.Text(manifest.annotations_json).Int(ToNanos(manifest.created));
    COVE_RETURN_IF_ERROR(q.Run());
  }
  if (db_->Changes() > 0) {
    auto add_refs = [&](const std::vector<Digest>& refs, int64_t kind) -> Status {
      for (size_t i = 0; i < refs.size(); ++i) {
        COVE_ASSIGN_OR_RETURN(
            Query q,
            db_->Prepare(
                "INSERT INTO manifest_refs (registry, repository, manifest_digest, kind, position, "
                "ref_digest) VALUES (?, ?, ?, ?, ?, ?)"));
        COVE_RETURN_IF_ERROR(q.Text(repo.registry)
                                 .Text(repo.repository)
                                 .Text(manifest.digest.str())
                                 .Int(kind)
                                 .Int(static_cast<int64_t>(i))
                                 .Text(refs[i].str())
                                 .Run());
      }
      return Ok();
    };
    COVE_RETURN_IF_ERROR(add_refs(manifest.blobs, kRefBlob));
    COVE_RETURN_IF_ERROR(add_refs(manifest.manifests, kRefManifest));
  }
  if (tag) {
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare("INSERT INTO tags (registry, repository, tag, digest) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT DO UPDATE SET digest = excluded.digest"));
    COVE_RETURN_IF_ERROR(
        q.Text(repo.registry).Text(repo.repository).Text(*tag).Text(manifest.digest.str()).Run());
  }
  return txn.Commit();
}

Result<ManifestContent> SqliteMetaStore::GetManifestContent(const RepoKey& repo,
                                                            const Digest& digest) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q, db_->Prepare("SELECT media_type, bytes FROM manifests "
                            "WHERE registry = ? AND repository = ? AND digest = ?"));
  q.Text(repo.registry).Text(repo.repository).Text(digest.str());
  COVE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) {
    return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
  }
  return ManifestContent{q.ColText(0), q.ColBlob(1)};
}

Result<ManifestRecord> SqliteMetaStore::GetManifest(const RepoKey& repo, const Digest& digest) {
  std::lock_guard lock(db_->mu());
  ManifestRecord record;
  {
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare("SELECT media_type, bytes, artifact_type, subject, annotations, created_ns "
                     "FROM manifests WHERE registry = ? AND repository = ? AND digest = ?"));
    q.Text(repo.registry).Text(repo.repository).Text(digest.str());
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) {
      return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
    }
    record.digest = digest;
    record.media_type = q.ColText(0);
    record.bytes = q.ColBlob(1);
    record.artifact_type = q.ColText(2);
    if (!q.ColNull(3)) {
      COVE_ASSIGN_OR_RETURN(record.subject, ParseStored(q.ColText(3)));
    }
    record.annotations_json = q.ColText(4);
    record.created = FromNanos(q.ColInt(5));
  }
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare(
          "SELECT kind, ref_digest FROM manifest_refs "
          "WHERE registry = ? AND repository = ? AND manifest_digest = ? ORDER BY kind, position"));
  q.Text(repo.registry).Text(repo.repository).Text(digest.str());
  while (true) {
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    COVE_ASSIGN_OR_RETURN(Digest ref, ParseStored(q.ColText(1)));
    (q.ColInt(0) == kRefBlob ? record.blobs : record.manifests).push_back(std::move(ref));
  }
  return record;
}

Result<Digest> SqliteMetaStore::ResolveTag(const RepoKey& repo, const std::string& tag) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("SELECT digest FROM tags WHERE registry = ? AND repository = ? AND tag = ?"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Text(repo.registry).Text(repo.repository).Text(tag).Step());
  if (!row) return Fail(Code::kNotFound, "tag " + tag + " not found in " + repo.repository);
  return ParseStored(q.ColText(0));
}

Status SqliteMetaStore::DeleteRegistry(const std::string& registry) {
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  {
    // Every blob the registry linked, and (a superset the header allows: each is a manifest
    // deletion too) what its manifests referenced and the manifests' own digests. Its link
    // reviews go: the links do.
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare("INSERT INTO gc_blob_reviews (digest, queued_ns) "
                     "SELECT digest, ?2 FROM blob_links WHERE registry = ?1 "
                     "UNION SELECT ref_digest, ?2 FROM manifest_refs WHERE registry = ?1 AND kind = 0 "
                     "UNION SELECT digest, ?2 FROM manifests WHERE registry = ?1 "
                     "ON CONFLICT DO UPDATE SET queued_ns = max(queued_ns, excluded.queued_ns)"));
    COVE_RETURN_IF_ERROR(q.Text(registry).Int(NowNanos()).Run());
  }
  // Tags and references go with the manifests (ON DELETE CASCADE); tags first all the same.
  for (const char* sql :
       {"DELETE FROM tags WHERE registry = ?", "DELETE FROM manifests WHERE registry = ?",
        "DELETE FROM blob_links WHERE registry = ?", "DELETE FROM uploads WHERE registry = ?",
        "DELETE FROM gc_link_reviews WHERE registry = ?"}) {
    COVE_ASSIGN_OR_RETURN(Query q, db_->Prepare(sql));
    COVE_RETURN_IF_ERROR(q.Text(registry).Run());
  }
  return txn.Commit();
}

Status SqliteMetaStore::DeleteManifest(const RepoKey& repo, const Digest& digest) {
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  // Tags and references go with it (ON DELETE CASCADE).
  COVE_ASSIGN_OR_RETURN(bool deleted, DeleteManifestQueued(*db_, repo, digest.str(), NowNanos()));
  if (!deleted) {
    return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
  }
  return txn.Commit();
}

Status SqliteMetaStore::DeleteTag(const RepoKey& repo, const std::string& tag) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q, db_->Prepare("DELETE FROM tags WHERE registry = ? AND repository = ? AND tag = ?"));
  COVE_RETURN_IF_ERROR(q.Text(repo.registry).Text(repo.repository).Text(tag).Run());
  if (db_->Changes() == 0) {
    return Fail(Code::kNotFound, "tag " + tag + " not found in " + repo.repository);
  }
  return Ok();
}

Result<std::vector<std::string>> SqliteMetaStore::ListTags(const RepoKey& repo, const Page& page) {
  std::lock_guard lock(db_->mu());
  {
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare(
            "SELECT EXISTS (SELECT 1 FROM manifests WHERE registry = ?1 AND repository = ?2) "
            "OR EXISTS (SELECT 1 FROM blob_links WHERE registry = ?1 AND repository = ?2) "
            "OR EXISTS (SELECT 1 FROM tags WHERE registry = ?1 AND repository = ?2)"));
    COVE_ASSIGN_OR_RETURN(bool row, q.Text(repo.registry).Text(repo.repository).Step());
    if (!row || q.ColInt(0) == 0) {
      return Fail(Code::kNotFound, "repository " + repo.repository + " not found");
    }
  }
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("SELECT tag FROM tags WHERE registry = ? AND repository = ? AND tag > ? "
                   "ORDER BY tag COLLATE BINARY LIMIT ?"));
  q.Text(repo.registry).Text(repo.repository).Text(page.last).Limit(page.limit);
  std::vector<std::string> tags;
  while (true) {
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    tags.push_back(q.ColText(0));
  }
  return tags;
}

Result<std::vector<std::string>> SqliteMetaStore::ListRepositories(const std::string& registry,
                                                                   const Page& page) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("SELECT repository FROM ("
                   "  SELECT repository FROM blob_links WHERE registry = ?1 AND repository > ?2"
                   "  UNION"
                   "  SELECT repository FROM manifests WHERE registry = ?1 AND repository > ?2"
                   ") ORDER BY repository COLLATE BINARY LIMIT ?3"));
  q.Text(registry).Text(page.last).Limit(page.limit);
  std::vector<std::string> repos;
  while (true) {
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    repos.push_back(q.ColText(0));
  }
  return repos;
}

Result<std::vector<Referrer>> SqliteMetaStore::ListReferrers(
    const RepoKey& repo, const Digest& subject, const std::optional<std::string>& artifact_type) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare(
          "SELECT digest, media_type, length(bytes), artifact_type, annotations FROM manifests "
          "WHERE registry = ?1 AND repository = ?2 AND subject = ?3 "
          "AND (?4 IS NULL OR artifact_type = ?4) ORDER BY digest COLLATE BINARY"));
  q.Text(repo.registry).Text(repo.repository).Text(subject.str());
  if (artifact_type) {
    q.Text(*artifact_type);
  } else {
    q.Null();
  }
  std::vector<Referrer> out;
  while (true) {
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    Referrer r;
    COVE_ASSIGN_OR_RETURN(r.digest, ParseStored(q.ColText(0)));
    r.media_type = q.ColText(1);
    r.size = static_cast<uint64_t>(q.ColInt(2));
    r.artifact_type = q.ColText(3);
    r.annotations_json = q.ColText(4);
    out.push_back(std::move(r));
  }
  return out;
}

// ---- upload sessions ----

Status SqliteMetaStore::CreateUpload(const UploadRecord& upload) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("INSERT INTO uploads (id, registry, repository, acknowledged, started_ns) "
                   "VALUES (?, ?, ?, ?, ?)"));
  auto created = q.Text(upload.id)
                     .Text(upload.repo.registry)
                     .Text(upload.repo.repository)
                     .Int(ToInt64(upload.acknowledged))
                     .Int(ToNanos(upload.started))
                     .Run();
  if (!created && created.error().code == Code::kAlreadyExists) {
    return Fail(Code::kAlreadyExists, "upload " + upload.id + " exists");
  }
  return created;
}

Result<UploadRecord> SqliteMetaStore::GetUpload(const std::string& id) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare(
          "SELECT registry, repository, acknowledged, started_ns FROM uploads WHERE id = ?"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Text(id).Step());
  if (!row) return Fail(Code::kNotFound, "upload " + id + " not found");
  return UploadRecord{id, RepoKey{q.ColText(0), q.ColText(1)}, static_cast<uint64_t>(q.ColInt(2)),
                      FromNanos(q.ColInt(3))};
}

Status SqliteMetaStore::SetUploadAcknowledged(const std::string& id, uint64_t acknowledged) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(Query q, db_->Prepare("UPDATE uploads SET acknowledged = ? WHERE id = ?"));
  COVE_RETURN_IF_ERROR(q.Int(ToInt64(acknowledged)).Text(id).Run());
  if (db_->Changes() == 0) return Fail(Code::kNotFound, "upload " + id + " not found");
  return Ok();
}

Status SqliteMetaStore::DeleteUpload(const std::string& id) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(Query q, db_->Prepare("DELETE FROM uploads WHERE id = ?"));
  COVE_RETURN_IF_ERROR(q.Text(id).Run());
  if (db_->Changes() == 0) return Fail(Code::kNotFound, "upload " + id + " not found");
  return Ok();
}

Result<std::vector<UploadRecord>> SqliteMetaStore::ListUploadsStartedBefore(
    Clock::TimePoint cutoff) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("SELECT id, registry, repository, acknowledged, started_ns FROM uploads "
                   "WHERE started_ns < ? ORDER BY started_ns, id"));
  q.Int(ToNanos(cutoff));
  std::vector<UploadRecord> out;
  while (true) {
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(UploadRecord{q.ColText(0), RepoKey{q.ColText(1), q.ColText(2)},
                               static_cast<uint64_t>(q.ColInt(3)), FromNanos(q.ColInt(4))});
  }
  return out;
}

// ---- online garbage collection ----

int64_t SqliteMetaStore::NowNanos() const { return ToNanos(clock_.Now()); }

Status SqliteMetaStore::ProtectBlob(const Digest& digest) {
  // The mutex is the claim: a sweep deciding about any blob holds it.
  std::lock_guard lock(db_->mu());
  return QueueBlobReview(*db_, digest.str(), NowNanos());
}

Result<uint64_t> SqliteMetaStore::SweepLinks(Clock::TimePoint due_before, uint64_t limit) {
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  struct Due {
    RepoKey repo;
    std::string digest;
  };
  std::vector<Due> due;
  {
    COVE_ASSIGN_OR_RETURN(
        Query q, db_->Prepare("SELECT registry, repository, digest FROM gc_link_reviews "
                              "WHERE queued_ns <= ? ORDER BY queued_ns LIMIT ?"));
    q.Int(ToNanos(due_before)).Int(ToInt64(limit));
    while (true) {
      COVE_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      due.push_back({{q.ColText(0), q.ColText(1)}, q.ColText(2)});
    }
  }
  uint64_t removed = 0;
  int64_t now = NowNanos();
  for (const Due& d : due) {
    {
      COVE_ASSIGN_OR_RETURN(
          Query q, db_->Prepare("DELETE FROM gc_link_reviews "
                                "WHERE registry = ? AND repository = ? AND digest = ?"));
      COVE_RETURN_IF_ERROR(q.Text(d.repo.registry).Text(d.repo.repository).Text(d.digest).Run());
    }
    // A manifest of the repository that names the digest (as a blob, a child, or as itself)
    // keeps the link.
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare(
            "DELETE FROM blob_links WHERE registry = ?1 AND repository = ?2 AND digest = ?3 "
            "AND NOT EXISTS (SELECT 1 FROM manifest_refs WHERE registry = ?1 AND repository = ?2 "
            "AND ref_digest = ?3) "
            "AND NOT EXISTS (SELECT 1 FROM manifests WHERE registry = ?1 AND repository = ?2 "
            "AND digest = ?3)"));
    COVE_RETURN_IF_ERROR(q.Text(d.repo.registry).Text(d.repo.repository).Text(d.digest).Run());
    if (db_->Changes() > 0) ++removed;
    // Queued when the link went now, and also when it was already gone (an UnlinkBlob before
    // the manifest that referenced it was deleted: nothing else would queue the blob).
    bool linked = false;
    {
      COVE_ASSIGN_OR_RETURN(
          Query exists,
          db_->Prepare("SELECT 1 FROM blob_links WHERE registry = ? AND repository = ? AND "
                       "digest = ?"));
      exists.Text(d.repo.registry).Text(d.repo.repository).Text(d.digest);
      COVE_ASSIGN_OR_RETURN(linked, exists.Step());
    }
    if (!linked) COVE_RETURN_IF_ERROR(QueueBlobReview(*db_, d.digest, now));
  }
  COVE_RETURN_IF_ERROR(txn.Commit());
  return removed;
}

Result<std::optional<MetaStore::BlobSweep>> SqliteMetaStore::SweepNextBlob(
    Clock::TimePoint due_before, const std::function<Status(const Digest&)>& delete_bytes) {
  // The claim is the transaction under the mutex: ProtectBlob (and every writer) waits for it.
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  std::string text;
  {
    COVE_ASSIGN_OR_RETURN(
        Query q, db_->Prepare("SELECT digest FROM gc_blob_reviews WHERE queued_ns <= ? "
                              "ORDER BY queued_ns, digest LIMIT 1"));
    COVE_ASSIGN_OR_RETURN(bool row, q.Int(ToNanos(due_before)).Step());
    if (!row) return std::optional<BlobSweep>();
    text = q.ColText(0);
  }
  COVE_ASSIGN_OR_RETURN(Digest digest, ParseStored(text));
  COVE_ASSIGN_OR_RETURN(bool referenced, Referenced(*db_, text));
  if (!referenced) {
    Status deleted = delete_bytes(digest);
    if (!deleted && deleted.error().code != Code::kNotFound) {
      // The review stays (the transaction rolls back) for a later sweep.
      return Fail(deleted.error().code,
                  "deleting blob " + text + ": " + deleted.error().message);
    }
  }
  {
    COVE_ASSIGN_OR_RETURN(Query q, db_->Prepare("DELETE FROM gc_blob_reviews WHERE digest = ?"));
    COVE_RETURN_IF_ERROR(q.Text(text).Run());
  }
  COVE_RETURN_IF_ERROR(txn.Commit());
  return std::optional<BlobSweep>(BlobSweep{std::move(digest), !referenced});
}

Result<uint64_t> SqliteMetaStore::DeleteUntaggedManifests(const std::string& registry,
                                                          Clock::TimePoint created_before,
                                                          uint64_t limit) {
  std::lock_guard lock(db_->mu());
  Transaction txn(*db_);
  COVE_RETURN_IF_ERROR(txn.Begin());
  std::vector<std::pair<RepoKey, std::string>> doomed;
  {
    COVE_ASSIGN_OR_RETURN(
        Query q,
        db_->Prepare(
            "SELECT m.repository, m.digest FROM manifests m "
            "WHERE m.registry = ?1 AND m.created_ns < ?2 "
            "AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.registry = m.registry "
            "  AND t.repository = m.repository AND t.digest = m.digest) "
            "AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.registry = m.registry "
            "  AND r.repository = m.repository AND r.ref_digest = m.digest "
            "  AND r.manifest_digest <> m.digest) "
            "AND NOT (m.subject IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s "
            "  WHERE s.registry = m.registry AND s.repository = m.repository "
            "  AND s.digest = m.subject)) "
            "ORDER BY m.created_ns, m.repository, m.digest LIMIT ?3"));
    q.Text(registry).Int(ToNanos(created_before)).Int(ToInt64(limit));
    while (true) {
      COVE_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      doomed.emplace_back(RepoKey{registry, q.ColText(0)}, q.ColText(1));
    }
  }
  uint64_t deleted = 0;
  int64_t now = NowNanos();
  for (const auto& [repo, digest] : doomed) {
    COVE_ASSIGN_OR_RETURN(bool gone, DeleteManifestQueued(*db_, repo, digest, now));
    if (gone) ++deleted;
  }
  COVE_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

Result<uint64_t> SqliteMetaStore::RegistryUsage(const std::string& registry) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("SELECT COALESCE((SELECT SUM(size) FROM (SELECT MAX(size) AS size "
                   "  FROM blob_links WHERE registry = ?1 GROUP BY digest)), 0) "
                   "+ COALESCE((SELECT SUM(length(bytes)) FROM manifests WHERE registry = ?1), 0)"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Text(registry).Step());
  return row ? static_cast<uint64_t>(q.ColInt(0)) : 0;
}

Result<MetaStore::ReviewBacklog> SqliteMetaStore::PendingReviews() {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(Query q,
                        db_->Prepare("SELECT (SELECT COUNT(*) FROM gc_link_reviews), "
                                     "(SELECT COUNT(*) FROM gc_blob_reviews)"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return ReviewBacklog{};
  return ReviewBacklog{static_cast<uint64_t>(q.ColInt(0)), static_cast<uint64_t>(q.ColInt(1))};
}

}  // namespace cove::storage
