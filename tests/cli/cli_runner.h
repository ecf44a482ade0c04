// Runs `cove` command lines in-process (cove::cli::Run) and captures stdout, stderr and the
// exit code. Test-only helper.
//
// Thread-safety: one thread per object.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace cove::testing {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

class CliRunner {
 public:
  explicit CliRunner(cli::Environment env) : env_(std::move(env)) {}

  CliResult operator()(const std::vector<std::string>& args) const {
    std::ostringstream out, err;
    CliResult r;
    r.code = cli::Run(args, out, err, env_);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  cli::Environment& env() { return env_; }

 private:
  cli::Environment env_;
};

// An environment that reaches nothing by accident: endpoint on a closed loopback port, config
// under `config_dir`.
inline cli::Environment TestEnvironment(const std::string& config_dir,
                                        const std::string& endpoint = "http://127.0.0.1:1") {
  cli::Environment env;
  env.endpoint = endpoint;
  env.config_path = config_dir + "/cove/config";
  env.data_dir = config_dir + "/data";
  env.docker_config_path = config_dir + "/docker/config.json";
  return env;
}

}  // namespace cove::testing
