// coved: the cove daemon.
//
//   coved [--config FILE] [--data-dir DIR] [--listen ADDR:PORT] [--insecure-listen ADDR:PORT]
//         [--arm-listen ADDR:PORT] [--arm-insecure-http] [--fabric-prefix P] [--no-fabric]
//   coved registry ...   the registry alone (runs unprivileged)
//
// The default mode runs the control plane (daemon/arm_node.h: ARM REST API over HTTPS on
// --arm-listen, default 127.0.0.1:7780, logged as "arm api listening on ADDR:PORT";
// authenticated with bearer tokens and RBAC; on first start it writes the bootstrap credential
// <data>/bootstrap.json, mode 0600) and the registry node, whose registries are exactly the control plane's Microsoft.ContainerRegistry/registries
// resources: the embedded default registry is not served, a configuration file declaring
// registries is refused, and requests to any other host (an IP, localhost) get 404
// NAME_UNKNOWN. `coved registry` runs only the registry node, with the configured registries.
// Either mode refuses to start when a registry without authentication (no `auth:` entry) would
// be served on a listener that is not loopback (daemon/config.h).
// As root, the default mode also runs the planes (daemon/planes.h): VNets, VMs and the public
// network as namespaces named <prefix>-… (--fabric-prefix, default "cove"), DNS at
// 168.63.129.16 in each VNet, registry listeners on private endpoint and public addresses,
// network rules, and each machine's instance metadata service at 169.254.169.254 (src/imds:
// managed identities' tokens). Exiting leaves the fabric (a restart adopts it); `cove down` removes it.
// The registry's per-endpoint counters are at GET /cove/counters on the ARM listener.
// Stops cleanly on SIGINT/SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "arm/identity_support.h"
#include "daemon/arm_node.h"
#include "daemon/config.h"
#include "daemon/planes.h"
#include "daemon/projection.h"
#include "daemon/registry_node.h"

int main(int argc, char** argv) {
  CLI::App app{"coved: the cove daemon (container registry with private endpoints)"};
  std::string config_path, data_dir, log_level = "info";
  std::vector<std::string> listen, insecure_listen;
  std::string arm_listen;
  auto add_common = [&](CLI::App* a) {
    a->add_option("--config", config_path, "YAML configuration file");
    a->add_option("--data-dir", data_dir, "where blobs, metadata and keys live");
    a->add_option("--listen", listen, "TLS listener ADDR:PORT (repeatable; replaces config)");
    a->add_option("--insecure-listen", insecure_listen,
                  "plain-HTTP listener ADDR:PORT, loopback only (repeatable)");
    a->add_option("--log-level", log_level, "trace, debug, info, warn, error");
  };
  add_common(&app);
  app.add_option("--arm-listen", arm_listen,
                 "control-plane REST API ADDR:PORT, HTTPS on loopback (default 127.0.0.1:7780)");
  bool arm_insecure_http = false;
  app.add_flag("--arm-insecure-http", arm_insecure_http,
               "serve the control plane over plain HTTP (tests; still authenticated)");
  std::string fabric_prefix = "cove";
  bool no_fabric = false;
  app.add_option("--fabric-prefix", fabric_prefix,
                 "namespace name prefix of the fabric (1-5 of [a-z0-9]; default cove)");
  app.add_flag("--no-fabric", no_fabric, "do not run the fabric/DNS planes even as root");
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
      auto o = cove::daemon::ParseListenAddress(l, tls);
      if (!o) {
        std::cerr << "coved: " << o.error().message << "\n";
        return 2;
      }
      config->listen.push_back(*o);
    }
  }

  if (!arm_listen.empty()) {
    auto o = cove::daemon::ParseListenAddress(arm_listen, false);
    if (!o) {
      std::cerr << "coved: --arm-listen: " << o.error().message << "\n";
      return 2;
    }
    config->arm_listen = *o;
    config->arm_listen.tls = true;
  }
  if (arm_insecure_http) config->arm_listen.tls = false;
  bool full = !registry_cmd->parsed();
  if (full) {
    // Only the control plane's registries exist (and it gives each one authentication); the
    // embedded default registry would be an open one behind them.
    if (auto own = cove::daemon::UseControlPlaneRegistries(*config); !own) {
      std::cerr << "coved: " << own.error().message << "\n";
      return 2;
    }
  }
  if (auto open = cove::daemon::CheckOpenRegistries(*config); !open) {
    std::cerr << "coved: " << open.error().message << "\n";
    return 2;
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
  std::unique_ptr<cove::daemon::ArmNode> arm;
  std::unique_ptr<cove::imds::Service> imds;  // outlives the planes that serve it
  std::unique_ptr<cove::daemon::Planes> planes;
  int subscription = 0;
  if (full) {
    auto opened = cove::daemon::ArmNode::Open(*config, clock);
    if (!opened) {
      std::cerr << "coved: " << opened.error().message << "\n";
      return 1;
    }
    arm = std::move(*opened);
    if (!no_fabric && geteuid() == 0) {
      imds = std::make_unique<cove::imds::Service>((*node)->identities(), *(*node)->tokens(),
                                                   cove::arm::kTenantId);
      planes = std::make_unique<cove::daemon::Planes>(
          cove::daemon::PlanesOptions{.prefix = fabric_prefix,
                                      .dns = config->limits.DnsOptions()},
          (*node)->server(), imds.get());
    } else {
      spdlog::info("fabric and DNS planes off ({})", no_fabric ? "--no-fabric" : "not root");
    }
    arm->SetCounters([gate = &(*node)->gate()] { return gate->CountersJson(); });
    arm->SetAuth((*node)->authenticator(), (*node)->tokens(),
                 [registry_node = node->get()](const std::string& host) {
                   return registry_node->RegistryOfLoginServer(host);
                 });
    // Each commit is projected once (daemon/projection.h) and handed on as that one value:
    // the registry node takes identities, network policy and registries in the order that
    // fails closed (RegistryNode::Apply), the planes the rest.
    auto feed = [registry_node = node->get(), &planes](const cove::arm::SnapshotPtr& snapshot) {
      auto projection = cove::daemon::Project(
          snapshot, {.ca_pem = registry_node->ca_certificate_pem()});
      if (auto applied = registry_node->Apply(*projection); !applied) {
        spdlog::error("control plane version {}: {}; the registry node keeps what it could not "
                      "replace", projection->version, applied.error().message);
      }
      if (planes) (void)planes->Apply(projection);
    };
    feed(arm->control_plane().snapshot());
    subscription = arm->control_plane().Subscribe(feed);
    auto port = arm->Start();
    if (!port) {
      std::cerr << "coved: " << port.error().message << "\n";
      return 1;
    }
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
  if (arm) {
    arm->Stop();
    arm->control_plane().Unsubscribe(subscription);
  }
  planes.reset();  // the fabric stays; only sockets close
  (*node)->Stop();
  return 0;
}
