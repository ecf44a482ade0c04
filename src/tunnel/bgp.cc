#include "tunnel/bgp.h"

#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "tunnel/process.h"

namespace cove::tunnel {
namespace {

namespace fs = std::filesystem;

std::string Path(const BgpSpec& spec, std::string_view file) {
  return spec.state_dir + "/" + std::string(file);
}

bool IsIpv4(const std::string& text) {
  in_addr a;
  return ::inet_pton(AF_INET, text.c_str(), &a) == 1;
}

bool IsIpv4Prefix(const std::string& text) {
  return IsPrefix(text) && IsIpv4(text.substr(0, text.find('/')));
}

bool IsWords(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ' ' || c == '.';
  });
}

Status Validate(const BgpSpec& spec) {
  auto bad = [](const std::string& what) { return Fail(Code::kInvalidArgument, "bgp: " + what); };
  if (!IsName(spec.name)) return bad("bad name '" + spec.name + "'");
  if (spec.netns.empty()) return bad("no namespace");
  if (spec.asn == 0) return bad("ASN 0 is reserved");
  if (!IsIpv4(spec.router_id)) return bad("router id must be an IPv4 address");
  std::set<std::string> seen;
  for (const BgpNeighbor& n : spec.neighbors) {
    if (!IsIpv4(n.address)) return bad("bad neighbor address '" + n.address + "'");
    if (!seen.insert(n.address).second) return bad("neighbor " + n.address + " twice");
    if (n.remote_asn == 0) return bad("neighbor " + n.address + " has ASN 0");
    if (!IsWords(n.description)) return bad("bad description for " + n.address);
  }
  for (const std::string& p : spec.networks) {
    if (!IsIpv4Prefix(p)) return bad("bad network '" + p + "'");
  }
  if (spec.state_dir.empty() || spec.state_dir[0] != '/' ||
      spec.state_dir.find_first_of(" \t\n\"'") != std::string::npos) {
    return bad("state_dir must be an absolute path without spaces or quotes");
  }
  if (!FitsSocketPath(Path(spec, "zserv.api"))) return bad("state_dir is too long for sockets");
  if (spec.keepalive_seconds < 1 || spec.hold_seconds < 3 ||
      spec.hold_seconds < spec.keepalive_seconds || spec.connect_retry_seconds < 1) {
    return bad("bad timers");
  }
  return Ok();
}

// Hands state_dir and everything in it to FRR's user: the daemons write their PID files,
// sockets and logs there after dropping root.
Status GiveTo(const BgpSpec& spec) {
  struct passwd* user = ::getpwnam(spec.user.c_str());
  if (user == nullptr) return Fail(Code::kNotFound, "bgp: no user '" + spec.user + "'");
  struct group* group = ::getgrnam(spec.group.c_str());
  if (group == nullptr) return Fail(Code::kNotFound, "bgp: no group '" + spec.group + "'");
  const uid_t uid = user->pw_uid;
  const gid_t gid = group->gr_gid;
  if (::chown(spec.state_dir.c_str(), uid, gid) != 0) {
    return Fail(Code::kIOError, "bgp: chown " + spec.state_dir);
  }
  std::error_code ec;
  for (fs::directory_iterator it(spec.state_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (::lchown(it->path().c_str(), uid, gid) != 0) {
      return Fail(Code::kIOError, "bgp: chown " + it->path().string());
    }
  }
  return Ok();
}

}  // namespace

