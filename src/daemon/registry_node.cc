#include "daemon/registry_node.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "storage/filesystem_blob_store.h"
#include "storage/quorum_blob_store.h"
#include "storage/sqlite_meta_store.h"

namespace cove::daemon {
namespace {


// The network rules of the `auth:` section's registries (coved registry): public network
// access and bypass; no IP rules, private endpoints or trusted service machines there.
void AddConfiguredRules(const auth::IdentityData& configured, access::Policy& policy) {
  for (const auto& r : configured.registries) {
    if (policy.registries.count(r.registry)) continue;  // the control plane's
    policy.registries[r.registry] = {r.registry, r.public_network_access,
                                     r.bypass == auth::NetworkBypass::kAzureServices, "Allow", {}};
  }
}

// GET /cove/health (registry_node.h); every other request goes to the gate.
class HealthHandler final : public http::Handler {
 public:
  HealthHandler(http::Handler& inner, storage::MetaStore& meta, storage::BlobStore& blobs,
                const Clock& clock)
      : inner_(inner), meta_(meta), blobs_(blobs), clock_(clock) {}

  http::ExchangePtr Start(http::Request request) override {
    if (request.path() != "/cove/health") return inner_.Start(std::move(request));
    http::Response r;
    if (request.method != "GET" && request.method != "HEAD") {
      r.status = 405;
      r.headers.Set("Allow", "GET, HEAD");
      return http::Respond(std::move(r));
    }
    EngineHealth health = Probe();
    r.status = health.ok() ? 200 : 503;
    r.headers.Set("Content-Type", "application/json");
    r.headers.Set("Cache-Control", "no-store");
    nlohmann::json body = {{"status", health.ok() ? "ok" : "degraded"},
                           {"metadata", health.metadata},
                           {"blobs", health.blobs}};
    r.body = body.dump();
    return http::Respond(std::move(r));
  }

 private:
  EngineHealth Probe() {
    std::lock_guard lock(mu_);
    auto now = clock_.Now();
    if (!probed_ || now - probed_at_ >= std::chrono::seconds(1) || now < probed_at_) {
      last_ = ProbeEngines(meta_, blobs_);
      probed_at_ = now;
      probed_ = true;
    }
    return last_;
  }

  http::Handler& inner_;
  storage::MetaStore& meta_;
  storage::BlobStore& blobs_;
  const Clock& clock_;
  std::mutex mu_;
  bool probed_ = false;           // guarded by mu_
  Clock::TimePoint probed_at_{};  // guarded by mu_
  EngineHealth last_;             // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<RegistryNode>> RegistryNode::Open(Config config, const Clock& clock) {
  std::unique_ptr<RegistryNode> node(new RegistryNode());
  node->clock_ = &clock;
  const std::string& dir = config.data_dir;
  const std::string& secrets = config.secrets_dir.empty() ? dir : config.secrets_dir;
  COVE_ASSIGN_OR_RETURN(node->engines_, OpenEngines(config, clock));
  COVE_ASSIGN_OR_RETURN(node->ca_, http::CertificateAuthority::LoadOrCreate(secrets + "/tls", clock));
  COVE_ASSIGN_OR_RETURN(node->url_keys_, UrlKeys::Open(std::move(node->engines_.url_keys), clock,
                                                       node->engines_.legacy_url_key));
  node->signer_ = std::make_unique<registry::UrlSigner>(node->url_keys_->Keys(), clock);
  // A URL signed by a node that has just rotated is not refused here (daemon/url_keys.h).
  node->signer_->SetReload([n = node.get()] {
    if (!n->url_keys_->ReloadSoon()) return false;
    n->signer_->SetKeys(n->url_keys_->Keys());
    return true;
  });

  COVE_RETURN_IF_ERROR(CheckOpenRegistries(config));
  COVE_ASSIGN_OR_RETURN(auto directory, registry::Directory::Create(
                                            config.dns_suffix, config.registries,
                                            config.default_registry));
  std::string default_name = directory->registries().empty()
                                 ? std::string("localhost")
                                 : directory->registries().front().LoginServer(config.dns_suffix);
  node->tls_ = std::make_unique<http::SniContextProvider>(
      *node->ca_, dir + "/tls/hosts", clock,
      [n = node.get()](std::string_view host) { return n->registry_->directory()->Serves(host); },
      default_name);

