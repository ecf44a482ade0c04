#include "daemon/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "auth/bootstrap.h"
#include "http/proxy_protocol.h"

namespace cove::daemon {
namespace {

Status CheckKeys(const YAML::Node& node, const std::string& where,
                 const std::set<std::string>& allowed) {
  if (!node.IsMap()) return Fail(Code::kInvalidArgument, where + " must be a mapping");
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return Fail(Code::kInvalidArgument, "unknown key '" + key + "' in " + where);
    }
  }
  return Ok();
}

// A non-negative integer field of `limits:` into `out` (unchanged when absent).
template <typename T>
Status ReadLimit(const YAML::Node& node, const char* key, T& out) {
  if (!node[key]) return Ok();
  auto v = node[key].as<int64_t>();
  if (v < 0) return Fail(Code::kInvalidArgument, std::string("limits: ") + key + " must be >= 0");
  out = static_cast<T>(v);
  return Ok();
}

Status ParseLimits(const YAML::Node& node, Limits& l) {
  COVE_RETURN_IF_ERROR(CheckKeys(
      node, "limits",
      {"connections", "connections_per_source", "body_min_rate", "body_grace_ms",
       "discard_body_bytes", "password_workers", "password_queue", "password_in_flight_per_source",
       "password_failures_per_source", "password_failures_per_principal",
       "password_refusal_delay_ms", "dns_tcp_connections", "dns_tcp_connections_per_view",
       "dns_tcp_connections_per_source"}));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "connections", l.connections));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "connections_per_source", l.connections_per_source));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "body_min_rate", l.body_min_rate));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "body_grace_ms", l.body_grace_ms));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "discard_body_bytes", l.discard_body_bytes));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "password_workers", l.password_workers));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "password_queue", l.password_queue));
  COVE_RETURN_IF_ERROR(
      ReadLimit(node, "password_in_flight_per_source", l.password_in_flight_per_source));
  COVE_RETURN_IF_ERROR(
      ReadLimit(node, "password_failures_per_source", l.password_failures_per_source));
  COVE_RETURN_IF_ERROR(
      ReadLimit(node, "password_failures_per_principal", l.password_failures_per_principal));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "password_refusal_delay_ms", l.password_refusal_delay_ms));
  COVE_RETURN_IF_ERROR(ReadLimit(node, "dns_tcp_connections", l.dns_tcp_connections));
  COVE_RETURN_IF_ERROR(
      ReadLimit(node, "dns_tcp_connections_per_view", l.dns_tcp_connections_per_view));
  COVE_RETURN_IF_ERROR(
      ReadLimit(node, "dns_tcp_connections_per_source", l.dns_tcp_connections_per_source));
  if (l.password_workers < 1 || l.password_workers > 64) {
    return Fail(Code::kInvalidArgument, "limits: password_workers must be between 1 and 64");
  }
  if (l.password_queue < 1 || l.password_in_flight_per_source < 1) {
    return Fail(Code::kInvalidArgument,
                "limits: password_queue and password_in_flight_per_source must be at least 1");
  }
  if (l.password_failures_per_source < 1 || l.password_failures_per_principal < 1) {
    return Fail(Code::kInvalidArgument, "limits: password failure limits must be at least 1");
  }
  return Ok();
}

}  // namespace

void Limits::ApplyTo(http::ServerOptions& options) const {
  options.max_connections = connections;
  options.max_connections_per_source = connections_per_source;
  options.min_body_rate = body_min_rate;
  options.body_grace = std::chrono::milliseconds(body_grace_ms);
  options.max_discard_bytes = discard_body_bytes;
}

auth::PasswordGuardOptions Limits::PasswordOptions() const {
  auth::PasswordGuardOptions o;
  o.workers = password_workers;
  o.queue = password_queue;
  o.per_source_in_flight = password_in_flight_per_source;
  o.source_burst = password_failures_per_source;
  o.source_window = std::chrono::seconds(60);
  o.principal_burst = password_failures_per_principal;
  o.principal_window = std::chrono::seconds(300);
  o.refusal_delay = std::chrono::milliseconds(password_refusal_delay_ms);
  return o;
}

dns::ServerOptions Limits::DnsOptions() const {
  dns::ServerOptions o;
  o.max_tcp_connections = dns_tcp_connections;
  o.max_tcp_connections_per_view = dns_tcp_connections_per_view;
  o.max_tcp_connections_per_source = dns_tcp_connections_per_source;
  return o;
}