Result<std::vector<SessionState>> ParseBgpSummary(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Fail(Code::kCorruption, "bgp: not a JSON summary");
  std::vector<SessionState> out;
  std::set<std::string> seen;
  for (const auto& [family, summary] : doc.items()) {
    if (!summary.is_object() || !summary.contains("peers") || !summary["peers"].is_object()) {
      continue;
    }
    for (const auto& [address, peer] : summary["peers"].items()) {
      if (!peer.is_object() || !seen.insert(address).second) continue;
      SessionState s;
      s.neighbor = address;
      s.remote_asn = peer.value("remoteAs", 0u);
      s.state = peer.value("state", std::string("Unknown"));
      s.prefixes_received = peer.value("pfxRcd", uint64_t{0});
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string ZebraConf(const BgpSpec& spec) {
  return "! Written by cove (tunnel/bgp.cc)\nhostname " + spec.name + "\n";
}

std::string BgpdConf(const BgpSpec& spec) {
  std::string conf =
      "! Written by cove (tunnel/bgp.cc)\nfrr defaults traditional\nhostname " + spec.name + "\n";
  conf += "router bgp " + std::to_string(spec.asn) + "\n";
  conf += " bgp router-id " + spec.router_id + "\n";
  conf += " no bgp ebgp-requires-policy\n";
  conf += " no bgp network import-check\n";
  conf += " timers bgp " + std::to_string(spec.keepalive_seconds) + " " +
          std::to_string(spec.hold_seconds) + "\n";
  for (const BgpNeighbor& n : spec.neighbors) {
    conf += " neighbor " + n.address + " remote-as " + std::to_string(n.remote_asn) + "\n";
    if (!n.description.empty()) {
      conf += " neighbor " + n.address + " description " + n.description + "\n";
    }
    conf += " neighbor " + n.address + " timers connect " +
            std::to_string(spec.connect_retry_seconds) + "\n";
  }
  conf += " address-family ipv4 unicast\n";
  for (const std::string& p : spec.networks) conf += "  network " + p + "\n";
  conf += " exit-address-family\n";
  return conf;
}

Result<std::unique_ptr<BgpSpeaker>> BgpSpeaker::Start(fabric::Namespaces& namespaces,
                                                      const BgpSpec& spec) {
  COVE_RETURN_IF_ERROR(Validate(spec));
  std::error_code ec;
  fs::create_directories(spec.state_dir, ec);
  if (ec) return Fail(Code::kIOError, "bgp: mkdir " + spec.state_dir + ": " + ec.message());
  for (const char* stale : {"zserv.api", "zebra.vty", "bgpd.vty"})
    fs::remove(Path(spec, stale), ec);
  COVE_RETURN_IF_ERROR(WriteFile(Path(spec, "zebra.conf"), ZebraConf(spec), 0640));
  COVE_RETURN_IF_ERROR(WriteFile(Path(spec, "bgpd.conf"), BgpdConf(spec), 0640));
  COVE_RETURN_IF_ERROR(GiveTo(spec));
  std::unique_ptr<BgpSpeaker> speaker(new BgpSpeaker(namespaces, spec));
  COVE_RETURN_IF_ERROR(speaker->StartDaemon("zebra", &speaker->zebra_pid_));
  COVE_RETURN_IF_ERROR(speaker->StartDaemon("bgpd", &speaker->bgpd_pid_));
  return speaker;
}

Status BgpSpeaker::StartDaemon(const std::string& daemon, pid_t* pid) {
  DaemonLaunch launch;
  launch.what = "bgp: " + daemon + " for " + spec_.name;
  launch.ns = spec_.netns;
  launch.argv = {spec_.frr_dir + "/" + daemon,
                 "-u",
                 spec_.user,
                 "-g",
                 spec_.group,
                 "-f",
                 Path(spec_, daemon + ".conf"),
                 "-i",
                 Path(spec_, daemon + ".pid"),
                 "-z",
                 Path(spec_, "zserv.api"),
                 "--vty_socket",
                 spec_.state_dir,
                 "-P",
                 "0",
                 "--log",
                 "file:" + Path(spec_, daemon + ".log")};
  launch.output_path = Path(spec_, daemon + ".out");
  launch.sockets = {Path(spec_, daemon + ".vty")};
  if (daemon == "zebra") launch.sockets.push_back(Path(spec_, "zserv.api"));
  launch.logs = {Path(spec_, daemon + ".log")};
  launch.timeout = spec_.start_timeout;
  COVE_ASSIGN_OR_RETURN(*pid, LaunchDaemon(namespaces_, launch));
  return Ok();
}

BgpSpeaker::~BgpSpeaker() { (void)Stop(); }

Result<std::string> BgpSpeaker::Vtysh(const std::vector<std::string>& commands) const {
  if (bgpd_pid_ <= 0)
    return Fail(Code::kUnavailable, "bgp: bgpd for " + spec_.name + " is stopped");
  std::vector<std::string> argv = {spec_.vtysh_path, "--vty_socket", spec_.state_dir, "-d", "bgpd"};
  for (const std::string& c : commands) {
    argv.push_back("-c");
    argv.push_back(c);
  }
  auto out = ExecOk(namespaces_, spec_.netns, argv);
  if (!out) return Fail(Code::kUnavailable, out.error().message);
  return out;
}

Result<std::vector<SessionState>> BgpSpeaker::Sessions() const {
  COVE_ASSIGN_OR_RETURN(const std::string json, Vtysh({"show bgp summary json"}));
  return ParseBgpSummary(json);
}

bool BgpSpeaker::WaitEstablished(const std::string& neighbor, std::chrono::milliseconds timeout,
                                 bool established) const {
  return WaitUntil(
      [&] {
        auto sessions = Sessions();
        bool up = false;
        for (const SessionState& s : sessions.value_or(std::vector<SessionState>{})) {
          if (s.neighbor == neighbor) up = s.established();
        }
        return up == established;
      },
      timeout);
}

Status BgpSpeaker::RemoveNeighbor(const std::string& address) {
  auto it = std::find_if(spec_.neighbors.begin(), spec_.neighbors.end(),
                         [&](const BgpNeighbor& n) { return n.address == address; });
  if (it == spec_.neighbors.end()) {
    return Fail(Code::kNotFound, "bgp: " + spec_.name + " has no neighbor " + address);
  }
  COVE_ASSIGN_OR_RETURN(const std::string out,
                        Vtysh({"configure terminal", "router bgp " + std::to_string(spec_.asn),
                               "no neighbor " + address}));
  if (out.find('%') != std::string::npos) {
    return Fail(Code::kIOError, "bgp: bgpd refused to remove " + address + ": " + out);
  }
  spec_.neighbors.erase(it);
  return Ok();
}

Status BgpSpeaker::Stop() {
  Status result = Ok();
  for (pid_t* pid : {&bgpd_pid_, &zebra_pid_}) {
    if (*pid <= 0) continue;
    auto stopped = StopProcess(std::exchange(*pid, -1));
    if (!stopped && result) result = stopped;
  }
  return result;
}

}  // namespace cove::tunnel
