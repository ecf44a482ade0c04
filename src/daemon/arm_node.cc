#include "daemon/arm_node.h"

#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "arm/resource_path.h"

namespace cove::daemon {

// ARM requests, plus GET /cove/counters.
class ArmNode::Routes final : public http::Handler {
 public:
  explicit Routes(ArmNode& node) : node_(node) {}
  http::ExchangePtr Start(http::Request request) override {
    if (request.path() == "/cove/counters" && node_.counters_) {
      if (request.method != "GET") {
        return http::Respond(http::Response::Text(405, "application/json", "{}"));
      }
      return http::Respond(
          http::Response::Text(200, "application/json", node_.counters_().dump()));
    }
    return node_.api_->Start(std::move(request));
  }

 private:
  ArmNode& node_;
};

Result<std::unique_ptr<ArmNode>> ArmNode::Open(const Config& config, const Clock& clock) {
  std::unique_ptr<ArmNode> node(new ArmNode());
  node->config_ = config;
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Fail(Code::kIOError, "cannot create " + config.data_dir + ": " + ec.message());
  arm::ControlPlaneOptions options;
  options.dns_suffix = config.dns_suffix;
  options.clock = &clock;
  COVE_ASSIGN_OR_RETURN(node->control_plane_,
                        arm::ControlPlane::Open(config.data_dir + "/control.db", options));
  node->api_ = std::make_unique<arm::ArmApi>(*node->control_plane_);
  http::ServerOptions server_options;
  server_options.threads = 1;
  server_options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  server_options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  node->routes_ = std::make_unique<Routes>(*node);
  node->server_ = std::make_unique<http::Server>(*node->routes_, nullptr, server_options);
  return node;
}

ArmNode::~ArmNode() { Stop(); }

Result<uint16_t> ArmNode::Start() {
  auto port = server_->Listen(config_.arm_listen);
  if (!port) {
    return Fail(port.error().code, "arm api: listen on " + config_.arm_listen.address + ":" +
                                       std::to_string(config_.arm_listen.port) + ": " +
                                       port.error().message);
  }
  server_->Start();
  spdlog::info("arm api listening on {}:{}", config_.arm_listen.address, *port);
  return *port;
}

void ArmNode::Stop() {
  if (server_) server_->Stop();
}

std::vector<registry::RegistryInfo> RegistriesFromSnapshot(const arm::Snapshot& snapshot) {
  std::vector<registry::RegistryInfo> out;
  for (const auto& r : snapshot.registries) {
    registry::RegistryInfo info;
    info.name = r.name;
    info.home_region = r.home_region;
    info.regions = r.regions;
    info.data_endpoint_enabled = r.data_endpoint_enabled;
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<registry::RegistryInfo> MergeRegistries(
    std::vector<registry::RegistryInfo> from_arm,
    const std::vector<registry::RegistryInfo>& configured) {
  std::set<std::string> names;
  for (const auto& r : from_arm) names.insert(r.name);
  for (const auto& r : configured) {
    if (!names.count(arm::Lower(r.name))) from_arm.push_back(r);
  }
  return from_arm;
}

}  // namespace cove::daemon
