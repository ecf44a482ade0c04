// SqlError: the one translation of an SQLite result code into a cove Error, for every module
// that keeps state in SQLite (storage/sqlite_meta_store.cc, arm/state_store.cc).
//
//   SQLITE_BUSY, SQLITE_LOCKED                         kUnavailable (try again)
//   SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE              kAlreadyExists
//   other SQLITE_CONSTRAINT                            kFailedPrecondition
//   SQLITE_CORRUPT, SQLITE_NOTADB                      kCorruption
//   SQLITE_IOERR, _FULL, _CANTOPEN, _READONLY, _PERM   kIOError
//   SQLITE_TOOBIG                                      kResourceExhausted
//   anything else                                      kInternal
// The message is "<what>: <sqlite3_errstr(rc)> (<sqlite3_errmsg(db)>)".
//
// In cove_storage; the control plane links it for this alone (a static library: only the object
// it uses is linked in, not the blob and metadata stores).
//
// Thread-safety: reads `db`'s last error message, so call it on the thread that got `rc`.
#pragma once

#include <string_view>

#include "common/error.h"

struct sqlite3;

namespace cove::storage {

// `rc` is an (extended) SQLite result code; `db` may be null (no message from the connection).
Error SqlError(sqlite3* db, int rc, std::string_view what);

}  // namespace cove::storage
