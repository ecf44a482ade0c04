#include "daemon/regions.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <spdlog/spdlog.h>

#include "common/ascii.h"
#include "daemon/region_node.h"
#include "http/client.h"

namespace cove::daemon {
namespace {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Waits up to `timeout` for process `pid` (its pidfd) to exit, then reaps it. False if it did
// not exit in time.
bool WaitExit(pid_t pid, int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{.fd = pidfd, .events = POLLIN, .revents = 0};
  if (pidfd >= 0 && ::poll(&p, 1, static_cast<int>(timeout.count())) == 0) return false;
  int status = 0;
  return ::waitpid(pid, &status, pidfd >= 0 ? 0 : WNOHANG) == pid;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

Result<std::unique_ptr<RegionSupervisor>> RegionSupervisor::Create(
    RegionSupervisorOptions options) {
  std::unique_ptr<RegionSupervisor> s(new RegionSupervisor(std::move(options)));
  COVE_ASSIGN_OR_RETURN(s->backbone_key_, LoadOrCreateBackboneKey(s->options_.data_dir));
  s->ca_file_ = s->options_.data_dir + "/tls/ca.crt";
  s->wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_.valid()) return Fail(Code::kIOError, std::string("eventfd: ") + std::strerror(errno));
  s->monitor_ = std::thread([p = s.get()] { p->Monitor(); });
  return s;
}

RegionSupervisor::~RegionSupervisor() {
  std::map<std::string, Child> children;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  Wake();
  if (monitor_.joinable()) monitor_.join();
  std::lock_guard apply(apply_mu_);
  {
    std::lock_guard lock(mu_);
    children.swap(children_);
  }
  for (auto& [region, child] : children) Stop(region, std::move(child));
}

void RegionSupervisor::Wake() {
  uint64_t one = 1;
  ssize_t n = ::write(wake_.get(), &one, sizeof one);
  (void)n;
}

void RegionSupervisor::Stop(const std::string& region, Child child) {
  if (child.pid <= 0) return;
  ::kill(child.pid, SIGTERM);
  if (!WaitExit(child.pid, child.pidfd.get(), std::chrono::seconds(10))) {
    spdlog::warn("region {}: pid {} did not stop in 10 s; killing it", region, child.pid);
    ::kill(child.pid, SIGKILL);
    WaitExit(child.pid, child.pidfd.get(), std::chrono::seconds(10));
  }
  spdlog::info("region {}: stopped (pid {})", region, child.pid);
}

bool RegionSupervisor::ZoneRedundant(const std::string& region,
                                     const arm::Snapshot& snapshot) const {
  for (const auto& r : snapshot.registries) {
    for (const auto& replica : r.replicas) {
      if (replica.region == region && replica.zone_redundant) return true;
    }
  }
  std::error_code ec;
  return std::filesystem::exists(options_.data_dir + "/regions/" + region + "/zones", ec);
}

Result<RegionSupervisor::Child> RegionSupervisor::Spawn(const std::string& region,
                                                        bool zone_redundant) {
  const std::string dir = options_.data_dir + "/regions/" + region;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(Code::kIOError, "cannot create " + dir + ": " + ec.message());
  std::vector<std::string> args = {options_.coved, "region", "--region", region,
                                   "--data-dir", dir, "--secrets-dir", options_.data_dir,
                                   "--ready-fd", "3", "--log-level", options_.log_level};
  if (zone_redundant) args.push_back("--zone-redundant");
  args.insert(args.end(), options_.region_args.begin(), options_.region_args.end());
  if (!options_.config_path.empty()) {
    args.push_back("--config");
    args.push_back(options_.config_path);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Fail(Code::kIOError, std::string("pipe: ") + std::strerror(errno));
  }
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Fail(Code::kIOError, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls until exec. The region dies with coved.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    if (write_end.get() == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else if (::dup2(write_end.get(), 3) != 3) {
      ::_exit(127);
    }
    // Nothing else of coved's: a client's connection inherited here would stay open after
    // coved closed it (sockets are not all close-on-exec).
    ::close_range(4, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  write_end.Reset();
  Child child;
  child.pid = pid;
  child.pidfd.Reset(PidfdOpen(pid));
  // The ready line: {"client":P,"clientPlain":Q,"backbone":R}.
  std::string line;
  auto deadline = SteadyClock::now() + options_.start_timeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd p{.fd = read_end.get(), .events = POLLIN, .revents = 0};
    int n = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    char buf[256];
    ssize_t got = n > 0 ? ::read(read_end.get(), buf, sizeof buf) : 0;
    if (got <= 0) {
      ::kill(pid, SIGKILL);
      WaitExit(pid, child.pidfd.get(), std::chrono::seconds(10));
      return Fail(Code::kUnavailable, "region " + region + " did not start (see its log above)");
    }
    line.append(buf, static_cast<size_t>(got));
  }
  Json ready = Json::parse(line.substr(0, line.find('\n')), nullptr, false);
  if (!ready.is_object() || !ready.value("client", Json()).is_number_unsigned() ||
      !ready.value("backbone", Json()).is_number_unsigned()) {
    ::kill(pid, SIGKILL);
    WaitExit(pid, child.pidfd.get(), std::chrono::seconds(10));
    return Fail(Code::kInternal, "region " + region + ": bad ready line '" + line + "'");
  }
  child.client_port = ready["client"].get<uint16_t>();
  child.client_plain_port = ready.value("clientPlain", uint16_t{0});
  child.backbone_port = ready["backbone"].get<uint16_t>();
  child.up = true;
  child.zone_redundant = zone_redundant;
  std::ofstream(dir + "/pid") << pid << "\n";
  spdlog::info("region {}: pid {}, backbone 127.0.0.1:{} (clients {}, plain {})", region, pid,
               child.backbone_port, child.client_port, child.client_plain_port);
  return child;
}

std::string RegionSupervisor::ConfigFor(const std::string& region,
                                        const arm::Snapshot& snapshot) const {
  RegionConfig config{.version = snapshot.version,
                      .dns_suffix = snapshot.dns_suffix,
                      .documents = snapshot.documents,
                      .peers = {}};
  std::lock_guard lock(mu_);
  for (const auto& [name, child] : children_) {
    if (name != region && child.up) {
      config.peers.push_back({name, "127.0.0.1", child.backbone_port});
    }
  }
  return config.ToJson();
}

Status RegionSupervisor::Push(const std::string& region, uint16_t backbone_port,
                              const std::string& body) {
  COVE_ASSIGN_OR_RETURN(auto client,
                        http::HttpClient::Create("https://127.0.0.1:" + std::to_string(backbone_port),
                                                 options_.push_timeout, {.ca_file = ca_file_}));
  COVE_ASSIGN_OR_RETURN(auto response,
                        client.Send("PUT", "/cove/region/v1/config", body, "application/json",
                                    {{"Authorization", "Bearer " + backbone_key_}}));
  if (response.status != 200) {
    return Fail(Code::kUnavailable, "region " + region + " refused the config: " +
                                        std::to_string(response.status) + " " + response.body);
  }
  return Ok();
}

void RegionSupervisor::StartAndPush(const std::vector<std::string>& regions) {
  arm::SnapshotPtr snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = snapshot_;
  }
  if (!snapshot) return;
  for (const auto& region : regions) {
    const bool zoned = ZoneRedundant(region, *snapshot);
    std::optional<Child> replaced;  // running, but not zone-redundant as it must now be
    {
      std::lock_guard lock(mu_);
      auto it = children_.find(region);
      if (it != children_.end() && it->second.up) {
        if (it->second.zone_redundant || !zoned) continue;
        replaced = std::move(it->second);
        children_.erase(it);
      }
    }
    if (replaced) {
      spdlog::info("region {}: becomes zone-redundant; restarting it", region);
      Stop(region, std::move(*replaced));
    }
    auto child = Spawn(region, zoned);
    std::lock_guard lock(mu_);
    if (!child) {
      spdlog::error("region {}: {}", region, child.error().message);
      auto& c = children_[region];
      c.restart_at = SteadyClock::now() + options_.restart_delay;
      continue;
    }
    children_[region] = std::move(*child);
  }
  Wake();  // new pidfds to watch
  // Every running region gets the snapshot and the current peers (a new region changes every
  // region's peers).
  std::vector<std::pair<std::string, uint16_t>> up;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, child] : children_) {
      if (child.up) up.emplace_back(name, child.backbone_port);
    }
  }
  for (const auto& [name, port] : up) {
    auto pushed = Push(name, port, ConfigFor(name, *snapshot));
    if (!pushed) spdlog::warn("region {}: {}", name, pushed.error().message);
  }
}

