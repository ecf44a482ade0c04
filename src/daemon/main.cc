// coved: the cove daemon.
//
//   coved [--config FILE] [--data-dir DIR] [--listen ADDR:PORT] [--insecure-listen ADDR:PORT]
//   coved registry ...   the registry alone (runs unprivileged)
//
// Today both run the registry node (daemon/registry_node.h); the control plane, fabric and DNS
// planes join the default mode as they land. Stops cleanly on SIGINT/SIGTERM.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon/config.h"
#include "daemon/registry_node.h"

namespace {

cove::Result<cove::http::ListenerOptions> ParseListen(const std::string& text, bool tls) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return cove::Fail(cove::Code::kInvalidArgument, "listen address must be ADDR:PORT: " + text);
  }
  cove::http::ListenerOptions o;
  o.address = text.substr(0, colon);
  if (!o.address.empty() && o.address.front() == '[') o.address = o.address.substr(1, o.address.size() - 2);
  int port = 0;
  try {
    port = std::stoi(text.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return cove::Fail(cove::Code::kInvalidArgument, "bad port in " + text);
  }
  o.port = static_cast<uint16_t>(port);
  o.tls = tls;
  if (!tls && !cove::daemon::IsLoopback(o.address)) {
    return cove::Fail(cove::Code::kInvalidArgument,
                      "plain HTTP is only allowed on loopback addresses, not " + o.address);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coved: the cove daemon (container registry with private endpoints)"};
  std::string config_path, data_dir, log_level = "info";
  std::vector<std::string> listen, insecure_listen;
  auto add_common = [&](CLI::App* a) {
    a->add_option("--config", config_path, "YAML configuration file");
    a->add_option("--data-dir", data_dir, "where blobs, metadata and keys live");
    a->add_option("--listen", listen, "TLS listener ADDR:PORT (repeatable; replaces config)");
    a->add_option("--insecure-listen", insecure_listen,
                  "plain-HTTP listener ADDR:PORT, loopback only (repeatable)");
    a->add_option("--log-level", log_level, "trace, debug, info, warn, error");
  };
  add_common(&app);
  CLI::App* registry_cmd = app.add_subcommand("registry", "run only the registry (unprivileged)");
  add_common(registry_cmd);
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("coved"));  // logs to stderr, as daemons do
  spdlog::set_level(spdlog::level::from_str(log_level));
  auto config = config_path.empty() ? cove::Result<cove::daemon::Config>(
                                          cove::daemon::DefaultConfig())
                                    : cove::daemon::LoadConfig(config_path);
  if (!config) {
    std::cerr << "coved: " << config.error().message << "\n";
    return 2;
  }
  if (!data_dir.empty()) config->data_dir = data_dir;
  if (!listen.empty() || !insecure_listen.empty()) config->listen.clear();
  for (const auto& [list, tls] : {std::pair{&listen, true}, std::pair{&insecure_listen, false}}) {
    for (const auto& l : *list) {
      auto o = ParseListen(l, tls);
      if (!o) {
        std::cerr << "coved: " << o.error().message << "\n";
        return 2;
      }
      config->listen.push_back(*o);
    }
  }

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  cove::SystemClock clock;
  auto node = cove::daemon::RegistryNode::Open(*config, clock);
  if (!node) {
    std::cerr << "coved: " << node.error().message << "\n";
    return 1;
  }
  auto ports = (*node)->Start();
  if (!ports) {
    std::cerr << "coved: " << ports.error().message << "\n";
    return 1;
  }
  spdlog::info("coved ready: data in {}, CA certificate {}/tls/ca.crt", config->data_dir,
               config->data_dir);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping", sig);
  (*node)->Stop();
  return 0;
}
