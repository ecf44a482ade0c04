#include "storage/postgres_meta_store.h"

#include <endian.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <utility>

#include "storage/connection_string.h"
#include "storage/stored_values.h"

namespace cove::storage {
namespace {

using stored::FromNanos;
using stored::kRefBlob;
using stored::kRefManifest;
using stored::ParseStored;
using stored::ToInt64;
using stored::ToNanos;

// Schema migrations, applied in order; cove_schema.version is the number applied. Append new
// ones at the end; never change one that has shipped. They run with search_path = the schema.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE blob_links (
  registry   text   COLLATE "C" NOT NULL,
  repository text   COLLATE "C" NOT NULL,
  digest     text   COLLATE "C" NOT NULL,
  size       bigint NOT NULL,
  linked_ns  bigint NOT NULL,
  PRIMARY KEY (registry, repository, digest)
);
CREATE INDEX blob_links_by_digest ON blob_links (digest);

CREATE TABLE manifests (
  registry      text   COLLATE "C" NOT NULL,
  repository    text   COLLATE "C" NOT NULL,
  digest        text   COLLATE "C" NOT NULL,
  media_type    text   NOT NULL,
  bytes         bytea  NOT NULL,
  artifact_type text   COLLATE "C" NOT NULL,
  subject       text   COLLATE "C",
  annotations   text   NOT NULL,
  created_ns    bigint NOT NULL,
  PRIMARY KEY (registry, repository, digest)
);
CREATE INDEX manifests_by_subject ON manifests (registry, repository, subject)
  WHERE subject IS NOT NULL;
CREATE INDEX manifests_by_digest ON manifests (digest);
CREATE INDEX manifests_by_created ON manifests (registry, created_ns);

CREATE TABLE manifest_refs (
  registry        text     COLLATE "C" NOT NULL,
  repository      text     COLLATE "C" NOT NULL,
  manifest_digest text     COLLATE "C" NOT NULL,
  kind            smallint NOT NULL,
  position        integer  NOT NULL,
  ref_digest      text     COLLATE "C" NOT NULL,
  PRIMARY KEY (registry, repository, manifest_digest, kind, position),
  FOREIGN KEY (registry, repository, manifest_digest)
    REFERENCES manifests (registry, repository, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_refs_by_ref ON manifest_refs (ref_digest);
CREATE INDEX manifest_refs_by_repo_ref ON manifest_refs (registry, repository, ref_digest);

CREATE TABLE tags (
  registry   text COLLATE "C" NOT NULL,
  repository text COLLATE "C" NOT NULL,
  tag        text COLLATE "C" NOT NULL,
  digest     text COLLATE "C" NOT NULL,
  PRIMARY KEY (registry, repository, tag),
  FOREIGN KEY (registry, repository, digest)
    REFERENCES manifests (registry, repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_by_digest ON tags (registry, repository, digest);

CREATE TABLE uploads (
  id           text   COLLATE "C" NOT NULL PRIMARY KEY,
  registry     text   COLLATE "C" NOT NULL,
  repository   text   COLLATE "C" NOT NULL,
  acknowledged bigint NOT NULL,
  started_ns   bigint NOT NULL
);
CREATE INDEX uploads_by_started ON uploads (started_ns);
CREATE INDEX uploads_by_registry ON uploads (registry);

CREATE TABLE gc_link_reviews (
  registry   text   COLLATE "C" NOT NULL,
  repository text   COLLATE "C" NOT NULL,
  digest     text   COLLATE "C" NOT NULL,
  queued_ns  bigint NOT NULL,
  PRIMARY KEY (registry, repository, digest)
);
CREATE INDEX gc_link_reviews_by_queued ON gc_link_reviews (queued_ns);

CREATE TABLE gc_blob_reviews (
  digest    text   COLLATE "C" NOT NULL PRIMARY KEY,
  queued_ns bigint NOT NULL
);
CREATE INDEX gc_blob_reviews_by_queued ON gc_blob_reviews (queued_ns);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr int kMaxAttempts = 5;
constexpr size_t kMaxSchemaName = 48;

bool ValidSchemaName(const std::string& s) {
  if (s.empty() || s.size() > kMaxSchemaName) return false;
  if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z'))) return false;
  for (char c : s) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// ---- statements ----

// Parameters of one statement, in order ($1, $2, ...). Text and integers go in text format;
// bytes in binary format (no escaping).
class Params {
 public:
  Params& Text(std::string_view v) { return Add(std::string(v), false, false); }
  Params& Bytes(std::string_view v) { return Add(std::string(v), false, true); }
  Params& Int(int64_t v) { return Add(std::to_string(v), false, false); }
  Params& Null() { return Add("", true, false); }
  Params& OptionalText(const std::optional<std::string>& v) { return v ? Text(*v) : Null(); }
  Params& Limit(const std::optional<uint64_t>& limit) {  // NULL: no limit
    return limit ? Int(ToInt64(*limit)) : Null();
  }
  // A text[] literal; the elements are quoted, so any text but NUL survives.
  Params& TextArray(const std::vector<std::string>& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += '"';
      for (char c : values[i]) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    return Add(out + "}", false, false);
  }
  Params& IntArray(const std::vector<int64_t>& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(values[i]);
    }
    return Add(out + "}", false, false);
  }

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<std::string>& values() const { return values_; }
  const std::vector<bool>& nulls() const { return nulls_; }
  const std::vector<int>& formats() const { return formats_; }

 private:
  Params& Add(std::string value, bool null, bool binary) {
    values_.push_back(std::move(value));
    nulls_.push_back(null);
    formats_.push_back(binary ? 1 : 0);
    return *this;
  }

  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultHandle = std::unique_ptr<PGresult, ResultDeleter>;

// The rows of a statement, in binary format: text and bytea are raw bytes, integers big-endian.
class Rows {
 public:
  explicit Rows(ResultHandle result) : result_(std::move(result)) {}

  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  bool Null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(result_.get(), row, col),
                       static_cast<size_t>(PQgetlength(result_.get(), row, col)));
  }
  // int2, int4, int8 and bool columns.
  int64_t Int(int row, int col) const {
    const char* p = PQgetvalue(result_.get(), row, col);
    switch (PQgetlength(result_.get(), row, col)) {
      case 8: {
        uint64_t v;
        std::memcpy(&v, p, 8);
        return static_cast<int64_t>(be64toh(v));
      }
      case 4: {
        uint32_t v;
        std::memcpy(&v, p, 4);
        return static_cast<int32_t>(be32toh(v));
      }
      case 2: {
        uint16_t v;
        std::memcpy(&v, p, 2);
        return static_cast<int16_t>(be16toh(v));
      }
      case 1:
        return p[0] != 0;
      default:
        return 0;
    }
  }
  // Rows a DELETE, UPDATE or INSERT touched.
  uint64_t affected() const {
    const char* n = PQcmdTuples(result_.get());
    return n == nullptr || *n == '\0' ? 0 : std::strtoull(n, nullptr, 10);
  }

 private:
  ResultHandle result_;
};

bool ConnectionClass(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

Code CodeOf(const std::string& sqlstate) {
  if (sqlstate == "23505") return Code::kAlreadyExists;
  if (sqlstate.rfind("23", 0) == 0) return Code::kFailedPrecondition;
  if (sqlstate == "40001" || sqlstate == "40P01" || ConnectionClass(sqlstate)) {
    return Code::kUnavailable;
  }
  if (sqlstate.rfind("53", 0) == 0 || sqlstate.rfind("54", 0) == 0) {
    return Code::kResourceExhausted;
  }
  if (sqlstate == "22021") return Code::kInvalidArgument;  // invalid byte sequence for encoding
  return Code::kInternal;
}

// Where an unreachable server is: "host H, database D".
std::string Where(PGconn* conn) {
  const char* host = PQhost(conn);
  const char* db = PQdb(conn);
  return std::string("PostgreSQL at host ") + (host && *host ? host : "(default)") + ", database " +
         (db && *db ? db : "(default)");
}

// One connection in use by one attempt of an operation. Remembers how its last failure looked,
// for the runner's retry decision.
class Session {
 public:
  explicit Session(PGconn* conn) : conn_(conn) {}

  Result<Rows> Exec(const char* sql, const Params& params = {}) {
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    for (int i = 0; i < params.size(); ++i) {
      values[i] = params.nulls()[i] ? nullptr : params.values()[i].data();
      lengths[i] = static_cast<int>(params.values()[i].size());
    }
    ResultHandle result(PQexecParams(conn_, sql, params.size(), nullptr, values.data(),
                                     lengths.data(), params.formats().data(), 1));
    return Check(std::move(result));
  }

  // Several statements without parameters (migrations).
  Status Script(const char* sql) {
    COVE_ASSIGN_OR_RETURN(Rows rows, Check(ResultHandle(PQexec(conn_, sql))));
    (void)rows;
    return Ok();
  }

  bool connection_lost() const { return connection_lost_; }
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  Result<Rows> Check(ResultHandle result) {
    ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Rows(std::move(result));
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    sqlstate_ = state ? state : "";
    if (PQstatus(conn_) != CONNECTION_OK || ConnectionClass(sqlstate_)) connection_lost_ = true;
    std::string message = Trim(result ? PQresultErrorMessage(result.get()) : "");
    if (message.empty()) message = Trim(PQerrorMessage(conn_));
    if (connection_lost_) {
      return Fail(Code::kUnavailable, Where(conn_) + ": connection lost: " + message);
    }
    return Fail(CodeOf(sqlstate_), "PostgreSQL: " + message +
                                       (sqlstate_.empty() ? "" : " (SQLSTATE " + sqlstate_ + ")"));
  }

  PGconn* conn_;
  std::string sqlstate_;
  bool connection_lost_ = false;
};

std::string Payload(const std::string& registry, const std::string& repository,
                    const std::string& key, const std::string& value) {
  nlohmann::json j;
  j["registry"] = registry;
  if (!repository.empty()) j["repository"] = repository;
  if (!key.empty()) j[key] = value;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> Strings(const std::vector<Digest>& digests) {
  std::vector<std::string> out;
  out.reserve(digests.size());
  for (const Digest& d : digests) out.push_back(d.str());
  return out;
}

constexpr const char* kQueueLinks =
    "INSERT INTO gc_link_reviews (registry, repository, digest, queued_ns) "
    "SELECT DISTINCT $1::text, $2::text, d, $4::int8 FROM unnest($3::text[]) AS d ORDER BY 3 "
    "ON CONFLICT (registry, repository, digest) "
    "DO UPDATE SET queued_ns = GREATEST(gc_link_reviews.queued_ns, excluded.queued_ns)";
constexpr const char* kQueueBlobs =
    "INSERT INTO gc_blob_reviews (digest, queued_ns) "
    "SELECT DISTINCT d, $2::int8 FROM unnest($1::text[]) AS d ORDER BY 1 "
    "ON CONFLICT (digest) "
    "DO UPDATE SET queued_ns = GREATEST(gc_blob_reviews.queued_ns, excluded.queued_ns)";
constexpr const char* kBlobReferenced =
    "SELECT EXISTS (SELECT 1 FROM blob_links WHERE digest = $1) "
    "OR EXISTS (SELECT 1 FROM manifest_refs WHERE ref_digest = $1) "
    "OR EXISTS (SELECT 1 FROM manifests WHERE digest = $1)";

}  // namespace

// ---- the engine: pool, runner, listener ----

class PostgresMetaStore::Engine {
 public:
  enum class Mode { kRead, kWrite };

  Engine(PostgresOptions options, std::vector<std::pair<std::string, std::string>> params)
      : options_(std::move(options)), params_(std::move(params)) {
    if (options_.clock == nullptr) {
      owned_clock_ = std::make_unique<SystemClock>();
      options_.clock = owned_clock_.get();
    }
    channel_ = "cove_" + options_.schema;
  }

  ~Engine() {
    StopListener();
    for (PGconn* conn : idle_) {
      if (conn != nullptr) PQfinish(conn);
    }
  }

  const std::string& schema() const { return options_.schema; }
  const std::string& channel() const { return channel_; }
  int64_t NowNs() const { return ToNanos(options_.clock->Now()); }

  // A connection for one operation; returned to the pool when the lease ends.
  class Lease {
   public:
    Lease(Engine& engine, PGconn* conn) : engine_(engine), conn_(conn) {}
    ~Lease() { engine_.Release(conn_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PGconn*& conn() { return conn_; }

   private:
    Engine& engine_;
    PGconn* conn_;
  };

  Lease Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || opened_ < options_.pool_size; });
    if (!idle_.empty()) {
      PGconn* conn = idle_.back();
      idle_.pop_back();
      return Lease(*this, conn);
    }
    ++opened_;
    return Lease(*this, nullptr);  // connected by Ready()
  }

  // Makes the lease's connection usable: connects it, or resets it when broken.
  Status Ready(Lease& lease) {
    PGconn*& conn = lease.conn();
    if (conn == nullptr) {
      COVE_ASSIGN_OR_RETURN(conn, Connect());
      return Ok();
    }
    if (PQstatus(conn) == CONNECTION_OK) return Ok();
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
      return Fail(Code::kUnavailable, Where(conn) + " unreachable: " + Trim(PQerrorMessage(conn)));
    }
    return Ok();
  }

  Result<PGconn*> Connect() {
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : params_) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
    if (conn == nullptr) return Fail(Code::kResourceExhausted, "libpq: out of memory");
    // Server notices (and a dropped connection's FATAL) reach callers as errors, not stderr.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    if (PQstatus(conn) != CONNECTION_OK) {
      Error error{Code::kUnavailable, Where(conn) + " unreachable: " + Trim(PQerrorMessage(conn))};
      PQfinish(conn);
      return Fail(std::move(error));
    }
    return conn;
  }

  // Runs `body` on a pooled connection; in a transaction for kWrite. Retries as the header
  // says: the whole transaction on 40001/40P01, once on a fresh connection when the
  // connection broke before COMMIT.
  template <typename T>
  Result<T> Run(Mode mode, const std::function<Result<T>(Session&)>& body) {
    bool reset_used = false;
    for (int attempt = 1;; ++attempt) {
      Lease lease = Acquire();
      COVE_RETURN_IF_ERROR(Ready(lease));
      Session session(lease.conn());
      const bool txn = mode == Mode::kWrite;
      Result<T> out = [&]() -> Result<T> {
        if (txn) COVE_RETURN_IF_ERROR(session.Exec("BEGIN"));
        return body(session);
      }();
      if (out && txn) {
        auto committed = session.Exec("COMMIT");
        if (!committed) {
          if (session.connection_lost()) {
            return Fail(Code::kUnavailable,
                        "the outcome of COMMIT is unknown: " + committed.error().message);
          }
          out = Fail(std::move(committed).error());
        }
      }
      if (out) return out;
      if (session.connection_lost()) {
        if (reset_used) return out;
        reset_used = true;
        PQreset(lease.conn());
        continue;
      }
      if (txn) (void)session.Exec("ROLLBACK");
      if (!session.retryable() || attempt >= kMaxAttempts) return out;
      Backoff(attempt);
    }
  }

  Status Listen(std::function<void(const Invalidation&)> on_change) {
    std::lock_guard lock(listener_mu_);
    if (listener_.joinable()) return Fail(Code::kFailedPrecondition, "already listening");
    COVE_ASSIGN_OR_RETURN(PGconn * conn, ConnectListener());
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) {
      PQfinish(conn);
      return Fail(Code::kIOError, std::string("eventfd: ") + std::strerror(errno));
    }
    listener_ = std::thread([this, conn, cb = std::move(on_change)] { ListenLoop(conn, cb); });
    return Ok();
  }

