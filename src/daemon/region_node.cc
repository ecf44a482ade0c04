#include "daemon/region_node.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "daemon/projection.h"
#include "registry/url_signer.h"

namespace cove::daemon {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxConfigBytes = 256ull << 20;

http::Response JsonError(int status, std::string code, std::string message) {
  return http::Response::Text(
      status, "application/json",
      Json{{"error", {{"code", std::move(code)}, {"message", std::move(message)}}}}.dump());
}

// Writes `bytes` to `path` durably: a temporary file (0600), fsync, rename, fsync of the folder.
Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  std::string tmp = path + ".tmp";
  UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return Fail(Code::kIOError, "create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(out.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(Code::kIOError, "write " + tmp + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  if (::fsync(out.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Fail(Code::kIOError, "store " + path + ": " + std::strerror(errno));
  }
  std::string dir = path.substr(0, path.rfind('/'));
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.valid()) ::fsync(d.get());
  return Ok();
}

}  // namespace

std::string RegionConfig::ToJson() const {
  Json documents_json = Json::object();
  for (const auto& [key, doc] : documents) documents_json[key] = *doc;
  Json peers_json = Json::array();
  for (const auto& p : peers) {
    peers_json.push_back({{"region", p.region}, {"address", p.address}, {"port", p.port}});
  }
  return Json{{"version", version},
              {"dnsSuffix", dns_suffix},
              {"documents", std::move(documents_json)},
              {"peers", std::move(peers_json)}}
      .dump();
}

Result<RegionConfig> RegionConfig::Parse(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Fail(Code::kInvalidArgument, "region config is not a JSON object");
  RegionConfig c;
  if (!j.contains("version") || !j["version"].is_number_unsigned() ||
      !j.contains("dnsSuffix") || !j["dnsSuffix"].is_string() || !j.contains("documents") ||
      !j["documents"].is_object()) {
    return Fail(Code::kInvalidArgument,
                "region config needs version (unsigned), dnsSuffix (string) and documents "
                "(object)");
  }
  c.version = j["version"].get<uint64_t>();
  c.dns_suffix = j["dnsSuffix"].get<std::string>();
  for (auto& [key, doc] : j["documents"].items()) {
    c.documents.emplace(key, std::make_shared<const Json>(std::move(doc)));
  }
  if (j.contains("peers")) {
    if (!j["peers"].is_array()) return Fail(Code::kInvalidArgument, "peers must be an array");
    for (const auto& p : j["peers"]) {
      if (!p.is_object() || !p.value("region", Json()).is_string() ||
          !p.value("address", Json()).is_string() || !p.value("port", Json()).is_number_unsigned() ||
          p["port"].get<uint64_t>() == 0 || p["port"].get<uint64_t>() > 65535) {
        return Fail(Code::kInvalidArgument, "a peer needs region, address and port 1-65535");
      }
      c.peers.push_back({p["region"].get<std::string>(), p["address"].get<std::string>(),
                         static_cast<uint16_t>(p["port"].get<uint64_t>())});
    }
  }
  return c;
}

