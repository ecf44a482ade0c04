#include "arm/state_store.h"

#include <sqlite3.h>

#include <iterator>

#include "storage/sqlite_error.h"

namespace cove::arm {
namespace {

// Append-only; user_version counts the ones applied.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE documents (
  key  TEXT NOT NULL PRIMARY KEY COLLATE BINARY,
  body TEXT NOT NULL
) WITHOUT ROWID;
)sql",
};

using storage::SqlError;

}  // namespace

struct StateStore::Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close_v2(db); }
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc != SQLITE_OK) return Fail(SqlError(db, rc, "exec"));
    return Ok();
  }
};

StateStore::StateStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  auto db = std::make_unique<Db>();
  int rc = sqlite3_open_v2(path.c_str(), &db->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return Fail(SqlError(db->db, rc, "open " + path));
  sqlite3_extended_result_codes(db->db, 1);
  sqlite3_busy_timeout(db->db, 5000);
  COVE_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL"));
  COVE_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = FULL"));
  sqlite3_stmt* stmt = nullptr;
  rc = sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Fail(SqlError(db->db, rc, "read schema version of " + path));
  int version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  constexpr int kVersion = static_cast<int>(std::size(kMigrations));
  if (version > kVersion) {
    return Fail(Code::kCorruption, path + " has schema version " + std::to_string(version) +
                                       ", newer than this coved (" + std::to_string(kVersion) +
                                       ")");
  }
  for (int v = version; v < kVersion; ++v) {
    COVE_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
    auto applied = db->Exec(kMigrations[v]);
    if (applied) applied = db->Exec("PRAGMA user_version = " + std::to_string(v + 1));
    if (!applied) {
      (void)db->Exec("ROLLBACK");
      return Fail(applied.error());
    }
    COVE_RETURN_IF_ERROR(db->Exec("COMMIT"));
  }
  return std::unique_ptr<StateStore>(new StateStore(std::move(db)));
}

Result<std::map<std::string, std::string>> StateStore::LoadAll() {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_->db, "SELECT key, body FROM documents", -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return Fail(SqlError(db_->db, rc, "load documents"));
  std::map<std::string, std::string> out;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    auto text = [&](int i) {
      const unsigned char* p = sqlite3_column_text(stmt, i);
      return std::string(p ? reinterpret_cast<const char*>(p) : "",
                         static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
    };
    out.emplace(text(0), text(1));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Fail(SqlError(db_->db, rc, "load documents"));
  return out;
}

Status StateStore::Apply(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes) {
  if (changes.empty()) return Ok();
  COVE_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  sqlite3_stmt* put = nullptr;
  sqlite3_stmt* del = nullptr;
  Status result = Ok();
  int rc = sqlite3_prepare_v2(db_->db,
                              "INSERT INTO documents(key, body) VALUES(?1, ?2) "
                              "ON CONFLICT(key) DO UPDATE SET body = excluded.body",
                              -1, &put, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db_->db, "DELETE FROM documents WHERE key = ?1", -1, &del, nullptr);
  }
  if (rc != SQLITE_OK) result = Fail(SqlError(db_->db, rc, "prepare"));
  for (const auto& [key, body] : changes) {
    if (!result) break;
    sqlite3_stmt* s = body ? put : del;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    if (body) sqlite3_bind_text(s, 2, body->data(), static_cast<int>(body->size()), SQLITE_TRANSIENT);
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) result = Fail(SqlError(db_->db, rc, "write " + key));
  }
  sqlite3_finalize(put);
  sqlite3_finalize(del);
  if (!result) {
    (void)db_->Exec("ROLLBACK");
    return result;
  }
  return db_->Exec("COMMIT");
}

}  // namespace cove::arm