bool IsLoopback(const std::string& address) {
  in_addr v4;
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

Result<http::ListenerOptions> ParseListenAddress(const std::string& text, bool tls) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return Fail(Code::kInvalidArgument, "listen address must be ADDR:PORT: " + text);
  }
  http::ListenerOptions o;
  o.address = text.substr(0, colon);
  if (o.address.size() >= 2 && o.address.front() == '[' && o.address.back() == ']') {
    o.address = o.address.substr(1, o.address.size() - 2);
  }
  std::string port_text = text.substr(colon + 1);
  int port = -1;
  if (!port_text.empty() && port_text.size() <= 5 &&
      port_text.find_first_not_of("0123456789") == std::string::npos) {
    port = std::stoi(port_text);
  }
  if (port < 0 || port > 65535) return Fail(Code::kInvalidArgument, "bad port in " + text);
  o.port = static_cast<uint16_t>(port);
  o.tls = tls;
  if (!tls && !IsLoopback(o.address)) {
    return Fail(Code::kInvalidArgument,
                "plain HTTP is only allowed on loopback addresses, not " + o.address);
  }
  return o;
}

Config DefaultConfig() {
  Config c;
  bool root = ::geteuid() == 0;
  if (root) {
    c.data_dir = "/var/lib/cove";
  } else {
    const char* home = std::getenv("HOME");
    c.data_dir = std::string(home ? home : ".") + "/.local/share/cove";
  }
  c.listen.push_back({.address = "127.0.0.1", .port = static_cast<uint16_t>(root ? 443 : 5443),
                      .tls = true});
  registry::RegistryInfo r;
  r.name = "myregistry";
  r.home_region = "westus";
  r.regions = {"westus"};
  r.data_endpoint_enabled = true;
  c.registries.push_back(r);
  c.default_registry = "myregistry";
  return c;
}

Result<Config> ParseConfig(const std::string& yaml_text) {
  Config c = DefaultConfig();
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root || root.IsNull()) return c;
    COVE_RETURN_IF_ERROR(CheckKeys(root, "the configuration",
                                   {"data_dir", "dns_suffix", "threads", "upload_ttl_hours",
                                    "header_timeout_ms", "idle_timeout_ms", "default_registry",
                                    "listen", "registries", "arm_listen",
                                    "arm_host_names", "arm_insecure_http", "auth", "limits",
                                    "metadata", "blobs", "secrets_dir"}));
    if (root["data_dir"]) c.data_dir = root["data_dir"].as<std::string>();
    if (root["metadata"]) c.metadata = root["metadata"].as<std::string>();
    if (root["blobs"]) c.blobs = root["blobs"].as<std::string>();
    if (root["secrets_dir"]) c.secrets_dir = root["secrets_dir"].as<std::string>();
    if (root["dns_suffix"]) c.dns_suffix = root["dns_suffix"].as<std::string>();
    if (root["threads"]) c.threads = root["threads"].as<int>();
    if (root["upload_ttl_hours"]) c.upload_ttl_hours = root["upload_ttl_hours"].as<int>();
    if (root["header_timeout_ms"]) c.header_timeout_ms = root["header_timeout_ms"].as<int>();
    if (root["idle_timeout_ms"]) c.idle_timeout_ms = root["idle_timeout_ms"].as<int>();
    if (c.header_timeout_ms < 10 || c.idle_timeout_ms < 10) {
      return Fail(Code::kInvalidArgument, "timeouts must be at least 10 ms");
    }
    if (c.threads < 1 || c.threads > 256) {
      return Fail(Code::kInvalidArgument, "threads must be between 1 and 256");
    }
    if (c.upload_ttl_hours < 1) {
      return Fail(Code::kInvalidArgument, "upload_ttl_hours must be at least 1");
    }
    if (root["arm_listen"]) {
      // Loopback only, whichever transport (checked as for plain HTTP).
      COVE_ASSIGN_OR_RETURN(c.arm_listen,
                            ParseListenAddress(root["arm_listen"].as<std::string>(), false));
      c.arm_listen.tls = true;
    }
    if (root["arm_insecure_http"]) c.arm_listen.tls = !root["arm_insecure_http"].as<bool>();
    if (root["arm_host_names"]) {
      for (const auto& n : root["arm_host_names"]) c.arm_host_names.push_back(n.as<std::string>());
    }
    if (root["listen"]) {
      c.listen.clear();
      for (const auto& l : root["listen"]) {
        COVE_RETURN_IF_ERROR(CheckKeys(
            l, "a listen entry", {"address", "port", "tls", "proxy_protocol", "proxy_sources"}));
        http::ListenerOptions o;
        if (l["address"]) o.address = l["address"].as<std::string>();
        int port = l["port"] ? l["port"].as<int>() : 443;
        if (port < 0 || port > 65535) {
          return Fail(Code::kInvalidArgument, "port " + std::to_string(port) + " is out of range");
        }
        o.port = static_cast<uint16_t>(port);
        o.tls = l["tls"] ? l["tls"].as<bool>() : true;
        o.proxy_protocol = l["proxy_protocol"] ? l["proxy_protocol"].as<bool>() : false;
        if (l["proxy_sources"]) {
          for (const auto& source : l["proxy_sources"]) {
            o.proxy_sources.push_back(source.as<std::string>());
          }
        }
        if (o.proxy_protocol && o.proxy_sources.empty()) {
          return Fail(Code::kInvalidArgument,
                      "listen entry " + o.address + ":" + std::to_string(port) +
                          " takes PROXY protocol headers but names no proxy_sources (its "
                          "forwarders' addresses or CIDR ranges)");
        }
        if (!o.proxy_protocol && !o.proxy_sources.empty()) {
          return Fail(Code::kInvalidArgument,
                      "proxy_sources without proxy_protocol: true on " + o.address);
        }
        for (const auto& source : o.proxy_sources) {
          if (auto range = http::ForwarderRange::Parse(source); !range) {
            return Fail(Code::kInvalidArgument, "proxy_sources: " + range.error().message);
          }
        }
        if (!o.tls && !IsLoopback(o.address)) {
          return Fail(Code::kInvalidArgument,
                      "plain HTTP is only allowed on loopback addresses, not " + o.address);
        }
        c.listen.push_back(o);
      }
    }
    c.registries_declared = root["registries"] || root["default_registry"] || root["auth"];
    if (root["registries"]) {
      c.registries.clear();
      c.default_registry.clear();
      for (const auto& r : root["registries"]) {
        COVE_RETURN_IF_ERROR(CheckKeys(r, "a registries entry",
                                       {"name", "region", "replicas", "data_endpoint_enabled"}));
        registry::RegistryInfo info;
        if (!r["name"]) return Fail(Code::kInvalidArgument, "a registry needs a name");
        info.name = r["name"].as<std::string>();
        if (r["region"]) info.home_region = r["region"].as<std::string>();
        info.regions = {info.home_region};
        if (r["replicas"]) {
          for (const auto& region : r["replicas"]) info.regions.push_back(region.as<std::string>());
        }
        info.data_endpoint_enabled =
            r["data_endpoint_enabled"] ? r["data_endpoint_enabled"].as<bool>() : false;
        c.registries.push_back(std::move(info));
      }
    }
    if (root["default_registry"]) c.default_registry = root["default_registry"].as<std::string>();
    if (root["limits"]) COVE_RETURN_IF_ERROR(ParseLimits(root["limits"], c.limits));
    if (root["auth"]) {
      COVE_ASSIGN_OR_RETURN(c.auth, auth::ParseBootstrap(root["auth"]));
      for (const auto& a : c.auth->registries) {  // a typo must not leave a registry open
        if (std::none_of(c.registries.begin(), c.registries.end(),
                         [&](const auto& r) { return r.name == a.registry; })) {
          return Fail(Code::kInvalidArgument,
                      "auth: registry '" + a.registry + "' is not among the registries");
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalidArgument, std::string("configuration: ") + e.what());
  }
  // Let the directory apply the naming rules.
  auto directory = registry::Directory::Create(c.dns_suffix, c.registries, c.default_registry);
  if (!directory) return Fail(directory.error());
  return c;
}

