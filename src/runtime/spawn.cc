#include "runtime/spawn.h"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "common/unique_fd.h"

namespace cove::runtime {

Result<ChildOutput> RunInNamespace(fabric::Namespaces& namespaces, const NamespaceRun& run) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Fail(Code::kIOError, "pipe failed");
  UniqueFd in_read(in_pipe[0]), in_write(in_pipe[1]);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Fail(Code::kIOError, "pipe failed");
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Fail(Code::kIOError, "pipe failed");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  fabric::SpawnOptions options;
  options.etc_overlay = run.etc_overlay;
  options.stdin_fd = in_read.get();
  options.stdout_fd = out_write.get();
  options.stderr_fd = err_write.get();
  COVE_ASSIGN_OR_RETURN(const pid_t pid, namespaces.Spawn(run.ns, run.argv, options));
  if (run.on_start) run.on_start(pid);
  in_read.Reset();
  out_write.Reset();
  err_write.Reset();
  // Small inputs fit a pipe's buffer; coved ignores SIGPIPE should the child be gone already.
  if (!run.input.empty()) (void)!::write(in_write.get(), run.input.data(), run.input.size());
  in_write.Reset();
  return CollectChild(pid, std::move(out_read), std::move(err_read), run.timeout);
}

Result<ChildOutput> RunHere(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) return Fail(Code::kInvalidArgument, "nothing to run");
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Fail(Code::kIOError, "pipe failed");
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Fail(Code::kIOError, "pipe failed");
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // coved blocks SIGTERM in its threads to wait for it: the child must not inherit that.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(Code::kIOError, "cannot run " + argv[0] + ": " + std::strerror(rc));
  out_write.Reset();
  err_write.Reset();
  return CollectChild(pid, std::move(out_read), std::move(err_read), timeout);
}

}  // namespace cove::runtime
