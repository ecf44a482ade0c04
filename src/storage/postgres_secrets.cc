#include "storage/postgres_secrets.h"

#include <libpq-fe.h>

#include <vector>

#include "storage/connection_string.h"

namespace cove::storage {
namespace {

bool ValidSchema(const std::string& s) {
  if (s.empty() || s.size() > 48 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z'))) return false;
  for (char c : s) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Rows = std::unique_ptr<PGresult, ResultDeleter>;

Result<Conn> Connect(const std::string& conninfo, const std::string& where) {
  Conn conn(PQconnectdb(conninfo.c_str()));
  if (!conn) return Fail(Code::kResourceExhausted, "libpq: out of memory");
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Fail(Code::kUnavailable, "PostgreSQL " + where + " unreachable: " +
                                        Trimmed(PQerrorMessage(conn.get())));
  }
  return conn;
}

// Runs `sql` with text parameters, except those listed in `binary` (bytea values); results come
// back in binary format so bytea values need no unescaping.
Result<Rows> Exec(PGconn* conn, const std::string& where, const std::string& sql,
                  const std::vector<std::string>& params, const std::vector<bool>& binary = {}) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (size_t i = 0; i < params.size(); ++i) {
    values.push_back(params[i].data());
    lengths.push_back(static_cast<int>(params[i].size()));
    formats.push_back(i < binary.size() && binary[i] ? 1 : 0);
  }
  Rows rows(PQexecParams(conn, sql.c_str(), static_cast<int>(params.size()), nullptr,
                         values.data(), lengths.data(), formats.data(), 1));
  ExecStatusType status = rows ? PQresultStatus(rows.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const char* state = rows ? PQresultErrorField(rows.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string message = Trimmed(rows ? PQresultErrorMessage(rows.get()) : PQerrorMessage(conn));
  if (sqlstate == "23505") return Fail(Code::kAlreadyExists, "secret exists");
  Code code = sqlstate.starts_with("08") || PQstatus(conn) != CONNECTION_OK ? Code::kUnavailable
                                                                            : Code::kIOError;
  return Fail(code, "PostgreSQL " + where + ": " + message);
}

std::string Value(PGresult* rows, int row, int column) {
  return std::string(PQgetvalue(rows, row, column),
                     static_cast<size_t>(PQgetlength(rows, row, column)));
}

}  // namespace

Result<std::unique_ptr<PostgresSecrets>> PostgresSecrets::Open(std::string conninfo,
                                                               std::string schema) {
  if (!ValidSchema(schema)) return Fail(Code::kInvalidArgument, "bad schema name " + schema);
  std::string where = RedactConnection(conninfo);
  COVE_ASSIGN_OR_RETURN(Conn conn, Connect(conninfo, where));
  // Two nodes creating the schema or table at once: IF NOT EXISTS still races in the catalog
  // (unique violation), so take turns under a transaction-scoped advisory lock.
  std::string ddl = "BEGIN; SELECT pg_advisory_xact_lock(hashtext('cove_secrets')); "
                    "CREATE SCHEMA IF NOT EXISTS " + schema + "; "
                    "CREATE TABLE IF NOT EXISTS " + schema + ".cove_secrets ("
                    "kind text COLLATE \"C\" NOT NULL, name text COLLATE \"C\" NOT NULL, "
                    "value bytea NOT NULL, PRIMARY KEY (kind, name)); COMMIT";
  Rows created(PQexec(conn.get(), ddl.c_str()));  // several statements: not PQexecParams
  if (!created || PQresultStatus(created.get()) != PGRES_COMMAND_OK) {
    return Fail(Code::kUnavailable,
                "PostgreSQL " + where + ": cannot create " + schema + ".cove_secrets: " +
                    Trimmed(created ? PQresultErrorMessage(created.get())
                                    : PQerrorMessage(conn.get())));
  }
  return std::unique_ptr<PostgresSecrets>(
      new PostgresSecrets(std::move(conninfo), std::move(schema), std::move(where)));
}

Result<std::map<std::string, std::string>> PostgresSecrets::List(const std::string& kind) {
  COVE_ASSIGN_OR_RETURN(Conn conn, Connect(conninfo_, where_));
  COVE_ASSIGN_OR_RETURN(
      Rows rows, Exec(conn.get(), where_,
                      "SELECT name, value FROM " + schema_ + ".cove_secrets WHERE kind = $1",
                      {kind}));
  std::map<std::string, std::string> out;
  for (int i = 0; i < PQntuples(rows.get()); ++i) out[Value(rows.get(), i, 0)] = Value(rows.get(), i, 1);
  return out;
}

Status PostgresSecrets::Put(const std::string& kind, const std::string& name,
                            const std::string& value) {
  COVE_ASSIGN_OR_RETURN(Conn conn, Connect(conninfo_, where_));
  COVE_RETURN_IF_ERROR(Exec(conn.get(), where_,
                            "INSERT INTO " + schema_ +
                                ".cove_secrets (kind, name, value) VALUES ($1, $2, $3)",
                            {kind, name, value}, {false, false, true}));
  return Ok();
}

Status PostgresSecrets::Remove(const std::string& kind, const std::string& name) {
  COVE_ASSIGN_OR_RETURN(Conn conn, Connect(conninfo_, where_));
  COVE_RETURN_IF_ERROR(Exec(conn.get(), where_,
                            "DELETE FROM " + schema_ + ".cove_secrets WHERE kind = $1 AND name = $2",
                            {kind, name}));
  return Ok();
}

}  // namespace cove::storage
