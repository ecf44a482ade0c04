#include "storage/sqlite_error.h"

#include <sqlite3.h>

#include <string>

namespace cove::storage {

Error SqlError(sqlite3* db, int rc, std::string_view what) {
  Code code = Code::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = Code::kUnavailable;
      break;
    case SQLITE_CONSTRAINT:
      code = (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
                 ? Code::kAlreadyExists
                 : Code::kFailedPrecondition;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = Code::kCorruption;
      break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = Code::kIOError;
      break;
    case SQLITE_TOOBIG:
      code = Code::kResourceExhausted;
      break;
    default:
      break;
  }
  std::string message = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db != nullptr) message += " (" + std::string(sqlite3_errmsg(db)) + ")";
  return Error{code, std::move(message)};
}

}  // namespace cove::storage
