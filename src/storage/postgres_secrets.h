// PostgresSecrets: small named secrets that every registry node over one PostgreSQL database
// must share — the token-signing keys (auth/keys.h) and the data-endpoint URL keys
// (daemon/url_keys.h), one row per key — in the table <schema>.cove_secrets(kind, name, value bytea, PK(kind, name)), created
// when missing (CREATE TABLE IF NOT EXISTS; it is apart from PostgresMetaStore's migrations so
// that either may change without the other).
//
// Secrets are read when a node starts, when it maintains its keys (every 10 minutes) and when a
// token names a key it does not know (at most once a second): each call opens its own
// connection and closes it, so nothing here holds a connection for long or needs a pool.
// Values are never logged; errors name the database with the password masked.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/error.h"

namespace cove::storage {

class PostgresSecrets {
 public:
  // Checks that the database answers and creates the table. kUnavailable when it does not
  // (naming it), kInvalidArgument for a bad schema name.
  static Result<std::unique_ptr<PostgresSecrets>> Open(std::string conninfo, std::string schema);

  // Every secret of `kind`: name → value.
  Result<std::map<std::string, std::string>> List(const std::string& kind);
  // Stores a new secret; kAlreadyExists when the name is taken.
  Status Put(const std::string& kind, const std::string& name, const std::string& value);
  // Ok also when it was already gone.
  Status Remove(const std::string& kind, const std::string& name);
  // Where the secrets are, for messages: the connection string without its password.
  const std::string& where() const { return where_; }

 private:
  PostgresSecrets(std::string conninfo, std::string schema, std::string where)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)), where_(std::move(where)) {}

  std::string conninfo_, schema_, where_;
};

}  // namespace cove::storage