 private:
  void Release(PGconn* conn) {
    {
      std::lock_guard lock(mu_);
      if (conn != nullptr) {
        idle_.push_back(conn);
      } else {
        --opened_;
      }
    }
    cv_.notify_one();
  }

  void Backoff(int attempt) {
    thread_local std::minstd_rand rng(
        static_cast<unsigned>(std::hash<std::thread::id>()(std::this_thread::get_id())));
    std::uniform_int_distribution<int> jitter(1, 5 * attempt);
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
  }

  Result<PGconn*> ConnectListener() {
    COVE_ASSIGN_OR_RETURN(PGconn * conn, Connect());
    std::string sql = "LISTEN " + channel_;
    ResultHandle result(PQexec(conn, sql.c_str()));
    if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      Error error{Code::kUnavailable, Where(conn) + ": LISTEN: " + Trim(PQerrorMessage(conn))};
      PQfinish(conn);
      return Fail(std::move(error));
    }
    return conn;
  }

  // Waits up to `timeout` for the stop signal; true when stopping.
  bool WaitForStop(int timeout_ms) {
    pollfd fd{stop_fd_, POLLIN, 0};
    return ::poll(&fd, 1, timeout_ms) > 0;
  }

  void ListenLoop(PGconn* conn, const std::function<void(const Invalidation&)>& on_change) {
    int backoff_ms = 50;
    while (true) {
      if (conn == nullptr) {
        auto connected = ConnectListener();
        if (!connected) {
          if (WaitForStop(backoff_ms)) break;
          backoff_ms = std::min(backoff_ms * 2, 1000);
          continue;
        }
        conn = *connected;
        backoff_ms = 50;
        on_change(Invalidation{.everything = true});
      }
      pollfd fds[2] = {{PQsocket(conn), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      int n = ::poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents != 0) break;
      if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        conn = nullptr;
        continue;
      }
      while (PGnotify* note = PQnotifies(conn)) {
        Invalidation change;
        auto j = nlohmann::json::parse(note->extra, nullptr, false);
        if (j.is_object()) {
          // Anyone with access to the database may NOTIFY: read strings only (value() throws).
          auto text = [&](const char* key) {
            auto it = j.find(key);
            return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
          };
          change.registry = text("registry");
          change.repository = text("repository");
          change.tag = text("tag");
          change.digest = text("digest");
        }
        if (change.registry.empty()) change.everything = true;
        PQfreemem(note);
        on_change(change);
      }
    }
    if (conn != nullptr) PQfinish(conn);
  }

  void StopListener() {
    std::lock_guard lock(listener_mu_);
    if (!listener_.joinable()) return;
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
    listener_.join();
    ::close(stop_fd_);
  }

  PostgresOptions options_;
  std::unique_ptr<Clock> owned_clock_;
  std::vector<std::pair<std::string, std::string>> params_;  // PQconnectdbParams, in order
  std::string channel_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PGconn*> idle_;  // guarded by mu_
  int opened_ = 0;             // connections leased or idle (incl. ones being connected)

  std::mutex listener_mu_;
  std::thread listener_;
  int stop_fd_ = -1;
};