void RegionSupervisor::Apply(const arm::SnapshotPtr& snapshot) {
  std::lock_guard apply(apply_mu_);
  std::set<std::string> needed;
  for (const auto& r : snapshot->registries) needed.insert(r.regions.begin(), r.regions.end());
  std::map<std::string, Child> gone;
  {
    std::lock_guard lock(mu_);
    snapshot_ = snapshot;
    for (auto it = children_.begin(); it != children_.end();) {
      if (needed.count(it->first)) {
        ++it;
        continue;
      }
      gone.emplace(it->first, std::move(it->second));
      it = children_.erase(it);
    }
  }
  Wake();
  for (auto& [region, child] : gone) {
    Stop(region, std::move(child));
    std::error_code ec;
    std::filesystem::remove_all(options_.data_dir + "/regions/" + region, ec);
    if (ec) spdlog::warn("region {}: removing its data: {}", region, ec.message());
    else spdlog::info("region {}: no registry is replicated there any more; its data is deleted",
                      region);
  }
  StartAndPush({needed.begin(), needed.end()});
}

void RegionSupervisor::RestartDead() {
  std::lock_guard apply(apply_mu_);
  StartAndPush(Regions());
}

void RegionSupervisor::Monitor() {
  for (;;) {
    std::vector<pollfd> fds{{.fd = wake_.get(), .events = POLLIN, .revents = 0}};
    std::vector<std::pair<std::string, pid_t>> watched;
    int timeout_ms = -1;
    std::vector<std::string> due;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      auto now = SteadyClock::now();
      for (const auto& [name, child] : children_) {
        if (child.up && child.pidfd.valid()) {
          fds.push_back({.fd = child.pidfd.get(), .events = POLLIN, .revents = 0});
          watched.emplace_back(name, child.pid);
        } else if (!child.up && options_.restart && child.restart_at != SteadyClock::time_point{}) {
          if (child.restart_at <= now) {
            due.push_back(name);
          } else {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(child.restart_at - now);
            timeout_ms = timeout_ms < 0 ? static_cast<int>(ms.count() + 1)
                                        : std::min(timeout_ms, static_cast<int>(ms.count() + 1));
          }
        }
      }
    }
    if (!due.empty()) {
      std::lock_guard apply(apply_mu_);
      StartAndPush(due);
      continue;
    }
    ::poll(fds.data(), fds.size(), timeout_ms);
    uint64_t drained;
    while (::read(wake_.get(), &drained, sizeof drained) > 0) {
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const auto& [name, pid] = watched[i - 1];
      std::lock_guard lock(mu_);
      auto it = children_.find(name);
      if (it == children_.end() || it->second.pid != pid) continue;  // being stopped by Apply
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) != pid) continue;
      spdlog::warn("region {}: pid {} exited ({}); {}", name, pid, DescribeExit(status),
                   options_.restart ? "restarting it" : "it stays down until restarted");
      it->second = Child{};
      it->second.restart_at = SteadyClock::now() + options_.restart_delay;
    }
  }
}