Result<std::string> LoadOrCreateBackboneKey(const std::string& secrets_dir) {
  const std::string keys = secrets_dir + "/keys";
  if (::mkdir(keys.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(Code::kIOError, "cannot create " + keys + ": " + std::strerror(errno));
  }
  COVE_ASSIGN_OR_RETURN(std::string key,
                        registry::UrlSigner::LoadOrCreateKey(secrets_dir + "/keys/backbone.key"));
  return HexEncode(key);
}

// The backbone listener's handler: the supervisor's config pushes and probes.
class RegionNode::BackboneApi final : public http::Handler {
 public:
  explicit BackboneApi(RegionNode& node) : node_(node) {}

  http::ExchangePtr Start(http::Request request) override {
    if (!Authorized(request)) {
      return http::Respond(JsonError(401, "Unauthorized", "the backbone key is required"), 0);
    }
    std::string path(request.path());
    if (path == "/cove/region/v1/config" && request.method == "PUT") {
      return http::Buffer(kMaxConfigBytes,
                          JsonError(413, "TooLarge", "the region config is too large"),
                          [this](std::string body) { return PutConfig(body); });
    }
    if (path == "/cove/region/v1/status" && request.method == "GET") {
      return http::Respond(http::Response::Text(
          200, "application/json",
          Json{{"region", node_.region()}, {"version", node_.version()}}.dump()));
    }
    if (path.starts_with("/cove/replication/")) {
      return node_.replicator_->handler().Start(std::move(request));
    }
    if (path == "/cove/region/v1/usage" && request.method == "GET") {
      return http::Respond(Usage(request.QueryParam("registry").value_or("")));
    }
    if (path == "/cove/region/v1/counters" && request.method == "GET") {
      return http::Respond(http::Response::Text(
          200, "application/json", node_.registry_node().gate().CountersJson().dump()));
    }
    return http::Respond(JsonError(404, "NotFound", "no such backbone resource: " + path));
  }

 private:
  bool Authorized(const http::Request& request) const {
    auto value = request.headers.Get("authorization");
    static constexpr std::string_view kScheme = "Bearer ";
    if (!value || value->size() != kScheme.size() + node_.backbone_key_.size() ||
        value->substr(0, kScheme.size()) != kScheme) {
      return false;
    }
    return CRYPTO_memcmp(value->data() + kScheme.size(), node_.backbone_key_.data(),
                         node_.backbone_key_.size()) == 0;
  }

  // The storage `registry` uses in this region (MetaStore::RegistryUsage).
  http::Response Usage(const std::string& registry) {
    if (registry.empty()) return JsonError(400, "InvalidRequest", "?registry= is required");
    auto used = node_.registry_node().meta().RegistryUsage(registry);
    if (!used) return JsonError(500, "UsageFailed", used.error().message);
    return http::Response::Text(
        200, "application/json",
        Json{{"region", node_.region()}, {"registry", registry}, {"sizeBytes", *used}}.dump());
  }

  http::Response PutConfig(const std::string& body) {
    auto config = RegionConfig::Parse(body);
    if (!config) return JsonError(400, "InvalidConfig", config.error().message);
    auto applied = node_.Apply(*config);
    if (!applied) return JsonError(500, "ApplyFailed", applied.error().message);
    return http::Response::Text(200, "application/json",
                                Json{{"region", node_.region()}, {"version", node_.version()}}.dump());
  }

  RegionNode& node_;
};

Result<std::unique_ptr<RegionNode>> RegionNode::Open(RegionNodeOptions options,
                                                     const Clock& clock) {
  std::unique_ptr<RegionNode> node(new RegionNode());
  node->clock_ = &clock;
  Config& config = options.config;
  config.region = options.region;
  config.registries.clear();
  config.default_registry.clear();
  config.auth.reset();
  config.listen.clear();
  for (bool tls : {true, false}) {
    config.listen.push_back(http::ListenerOptions{.address = options.backbone_address,
                                                  .port = 0,
                                                  .tls = tls,
                                                  .proxy_protocol = true,
                                                  .proxy_sources = options.forwarder_sources});
  }
  const std::string secrets = config.secrets_dir.empty() ? config.data_dir : config.secrets_dir;
  COVE_ASSIGN_OR_RETURN(node->node_, RegistryNode::Open(config, clock));
  COVE_ASSIGN_OR_RETURN(node->backbone_key_, LoadOrCreateBackboneKey(secrets));
  const std::string address = options.backbone_address;
  node->backbone_tls_ = std::make_unique<http::SniContextProvider>(
      node->node_->ca(), config.data_dir + "/tls/backbone-hosts", clock,
      [address](std::string_view host) { return host == address; }, address);
  auto replicator = replication::Replicator::Open(
      node->node_->registry().repositories(), clock,
      {.region = options.region,
       .journal_path = config.data_dir + "/replication.db",
       .backbone_key = node->backbone_key_,
       .ca_pem = node->node_->ca_certificate_pem(),
       .apply_delay = options.replication_delay});
  if (!replicator) return Fail(replicator.error().code, "replication: " + replicator.error().message);
  node->replicator_ = std::move(*replicator);
  node->node_->registry().SetContentSource(node->replicator_);
  node->api_ = std::make_unique<BackboneApi>(*node);
  http::ServerOptions server_options;
  server_options.threads = 1;
  config.limits.ApplyTo(server_options);
  node->backbone_ =
      std::make_unique<http::Server>(*node->api_, node->backbone_tls_.get(), server_options);
  node->options_ = std::move(options);

  // What was served before a restart, without waiting for the control plane.
  std::string saved = node->options_.config.data_dir + "/config.json";
  std::ifstream in(saved);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = RegionConfig::Parse(text.str());
    if (!parsed) return Fail(Code::kCorruption, saved + ": " + parsed.error().message);
    std::lock_guard lock(node->mu_);
    COVE_RETURN_IF_ERROR(node->ApplyLocked(*parsed));
  }
  return node;
}

RegionNode::~RegionNode() {
  Stop();
  // The registry holds the replicator as its content source: let go of it there, so that the
  // replicator goes before the repository service it observes.
  if (node_) node_->registry().SetContentSource(nullptr);
  replicator_.reset();
}

Result<RegionPorts> RegionNode::Start() {
  COVE_ASSIGN_OR_RETURN(auto ports, node_->Start());
  RegionPorts out;
  out.client = ports.at(0);
  out.client_plain = ports.at(1);
  COVE_ASSIGN_OR_RETURN(out.backbone,
                        backbone_->Listen(http::ListenerOptions{
                            .address = options_.backbone_address, .port = 0, .tls = true}));
  backbone_->Start();
  return out;
}

void RegionNode::Stop() {
  if (backbone_) backbone_->Stop();
  if (replicator_) replicator_->Stop();
  if (node_) node_->Stop();
}

uint64_t RegionNode::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

Status RegionNode::Apply(const RegionConfig& config) {
  std::lock_guard lock(mu_);
  if (applied_ && config.version < version_) return Ok();  // a stale push
  COVE_RETURN_IF_ERROR(
      WriteFileAtomically(options_.config.data_dir + "/config.json", config.ToJson()));
  return ApplyLocked(config);
}

Status RegionNode::ApplyLocked(const RegionConfig& config) {
  auto snapshot = arm::BuildSnapshot(config.version, config.dns_suffix, config.documents);
  auto projected = Project(snapshot, {.ca_pem = node_->ca_certificate_pem()});
  // This region serves the registries replicated to it, and only those.
  Projection mine = *projected;
  std::erase_if(mine.registries, [&](const registry::RegistryInfo& r) {
    return std::find(r.regions.begin(), r.regions.end(), options_.region) == r.regions.end();
  });
  COVE_RETURN_IF_ERROR(node_->Apply(mine));
  // Replication: which regions hold each registry, and where the other regions are.
  std::map<std::string, std::vector<std::string>> holders;
  for (const auto& r : projected->registries) holders[r.name] = r.regions;
  replicator_->SetRegistries(std::move(holders));
  std::vector<replication::Peer> peers;
  for (const auto& p : config.peers) peers.push_back({p.region, p.address, p.port, ""});
  replicator_->SetPeers(std::move(peers));
  version_ = config.version;
  applied_ = true;
  spdlog::info("region {}: control plane version {} ({} registries here)", options_.region,
               config.version, mine.registries.size());
  return Ok();
}

}  // namespace cove::daemon