namespace {

using Mode = PostgresMetaStore::Engine::Mode;

// Sends the change feed's notification; delivered when the transaction commits.
Status Notify(Session& s, const std::string& channel, const std::string& payload) {
  COVE_ASSIGN_OR_RETURN(Rows rows,
                        s.Exec("SELECT pg_notify($1, $2)", Params().Text(channel).Text(payload)));
  (void)rows;
  return Ok();
}

Status QueueBlobs(Session& s, const std::vector<std::string>& digests, int64_t now) {
  if (digests.empty()) return Ok();
  COVE_ASSIGN_OR_RETURN(Rows rows, s.Exec(kQueueBlobs, Params().TextArray(digests).Int(now)));
  (void)rows;
  return Ok();
}

Status QueueLinks(Session& s, const RepoKey& repo, const std::vector<std::string>& digests,
                  int64_t now) {
  if (digests.empty()) return Ok();
  COVE_ASSIGN_OR_RETURN(
      Rows rows,
      s.Exec(kQueueLinks,
             Params().Text(repo.registry).Text(repo.repository).TextArray(digests).Int(now)));
  (void)rows;
  return Ok();
}

// The distinct blobs a manifest references.
Result<std::vector<std::string>> BlobRefs(Session& s, const RepoKey& repo, const Digest& digest) {
  COVE_ASSIGN_OR_RETURN(
      Rows refs, s.Exec("SELECT DISTINCT ref_digest FROM manifest_refs WHERE registry = $1 AND "
                        "repository = $2 AND manifest_digest = $3 AND kind = 0",
                        Params().Text(repo.registry).Text(repo.repository).Text(digest.str())));
  std::vector<std::string> blobs;
  for (int i = 0; i < refs.size(); ++i) blobs.push_back(refs.Text(i, 0));
  return blobs;
}

// Deletes one manifest row (its tags and references cascade) and notifies; the caller queues
// the reviews (link reviews before, the blob review after: the lock order). False when there
// was no such manifest.
Result<bool> DeleteManifestRow(Session& s, const std::string& channel, const RepoKey& repo,
                               const Digest& digest) {
  COVE_ASSIGN_OR_RETURN(
      Rows gone,
      s.Exec("DELETE FROM manifests WHERE registry = $1 AND repository = $2 AND digest = $3",
             Params().Text(repo.registry).Text(repo.repository).Text(digest.str())));
  if (gone.affected() == 0) return false;
  COVE_RETURN_IF_ERROR(
      Notify(s, channel, Payload(repo.registry, repo.repository, "digest", digest.str())));
  return true;
}

Status Migrate(Session& s, const std::string& schema) {
  const std::string quoted = "\"" + schema + "\"";
  while (true) {
    COVE_RETURN_IF_ERROR(s.Exec("BEGIN"));
    auto step = [&]() -> Result<bool> {  // true when done
      COVE_ASSIGN_OR_RETURN(Rows locked, s.Exec("SELECT pg_advisory_xact_lock(hashtext($1))",
                                                Params().Text("cove_schema:" + schema)));
      (void)locked;
      std::string setup = "CREATE SCHEMA IF NOT EXISTS " + quoted + "; SET LOCAL search_path TO " +
                          quoted + "; CREATE TABLE IF NOT EXISTS cove_schema (version integer " +
                          "NOT NULL)";
      COVE_RETURN_IF_ERROR(s.Script(setup.c_str()));
      COVE_ASSIGN_OR_RETURN(Rows rows, s.Exec("SELECT version FROM cove_schema"));
      int version = 0;
      if (rows.empty()) {
        COVE_ASSIGN_OR_RETURN(Rows inserted, s.Exec("INSERT INTO cove_schema VALUES (0)"));
        (void)inserted;
      } else {
        version = static_cast<int>(rows.Int(0, 0));
      }
      if (version > kSchemaVersion) {
        return Fail(Code::kFailedPrecondition,
                    "PostgreSQL schema " + schema + " is at version " + std::to_string(version) +
                        ", newer than this build supports (" + std::to_string(kSchemaVersion) +
                        "); upgrade cove");
      }
      if (version == kSchemaVersion) return true;
      auto applied = s.Script(kMigrations[version]);
      if (!applied) {
        return Fail(applied.error().code, "migration to schema version " +
                                              std::to_string(version + 1) + ": " +
                                              applied.error().message);
      }
      COVE_ASSIGN_OR_RETURN(
          Rows updated, s.Exec("UPDATE cove_schema SET version = $1", Params().Int(version + 1)));
      (void)updated;
      return false;
    };
    auto done = step();
    if (!done) {
      (void)s.Exec("ROLLBACK");
      return Fail(std::move(done).error());
    }
    COVE_RETURN_IF_ERROR(s.Exec("COMMIT"));
    if (*done) return Ok();
  }
}

}  // namespace