std::vector<privatelink::Target> RegionSupervisor::Targets(
    const std::vector<std::string>& regions, bool plain) const {
  std::vector<privatelink::Target> out;
  std::lock_guard lock(mu_);
  for (const auto& r : regions) {
    auto it = children_.find(r);
    if (it == children_.end() || !it->second.up) continue;
    uint16_t port = plain ? it->second.client_plain_port : it->second.client_port;
    if (port) out.push_back({"127.0.0.1", port});
  }
  return out;
}

bool RegionSupervisor::IsUp(const std::string& region) const {
  std::lock_guard lock(mu_);
  auto it = children_.find(region);
  return it != children_.end() && it->second.up;
}

std::vector<std::string> RegionSupervisor::Regions() const {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, child] : children_) out.push_back(name);
  return out;
}

Json RegionSupervisor::Counters() const {
  std::vector<uint16_t> ports;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, child] : children_) {
      if (child.up) ports.push_back(child.backbone_port);
    }
  }
  Json merged = Json::object();
  for (uint16_t port : ports) {
    auto client = http::HttpClient::Create("https://127.0.0.1:" + std::to_string(port),
                                           std::chrono::seconds(5), {.ca_file = ca_file_});
    if (!client) continue;
    auto response = client->Send("GET", "/cove/region/v1/counters", "", "application/json",
                                 {{"Authorization", "Bearer " + backbone_key_}});
    if (!response || response->status != 200) continue;
    Json counters = Json::parse(response->body, nullptr, false);
    if (!counters.is_object()) continue;
    for (auto& [key, values] : counters.items()) {
      if (!values.is_object()) continue;
      Json& into = merged[key];
      if (!into.is_object()) into = Json::object();
      for (auto& [field, n] : values.items()) {
        if (n.is_number_unsigned()) into[field] = into.value(field, uint64_t{0}) + n.get<uint64_t>();
      }
    }
  }
  return merged;
}

