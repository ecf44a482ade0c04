#include "replication/journal.h"

#include <sqlite3.h>

#include <limits>
#include <mutex>
#include <utility>

#include "storage/sqlite_error.h"

namespace cove::replication {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS journal (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  origin      TEXT    NOT NULL,
  hlc_ms      INTEGER NOT NULL,
  hlc_logical INTEGER NOT NULL,
  kind        TEXT    NOT NULL,
  registry    TEXT    NOT NULL,
  repository  TEXT    NOT NULL,
  tag         TEXT    NOT NULL,
  digest      TEXT    NOT NULL,
  media_type  TEXT    NOT NULL,
  size        INTEGER NOT NULL,
  UNIQUE (origin, hlc_ms, hlc_logical)
);
CREATE TABLE IF NOT EXISTS registers (
  kind        INTEGER NOT NULL,
  registry    TEXT    NOT NULL,
  repository  TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  hlc_ms      INTEGER NOT NULL,
  hlc_logical INTEGER NOT NULL,
  origin      TEXT    NOT NULL,
  digest      TEXT    NOT NULL,
  deleted     INTEGER NOT NULL,
  PRIMARY KEY (kind, registry, repository, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registers_by_digest ON registers (kind, registry, repository, digest);
CREATE TABLE IF NOT EXISTS cursors (
  peer TEXT PRIMARY KEY,
  seq  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

constexpr const char* kFindSql =
    "SELECT seq FROM journal WHERE hlc_ms = ? AND hlc_logical = ? AND origin = ?";
constexpr const char* kSetCursorSql =
    "INSERT INTO cursors (peer, seq) VALUES (?, ?) ON CONFLICT DO UPDATE SET seq = excluded.seq";

constexpr std::string_view kKindNames[] = {"blob-linked",      "blob-unlinked", "manifest-put",
                                           "manifest-deleted", "tag-set",       "tag-deleted"};

int64_t Clamp(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}

// One statement: bind in order, step, read columns; finalized when it goes away.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Text(std::string_view v) {
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_text64(stmt_, next_++, v.data() ? v.data() : "", v.size(),
                                SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    return *this;
  }
  Stmt& Int(int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, next_++, v);
    return *this;
  }
  // Binds an HLC as three parameters: ms, logical, origin.
  Stmt& Stamp(const Hlc& h) { return Int(h.ms).Int(h.logical).Text(h.origin); }
  Result<bool> Step() {
    if (rc_ != SQLITE_OK) return Fail(storage::SqlError(db_, rc_, "prepare/bind"));
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(storage::SqlError(db_, rc, "step"));
  }
  Status Run() {
    COVE_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Ok();
  }
  std::string ColText(int i) const {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
  }
  int64_t ColInt(int i) const { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  int next_ = 1;
};

Status Exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return Fail(storage::SqlError(db, rc, "exec"));
  return Ok();
}

struct RegisterChange {
  RegisterKind kind;
  std::string name;
  bool deleted;
};

// The register an entry moves.
RegisterChange RegisterOf(const Entry& e) {
  switch (e.kind) {
    case EntryKind::kBlobLinked:
      return {RegisterKind::kBlob, e.digest, false};
    case EntryKind::kBlobUnlinked:
      return {RegisterKind::kBlob, e.digest, true};
    case EntryKind::kManifestPut:
      return {RegisterKind::kManifest, e.digest, false};
    case EntryKind::kManifestDeleted:
      return {RegisterKind::kManifest, e.digest, true};
    case EntryKind::kTagSet:
      return {RegisterKind::kTag, e.tag, false};
    case EntryKind::kTagDeleted:
      return {RegisterKind::kTag, e.tag, true};
  }
  return {RegisterKind::kBlob, e.digest, false};
}

}  // namespace

std::string_view EntryKindName(EntryKind kind) { return kKindNames[static_cast<int>(kind)]; }

std::optional<EntryKind> ParseEntryKind(std::string_view name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i) {
    if (kKindNames[i] == name) return static_cast<EntryKind>(i);
  }
  return std::nullopt;
}

struct Journal::Db {
  explicit Db(sqlite3* h) : handle(h) {}
  ~Db() { sqlite3_close_v2(handle); }
  sqlite3* handle;
  std::mutex mu;
};