PostgresMetaStore::PostgresMetaStore(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}
PostgresMetaStore::~PostgresMetaStore() = default;

int PostgresMetaStore::SchemaVersion() { return kSchemaVersion; }

Result<MetaStorePtr> PostgresMetaStore::Open(PostgresOptions options) {
  if (!ValidSchemaName(options.schema)) {
    return Fail(Code::kInvalidArgument,
                "PostgreSQL schema name '" + options.schema +
                    "' is invalid (lower-case letters, digits and '_', at most 48)");
  }
  if (options.pool_size < 1) {
    return Fail(Code::kInvalidArgument, "PostgreSQL pool size must be at least 1");
  }
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error ? Trim(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return Fail(Code::kInvalidArgument,
                "invalid PostgreSQL connection string '" + RedactConnection(options.conninfo) +
                    "': " + why);
  }
  PQconninfoFree(parsed);
  // Later entries win: the caller's conninfo overrides the timeout; the schema is ours.
  std::vector<std::pair<std::string, std::string>> params = {
      {"connect_timeout", "10"},
      {"dbname", options.conninfo},
      {"options", "-c search_path=" + options.schema + " -c client_min_messages=warning"},
      {"fallback_application_name", "cove"},
  };
  std::string schema = options.schema;
  auto engine = std::make_unique<Engine>(std::move(options), std::move(params));
  {
    Engine::Lease lease = engine->Acquire();
    COVE_RETURN_IF_ERROR(engine->Ready(lease));
    Session session(lease.conn());
    COVE_RETURN_IF_ERROR(Migrate(session, schema));
  }
  return MetaStorePtr(new PostgresMetaStore(std::move(engine)));
}

Status PostgresMetaStore::Listen(std::function<void(const Invalidation&)> on_change) {
  return engine_->Listen(std::move(on_change));
}

// ---- blobs in repositories ----

Status PostgresMetaStore::LinkBlob(const RepoKey& repo, const Digest& digest, uint64_t size) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    int64_t now = engine_->NowNs();
    // The review first, then the link: the order the link sweep takes them in.
    COVE_RETURN_IF_ERROR(QueueLinks(s, repo, {digest.str()}, now));
    COVE_ASSIGN_OR_RETURN(
        Rows rows, s.Exec("INSERT INTO blob_links (registry, repository, digest, size, linked_ns) "
                          "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registry, repository, digest) "
                          "DO UPDATE SET size = excluded.size, linked_ns = excluded.linked_ns",
                          Params()
                              .Text(repo.registry)
                              .Text(repo.repository)
                              .Text(digest.str())
                              .Int(ToInt64(size))
                              .Int(now)));
    (void)rows;
    return Ok();
  });
}

Result<uint64_t> PostgresMetaStore::LinkedBlob(const RepoKey& repo, const Digest& digest) {
  return engine_->Run<uint64_t>(Mode::kRead, [&](Session& s) -> Result<uint64_t> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows, s.Exec("SELECT size FROM blob_links WHERE registry = $1 AND repository = $2 AND "
                          "digest = $3",
                          Params().Text(repo.registry).Text(repo.repository).Text(digest.str())));
    if (rows.empty()) {
      return Fail(Code::kNotFound, "blob " + digest.str() + " is not linked in " + repo.repository);
    }
    return static_cast<uint64_t>(rows.Int(0, 0));
  });
}

