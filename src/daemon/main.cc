// coved: the cove daemon.
//
//   coved [--config FILE] [--data-dir DIR] [--listen ADDR:PORT] [--insecure-listen ADDR:PORT]
//         [--gc-interval SECONDS] [--gc-grace SECONDS]  (every mode; passed on to the regions)
//         [--arm-listen ADDR:PORT] [--arm-insecure-http] [--fabric-prefix P] [--no-fabric]
//   coved registry ...   the registry alone (runs unprivileged); with [--metadata PG] [--blobs AZ]
//                        [--secrets-dir S] a stateless node: any number of them over the same
//                        PostgreSQL and Azure Blob Storage serve the same registries
//                        (daemon/engines.h; README "Running several nodes")
//   coved region --region R --data-dir D --secrets-dir S [--ready-fd N]
//                        one region's registry node (daemon/region_node.h); the full daemon
//                        starts one per region (daemon/regions.h), nobody else needs to
//
// Regions (docs/regions.md): in the default mode the registries' content lives in region
// processes, one per Azure region some registry is replicated to, under <data>/regions/<R>/;
// every registry listener — private endpoint members, public addresses, --listen — is a Private
// Link forwarder to the region node(s) that serve it. A region that exits is restarted after
// --region-restart-delay-ms (default 1000); with --region-restart manual only on SIGHUP.
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
#include <cstdlib>
#include <iostream>
#include <optional>
#include <tuple>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "arm/identity_support.h"
#include "daemon/arm_node.h"
#include "daemon/config.h"
#include "daemon/planes.h"
#include "daemon/projection.h"
#include "daemon/region_node.h"
#include "daemon/regions.h"
#include "daemon/registry_node.h"
#include "fabric/namespaces.h"
#include "privatelink/forwarder.h"
#include "privatelink/listeners.h"

namespace {

// Blocks the stop signals (and SIGHUP) in every thread; the main thread waits for them.
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// `coved region`: one region's node until SIGINT/SIGTERM. Its ports go to `ready_fd` as one JSON
// line once it listens (the supervisor waits for it).
int RunRegion(cove::daemon::Config config, const std::string& region, int ready_fd) {
  sigset_t signals = BlockSignals();
  cove::SystemClock clock;
  auto node = cove::daemon::RegionNode::Open(
      cove::daemon::RegionNodeOptions{.region = region, .config = std::move(config)}, clock);
  if (!node) {
    std::cerr << "coved region " << region << ": " << node.error().message << "\n";
    return 1;
  }
  auto started = (*node)->Start();
  if (!started) {
    std::cerr << "coved region " << region << ": " << started.error().message << "\n";
    return 1;
  }
  if (ready_fd >= 0) {
    std::string line = "{\"client\":" + std::to_string(started->client) + ",\"clientPlain\":" +
                       std::to_string(started->client_plain) + ",\"backbone\":" +
                       std::to_string(started->backbone) + "}\n";
    ssize_t n = ::write(ready_fd, line.data(), line.size());
    (void)n;
    ::close(ready_fd);
  }
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) continue;
    spdlog::info("signal {}: stopping", sig);
    break;
  }
  (*node)->Stop();
  return 0;
}

}  // namespace