std::optional<uint64_t> RegionSupervisor::RegistryUsage(
    const std::string& registry, const std::vector<std::string>& registry_regions) const {
  for (const auto& region : registry_regions) {
    uint16_t port = 0;
    {
      std::lock_guard lock(mu_);
      auto it = children_.find(region);
      if (it == children_.end() || !it->second.up) continue;
      port = it->second.backbone_port;
    }
    auto client = http::HttpClient::Create("https://127.0.0.1:" + std::to_string(port),
                                           std::chrono::seconds(5), {.ca_file = ca_file_});
    if (!client) continue;
    auto response = client->Send("GET", "/cove/region/v1/usage?registry=" + registry, "",
                                 "application/json",
                                 {{"Authorization", "Bearer " + backbone_key_}});
    if (!response || response->status != 200) continue;
    Json body = Json::parse(response->body, nullptr, false);
    if (body.is_object() && body["sizeBytes"].is_number_unsigned()) {
      return body["sizeBytes"].get<uint64_t>();
    }
  }
  return std::nullopt;
}

std::optional<arm::ReplicationStatus> RegionSupervisor::ReplicationStatus(
    const std::string& region, const std::vector<std::string>& registry_regions) const {
  const SystemClock clock;
  uint16_t backbone_port = 0;
  {
    std::lock_guard lock(mu_);
    auto it = children_.find(region);
    if (it == children_.end()) return std::nullopt;
    if (!it->second.up) {
      return arm::ReplicationStatus{.display_status = "Failed",
                                    .message = "the region's registry node is not running",
                                    .timestamp = clock.Now()};
    }
    backbone_port = it->second.backbone_port;
  }
  Json body;
  {
    std::lock_guard lock(status_mu_);
    auto& cached = status_cache_[region];
    auto now = SteadyClock::now();
    if (now - cached.at > std::chrono::milliseconds(500) || cached.body.is_null()) {
      cached.at = now;
      cached.body = nullptr;
      auto client = http::HttpClient::Create("https://127.0.0.1:" + std::to_string(backbone_port),
                                             std::chrono::seconds(1), {.ca_file = ca_file_});
      if (client) {
        auto response = client->Send("GET", "/cove/replication/v1/status", "", "application/json",
                                     {{"Authorization", "Bearer " + backbone_key_}});
        if (response && response->status == 200) {
          cached.body = Json::parse(response->body, nullptr, false);
        }
      }
    }
    body = cached.body;
  }
  arm::ReplicationStatus status{.display_status = "Ready", .timestamp = clock.Now()};
  if (!body.is_object() || !body.value("peers", Json()).is_array()) {
    status.display_status = "Syncing";
    status.message = "the region has not reported its replication yet";
    return status;
  }
  std::string unreachable;
  for (const auto& peer : body["peers"]) {
    std::string name = peer.value("region", "");
    if (std::find(registry_regions.begin(), registry_regions.end(), name) ==
        registry_regions.end()) {
      continue;
    }
    if (peer.value("state", "") == "Failed") {
      unreachable += (unreachable.empty() ? "" : ", ") + name;
      continue;
    }
    if (peer.value("state", "") != "Ready") status.display_status = "Syncing";
    status.lag_entries = std::max<uint64_t>(status.lag_entries, peer.value("lagEntries", 0));
    status.lag_ms = std::max<uint64_t>(status.lag_ms, peer.value("lagMs", 0));
  }
  if (!unreachable.empty()) {
    status.message = "cannot reach " + unreachable + "; up to date with the regions it reaches";
  }
  return status;
}

// ---------------------------------------------------------------------------------------------

