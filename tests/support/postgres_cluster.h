// PostgresCluster: a throwaway PostgreSQL 15 server for one test binary. Test-only helper.
//
// Start() runs /usr/lib/postgresql/15/bin/initdb into a fresh /tmp/cove-pg-XXXXXX directory and
// starts `postgres` on it with fsync off, listening on a unix socket in that directory (and on
// 127.0.0.1 at a free port when asked). PostgreSQL refuses to run as root, so under root the
// directory is given to nobody:nogroup and the server runs as that user (credentials dropped in
// the child before exec); otherwise it runs as the current user. The server's superuser is
// "cove", trusted without a password.
//
// The destructor stops the server (SIGINT to the postmaster's PID, SIGQUIT if it lingers) and
// deletes the directory, also when a test failed; the server also gets SIGQUIT if the test
// process dies (PR_SET_PDEATHSIG).
//
// Thread-safety: one owner thread; conninfo() may be read from any thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/error.h"

namespace cove::testing {

class PostgresCluster {
 public:
  struct Options {
    bool tcp = false;  // also listen on 127.0.0.1:<free port>
  };

  // kFailedPrecondition (naming scripts/install-deps) when PostgreSQL 15 is not installed;
  // kIOError/kUnavailable when the server does not come up (with its log's tail).
  static Result<std::unique_ptr<PostgresCluster>> Start(Options options);
  static Result<std::unique_ptr<PostgresCluster>> Start() { return Start(Options{}); }

  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // key=value conninfo for database "postgres" as user "cove" over the unix socket.
  std::string conninfo() const;
  // The same over TCP; empty unless Options::tcp.
  std::string tcp_conninfo() const;
  const std::string& dir() const { return dir_; }

  // Stops the server (fast shutdown) and waits for it; Ok if it was not running.
  Status Stop();
  // Starts it again on the same data, socket and port.
  Status Restart();
  // Terminates every other client connection (pg_terminate_backend), as a dropped network
  // would; returns how many were terminated.
  Result<int> TerminateBackends();

 private:
  PostgresCluster() = default;
  Status RunInitdb();
  Status Launch();
  Status WaitReady();
  std::string LogTail() const;

  std::string dir_;
  std::string data_;
  int port_ = 5432;
  bool tcp_ = false;
  pid_t pid_ = -1;
  bool drop_root_ = false;
};

}  // namespace cove::testing