Status PostgresMetaStore::UnlinkBlob(const RepoKey& repo, const Digest& digest) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("DELETE FROM blob_links WHERE registry = $1 AND repository = $2 AND digest = $3",
               Params().Text(repo.registry).Text(repo.repository).Text(digest.str())));
    if (rows.affected() == 0) {
      return Fail(Code::kNotFound, "blob " + digest.str() + " is not linked in " + repo.repository);
    }
    return QueueBlobs(s, {digest.str()}, engine_->NowNs());
  });
}

Result<bool> PostgresMetaStore::BlobReferenced(const Digest& digest) {
  return engine_->Run<bool>(Mode::kRead, [&](Session& s) -> Result<bool> {
    COVE_ASSIGN_OR_RETURN(Rows rows, s.Exec(kBlobReferenced, Params().Text(digest.str())));
    return !rows.empty() && rows.Int(0, 0) != 0;
  });
}

// ---- manifests and tags ----

Status PostgresMetaStore::PutManifest(const RepoKey& repo, const ManifestRecord& manifest,
                                      const std::optional<std::string>& tag) {
  if (manifest.digest.empty()) return Fail(Code::kInvalidArgument, "manifest has no digest");
  std::vector<int64_t> kinds, positions;
  std::vector<std::string> refs;
  for (size_t i = 0; i < manifest.blobs.size(); ++i) {
    kinds.push_back(kRefBlob);
    positions.push_back(static_cast<int64_t>(i));
    refs.push_back(manifest.blobs[i].str());
  }
  for (size_t i = 0; i < manifest.manifests.size(); ++i) {
    kinds.push_back(kRefManifest);
    positions.push_back(static_cast<int64_t>(i));
    refs.push_back(manifest.manifests[i].str());
  }
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    if (!manifest.blobs.empty()) {
      // Serialises with the link sweep: it cannot remove these links until this commits.
      COVE_ASSIGN_OR_RETURN(
          Rows locked,
          s.Exec("SELECT digest FROM blob_links WHERE registry = $1 AND repository = $2 "
                 "AND digest = ANY ($3::text[]) ORDER BY digest FOR SHARE",
                 Params()
                     .Text(repo.registry)
                     .Text(repo.repository)
                     .TextArray(Strings(manifest.blobs))));
      (void)locked;
    }
    Params row =
        Params()
            .Text(repo.registry)
            .Text(repo.repository)
            .Text(manifest.digest.str())
            .Text(manifest.media_type)
            .Bytes(manifest.bytes)
            .Text(manifest.artifact_type)
            .OptionalText(manifest.subject ? std::optional<std::string>(manifest.subject->str())
                                           : std::nullopt)
            .Text(manifest.annotations_json)
            .Int(ToNanos(manifest.created));
    // Inserted, or already there and then locked (FOR KEY SHARE), so that a concurrent
    // deletion cannot take it away before the tag points at it; retried when a deletion
    // committed in between.
    bool inserted = false;
    for (int tries = 0;; ++tries) {
      COVE_ASSIGN_OR_RETURN(
          Rows put, s.Exec("INSERT INTO manifests (registry, repository, digest, media_type, "
                           "bytes, artifact_type, subject, annotations, created_ns) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                           row));
      if (put.affected() > 0) {
        inserted = true;
        break;
      }
      COVE_ASSIGN_OR_RETURN(
          Rows kept,
          s.Exec("SELECT 1 FROM manifests WHERE registry = $1 AND repository = $2 "
                 "AND digest = $3 FOR KEY SHARE",
                 Params().Text(repo.registry).Text(repo.repository).Text(manifest.digest.str())));
      if (!kept.empty()) break;
      if (tries >= 3) return Fail(Code::kUnavailable, "manifest deleted while being put");
    }
    if (inserted && !refs.empty()) {
      COVE_ASSIGN_OR_RETURN(
          Rows rows,
          s.Exec("INSERT INTO manifest_refs (registry, repository, manifest_digest, kind, "
                 "position, ref_digest) SELECT $1, $2, $3, k, p, r "
                 "FROM unnest($4::int2[], $5::int4[], $6::text[]) AS t(k, p, r)",
                 Params()
                     .Text(repo.registry)
                     .Text(repo.repository)
                     .Text(manifest.digest.str())
                     .IntArray(kinds)
                     .IntArray(positions)
                     .TextArray(refs)));
      (void)rows;
    }
    if (!tag) return Ok();
    Params key = Params().Text(repo.registry).Text(repo.repository).Text(*tag);
    COVE_ASSIGN_OR_RETURN(
        Rows old, s.Exec("SELECT digest FROM tags WHERE registry = $1 AND repository = $2 AND "
                         "tag = $3 FOR UPDATE",
                         key));
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("INSERT INTO tags (registry, repository, tag, digest) VALUES ($1, $2, $3, $4) "
               "ON CONFLICT (registry, repository, tag) DO UPDATE SET digest = excluded.digest",
               Params(key).Text(manifest.digest.str())));
    (void)rows;
    if (!old.empty() && old.Text(0, 0) != manifest.digest.str()) {
      return Notify(s, engine_->channel(), Payload(repo.registry, repo.repository, "tag", *tag));
    }
    return Ok();
  });
}

Result<ManifestContent> PostgresMetaStore::GetManifestContent(const RepoKey& repo,
                                                              const Digest& digest) {
  return engine_->Run<ManifestContent>(Mode::kRead, [&](Session& s) -> Result<ManifestContent> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows, s.Exec("SELECT media_type, bytes FROM manifests "
                          "WHERE registry = $1 AND repository = $2 AND digest = $3",
                          Params().Text(repo.registry).Text(repo.repository).Text(digest.str())));
    if (rows.empty()) {
      return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
    }
    return ManifestContent{rows.Text(0, 0), rows.Text(0, 1)};
  });
}

