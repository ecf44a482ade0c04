// The entry points of `coved pull` and `coved acr-credential-provider` (daemon/main.cc): the
// subcommands of runtime/pull.h (contracts, stdin/stdout, exit codes) over HTTPS
// (NewHttpsTransport, verifying with --ca).
//
// Thread-safety: for a process's main thread.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace cove::runtime {

// `coved pull ARGS...` (args exclude "pull"); returns the exit code.
int PullMain(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
             std::ostream& err);
// `coved acr-credential-provider ARGS...`; returns the exit code.
int CredentialProviderMain(const std::vector<std::string>& args, std::istream& in,
                           std::ostream& out, std::ostream& err);

}  // namespace cove::runtime
