#include "fabric/namespaces.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <nftables/libnftables.h>

#include "fabric/netlink.h"

namespace cove::fabric {
namespace {

tl::unexpected<Error> Errno(const std::string& what, int err = errno) {
  return Fail(Code::kIOError, what + ": " + std::strerror(err));
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= 15 && name.find('/') == std::string::npos &&
         name != "." && name != "..";
}

// Makes `dir` a shared mount point, as iproute2 does, so namespaces mounted there show up in
// every mount namespace that has it (e.g. one `ip netns exec` made).
Status PrepareRunDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir " + dir);
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return Ok();
  if (errno != EINVAL) return Errno("make " + dir + " shared");
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
    return Errno("bind " + dir);
  }
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return Errno("make " + dir + " shared");
  }
  return Ok();
}

Result<sockaddr_in> SockAddr(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return Fail(Code::kInvalidArgument, "bad IPv4 address '" + address + "'");
  }
  return sa;
}

std::string Where(const std::string& ns, const std::string& address, uint16_t port) {
  return address + ":" + std::to_string(port) + " in " + ns;
}

}  // namespace

LinuxNamespaces::LinuxNamespaces(std::string run_dir) : run_dir_(std::move(run_dir)) {}

Status LinuxNamespaces::Create(const std::string& name) {
  if (!ValidName(name)) return Fail(Code::kInvalidArgument, "bad namespace name '" + name + "'");
  COVE_RETURN_IF_ERROR(PrepareRunDir(run_dir_));
  const std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) return Fail(Code::kAlreadyExists, "namespace " + name + " exists");
    return Errno("create " + path);
  }
  ::close(fd);
  // unshare() in a thread of its own: the new namespace is bound to the file and the thread
  // ends, so no thread of ours is ever left inside it.
  int err = 0;
  const char* step = "";
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      step = "unshare";
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      err = errno;
      step = "bind-mount";
    }
  }).join();
  if (err != 0) {
    ::unlink(path.c_str());
    return Errno(std::string(step) + " for namespace " + name, err);
  }
  return Ok();
}

Status LinuxNamespaces::Delete(const std::string& name) {
  if (!ValidName(name)) return Fail(Code::kInvalidArgument, "bad namespace name '" + name + "'");
  const std::string path = PathOf(name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "no namespace " + name);
    return Errno("stat " + path);
  }
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    return Errno("unmount " + path);
  }
  if (::unlink(path.c_str()) != 0) return Errno("unlink " + path);
  return Ok();
}

Result<std::vector<std::string>> LinuxNamespaces::List() {
  std::vector<std::string> out;
  DIR* dir = ::opendir(run_dir_.c_str());
  if (!dir) {
    if (errno == ENOENT) return out;
    return Errno("opendir " + run_dir_);
  }
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(dir);
  return out;
}