Result<ManifestRecord> PostgresMetaStore::GetManifest(const RepoKey& repo, const Digest& digest) {
  return engine_->Run<ManifestRecord>(Mode::kRead, [&](Session& s) -> Result<ManifestRecord> {
    // One statement, so the references come from the same snapshot as the manifest.
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("SELECT m.media_type, m.bytes, m.artifact_type, m.subject, m.annotations, "
               "m.created_ns, array_to_string(ARRAY(SELECT r.kind::text || r.ref_digest "
               "FROM manifest_refs r WHERE r.registry = m.registry AND r.repository = "
               "m.repository AND r.manifest_digest = m.digest ORDER BY r.kind, r.position), ',') "
               "FROM manifests m WHERE m.registry = $1 AND m.repository = $2 AND m.digest = $3",
               Params().Text(repo.registry).Text(repo.repository).Text(digest.str())));
    if (rows.empty()) {
      return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
    }
    ManifestRecord record;
    record.digest = digest;
    record.media_type = rows.Text(0, 0);
    record.bytes = rows.Text(0, 1);
    record.artifact_type = rows.Text(0, 2);
    if (!rows.Null(0, 3)) {
      COVE_ASSIGN_OR_RETURN(record.subject, ParseStored(rows.Text(0, 3)));
    }
    record.annotations_json = rows.Text(0, 4);
    record.created = FromNanos(rows.Int(0, 5));
    std::string refs = rows.Text(0, 6);
    for (size_t start = 0; start < refs.size();) {
      size_t end = refs.find(',', start);
      if (end == std::string::npos) end = refs.size();
      std::string_view ref(refs.data() + start, end - start);
      if (ref.size() < 2) return Fail(Code::kCorruption, "stored reference is empty");
      COVE_ASSIGN_OR_RETURN(Digest d, ParseStored(ref.substr(1)));
      (ref[0] == '0' ? record.blobs : record.manifests).push_back(std::move(d));
      start = end + 1;
    }
    return record;
  });
}

Result<Digest> PostgresMetaStore::ResolveTag(const RepoKey& repo, const std::string& tag) {
  return engine_->Run<Digest>(Mode::kRead, [&](Session& s) -> Result<Digest> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("SELECT digest FROM tags WHERE registry = $1 AND repository = $2 AND tag = $3",
               Params().Text(repo.registry).Text(repo.repository).Text(tag)));
    if (rows.empty())
      return Fail(Code::kNotFound, "tag " + tag + " not found in " + repo.repository);
    return ParseStored(rows.Text(0, 0));
  });
}

Status PostgresMetaStore::DeleteRegistry(const std::string& registry) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    Params key = Params().Text(registry);
    uint64_t deleted = 0;
    COVE_ASSIGN_OR_RETURN(Rows reviews,
                          s.Exec("DELETE FROM gc_link_reviews WHERE registry = $1", key));
    deleted += reviews.affected();
    // Every blob the registry linked, and (each is a manifest deletion too) what its manifests
    // referenced and their own digests; queued after the deletions (the lock order).
    COVE_ASSIGN_OR_RETURN(
        Rows queue, s.Exec("SELECT digest FROM blob_links WHERE registry = $1 "
                           "UNION SELECT ref_digest FROM manifest_refs WHERE registry = $1 AND "
                           "kind = 0 UNION SELECT digest FROM manifests WHERE registry = $1",
                           key));
    std::vector<std::string> blobs;
    for (int i = 0; i < queue.size(); ++i) blobs.push_back(queue.Text(i, 0));
    COVE_ASSIGN_OR_RETURN(Rows links, s.Exec("DELETE FROM blob_links WHERE registry = $1", key));
    deleted += links.affected();
    // Tags and references go with the manifests (ON DELETE CASCADE), in the lock order.
    for (const char* sql :
         {"DELETE FROM manifests WHERE registry = $1", "DELETE FROM uploads WHERE registry = $1"}) {
      COVE_ASSIGN_OR_RETURN(Rows rows, s.Exec(sql, key));
      deleted += rows.affected();
    }
    COVE_RETURN_IF_ERROR(QueueBlobs(s, blobs, engine_->NowNs()));
    if (deleted == 0) return Ok();
    return Notify(s, engine_->channel(), Payload(registry, "", "", ""));
  });
}

Status PostgresMetaStore::DeleteManifest(const RepoKey& repo, const Digest& digest) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    int64_t now = engine_->NowNs();
    COVE_ASSIGN_OR_RETURN(std::vector<std::string> blobs, BlobRefs(s, repo, digest));
    COVE_RETURN_IF_ERROR(QueueLinks(s, repo, blobs, now));
    COVE_ASSIGN_OR_RETURN(bool deleted, DeleteManifestRow(s, engine_->channel(), repo, digest));
    if (!deleted) {  // the queued reviews roll back with the error
      return Fail(Code::kNotFound, "manifest " + digest.str() + " not found in " + repo.repository);
    }
    return QueueBlobs(s, {digest.str()}, now);
  });
}

Status PostgresMetaStore::DeleteTag(const RepoKey& repo, const std::string& tag) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    COVE_ASSIGN_OR_RETURN(
        Rows rows, s.Exec("DELETE FROM tags WHERE registry = $1 AND repository = $2 AND tag = $3",
                          Params().Text(repo.registry).Text(repo.repository).Text(tag)));
    if (rows.affected() == 0) {
      return Fail(Code::kNotFound, "tag " + tag + " not found in " + repo.repository);
    }
    return Notify(s, engine_->channel(), Payload(repo.registry, repo.repository, "tag", tag));
  });
}

Result<std::vector<std::string>> PostgresMetaStore::ListTags(const RepoKey& repo,
                                                             const Page& page) {
  using Out = std::vector<std::string>;
  return engine_->Run<Out>(Mode::kRead, [&](Session& s) -> Result<Out> {
    // One statement, one snapshot: whether the repository exists, then its tags (a NULL tag
    // when it has none).
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec(
            "SELECT e.found, t.tag FROM (SELECT EXISTS (SELECT 1 FROM manifests WHERE "
            "registry = $1 AND repository = $2) OR EXISTS (SELECT 1 FROM blob_links WHERE "
            "registry = $1 AND repository = $2) OR EXISTS (SELECT 1 FROM tags WHERE "
            "registry = $1 AND repository = $2) AS found) e LEFT JOIN LATERAL (SELECT tag "
            "FROM tags WHERE registry = $1 AND repository = $2 AND tag > $3 ORDER BY tag "
            "LIMIT $4::int8) t ON e.found ORDER BY t.tag",
            Params().Text(repo.registry).Text(repo.repository).Text(page.last).Limit(page.limit)));
    if (rows.empty() || rows.Int(0, 0) == 0) {
      return Fail(Code::kNotFound, "repository " + repo.repository + " not found");
    }
    Out tags;
    for (int i = 0; i < rows.size(); ++i) {
      if (!rows.Null(i, 1)) tags.push_back(rows.Text(i, 1));
    }
    return tags;
  });
}

Result<std::vector<std::string>> PostgresMetaStore::ListRepositories(const std::string& registry,
                                                                     const Page& page) {
  using Out = std::vector<std::string>;
  return engine_->Run<Out>(Mode::kRead, [&](Session& s) -> Result<Out> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("SELECT repository FROM ("
               "  SELECT repository FROM blob_links WHERE registry = $1 AND repository > $2"
               "  UNION"
               "  SELECT repository FROM manifests WHERE registry = $1 AND repository > $2"
               ") u ORDER BY repository LIMIT $3::int8",
               Params().Text(registry).Text(page.last).Limit(page.limit)));
    Out repos;
    for (int i = 0; i < rows.size(); ++i) repos.push_back(rows.Text(i, 0));
    return repos;
  });
}