void RegionRouter::SetProjection(ProjectionPtr projection) {
  auto table = std::make_shared<Table>();
  const arm::Snapshot& snapshot = *projection->snapshot;
  for (const auto& r : projection->registries) {
    table->login_servers[r.LoginServer(snapshot.dns_suffix)] = r.name;
    for (const auto& region : r.regions) {
      table->data[r.DataHost(region, snapshot.dns_suffix)] = {r.name, region};
    }
    // Routing goes only to the regions whose endpoint is enabled (regionEndpointEnabled; all of
    // them when none is).
    registry::RegistryInfo routed = r;
    if (const arm::RegistryView* view = snapshot.FindRegistry(r.name)) {
      std::vector<std::string> enabled;
      for (const auto& replica : view->replicas) {
        if (replica.region_endpoint_enabled) enabled.push_back(replica.region);
      }
      if (!enabled.empty()) routed.regions = std::move(enabled);
    }
    table->registries[r.name] = std::move(routed);
  }
  std::map<std::string, std::string> vnet_regions;  // network id (lowercased) → location
  for (const auto& v : snapshot.vnets) vnet_regions[AsciiLower(v.id)] = v.location;
  for (const auto& n : projection->topology.networks) {
    auto it = vnet_regions.find(AsciiLower(n.id));
    if (!n.outbound_address.empty() && it != vnet_regions.end()) {
      table->client_regions[n.outbound_address] = it->second;
    }
  }
  for (const auto& m : snapshot.machines) {
    if (m.is_public && !m.address.empty()) table->client_regions[m.address] = m.location;
  }
  std::lock_guard lock(mu_);
  table_ = std::move(table);
}

void RegionRouter::SetFallback(uint16_t tls_port, uint16_t plain_port) {
  std::lock_guard lock(mu_);
  fallback_tls_ = tls_port;
  fallback_plain_ = plain_port;
}

std::string RegionRouter::RegistryOfLoginServer(const std::string& host) const {
  std::lock_guard lock(mu_);
  auto it = table_->login_servers.find(host);
  return it == table_->login_servers.end() ? "" : it->second;
}

std::vector<std::string> RegionRouter::Preference(const registry::RegistryInfo& r,
                                                  const std::string& near) {
  std::vector<std::string> order;
  auto add = [&](const std::string& region) {
    if (std::find(order.begin(), order.end(), region) == order.end()) order.push_back(region);
  };
  auto has = [&](const std::string& region) {
    return std::find(r.regions.begin(), r.regions.end(), region) != r.regions.end();
  };
  if (!near.empty() && has(near)) add(near);
  if (has(r.home_region)) add(r.home_region);
  for (const auto& region : r.regions) add(region);
  return order;
}

std::vector<privatelink::Target> RegionRouter::Targets(std::string_view service,
                                                       const privatelink::Arrival& arrival) const {
  std::shared_ptr<const Table> table;
  privatelink::Target fallback_tls{"127.0.0.1", 0}, fallback_plain{"127.0.0.1", 0};
  {
    std::lock_guard lock(mu_);
    table = table_;
    fallback_tls.port = fallback_tls_;
    fallback_plain.port = fallback_plain_;
  }
  auto parts = [&]() {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
      size_t slash = service.find('/', start);
      out.emplace_back(service.substr(start, slash - start));
      if (slash == std::string_view::npos) return out;
      start = slash + 1;
    }
  }();
  auto login = [&](const std::string& registry, const std::string& near) {
    auto it = table->registries.find(registry);
    if (it == table->registries.end()) return std::vector<privatelink::Target>{};
    return regions_.Targets(Preference(it->second, near));
  };
  if (parts.size() == 3 && parts[0] == "login") return login(parts[1], parts[2]);
  if (parts.size() == 3 && parts[0] == "data") return regions_.Targets({parts[2]});
  if (parts.size() == 1 && parts[0] == "sni") {
    if (auto it = table->login_servers.find(arrival.server_name); it != table->login_servers.end()) {
      auto near = table->client_regions.find(arrival.client_address);
      return login(it->second, near == table->client_regions.end() ? "" : near->second);
    }
    if (auto it = table->data.find(arrival.server_name); it != table->data.end()) {
      return regions_.Targets({it->second.second});
    }
    // No name (a client that connected to an IP): the running regions, each of which answers
    // for the registries it serves, then the fallback.
    std::vector<privatelink::Target> out;
    if (arrival.server_name.empty()) out = regions_.Targets(regions_.Regions());
    out.push_back(fallback_tls);
    return out;
  }
  if (parts.size() == 1 && parts[0] == "any") {
    auto out = regions_.Targets(regions_.Regions(), true);
    out.push_back(fallback_plain);
    return out;
  }
  return {};
}

}  // namespace cove::daemon