Result<UniqueFd> LinuxNamespaces::Open(const std::string& name) {
  if (!ValidName(name)) return Fail(Code::kInvalidArgument, "bad namespace name '" + name + "'");
  UniqueFd fd(::open(PathOf(name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Fail(Code::kNotFound, "no namespace " + name);
    return Errno("open namespace " + name);
  }
  return fd;
}

Status LinuxNamespaces::RunIn(const std::string& name, const std::function<Status()>& fn) {
  COVE_ASSIGN_OR_RETURN(UniqueFd target, Open(name));
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home.valid()) return Errno("open own network namespace");
  if (::setns(target.get(), CLONE_NEWNET) != 0) {
    // A name whose mount is gone (half-deleted) is not a namespace any more.
    if (errno == EINVAL) return Fail(Code::kNotFound, "namespace " + name + " is not mounted");
    return Errno("setns into " + name);
  }
  Status status = fn();
  if (::setns(home.get(), CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "fabric: cannot return from namespace %s: %s\n", name.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  return status;
}

Result<pid_t> LinuxNamespaces::Spawn(const std::string& name, const std::vector<std::string>& argv,
                                    const SpawnOptions& options) {
  if (argv.empty()) return Fail(Code::kInvalidArgument, "nothing to run");
  COVE_ASSIGN_OR_RETURN(UniqueFd ns_fd, Open(name));
  // Everything the child needs is prepared here: after fork it only makes system calls.
  std::vector<std::pair<std::string, std::string>> binds;  // overlay/x → /etc/x
  if (!options.etc_overlay.empty()) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(options.etc_overlay, ec), end; !ec && it != end;
         it.increment(ec)) {
      binds.emplace_back(it->path().string(), "/etc/" + it->path().filename().string());
    }
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return Errno("open /dev/null");
  const int fds[3] = {options.stdin_fd >= 0 ? options.stdin_fd : null_fd.get(),
                      options.stdout_fd >= 0 ? options.stdout_fd : null_fd.get(),
                      options.stderr_fd >= 0 ? options.stderr_fd : null_fd.get()};
  const pid_t pid = ::fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // dup2 clears close-on-exec on the copies; a descriptor already at its place keeps it, so
    // go through a spare number first.
    int high[3];
    for (int i = 0; i < 3; ++i) high[i] = ::fcntl(fds[i], F_DUPFD, 10);
    for (int i = 0; i < 3; ++i) ::dup2(high[i], i);
    if (::setns(ns_fd.get(), CLONE_NEWNET) != 0 || ::unshare(CLONE_NEWNS) != 0 ||
        ::mount("", "/", "none", MS_SLAVE | MS_REC, nullptr) != 0) {
      ::_exit(126);
    }
    if (!options.keep_sys && ::umount2("/sys", MNT_DETACH) == 0) {
      ::mount(name.c_str(), "/sys", "sysfs", 0, nullptr);
    }
    for (const auto& [from, to] : binds) {
      ::mount(from.c_str(), to.c_str(), "none", MS_BIND, nullptr);
    }
    // Nothing else of the parent's: a daemon started here (strongSwan, BIND) would otherwise
    // keep the parent's sockets open for as long as it runs — a client connection of coved's
    // that coved closed would never see its end.
    ::close_range(3, ~0U, 0);
    // The caller's blocked signals (coved blocks SIGTERM in every thread to wait for it) would
    // stay blocked in the program: a daemon could then not be stopped with SIGTERM.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

Result<std::unique_ptr<Netlink>> LinuxNamespaces::OpenNetlink(const std::string& name) {
  return LibnlNetlink::Open(*this, name);
}

Status LinuxNamespaces::WriteSysctl(const std::string& name, const std::string& key,
                                    const std::string& value) {
  if (key.empty() || key.find("..") != std::string::npos || key[0] == '/') {
    return Fail(Code::kInvalidArgument, "bad sysctl '" + key + "'");
  }
  const std::string path = "/proc/sys/" + key;
  return RunIn(name, [&]() -> Status {
    {
      std::ifstream in(path, std::ios::binary);
      std::stringstream current;
      current << in.rdbuf();
      if (in && current.str() == value + "\n") return Ok();
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open " + path);
    ssize_t n = ::write(fd, value.data(), value.size());
    int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(value.size())) return Errno("write " + path, err);
    return Ok();
  });
}

Status LinuxNamespaces::RunNft(const std::string& name, const std::string& script) {
  return RunIn(name, [&]() -> Status {
    std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> ctx(nft_ctx_new(NFT_CTX_DEFAULT),
                                                           &nft_ctx_free);
    if (!ctx) return Fail(Code::kResourceExhausted, "nft_ctx_new");
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    if (nft_run_cmd_from_buffer(ctx.get(), script.c_str()) != 0) {
      const char* err = nft_ctx_get_error_buffer(ctx.get());
      return Fail(Code::kIOError, "nftables in " + name + ": " + (err ? err : "failed") +
                                      "\nscript:\n" + script);
    }
    return Ok();
  });
}

Result<UniqueFd> ListenTcp(Namespaces& namespaces, const std::string& ns,
                           const std::string& address, uint16_t port, int backlog,
                           const std::string& device) {
  COVE_ASSIGN_OR_RETURN(sockaddr_in sa, SockAddr(address, port));
  return InNamespace<UniqueFd>(namespaces, ns, [&]() -> Result<UniqueFd> {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return Errno("socket in " + ns);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!device.empty() && ::setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, device.c_str(),
                                        static_cast<socklen_t>(device.size())) != 0) {
      return Errno("bind to device " + device + " " + Where(ns, address, port));
    }
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return Errno("bind " + Where(ns, address, port));
    }
    if (::listen(fd.get(), backlog) != 0) return Errno("listen " + Where(ns, address, port));
    return fd;
  });
}

Result<UniqueFd> BindUdp(Namespaces& namespaces, const std::string& ns,
                         const std::string& address, uint16_t port) {
  COVE_ASSIGN_OR_RETURN(sockaddr_in sa, SockAddr(address, port));
  return InNamespace<UniqueFd>(namespaces, ns, [&]() -> Result<UniqueFd> {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return Errno("socket in " + ns);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return Errno("bind " + Where(ns, address, port));
    }
    return fd;
  });
}

Result<UniqueFd> ConnectTcp(Namespaces& namespaces, const std::string& ns,
                            const std::string& address, uint16_t port, int timeout_ms) {
  COVE_ASSIGN_OR_RETURN(sockaddr_in sa, SockAddr(address, port));
  COVE_ASSIGN_OR_RETURN(UniqueFd fd, InNamespace<UniqueFd>(namespaces, ns, [&]() -> Result<UniqueFd> {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!s.valid()) return Errno("socket in " + ns);
    return s;
  }));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno != EINPROGRESS) return Errno("connect to " + Where(ns, address, port));
    pollfd p{fd.get(), POLLOUT, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n == 0) return Fail(Code::kUnavailable, "connect to " + Where(ns, address, port) + ": timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (n < 0 || err != 0) return Errno("connect to " + Where(ns, address, port), n < 0 ? errno : err);
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

Result<uint16_t> LocalPort(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return Errno("getsockname");
  return ntohs(sa.sin_port);
}

}  // namespace cove::fabric
