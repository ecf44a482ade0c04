#include "storage/sqlite_meta_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "storage/sqlite_error.h"

namespace cove::storage {
namespace {

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
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr int kBusyTimeoutMs = 5000;
constexpr int64_t kRefBlob = 0;
constexpr int64_t kRefManifest = 1;

int64_t ToNanos(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::TimePoint FromNanos(int64_t ns) {
  return Clock::TimePoint(
      std::chrono::duration_cast<Clock::TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

int64_t ToInt64(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}

Result<Digest> ParseStored(std::string_view text) {
  auto digest = Digest::Parse(text);
  if (!digest) {
    return Fail(Code::kCorruption, "stored digest '" + std::string(text) + "' is invalid");
  }
  return *digest;
}

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

SqliteMetaStore::SqliteMetaStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
SqliteMetaStore::~SqliteMetaStore() = default;

int SqliteMetaStore::SchemaVersion() { return kSchemaVersion; }

Result<MetaStorePtr> SqliteMetaStore::Open(std::string path) {
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
  return MetaStorePtr(new SqliteMetaStore(std::move(db)));
}

// ---- blobs in repositories ----

Status SqliteMetaStore::LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare(
          "INSERT INTO blob_links (registry, repository, digest, size) VALUES (?, ?, ?, ?) "
          "ON CONFLICT DO UPDATE SET size = excluded.size"));
  return q.Text(repo.registry).Text(repo.repository).Text(digest.str()).Int(ToInt64(size)).Run();
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
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("DELETE FROM blob_links WHERE registry = ? AND repository = ? AND digest = ?"));
  COVE_RETURN_IF_ERROR(q.Text(repo.registry).Text(repo.repository).Text(digest.str()).Run());
  if (db_->Changes() == 0) {
    return Fail(Code::kNotFound, "blob " + digest.str() + " is not linked in " + repo.repository);
  }
  return Ok();
}

Result<bool> SqliteMetaStore::BlobReferenced(const Digest& digest) {
  std::lock_guard lock(db_->mu());
  COVE_ASSIGN_OR_RETURN(
      Query q, db_->Prepare("SELECT EXISTS (SELECT 1 FROM blob_links WHERE digest = ?1) "
                            "OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = ?1) "
                            "OR EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)"));
  COVE_ASSIGN_OR_RETURN(bool row, q.Text(digest.str()).Step());
  return row && q.ColInt(0) != 0;
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
  // Tags and references go with the manifests (ON DELETE CASCADE); tags first all the same.
  for (const char* sql :
       {"DELETE FROM tags WHERE registry = ?", "DELETE FROM manifests WHERE registry = ?",
        "DELETE FROM blob_links WHERE registry = ?", "DELETE FROM uploads WHERE registry = ?"}) {
    COVE_ASSIGN_OR_RETURN(Query q, db_->Prepare(sql));
    COVE_RETURN_IF_ERROR(q.Text(registry).Run());
  }
  return txn.Commit();
}

Status SqliteMetaStore::DeleteManifest(const RepoKey& repo, const Digest& digest) {
  std::lock_guard lock(db_->mu());
  // Tags and references go with it (ON DELETE CASCADE).
  COVE_ASSIGN_OR_RETURN(
      Query q,
      db_->Prepare("DELETE FROM manifests WHERE registry = ? AND repository = ? AND digest = ?"));
  COVE_RETURN_IF_ERROR(q.Text(repo.registry).Text(repo.repository).Text(digest.str()).Run());
  if (db_->Changes() == 0) {
    return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
  }
  return Ok();
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

// TODO(gc): placeholders until the GC branch lands its SQLite implementation.
Status SqliteMetaStore::ProtectBlob(const Digest&) { return Fail(Code::kUnimplemented, "gc"); }
Result<uint64_t> SqliteMetaStore::SweepLinks(Clock::TimePoint, uint64_t) {
  return Fail(Code::kUnimplemented, "gc");
}
Result<std::optional<MetaStore::BlobSweep>> SqliteMetaStore::SweepNextBlob(
    Clock::TimePoint, const std::function<Status(const Digest&)>&) {
  return Fail(Code::kUnimplemented, "gc");
}
Result<uint64_t> SqliteMetaStore::DeleteUntaggedManifests(const std::string&, Clock::TimePoint,
                                                          uint64_t) {
  return Fail(Code::kUnimplemented, "gc");
}
Result<uint64_t> SqliteMetaStore::RegistryUsage(const std::string&) {
  return Fail(Code::kUnimplemented, "gc");
}
Result<MetaStore::ReviewBacklog> SqliteMetaStore::PendingReviews() {
  return Fail(Code::kUnimplemented, "gc");
}

}  // namespace cove::storage