Result<std::vector<Referrer>> PostgresMetaStore::ListReferrers(
    const RepoKey& repo, const Digest& subject, const std::optional<std::string>& artifact_type) {
  using Out = std::vector<Referrer>;
  return engine_->Run<Out>(Mode::kRead, [&](Session& s) -> Result<Out> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("SELECT digest, media_type, length(bytes)::int8, artifact_type, annotations "
               "FROM manifests WHERE registry = $1 AND repository = $2 AND subject = $3 "
               "AND ($4::text IS NULL OR artifact_type = $4::text) ORDER BY digest",
               Params()
                   .Text(repo.registry)
                   .Text(repo.repository)
                   .Text(subject.str())
                   .OptionalText(artifact_type)));
    Out out;
    for (int i = 0; i < rows.size(); ++i) {
      Referrer r;
      COVE_ASSIGN_OR_RETURN(r.digest, ParseStored(rows.Text(i, 0)));
      r.media_type = rows.Text(i, 1);
      r.size = static_cast<uint64_t>(rows.Int(i, 2));
      r.artifact_type = rows.Text(i, 3);
      r.annotations_json = rows.Text(i, 4);
      out.push_back(std::move(r));
    }
    return out;
  });
}

// ---- upload sessions ----

Status PostgresMetaStore::CreateUpload(const UploadRecord& upload) {
  Status created = engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("INSERT INTO uploads (id, registry, repository, acknowledged, started_ns) "
               "VALUES ($1, $2, $3, $4, $5)",
               Params()
                   .Text(upload.id)
                   .Text(upload.repo.registry)
                   .Text(upload.repo.repository)
                   .Int(ToInt64(upload.acknowledged))
                   .Int(ToNanos(upload.started))));
    (void)rows;
    return Ok();
  });
  if (!created && created.error().code == Code::kAlreadyExists) {
    return Fail(Code::kAlreadyExists, "upload " + upload.id + " exists");
  }
  return created;
}

Result<UploadRecord> PostgresMetaStore::GetUpload(const std::string& id) {
  return engine_->Run<UploadRecord>(Mode::kRead, [&](Session& s) -> Result<UploadRecord> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows, s.Exec("SELECT registry, repository, acknowledged, started_ns FROM uploads "
                          "WHERE id = $1",
                          Params().Text(id)));
    if (rows.empty()) return Fail(Code::kNotFound, "upload " + id + " not found");
    return UploadRecord{id, RepoKey{rows.Text(0, 0), rows.Text(0, 1)},
                        static_cast<uint64_t>(rows.Int(0, 2)), FromNanos(rows.Int(0, 3))};
  });
}

Status PostgresMetaStore::SetUploadAcknowledged(const std::string& id, uint64_t acknowledged) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    COVE_ASSIGN_OR_RETURN(Rows rows, s.Exec("UPDATE uploads SET acknowledged = $1 WHERE id = $2",
                                            Params().Int(ToInt64(acknowledged)).Text(id)));
    if (rows.affected() == 0) return Fail(Code::kNotFound, "upload " + id + " not found");
    return Ok();
  });
}

Status PostgresMetaStore::DeleteUpload(const std::string& id) {
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    COVE_ASSIGN_OR_RETURN(Rows rows,
                          s.Exec("DELETE FROM uploads WHERE id = $1", Params().Text(id)));
    if (rows.affected() == 0) return Fail(Code::kNotFound, "upload " + id + " not found");
    return Ok();
  });
}

Result<std::vector<UploadRecord>> PostgresMetaStore::ListUploadsStartedBefore(
    Clock::TimePoint cutoff) {
  using Out = std::vector<UploadRecord>;
  return engine_->Run<Out>(Mode::kRead, [&](Session& s) -> Result<Out> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows, s.Exec("SELECT id, registry, repository, acknowledged, started_ns FROM uploads "
                          "WHERE started_ns < $1 ORDER BY started_ns, id",
                          Params().Int(ToNanos(cutoff))));
    Out out;
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back(UploadRecord{rows.Text(i, 0), RepoKey{rows.Text(i, 1), rows.Text(i, 2)},
                                 static_cast<uint64_t>(rows.Int(i, 3)), FromNanos(rows.Int(i, 4))});
    }
    return out;
  });
}

// ---- online garbage collection ----

Status PostgresMetaStore::ProtectBlob(const Digest& digest) {
  // Waits on the row lock of a SweepNextBlob deciding about `digest`.
  return engine_->Run<void>(Mode::kWrite, [&](Session& s) -> Status {
    return QueueBlobs(s, {digest.str()}, engine_->NowNs());
  });
}

Result<uint64_t> PostgresMetaStore::SweepLinks(Clock::TimePoint due_before, uint64_t limit) {
  return engine_->Run<uint64_t>(Mode::kWrite, [&](Session& s) -> Result<uint64_t> {
    COVE_ASSIGN_OR_RETURN(Rows due,
                          s.Exec("SELECT registry, repository, digest FROM gc_link_reviews "
                                 "WHERE queued_ns <= $1 ORDER BY queued_ns LIMIT $2::int8 "
                                 "FOR UPDATE SKIP LOCKED",
                                 Params().Int(ToNanos(due_before)).Int(ToInt64(limit))));
    uint64_t removed = 0;
    std::vector<std::string> unlinked;  // queued last: the lock order
    for (int i = 0; i < due.size(); ++i) {
      Params key = Params().Text(due.Text(i, 0)).Text(due.Text(i, 1)).Text(due.Text(i, 2));
      // Waits for a PutManifest holding the link FOR SHARE; then sees its references.
      COVE_ASSIGN_OR_RETURN(
          Rows link, s.Exec("SELECT 1 FROM blob_links WHERE registry = $1 AND repository = $2 "
                            "AND digest = $3 FOR UPDATE",
                            key));
      if (link.empty()) {
        // Already gone (an UnlinkBlob before the deletion of the manifest that still
        // referenced it): nothing else would queue the blob.
        unlinked.push_back(due.Text(i, 2));
      } else {
        COVE_ASSIGN_OR_RETURN(
            Rows used,
            s.Exec("SELECT EXISTS (SELECT 1 FROM manifest_refs WHERE registry = $1 AND "
                   "repository = $2 AND ref_digest = $3) OR EXISTS (SELECT 1 FROM manifests "
                   "WHERE registry = $1 AND repository = $2 AND digest = $3)",
                   key));
        if (used.Int(0, 0) == 0) {
          COVE_ASSIGN_OR_RETURN(
              Rows gone, s.Exec("DELETE FROM blob_links WHERE registry = $1 AND repository = $2 "
                                "AND digest = $3",
                                key));
          removed += gone.affected();
          unlinked.push_back(due.Text(i, 2));
        }
      }
      COVE_ASSIGN_OR_RETURN(Rows dropped,
                            s.Exec("DELETE FROM gc_link_reviews WHERE registry = $1 AND "
                                   "repository = $2 AND digest = $3",
                                   key));
      (void)dropped;
    }
    COVE_RETURN_IF_ERROR(QueueBlobs(s, unlinked, engine_->NowNs()));
    return removed;
  });
}