  registry::RegistryOptions options;
  options.region = config.region;
  options.upload_ttl = std::chrono::hours(config.upload_ttl_hours);
  // Over a shared blob store an upload's next request may come to another node: keeping its
  // handle here between requests would hold the upload's lease from that node.
  if (node->engines_.shared_blobs) options.max_idle_uploads = 0;
  // Authentication is always wired; a registry is open until an identity snapshot names it
  // (the `auth:` section, or the control plane: SetControlPlaneIdentities).
  COVE_ASSIGN_OR_RETURN(node->token_keys_,
                        auth::KeyRing::Open(std::move(node->engines_.token_keys), clock));
  COVE_ASSIGN_OR_RETURN(node->identity_keys_,
                        auth::KeyRing::Open(std::move(node->engines_.identity_keys), clock));
  node->tokens_ =
      std::make_unique<auth::TokenService>(*node->token_keys_, *node->identity_keys_, clock);
  if (config.auth) {
    COVE_ASSIGN_OR_RETURN(auto snapshot, auth::IdentitySnapshot::Build(*config.auth));
    node->identities_.Set(std::move(snapshot));
  }
  auth::AuthenticatorOptions auth_options;
  auth_options.passwords = config.limits.PasswordOptions();
  node->authenticator_ =
      std::make_shared<auth::Authenticator>(node->identities_, *node->tokens_, clock, auth_options);
  options.authorizer = node->authenticator_;
  node->registry_ = std::make_unique<registry::Registry>(directory, *node->engines_.blobs,
                                                         *node->engines_.meta,
                                                         *node->signer_, clock, options);
  registry::GarbageCollectorOptions gc_options;
  gc_options.grace = std::chrono::seconds(config.gc_grace_seconds);
  node->collector_ = std::make_unique<registry::GarbageCollector>(
      *node->engines_.blobs, *node->engines_.meta, clock,
      [registry = node->registry_.get()] { return registry->directory()->registries(); },
      gc_options);
  http::ServerOptions server_options;
  server_options.threads = config.threads;
  server_options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  config.limits.ApplyTo(server_options);
  node->gate_ = std::make_unique<access::Gate>(
      *node->registry_, [registry = node->registry_.get()](const std::string& host) {
        auto match = registry->directory()->Match(host);
        return match ? match->registry->name : std::string();
      });
  if (config.auth) {
    auto policy = std::make_shared<access::Policy>();
    AddConfiguredRules(*config.auth, *policy);
    node->gate_->SetPolicy(std::move(policy));
  }
  node->health_ = std::make_unique<HealthHandler>(*node->gate_, *node->engines_.meta,
                                                  *node->engines_.blobs, clock);
  node->server_ =
      std::make_unique<http::Server>(*node->health_, node->tls_.get(), server_options);
  node->config_ = std::move(config);
  return node;
}

RegistryNode::~RegistryNode() { Stop(); }

Status RegistryNode::Apply(const Projection& projection) {
  if (!projection.identities) {
    return Fail(projection.identities.error().code,
                "identities: " + projection.identities.error().message);
  }
  // Fail closed: without identities nothing changes (a registry missing from the identities
  // is open, one missing from the policy has no network rules).
  COVE_RETURN_IF_ERROR(SetControlPlaneIdentities(*projection.identities));
  access::PolicyPtr policy = projection.policy;
  if (config_.auth) {
    auto merged = std::make_shared<access::Policy>(*projection.policy);
    AddConfiguredRules(*config_.auth, *merged);
    policy = std::move(merged);
  }
  gate_->SetPolicy(std::move(policy));
  auto set = SetControlPlaneRegistries(projection.registries);
  if (!set) return Fail(set.error().code, "registries: " + set.error().message);
  return Ok();
}

Status RegistryNode::SetControlPlaneRegistries(std::vector<registry::RegistryInfo> from_arm) {
  // Exactly the control plane's registries, and no default registry for other hosts.
  COVE_ASSIGN_OR_RETURN(auto directory,
                        registry::Directory::Create(config_.dns_suffix, std::move(from_arm)));
  std::lock_guard lock(registries_mu_);
  std::set<std::string> before, now;
  for (const auto& r : registry_->directory()->registries()) before.insert(r.name);
  for (const auto& r : directory->registries()) now.insert(r.name);
  // A registry created while we run starts empty, whatever a registry of that name left (its
  // deletion's purge may not have finished): purged before it is served. Not on the first
  // call, whose registries were there before this process started.
  if (control_plane_seen_) {
    for (const auto& name : now) {
      if (before.count(name)) continue;
      auto purged = registry_->DeleteRegistryContent(name);
      if (!purged) {
        return Fail(purged.error().code, "registry " + name + " not served: deleting what a "
                                         "registry of that name left: " + purged.error().message);
      }
    }
  }
  control_plane_seen_ = true;
  registry_->SetDirectory(std::move(directory));
  // A deleted registry's content goes with it (ACR deletes a registry's images with it).
  for (const auto& name : before) {
    if (now.count(name)) continue;
    auto purged = registry_->DeleteRegistryContent(name);
    if (purged) {
      spdlog::info("registry {} deleted: its repositories, manifests and tags are gone", name);
    } else {
      spdlog::warn("registry {} deleted, but deleting its content failed: {} (done when the "
                   "name is created again)", name, purged.error().message);
    }
  }
  return Ok();
}

Status RegistryNode::SetControlPlaneIdentities(auth::IdentityData from_arm) {
  if (config_.auth) {
    // As with registries: the configuration's identities for the registries the control plane
    // does not own, with the principals they name (ids the control plane uses stay its own).
    std::set<std::string> arm_registries, arm_principals;
    for (const auto& r : from_arm.registries) arm_registries.insert(r.registry);
    for (const auto& p : from_arm.principals) arm_principals.insert(p.id);
    for (const auto& r : config_.auth->registries) {
      if (!arm_registries.count(r.registry)) from_arm.registries.push_back(r);
    }
    for (const auto& p : config_.auth->principals) {
      if (!arm_principals.count(p.id)) from_arm.principals.push_back(p);
    }
    for (const auto& a : config_.auth->assignments) {
      if (!arm_registries.count(a.registry) && !arm_principals.count(a.principal_id)) {
        from_arm.assignments.push_back(a);
      }
    }
  }
  COVE_ASSIGN_OR_RETURN(auto snapshot, auth::IdentitySnapshot::Build(std::move(from_arm)));
  identities_.Set(std::move(snapshot));
  return Ok();
}

std::string RegistryNode::RegistryOfLoginServer(const std::string& host) const {
  auto directory = registry_->directory();
  auto match = directory->Match(host);
  bool login = match && match->registry->LoginServer(directory->dns_suffix()) == host;
  return login ? match->registry->name : std::string();
}

Result<std::vector<uint16_t>> RegistryNode::Start() {
  std::vector<uint16_t> ports;
  for (const auto& listener : config_.listen) {
    auto port = server_->Listen(listener);
    if (!port) {
      return Fail(port.error().code, "listen on " + listener.address + ":" +
                                         std::to_string(listener.port) + ": " +
                                         port.error().message);
    }
    if (listener.proxy_protocol) {
      // Behind Private Link forwarders (a region node): said differently from a listener that
      // clients reach, so that nobody mistakes one for the other in the log.
      std::string sources;
      for (const auto& source : listener.proxy_sources) sources += " " + source;
      spdlog::info("listening on {}:{} for forwarders ({}, PROXY v2 from{})", listener.address,
                   *port, listener.tls ? "TLS" : "plain HTTP", sources);
    } else {
      spdlog::info("listening on {}:{} ({})", listener.address, *port,
                   listener.tls ? "TLS" : "plain HTTP");
    }
    ports.push_back(*port);
  }
  server_->Start();
  maintenance_ = std::thread([this] { Maintain(); });
  return ports;
}

void RegistryNode::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  if (server_) server_->Stop();
}

void RegistryNode::Maintain() {
  // Upkeep every 10 minutes; a garbage collection pass on its own interval (0: never).
  using Steady = std::chrono::steady_clock;
  constexpr auto kUpkeep = std::chrono::minutes(10);
  const auto gc_interval = std::chrono::seconds(config_.gc_interval_seconds);
  const bool collect = gc_interval.count() > 0;
  Steady::time_point next_upkeep = Steady::now(), next_gc = Steady::now() + gc_interval;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    if (Steady::now() >= next_upkeep) {
      Upkeep();
      next_upkeep = Steady::now() + kUpkeep;
    }
    if (collect && Steady::now() >= next_gc) {
      if (auto swept = collector_->SweepOnce(); !swept) {
        spdlog::warn("garbage collection: {}", swept.error().ToString());
      }
      next_gc = Steady::now() + gc_interval;
    }
    lock.lock();
    cv_.wait_until(lock, collect ? std::min(next_upkeep, next_gc) : next_upkeep,
                   [this] { return stopping_; });
  }
}