int main(int argc, char** argv) {
  CLI::App app{"coved: the cove daemon (container registry with private endpoints)"};
  std::string config_path, data_dir, log_level = "info";
  std::vector<std::string> listen, insecure_listen;
  std::string arm_listen, metadata, blobs;
  std::optional<int> gc_interval, gc_grace;
  auto add_common = [&](CLI::App* a) {
    a->add_option("--config", config_path, "YAML configuration file");
    a->add_option("--data-dir", data_dir, "where blobs, metadata and keys live");
    a->add_option("--metadata", metadata,
                  "shared metadata: a PostgreSQL connection string (or $COVE_METADATA)");
    a->add_option("--blobs", blobs,
                  "shared blobs: an Azure Storage connection string (or $COVE_BLOBS)");
    a->add_option("--listen", listen, "TLS listener ADDR:PORT (repeatable; replaces config)");
    a->add_option("--insecure-listen", insecure_listen,
                  "plain-HTTP listener ADDR:PORT, loopback only (repeatable)");
    a->add_option("--log-level", log_level, "trace, debug, info, warn, error");
    a->add_option("--gc-interval", gc_interval,
                  "seconds between garbage collection passes (0: none; default 600)")
        ->check(CLI::NonNegativeNumber);
    a->add_option("--gc-grace", gc_grace,
                  "seconds an unreferenced blob or link waits before it is collected (default "
                  "86400)")
        ->check(CLI::NonNegativeNumber);
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
  std::string region_restart = "auto";
  int region_restart_delay_ms = 1000;
  app.add_option("--region-restart", region_restart,
                 "restart a region process that exits: auto (after the delay) or manual (SIGHUP)")
      ->check(CLI::IsMember({"auto", "manual"}));
  app.add_option("--region-restart-delay-ms", region_restart_delay_ms,
                 "how long a region that exited stays down before it is restarted (default 1000)")
      ->check(CLI::NonNegativeNumber);
  CLI::App* registry_cmd = app.add_subcommand("registry", "run only the registry (unprivileged)");
  add_common(registry_cmd);
  std::string registry_secrets_dir;
  registry_cmd->add_option("--secrets-dir", registry_secrets_dir,
                           "the CA and keys, when several nodes share them (default: data dir)");
  CLI::App* region_cmd =
      app.add_subcommand("region", "run one region's registry node (coved starts these itself)");
  add_common(region_cmd);
  std::string region_name, secrets_dir;
  int ready_fd = -1;
  region_cmd->add_option("--region", region_name, "the Azure region")->required();
  region_cmd->add_option("--secrets-dir", secrets_dir, "coved's data directory (CA, keys)")
      ->required();
  region_cmd->add_option("--ready-fd", ready_fd, "write the ports here once listening");
  bool zone_redundant = false;
  region_cmd->add_flag("--zone-redundant", zone_redundant,
                       "keep blobs in three zones, writes acknowledged on two");
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
  if (gc_interval) config->gc_interval_seconds = *gc_interval;
  if (gc_grace) config->gc_grace_seconds = *gc_grace;
  // Shared engines: the flag, else the environment (which keeps passwords off command lines and
  // out of files, and reaches the region processes), else the file.
  for (auto [flag, env, field] : {std::tuple{&metadata, "COVE_METADATA", &config->metadata},
                                  std::tuple{&blobs, "COVE_BLOBS", &config->blobs}}) {
    const char* value = std::getenv(env);
    if (!flag->empty()) {
      *field = *flag;
    } else if (value && *value) {
      *field = value;
    }
    if (!field->empty()) ::setenv(env, field->c_str(), 1);
  }
  if (!registry_secrets_dir.empty()) config->secrets_dir = registry_secrets_dir;
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

  if (region_cmd->parsed()) {
    spdlog::set_default_logger(spdlog::stderr_color_mt("region " + region_name));
    spdlog::set_level(spdlog::level::from_str(log_level));
    config->secrets_dir = secrets_dir;
    config->zone_redundant = zone_redundant;
    return RunRegion(std::move(*config), region_name, ready_fd);
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

  sigset_t signals = BlockSignals();
  cove::SystemClock clock;
  // In the full daemon the registry listeners forward to the regions (below); this process's
  // own registry node keeps only the identities and tokens (instance metadata, the ARM API).
  // It listens for the forwarders only, as the fallback for names no region serves.
  std::vector<cove::http::ListenerOptions> forwarded_listeners;
  if (full) {
    forwarded_listeners.swap(config->listen);
    for (bool tls : {true, false}) {
      config->listen.push_back({.address = "127.0.0.1",
                                .port = 0,
                                .tls = tls,
                                .proxy_protocol = true,
                                .proxy_sources = {"127.0.0.1/32"}});
    }
  }
  cove::daemon::Config own = *config;
  // The full daemon's own node serves no registry: it keeps nothing in the shared engines (the
  // region processes do, each under its region's name).
  if (full) {
    own.metadata.clear();
    own.blobs.clear();
  }
  auto node = cove::daemon::RegistryNode::Open(std::move(own), clock);
  if (!node) {
    std::cerr << "coved: " << node.error().message << "\n";
    return 1;
  }
  std::unique_ptr<cove::daemon::ArmNode> arm;
  std::unique_ptr<cove::imds::Service> imds;  // outlives the planes that serve it
  std::unique_ptr<cove::daemon::RegionSupervisor> regions;
  std::unique_ptr<cove::daemon::RegionRouter> router;
  std::unique_ptr<cove::privatelink::Forwarder> forwarder;
  cove::fabric::LinuxNamespaces link_namespaces;
  std::unique_ptr<cove::privatelink::ForwarderListenerOpener> opener;
  std::unique_ptr<cove::daemon::Planes> planes;
  int subscription = 0;
  if (full) {
    auto opened = cove::daemon::ArmNode::Open(*config, clock);
    if (!opened) {
      std::cerr << "coved: " << opened.error().message << "\n";
      return 1;
    }
    arm = std::move(*opened);
    auto supervisor = cove::daemon::RegionSupervisor::Create(
        {.data_dir = config->data_dir,
         .config_path = config_path,
         .log_level = log_level,
         .restart_delay = std::chrono::milliseconds(region_restart_delay_ms),
         .restart = region_restart == "auto",
         .region_args = {"--gc-interval", std::to_string(config->gc_interval_seconds),
                         "--gc-grace", std::to_string(config->gc_grace_seconds)}});
    if (!supervisor) {
      std::cerr << "coved: " << supervisor.error().message << "\n";
      return 1;
    }
    regions = std::move(*supervisor);
    router = std::make_unique<cove::daemon::RegionRouter>(*regions);
    forwarder = std::make_unique<cove::privatelink::Forwarder>(cove::privatelink::ForwarderOptions{
        .threads = config->threads, .max_connections_per_source = 1024});
    forwarder->Start();
    // Every listener leads to a service of the router; the forwarder connects from the
    // address the region nodes believe PROXY v2 headers from.
    auto route_for = [r = router.get()](const std::string& service) {
      return cove::privatelink::Route{
          .source_address = "127.0.0.1",
          .targets = [r, service](const cove::privatelink::Arrival& arrival) {
            return r->Targets(service, arrival);
          },
          .peek_sni = service == "sni"};
    };
    for (const auto& l : forwarded_listeners) {
      auto port = forwarder->Listen(l.address, l.port, route_for(l.tls ? "sni" : "any"));
      if (!port) {
        std::cerr << "coved: " << port.error().message << "\n";
        return 1;
      }
      spdlog::info("listening on {}:{} ({}), forwarded to the regions", l.address, *port,
                   l.tls ? "TLS" : "plain HTTP");
    }
    if (!no_fabric && geteuid() == 0) {
      imds = std::make_unique<cove::imds::Service>((*node)->identities(), *(*node)->tokens(),
                                                   cove::arm::kTenantId);
      opener = std::make_unique<cove::privatelink::ForwarderListenerOpener>(
          link_namespaces, *forwarder, [route_for](const cove::privatelink::ListenerSpec& spec) {
            return route_for(spec.service);
          });
      planes = std::make_unique<cove::daemon::Planes>(
          cove::daemon::PlanesOptions{.prefix = fabric_prefix,
                                      .dns = config->limits.DnsOptions(),
                                      .state_dir = config->data_dir,
                                      .ca_file = config->data_dir + "/tls/ca.crt",
                                      .container_secrets =
                                          [cp = &arm->control_plane()](const std::string& id) {
                                            return cp->ContainerGroupSecrets(id);
                                          }},
          *opener, imds.get());
    } else {
      spdlog::info("fabric and DNS planes off ({})", no_fabric ? "--no-fabric" : "not root");
    }
    if (planes) {
      arm->control_plane().SetConnectionStatusProvider(
          [p = planes.get()](const std::string& id) { return p->ConnectionStatus(id); });
      cove::daemon::ContainersPlane* containers = &planes->containers();
      arm->control_plane().SetContainerGroupRuntime(
          {.instance_view = [containers](const std::string& id) { return containers->InstanceView(id); },
           .act = [containers](const std::string& id, const std::string& action) {
             return containers->Act(id, action);
           },
           .logs = [containers](const std::string& id, const std::string& container,
                                std::optional<int> tail) { return containers->Logs(id, container, tail); }});
      arm->control_plane().SetWorkloadStatusProvider(
          [aks = &planes->aks()](const std::string& id) { return aks->WorkloadStatus(id); });
    }
    arm->SetCounters([r = regions.get()] { return r->Counters(); });
    arm->SetReplicationStatus([r = regions.get(), cp = &arm->control_plane()](
                                  const std::string& registry, const std::string& region) {
      const cove::arm::RegistryView* view = cp->snapshot()->FindRegistry(registry);
      return view ? r->ReplicationStatus(region, view->regions)
                  : std::optional<cove::arm::ReplicationStatus>();
    });
    arm->SetRegistryUsage([r = regions.get(), cp = &arm->control_plane()](
                              const std::string& registry) {
      const cove::arm::RegistryView* view = cp->snapshot()->FindRegistry(registry);
      return view ? r->RegistryUsage(registry, view->regions) : std::optional<uint64_t>();
    });
    arm->SetAuth((*node)->authenticator(), (*node)->tokens(),
                 [r = router.get()](const std::string& host) {
                   return r->RegistryOfLoginServer(host);
                 });
    // Each commit is projected once (daemon/projection.h) and handed on as that one value: the
    // router first (where connections go), then the regions (started and given the commit
    // before any listener leads to them), this process's identities, and the planes.
    auto feed = [registry_node = node->get(), &planes, &regions,
                 &router](const cove::arm::SnapshotPtr& snapshot) {
      auto projection = cove::daemon::Project(
          snapshot, {.ca_pem = registry_node->ca_certificate_pem()});
      router->SetProjection(projection);
      regions->Apply(snapshot);
      cove::daemon::Projection identities_only = *projection;
      identities_only.registries.clear();
      if (auto applied = registry_node->Apply(identities_only); !applied) {
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
  if (router) router->SetFallback(ports->at(0), ports->at(1));
  spdlog::info("coved ready: data in {}, CA certificate {}/tls/ca.crt", config->data_dir,
               config->data_dir);
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    if (regions) regions->RestartDead();
  }
  spdlog::info("signal {}: stopping", sig);
  if (arm) {
    arm->Stop();
    arm->control_plane().Unsubscribe(subscription);
  }
  planes.reset();  // the fabric stays; only sockets close
  if (forwarder) forwarder->Stop();
  regions.reset();  // the region processes stop; their data stays
  (*node)->Stop();
  return 0;
}