Status UseControlPlaneRegistries(Config& config) {
  if (config.registries_declared &&
      (!config.registries.empty() || !config.default_registry.empty() || config.auth)) {
    return Fail(Code::kInvalidArgument,
                "the configuration declares registries, but in full mode every registry comes "
                "from the control plane (create them with `cove acr create`); remove "
                "`registries`, `default_registry` and `auth` from the file, or run "
                "`coved registry` to serve the configured registries");
  }
  config.registries.clear();
  config.default_registry.clear();
  config.auth.reset();
  return Ok();
}

std::vector<std::string> OpenRegistries(const Config& config) {
  std::vector<std::string> out;
  for (const auto& r : config.registries) {
    bool has_auth =
        config.auth && std::any_of(config.auth->registries.begin(), config.auth->registries.end(),
                                   [&](const auto& a) { return a.registry == r.name; });
    if (!has_auth) out.push_back(r.name);
  }
  return out;
}

Status CheckOpenRegistries(const Config& config) {
  auto open = OpenRegistries(config);
  if (open.empty()) return Ok();
  for (const auto& l : config.listen) {
    if (IsLoopback(l.address)) continue;
    std::string names;
    for (const auto& n : open) names += (names.empty() ? "" : ", ") + n;
    return Fail(Code::kInvalidArgument,
                "registry " + names + " is open (no `auth:` entry: anyone may push and pull) "
                "and would be served on " + l.address + ":" + std::to_string(l.port) +
                ", which is not loopback; give it an `auth:` entry (e.g. an admin user) or "
                "listen on loopback only");
  }
  return Ok();
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(Code::kNotFound, "cannot read configuration file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str());
}

}  // namespace cove::daemon
