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

}  // namespace

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
                                    "arm_host_names", "arm_insecure_http", "auth"}));
    if (root["data_dir"]) c.data_dir = root["data_dir"].as<std::string>();
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
        COVE_RETURN_IF_ERROR(CheckKeys(l, "a listen entry", {"address", "port", "tls"}));
        http::ListenerOptions o;
        if (l["address"]) o.address = l["address"].as<std::string>();
        int port = l["port"] ? l["port"].as<int>() : 443;
        if (port < 0 || port > 65535) {
          return Fail(Code::kInvalidArgument, "port " + std::to_string(port) + " is out of range");
        }
        o.port = static_cast<uint16_t>(port);
        o.tls = l["tls"] ? l["tls"].as<bool>() : true;
        if (!o.tls && !IsLoopback(o.address)) {
          return Fail(Code::kInvalidArgument,
                      "plain HTTP is only allowed on loopback addresses, not " + o.address);
        }
        c.listen.push_back(o);
      }
    }
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

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(Code::kNotFound, "cannot read configuration file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str());
}

}  // namespace cove::daemon