void RegistryNode::Upkeep() {
  // A region node's keys are the full daemon's, which rotates them; the region re-reads them
  // (keys made or retired there). Other nodes rotate their own, or shared ones together.
  const bool rotate = config_.region.empty() || config_.secrets_dir.empty();
  for (auth::KeyRing* ring : {token_keys_.get(), identity_keys_.get()}) {
    if (auto kept = ring ? ring->Maintain(rotate) : Ok(); !kept) {
      spdlog::warn("signing keys: {}", kept.error().ToString());
    }
  }
  if (auto kept = url_keys_->Maintain(rotate); !kept) {
    spdlog::warn("data-endpoint URL keys: {}", kept.error().ToString());
  }
  signer_->SetKeys(url_keys_->Keys());
  if (engines_.zones) {
    auto repaired = engines_.zones->Repair();
    if (!repaired) {
      spdlog::warn("zone repair: {}", repaired.error().ToString());
    } else if (repaired->copied || repaired->replaced || repaired->failed ||
               repaired->unrecoverable) {
      spdlog::info("zone repair: {} blobs, {} copied, {} replaced, {} failed, {} unrecoverable",
                   repaired->blobs, repaired->copied, repaired->replaced, repaired->failed,
                   repaired->unrecoverable);
    }
  }
  auto purged = registry_->PurgeAbandonedUploads();
  if (!purged) {
    spdlog::warn("purging abandoned uploads: {}", purged.error().ToString());
  } else if (*purged > 0) {
    spdlog::info("purged {} abandoned uploads", *purged);
  }
}

}  // namespace cove::daemon