Journal::Journal(std::unique_ptr<Db> db) : db_(std::move(db)) {}
Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto db = std::make_unique<Db>(raw);
  if (rc != SQLITE_OK) return Fail(storage::SqlError(raw, rc, "open " + path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  COVE_RETURN_IF_ERROR(Exec(raw, "PRAGMA journal_mode = WAL"));
  COVE_RETURN_IF_ERROR(Exec(raw, "PRAGMA synchronous = FULL"));
  COVE_RETURN_IF_ERROR(Exec(raw, kSchema));
  return std::unique_ptr<Journal>(new Journal(std::move(db)));
}

Result<int64_t> Journal::Record(const Entry& e, const std::string* peer, int64_t peer_seq) {
  std::lock_guard lock(db_->mu);
  sqlite3* db = db_->handle;
  COVE_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  auto body = [&]() -> Result<int64_t> {
    {
      Stmt insert(db,
                  "INSERT INTO journal (hlc_ms, hlc_logical, origin, kind, registry, repository, "
                  "tag, digest, media_type, size) VALUES (?,?,?,?,?,?,?,?,?,?) "
                  "ON CONFLICT DO NOTHING");
      COVE_RETURN_IF_ERROR(insert.Stamp(e.hlc)
                               .Text(EntryKindName(e.kind))
                               .Text(e.registry)
                               .Text(e.repository)
                               .Text(e.tag)
                               .Text(e.digest)
                               .Text(e.media_type)
                               .Int(Clamp(e.size))
                               .Run());
    }
    Stmt find(db, kFindSql);
    COVE_ASSIGN_OR_RETURN(bool found, find.Stamp(e.hlc).Step());
    if (!found) return Fail(Code::kInternal, "journal entry vanished");
    int64_t seq = find.ColInt(0);

    RegisterChange change = RegisterOf(e);
    Stmt upsert(db,
                "INSERT INTO registers (kind, registry, repository, name, hlc_ms, hlc_logical, "
                "origin, digest, deleted) VALUES (?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT DO UPDATE SET hlc_ms = excluded.hlc_ms, "
                "hlc_logical = excluded.hlc_logical, origin = excluded.origin, "
                "digest = excluded.digest, deleted = excluded.deleted "
                "WHERE (excluded.hlc_ms, excluded.hlc_logical, excluded.origin) > "
                "(hlc_ms, hlc_logical, origin)");
    COVE_RETURN_IF_ERROR(upsert.Int(static_cast<int>(change.kind))
                             .Text(e.registry)
                             .Text(e.repository)
                             .Text(change.name)
                             .Stamp(e.hlc)
                             .Text(e.digest)
                             .Int(change.deleted ? 1 : 0)
                             .Run());
    if (e.kind == EntryKind::kManifestDeleted) {
      // The tags that pointed at the manifest went with it.
      Stmt tombstone(db,
                     "UPDATE registers SET hlc_ms = ?, hlc_logical = ?, origin = ?, deleted = 1 "
                     "WHERE kind = ? AND registry = ? AND repository = ? AND digest = ? AND "
                     "deleted = 0 AND (hlc_ms, hlc_logical, origin) < (?, ?, ?)");
      COVE_RETURN_IF_ERROR(tombstone.Stamp(e.hlc)
                               .Int(static_cast<int>(RegisterKind::kTag))
                               .Text(e.registry)
                               .Text(e.repository)
                               .Text(e.digest)
                               .Stamp(e.hlc)
                               .Run());
    }
    if (peer != nullptr) {
      Stmt cursor(db, kSetCursorSql);
      COVE_RETURN_IF_ERROR(cursor.Text(*peer).Int(peer_seq).Run());
    }
    return seq;
  };
  auto seq = body();
  if (!seq) {
    (void)Exec(db, "ROLLBACK");
    return seq;
  }
  Status committed = Exec(db, "COMMIT");
  if (!committed) {
    (void)Exec(db, "ROLLBACK");
    return Fail(std::move(committed).error());
  }
  return seq;
}

Result<bool> Journal::Has(const Hlc& hlc) {
  std::lock_guard lock(db_->mu);
  Stmt find(db_->handle, kFindSql);
  return find.Stamp(hlc).Step();
}

Result<std::vector<Entry>> Journal::After(int64_t after, int64_t limit) {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle,
         "SELECT seq, origin, hlc_ms, hlc_logical, kind, registry, repository, tag, digest, "
         "media_type, size FROM journal WHERE seq > ? ORDER BY seq LIMIT ?");
  q.Int(after).Int(limit);
  std::vector<Entry> out;
  while (true) {
    COVE_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    Entry e;
    e.seq = q.ColInt(0);
    e.hlc = Hlc{q.ColInt(2), q.ColInt(3), q.ColText(1)};
    auto kind = ParseEntryKind(q.ColText(4));
    if (!kind) return Fail(Code::kCorruption, "journal entry kind '" + q.ColText(4) + "'");
    e.kind = *kind;
    e.registry = q.ColText(5);
    e.repository = q.ColText(6);
    e.tag = q.ColText(7);
    e.digest = q.ColText(8);
    e.media_type = q.ColText(9);
    e.size = static_cast<uint64_t>(q.ColInt(10));
    out.push_back(std::move(e));
  }
  return out;
}

Result<int64_t> Journal::Head() {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle, "SELECT COALESCE(MAX(seq), 0) FROM journal");
  COVE_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColInt(0) : 0;
}

Result<std::optional<Hlc>> Journal::MaxHlc() {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle,
         "SELECT hlc_ms, hlc_logical, origin FROM journal "
         "ORDER BY hlc_ms DESC, hlc_logical DESC LIMIT 1");
  COVE_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Hlc>();
  return std::optional<Hlc>(Hlc{q.ColInt(0), q.ColInt(1), q.ColText(2)});
}

Result<std::optional<Register>> Journal::Get(RegisterKind kind, const std::string& registry,
                                             const std::string& repository,
                                             const std::string& name) {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle,
         "SELECT hlc_ms, hlc_logical, origin, digest, deleted FROM registers "
         "WHERE kind = ? AND registry = ? AND repository = ? AND name = ?");
  COVE_ASSIGN_OR_RETURN(
      bool row, q.Int(static_cast<int>(kind)).Text(registry).Text(repository).Text(name).Step());
  if (!row) return std::optional<Register>();
  return std::optional<Register>(
      Register{Hlc{q.ColInt(0), q.ColInt(1), q.ColText(2)}, q.ColText(3), q.ColInt(4) != 0});
}

Status Journal::ForgetRegistry(const std::string& registry) {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle, "DELETE FROM registers WHERE registry = ?");
  return q.Text(registry).Run();
}

Result<int64_t> Journal::Cursor(const std::string& peer) {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle, "SELECT seq FROM cursors WHERE peer = ?");
  COVE_ASSIGN_OR_RETURN(bool row, q.Text(peer).Step());
  return row ? q.ColInt(0) : 0;
}

Status Journal::SetCursor(const std::string& peer, int64_t seq) {
  std::lock_guard lock(db_->mu);
  Stmt q(db_->handle, kSetCursorSql);
  return q.Text(peer).Int(seq).Run();
}

}  // namespace cove::replication
