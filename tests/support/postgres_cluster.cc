#include "support/postgres_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace cove::testing {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(15);
constexpr auto kPoll = std::chrono::milliseconds(20);

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// A free loopback TCP port (released again; the server binds it right after).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct Credentials {
  uid_t uid = 65534;
  gid_t gid = 65534;
};

Credentials Nobody() {
  Credentials c;
  if (const passwd* pw = ::getpwnam("nobody")) c.uid = pw->pw_uid;
  if (const group* gr = ::getgrnam("nogroup")) c.gid = gr->gr_gid;
  return c;
}

// Forks and execs `argv` with stdout and stderr appended to `log`, in `cwd`, as `creds` when
// `drop_root`. Everything the child needs is prepared before fork (the parent has threads).
Result<pid_t> Spawn(const std::vector<std::string>& args, const std::string& log,
                    const std::string& cwd, bool drop_root) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC"};
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  Credentials creds = Nobody();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Fail(Code::kIOError, Errno("fork"));
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    if (drop_root) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(creds.gid) != 0 || ::setuid(creds.uid) != 0) {
        ::_exit(126);
      }
    }
    // After the credentials change (which clears it): the server dies with the test process.
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (::getppid() != parent) ::_exit(125);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

Result<std::unique_ptr<PostgresCluster>> PostgresCluster::Start(Options options) {
  std::string initdb = std::string(kBinDir) + "/initdb";
  if (::access(initdb.c_str(), X_OK) != 0) {
    return Fail(Code::kFailedPrecondition,
                initdb + " is missing: PostgreSQL 15 is not installed; run scripts/install-deps");
  }
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster());
  std::string pattern = "/tmp/cove-pg-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return Fail(Code::kIOError, Errno("mkdtemp"));
  cluster->dir_ = pattern;
  cluster->data_ = cluster->dir_ + "/data";
  cluster->tcp_ = options.tcp;
  cluster->drop_root_ = ::geteuid() == 0;
  if (cluster->drop_root_) {
    Credentials creds = Nobody();
    if (::chown(cluster->dir_.c_str(), creds.uid, creds.gid) != 0) {
      return Fail(Code::kIOError, Errno("chown " + cluster->dir_));
    }
  }
  if (options.tcp) {
    cluster->port_ = FreePort();
    if (cluster->port_ < 0) return Fail(Code::kIOError, Errno("no free loopback port"));
  }
  COVE_RETURN_IF_ERROR(cluster->RunInitdb());
  COVE_RETURN_IF_ERROR(cluster->Launch());
  return cluster;
}

PostgresCluster::~PostgresCluster() {
  (void)Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string PostgresCluster::conninfo() const {
  return "host=" + dir_ + " port=" + std::to_string(port_) + " user=cove dbname=postgres";
}

std::string PostgresCluster::tcp_conninfo() const {
  if (!tcp_) return "";
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=cove dbname=postgres";
}

std::string PostgresCluster::LogTail() const {
  std::ifstream in(dir_ + "/log");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

Status PostgresCluster::RunInitdb() {
  COVE_ASSIGN_OR_RETURN(
      pid_t pid, Spawn({std::string(kBinDir) + "/initdb", "-D", data_, "-U", "cove", "-A", "trust",
                        "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"},
                       dir_ + "/log", dir_, drop_root_));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(Code::kIOError,
                "initdb failed (status " + std::to_string(status) + "): " + LogTail());
  }
  return Ok();
}

Status PostgresCluster::Launch() {
  std::vector<std::string> args = {std::string(kBinDir) + "/postgres",
                                   "-D",
                                   data_,
                                   "-k",
                                   dir_,
                                   "-p",
                                   std::to_string(port_),
                                   "-c",
                                   std::string("listen_addresses=") + (tcp_ ? "127.0.0.1" : ""),
                                   "-c",
                                   "fsync=off",
                                   "-c",
                                   "synchronous_commit=off",
                                   "-c",
                                   "full_page_writes=off",
                                   "-c",
                                   "max_connections=200",
                                   "-c",
                                   "shared_buffers=16MB",
                                   "-c",
                                   "unix_socket_permissions=0777"};
  COVE_ASSIGN_OR_RETURN(pid_, Spawn(args, dir_ + "/log", dir_, drop_root_));
  return WaitReady();
}

Status PostgresCluster::WaitReady() {
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string info = conninfo();
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(info.c_str()) == PQPING_OK) return Ok();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Fail(Code::kUnavailable,
                  "postgres exited (status " + std::to_string(status) + "): " + LogTail());
    }
    std::this_thread::sleep_for(kPoll);
  }
  return Fail(Code::kUnavailable, "postgres did not accept connections: " + LogTail());
}

Status PostgresCluster::Stop() {
  if (pid_ <= 0) return Ok();
  pid_t pid = std::exchange(pid_, -1);
  ::kill(pid, SIGINT);  // fast shutdown: disconnects clients, checkpoints
  auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  int status = 0;
  while (true) {
    pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid || (got < 0 && errno != EINTR)) return Ok();
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGQUIT);  // immediate shutdown
      deadline = std::chrono::steady_clock::now() + kStopTimeout;
      std::this_thread::sleep_for(kPoll);
      if (::waitpid(pid, &status, WNOHANG) != pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
      }
      return Ok();
    }
    std::this_thread::sleep_for(kPoll);
  }
}

Status PostgresCluster::Restart() {
  COVE_RETURN_IF_ERROR(Stop());
  return Launch();
}

Result<int> PostgresCluster::TerminateBackends() {
  PGconn* conn = PQconnectdb(conninfo().c_str());
  auto close = [&] { PQfinish(conn); };
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    close();
    return Fail(Code::kUnavailable, "connect: " + why);
  }
  auto query = [&](const std::string& sql) -> Result<std::vector<std::string>> {
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      std::string why = PQresultErrorMessage(r);
      PQclear(r);
      return Fail(Code::kInternal, sql + ": " + why);
    }
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r); ++i) out.push_back(PQgetvalue(r, i, 0));
    PQclear(r);
    return out;
  };
  auto pids = query(
      "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
      "backend_type = 'client backend'");
  if (!pids) {
    close();
    return Fail(pids.error());
  }
  std::string list;
  for (const std::string& pid : *pids) list += (list.empty() ? "" : ",") + pid;
  if (list.empty()) {
    close();
    return 0;
  }
  auto killed = query("SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[" + list + "]) pid");
  // Wait until they are gone, so the next use of any of those connections finds it broken.
  auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  while (killed && std::chrono::steady_clock::now() < deadline) {
    auto left = query("SELECT pid FROM pg_stat_activity WHERE pid IN (" + list + ")");
    if (!left || left->empty()) break;
    std::this_thread::sleep_for(kPoll);
  }
  close();
  if (!killed) return Fail(killed.error());
  return static_cast<int>(pids->size());
}

}  // namespace cove::testing