Result<std::optional<MetaStore::BlobSweep>> PostgresMetaStore::SweepNextBlob(
    Clock::TimePoint due_before, const std::function<Status(const Digest&)>& delete_bytes) {
  using Out = std::optional<BlobSweep>;
  return engine_->Run<Out>(Mode::kWrite, [&](Session& s) -> Result<Out> {
    COVE_ASSIGN_OR_RETURN(Rows due,
                          s.Exec("SELECT digest FROM gc_blob_reviews WHERE queued_ns <= $1 "
                                 "ORDER BY queued_ns LIMIT 1 FOR UPDATE SKIP LOCKED",
                                 Params().Int(ToNanos(due_before))));
    if (due.empty()) return Out();
    std::string text = due.Text(0, 0);
    COVE_ASSIGN_OR_RETURN(Digest digest, ParseStored(text));
    COVE_ASSIGN_OR_RETURN(Rows used, s.Exec(kBlobReferenced, Params().Text(text)));
    BlobSweep sweep{digest, false};
    if (used.Int(0, 0) == 0) {
      // Under the row lock: a ProtectBlob of this digest waits until this commits.
      Status deleted = delete_bytes(digest);
      if (!deleted && deleted.error().code != Code::kNotFound) {
        return Fail(deleted.error().code, "deleting blob " + text + " failed (its review stays): " +
                                              deleted.error().message);
      }
      sweep.deleted = true;
    }
    COVE_ASSIGN_OR_RETURN(
        Rows dropped, s.Exec("DELETE FROM gc_blob_reviews WHERE digest = $1", Params().Text(text)));
    (void)dropped;
    return Out(sweep);
  });
}

Result<uint64_t> PostgresMetaStore::DeleteUntaggedManifests(const std::string& registry,
                                                            Clock::TimePoint created_before,
                                                            uint64_t limit) {
  return engine_->Run<uint64_t>(Mode::kWrite, [&](Session& s) -> Result<uint64_t> {
    constexpr const char* kUnreferenced =
        "NOT EXISTS (SELECT 1 FROM tags t WHERE t.registry = m.registry AND "
        "t.repository = m.repository AND t.digest = m.digest) "
        "AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.registry = m.registry AND "
        "r.repository = m.repository AND r.kind = 1 AND r.ref_digest = m.digest) "
        "AND (m.subject IS NULL OR NOT EXISTS (SELECT 1 FROM manifests p WHERE "
        "p.registry = m.registry AND p.repository = m.repository AND p.digest = m.subject))";
    std::string select =
        std::string(
            "SELECT m.repository, m.digest FROM manifests m WHERE m.registry = $1 AND "
            "m.created_ns < $2 AND ") +
        kUnreferenced + " ORDER BY m.created_ns, m.repository, m.digest LIMIT $3::int8";
    COVE_ASSIGN_OR_RETURN(
        Rows candidates,
        s.Exec(select.c_str(),
               Params().Text(registry).Int(ToNanos(created_before)).Int(ToInt64(limit))));
    int64_t now = engine_->NowNs();
    struct Candidate {
      RepoKey repo;
      Digest digest;
    };
    std::vector<Candidate> doomed;
    // Link reviews first (the lock order: link reviews, links, manifests, blob reviews).
    for (int i = 0; i < candidates.size(); ++i) {
      Candidate c{{registry, candidates.Text(i, 0)}, {}};
      COVE_ASSIGN_OR_RETURN(c.digest, ParseStored(candidates.Text(i, 1)));
      COVE_ASSIGN_OR_RETURN(std::vector<std::string> blobs, BlobRefs(s, c.repo, c.digest));
      COVE_RETURN_IF_ERROR(QueueLinks(s, c.repo, blobs, now));
      doomed.push_back(std::move(c));
    }
    // Each locked (a tag's foreign key check then waits), then checked again with a fresh
    // snapshot for a tag or referrer that committed meanwhile.
    std::string recheck = std::string(
                              "SELECT 1 FROM manifests m WHERE m.registry = $1 AND "
                              "m.repository = $2 AND m.digest = $3 AND ") +
                          kUnreferenced;
    std::vector<std::string> deleted;
    for (const Candidate& c : doomed) {
      Params key = Params().Text(registry).Text(c.repo.repository).Text(c.digest.str());
      COVE_ASSIGN_OR_RETURN(
          Rows locked, s.Exec("SELECT 1 FROM manifests WHERE registry = $1 AND repository = $2 "
                              "AND digest = $3 FOR UPDATE",
                              key));
      if (locked.empty()) continue;
      COVE_ASSIGN_OR_RETURN(Rows still, s.Exec(recheck.c_str(), key));
      if (still.empty()) continue;
      COVE_ASSIGN_OR_RETURN(bool gone, DeleteManifestRow(s, engine_->channel(), c.repo, c.digest));
      if (gone) deleted.push_back(c.digest.str());
    }
    COVE_RETURN_IF_ERROR(QueueBlobs(s, deleted, now));
    return static_cast<uint64_t>(deleted.size());
  });
}

Result<uint64_t> PostgresMetaStore::RegistryUsage(const std::string& registry) {
  return engine_->Run<uint64_t>(Mode::kRead, [&](Session& s) -> Result<uint64_t> {
    COVE_ASSIGN_OR_RETURN(
        Rows rows,
        s.Exec("SELECT (COALESCE((SELECT sum(size) FROM (SELECT DISTINCT ON (digest) size "
               "FROM blob_links WHERE registry = $1 ORDER BY digest) b), 0) + "
               "COALESCE((SELECT sum(length(bytes)) FROM manifests WHERE registry = $1), 0))"
               "::int8",
               Params().Text(registry)));
    return static_cast<uint64_t>(rows.Int(0, 0));
  });
}

Result<MetaStore::ReviewBacklog> PostgresMetaStore::PendingReviews() {
  return engine_->Run<ReviewBacklog>(Mode::kRead, [&](Session& s) -> Result<ReviewBacklog> {
    COVE_ASSIGN_OR_RETURN(Rows rows, s.Exec("SELECT (SELECT count(*) FROM gc_link_reviews), "
                                            "(SELECT count(*) FROM gc_blob_reviews)"));
    return ReviewBacklog{static_cast<uint64_t>(rows.Int(0, 0)),
                         static_cast<uint64_t>(rows.Int(0, 1))};
  });
}

}  // namespace cove::storage
