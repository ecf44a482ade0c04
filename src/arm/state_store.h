// StateStore: where the control plane's documents persist — SQLite (WAL) at
// <data_dir>/control.db. The control plane keeps every resource in memory as a JSON document
// under its lowercased path key; the store holds the same documents so a restart finds them.
//
// On-disk layout (schema version in PRAGMA user_version, migrations below in state_store.cc):
//   documents(key TEXT PRIMARY KEY, body TEXT)   one row per resource, subscription, provider
//                                                registration, plus "#meta" (counters)
//
// Apply() writes one request's changes in one transaction: all of them or none.
//
// Thread-safety: not thread-safe; the control plane calls it under its writer lock.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace cove::arm {

class StateStore {
 public:
  // Opens (creating) the database at `path` (":memory:" for a throwaway one) and migrates it.
  // kIOError / kCorruption naming the path when it cannot.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Every stored document, by key.
  Result<std::map<std::string, std::string>> LoadAll();
  // Upserts (value set) and deletes (nullopt) in one transaction.
  Status Apply(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes);

 private:
  struct Db;
  explicit StateStore(std::unique_ptr<Db> db);
  std::unique_ptr<Db> db_;
};

}  // namespace cove::arm
