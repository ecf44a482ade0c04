#include "onprem/site_dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "common/unique_fd.h"

namespace cove::onprem {
namespace {

using Clock = std::chrono::steady_clock;

Error Errno(const std::string& what) {
  return Error{Code::kIOError, what + ": " + std::strerror(errno)};
}

bool IsIpv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool IsIpv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}
bool IsIp(const std::string& s) { return IsIpv4(s) || IsIpv6(s); }

bool IsPrefix(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return IsIp(s);
  std::string address = s.substr(0, slash);
  int bits = -1;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data() + slash + 1, end, bits);
  if (ec != std::errc() || p != end || bits < 0) return false;
  return (IsIpv4(address) && bits <= 32) || (IsIpv6(address) && bits <= 128);
}

// Letters, digits, '-' and '_' in labels of 1..63 octets, separated by dots; one trailing dot
// allowed. Nothing that could end a quoted string or a statement in either configuration.
bool IsDomain(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

// The zone name without its trailing dot ("azurecr.io").
std::string Bare(std::string_view zone) {
  if (!zone.empty() && zone.back() == '.') zone.remove_suffix(1);
  return std::string(zone);
}

// A record's owner as an absolute name with a trailing dot.
std::string Owner(const SiteDnsSpec::LocalRecord& r, const std::string& zone) {
  if (r.name == "@") return zone + ".";
  if (r.name.back() == '.') return r.name;
  return r.name + "." + zone + ".";
}

// A CNAME target as an absolute name.
std::string Target(const std::string& value, const std::string& zone) {
  if (value.back() == '.') return value;
  return value + "." + zone + ".";
}

// The addresses allowed to ask: loopback and the site's prefixes.
std::vector<std::string> AllowList(const SiteDnsSpec& spec) {
  std::vector<std::string> out = {"127.0.0.0/8", "::1/128"};
  out.insert(out.end(), spec.allow_from.begin(), spec.allow_from.end());
  return out;
}

bool IsLoopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Code::kIOError, "cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Fail(Code::kIOError, "cannot write " + path);
  return Ok();
}

std::string Tail(const std::string& log, size_t lines) {
  size_t pos = log.size();
  while (lines-- > 0 && pos > 0) {
    size_t nl = log.rfind('\n', pos - 1);
    if (nl == std::string::npos) return log;
    pos = nl;
  }
  return log.substr(pos == 0 ? 0 : pos + 1);
}

// A descriptor that becomes readable when process `pid` exits.
UniqueFd PidFd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

// Waits for `pid` to exit, at most `wait`; true if it did (and was reaped).
bool WaitExit(pid_t pid, const UniqueFd& pidfd, std::chrono::milliseconds wait) {
  if (pidfd.valid()) {
    pollfd p{pidfd.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(wait.count()));
  }
  int status = 0;
  return ::waitpid(pid, &status, pidfd.valid() ? WNOHANG : 0) == pid;
}

// Runs a checker (named-checkconf, unbound-checkconf) in the namespace; its output on failure.
Status Check(fabric::Namespaces& namespaces, const std::string& netns,
             const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Fail(Errno("pipe"));
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  auto pid = namespaces.Spawn(
      netns, argv,
      fabric::SpawnOptions{.stdout_fd = write_end.get(), .stderr_fd = write_end.get()});
  write_end.Reset();
  if (!pid) return Fail(pid.error());
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = ::read(read_end.get(), buf, sizeof(buf))) > 0;) {
    output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(*pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Ok();
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return Fail(Code::kInvalidArgument, argv[0] + " refused the configuration (exit " +
                                          std::to_string(code) + "): " + output);
}

// A query the server answers without the network: `version.bind CH TXT` (both BIND and unbound
// know it; a REFUSED counts as an answer too).
std::vector<uint8_t> ProbeQuery(uint16_t id) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  for (std::string_view label : {"version", "bind"}) {
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  for (uint8_t b : {0, 0, 16, 0, 3}) q.push_back(b);  // root, TXT, CH
  return q;
}

// Polls the server at address:port from inside `netns` until it answers, the process exits or
// `timeout` passes.
Status WaitUntilAnswering(fabric::Namespaces& namespaces, const SiteDnsSpec& spec,
                          const UniqueFd& pidfd, std::chrono::milliseconds timeout) {
  const bool v6 = IsIpv6(spec.listen_address);
  auto probe = fabric::InNamespace<UniqueFd>(namespaces, spec.netns, [&]() -> Result<UniqueFd> {
    UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return Fail(Errno("socket"));
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
      auto& a = reinterpret_cast<sockaddr_in6&>(ss);
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(spec.port);
      inet_pton(AF_INET6, spec.listen_address.c_str(), &a.sin6_addr);
      len = sizeof(a);
    } else {
      auto& a = reinterpret_cast<sockaddr_in&>(ss);
      a.sin_family = AF_INET;
      a.sin_port = htons(spec.port);
      inet_pton(AF_INET, spec.listen_address.c_str(), &a.sin_addr);
      len = sizeof(a);
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return Fail(Errno("connect " + spec.listen_address));
    }
    return fd;
  });
  if (!probe) return Fail(probe.error());
  const auto deadline = Clock::now() + timeout;
  const auto step = std::chrono::milliseconds(100);
  for (uint16_t id = 0x5ca1;; ++id) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Fail(Code::kUnavailable, "no answer within the start timeout");
    std::vector<uint8_t> q = ProbeQuery(id);
    bool sent = ::send(probe->get(), q.data(), q.size(), 0) == static_cast<ssize_t>(q.size());
    // Wait for the answer, or for the process to exit; after a refusal (nothing bound yet),
    // only for the process, so that the next try comes a step later.
    std::array<pollfd, 2> p = {pollfd{pidfd.get(), POLLIN, 0},
                               pollfd{sent ? probe->get() : -1, POLLIN, 0}};
    ::poll(p.data(), p.size(), static_cast<int>(std::min(left, step).count()));
    if (p[0].revents & POLLIN) return Fail(Code::kUnavailable, "the server exited");
    if (p[1].revents & (POLLIN | POLLERR)) {
      uint8_t buf[512];
      ssize_t n = ::recv(probe->get(), buf, sizeof(buf), 0);
      if (n >= 2 && buf[0] == q[0] && buf[1] == q[1]) return Ok();
      if (n < 0) {  // ECONNREFUSED: not listening yet; wait a step on the process alone
        pollfd only{pidfd.get(), POLLIN, 0};
        ::poll(&only, 1, static_cast<int>(std::min(left, step).count()));
        if (only.revents & POLLIN) return Fail(Code::kUnavailable, "the server exited");
      }
    }
  }
}

}  // namespace

Status ValidateSiteDnsSpec(const SiteDnsSpec& spec) {
  auto fail = [](const std::string& what) { return Fail(Code::kInvalidArgument, what); };
  if (!IsIp(spec.listen_address)) return fail("listen_address: not an IP address");
  if (spec.port == 0) return fail("port: 0");
  if (spec.netns.empty()) return fail("netns: empty");
  if (spec.state_dir.empty() || spec.state_dir[0] != '/' ||
      spec.state_dir.find_first_of("\"\n;{}") != std::string::npos) {
    return fail("state_dir: not an absolute plain path");
  }
  for (const auto& p : spec.allow_from) {
    if (!IsPrefix(p)) return fail("allow_from: not an address prefix: " + p);
  }
  // One zone name once: BIND refuses a second zone of a name, unbound ignores it silently.
  std::set<std::string> zones;
  auto once = [&zones](const std::string& zone) {
    std::string key = Bare(zone);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return zones.insert(key).second;
  };
  for (const auto& f : spec.forwards) {
    if (!IsDomain(f.zone)) return fail("forward zone: bad name: " + f.zone);
    if (!once(f.zone)) return fail("zone " + f.zone + " is given twice");
    if (f.targets.empty()) return fail("forward zone " + f.zone + ": no target");
    for (const auto& t : f.targets) {
      if (!IsIp(t)) return fail("forward zone " + f.zone + ": not an IP address: " + t);
    }
  }
  for (const auto& u : spec.upstream) {
    if (!IsIp(u)) return fail("upstream: not an IP address: " + u);
  }
  for (const auto& z : spec.local_zones) {
    if (!IsDomain(z.name)) return fail("local zone: bad name: " + z.name);
    if (!once(z.name)) return fail("zone " + z.name + " is given twice");
    for (const auto& r : z.records) {
      std::string where = "local zone " + z.name + ": record " + r.name + ": ";
      if (r.name != "@" && !IsDomain(r.name)) return fail(where + "bad name");
      if (r.type == "A"       ? !IsIpv4(r.value)
          : r.type == "AAAA"  ? !IsIpv6(r.value)
          : r.type == "CNAME" ? !IsDomain(r.value)
                              : true) {
        return fail(where + "bad " + r.type + " value '" + r.value + "' (A, AAAA or CNAME)");
      }
    }
  }
  return Ok();
}

std::string RenderBindConfig(const SiteDnsSpec& spec) {
  std::ostringstream o;
  const std::string& dir = spec.state_dir;
  o << "// named.conf of an on-premises site's resolver, written by cove (docs/onprem-dns.md).\n"
       "// It resolves the site's names recursively from the root servers and forwards the\n"
       "// zones Azure keeps private to the DNS Private Resolver's inbound endpoint.\n"
       "options {\n"
    << "  directory \"" << dir << "\";\n"
    << "  pid-file \"" << dir << "/named.pid\";\n"
    << "  session-keyfile \"" << dir << "/session.key\";\n"
    << "  managed-keys-directory \"" << dir << "\";\n";
  if (IsIpv4(spec.listen_address)) {
    o << "  listen-on port " << spec.port << " { " << spec.listen_address << "; };\n"
      << "  listen-on-v6 { none; };\n";
  } else {
    o << "  listen-on { none; };\n"
      << "  listen-on-v6 port " << spec.port << " { " << spec.listen_address << "; };\n";
  }
  o << "  recursion yes;\n";
  for (const char* acl : {"allow-query", "allow-recursion"}) {
    o << "  " << acl << " {";
    for (const auto& p : AllowList(spec)) o << " " << p << ";";
    o << " };\n";
  }
  if (spec.dnssec_validation) {
    o << "  // Validation stays on for the internet, but not below the forwarded zones: there the\n"
         "  // inbound endpoint answers from an unsigned private zone, which a validator would\n"
         "  // call bogus as soon as the public parent zone is signed (SERVFAIL).\n"
         "  dnssec-validation auto;\n";
    if (!spec.forwards.empty()) {
      o << "  validate-except {";
      for (const auto& f : spec.forwards) o << " \"" << Bare(f.zone) << "\";";
      o << " };\n";
    }
  } else {
    o << "  // No DNSSEC validation: the forwarded zones are answered from Azure's unsigned\n"
         "  // private zone, which must not be checked against the public chain of trust (a\n"
         "  // signed public parent would make every private answer bogus: SERVFAIL); and this\n"
         "  // lab site has no path to the root's keys. On a real site prefer\n"
         "  // `dnssec-validation auto;` with `validate-except { \"azurecr.io\"; };`.\n"
         "  dnssec-validation no;\n";
  }
  if (spec.upstream.empty()) {
    o << "  // No forwarders here: names outside the zones below go to the root servers.\n";
  } else {
    o << "  // Names outside the zones below go to the site's upstream resolver (its ISP's).\n"
         "  forwarders {";
    for (const auto& u : spec.upstream) o << " " << u << ";";
    o << " };\n  forward only;\n";
  }
  o << "};\n"
       "\n"
       "// No rndc channel (the server is stopped by its PID).\n"
       "controls { };\n";
  for (const auto& f : spec.forwards) {
    o << "\nzone \"" << Bare(f.zone) << "\" {\n"
      << "  type forward;\n"
      << "  forward only;  // never resolve these publicly when the endpoint does not answer\n"
      << "  forwarders {";
    for (const auto& t : f.targets) o << " " << t << ";";
    o << " };\n};\n";
  }
  for (const auto& z : spec.local_zones) {
    o << "\nzone \"" << Bare(z.name) << "\" {\n"
      << "  type primary;\n"
      << "  file \"" << dir << "/" << Bare(z.name) << ".zone\";\n"
      << "};\n";
  }
  return o.str();
}

std::string RenderZoneFile(const SiteDnsSpec::LocalZone& zone) {
  std::string name = Bare(zone.name);
  std::ostringstream o;
  o << "$TTL 300\n"
    << "@ IN SOA localhost. hostmaster." << name << ". 1 3600 600 86400 300\n"
    << "@ IN NS localhost.\n";
  for (const auto& r : zone.records) {
    o << Owner(r, name) << " " << r.ttl << " IN " << r.type << " "
      << (r.type == "CNAME" ? Target(r.value, name) : r.value) << "\n";
  }
  return o.str();
}

std::string RenderUnboundConfig(const SiteDnsSpec& spec) {
  std::ostringstream o;
  const std::string& dir = spec.state_dir;
  bool loopback_target = false;
  for (const auto& f : spec.forwards) {
    for (const auto& t : f.targets) loopback_target = loopback_target || IsLoopback(t);
  }
  o << "# unbound.conf of an on-premises site's resolver, written by cove (docs/onprem-dns.md).\n"
       "# It resolves the site's names recursively from the root servers and forwards the\n"
       "# zones Azure keeps private to the DNS Private Resolver's inbound endpoint.\n"
       "server:\n"
    << "  interface: " << spec.listen_address << "\n"
    << "  port: " << spec.port << "\n"
    << "  do-ip6: " << (IsIpv6(spec.listen_address) ? "yes" : "no") << "\n"
    << "  access-control: 0.0.0.0/0 refuse\n"
    << "  access-control: ::/0 refuse\n";
  for (const auto& p : AllowList(spec)) o << "  access-control: " << p << " allow\n";
  o << "  directory: \"" << dir << "\"\n"
    << "  pidfile: \"" << dir << "/unbound.pid\"\n"
    << "  chroot: \"\"\n"
    << "  username: \"\"\n"
    << "  use-syslog: no\n"
    << "  logfile: \"\"\n"
    << "  verbosity: 1\n";
  if (loopback_target) o << "  do-not-query-localhost: no  # a forward target is on loopback\n";
  if (spec.dnssec_validation) {
    o << "  module-config: \"validator iterator\"\n"
         "  auto-trust-anchor-file: \""
      << dir << "/root.key\"\n";
  } else {
    o << "  # No DNSSEC validation in this lab site (no path to the root's keys); on a real site\n"
         "  # keep the validator and the domain-insecure lines below.\n"
         "  module-config: \"iterator\"\n";
  }
  for (const auto& f : spec.forwards) {
    o << "  # The inbound endpoint answers " << Bare(f.zone)
      << " from Azure's unsigned private zone: never\n"
         "  # validate it against the public chain of trust (it would be bogus: SERVFAIL).\n"
      << "  domain-insecure: \"" << Bare(f.zone) << ".\"\n";
  }
  o << "\nremote-control:\n  control-enable: no\n";
  for (const auto& z : spec.local_zones) {
    // The site's own zone, from the same zone file BIND would load (local-data would not follow
    // a CNAME inside the zone; an authority zone answers the chain).
    o << "\nauth-zone:\n"
      << "  name: \"" << Bare(z.name) << ".\"\n"
      << "  zonefile: \"" << dir << "/" << Bare(z.name) << ".zone\"\n"
      << "  for-downstream: yes\n"
      << "  for-upstream: yes\n"
      << "  fallback-enabled: no\n";
  }
  if (!spec.upstream.empty()) {
    o << "\n# Every other name goes to the site's upstream resolver (its ISP's).\n"
         "forward-zone:\n  name: \".\"\n";
    for (const auto& u : spec.upstream) o << "  forward-addr: " << u << "\n";
    o << "  forward-first: no\n";
  }
  for (const auto& f : spec.forwards) {
    o << "\n# Everything at or below " << Bare(f.zone)
      << " goes to the inbound endpoint, and only there.\n"
         "forward-zone:\n"
      << "  name: \"" << Bare(f.zone) << ".\"\n";
    for (const auto& t : f.targets) o << "  forward-addr: " << t << "\n";
    o << "  forward-first: no\n";
  }
  return o.str();
}

SiteDnsServer::SiteDnsServer(pid_t pid, std::string config_path, std::string log_path,
                             SiteDnsOptions options)
    : pid_(pid),
      config_path_(std::move(config_path)),
      log_path_(std::move(log_path)),
      options_(options) {}

SiteDnsServer::~SiteDnsServer() { (void)Stop(); }

Result<std::unique_ptr<SiteDnsServer>> SiteDnsServer::Start(const SiteDnsSpec& spec,
                                                            fabric::Namespaces& namespaces,
                                                            SiteDnsOptions options) {
  COVE_RETURN_IF_ERROR(ValidateSiteDnsSpec(spec));
  std::error_code ec;
  std::filesystem::create_directories(spec.state_dir, ec);
  if (ec) return Fail(Code::kIOError, "create " + spec.state_dir + ": " + ec.message());
  const bool bind = spec.software == SiteDnsSpec::kBind;
  const std::string dir = spec.state_dir;
  const std::string config = dir + (bind ? "/named.conf" : "/unbound.conf");
  const std::string log = dir + (bind ? "/named.log" : "/unbound.log");
  COVE_RETURN_IF_ERROR(
      WriteFile(config, bind ? RenderBindConfig(spec) : RenderUnboundConfig(spec)));
  for (const auto& z : spec.local_zones) {
    COVE_RETURN_IF_ERROR(WriteFile(dir + "/" + Bare(z.name) + ".zone", RenderZoneFile(z)));
  }
  if (!bind && spec.dnssec_validation) {
    // unbound keeps its trust anchor up to date in a file it can write: seed it from Debian's.
    std::filesystem::copy_file("/usr/share/dns/root.key", dir + "/root.key",
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return Fail(Code::kIOError, "copy the root trust anchor: " + ec.message());
  }
  COVE_RETURN_IF_ERROR(Check(namespaces, spec.netns,
                             bind ? std::vector<std::string>{"named-checkconf", "-z", config}
                                  : std::vector<std::string>{"unbound-checkconf", config}));

  UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd.valid()) return Fail(Errno("open " + log));
  std::vector<std::string> argv = bind ? std::vector<std::string>{"named", "-g", "-c", config}
                                       : std::vector<std::string>{"unbound", "-d", "-c", config};
  COVE_ASSIGN_OR_RETURN(
      pid_t pid,
      namespaces.Spawn(spec.netns, argv,
                       fabric::SpawnOptions{.stdout_fd = log_fd.get(), .stderr_fd = log_fd.get()}));
  std::unique_ptr<SiteDnsServer> server(new SiteDnsServer(pid, config, log, options));
  UniqueFd pidfd = PidFd(pid);
  Status up = WaitUntilAnswering(namespaces, spec, pidfd, options.start_timeout);
  if (!up) {
    (void)server->Stop();
    return Fail(up.error().code, argv[0] + " in " + spec.netns + ": " + up.error().message +
                                     "; its log ends:\n" + Tail(server->Log(), 20));
  }
  return server;
}

Status SiteDnsServer::Stop() {
  if (pid_ <= 0) return Ok();
  pid_t pid = std::exchange(pid_, 0);
  UniqueFd pidfd = PidFd(pid);
  if (::kill(pid, SIGTERM) != 0 && errno != ESRCH) return Fail(Errno("kill"));
  if (WaitExit(pid, pidfd, options_.stop_timeout)) return Ok();
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return Ok();
}

std::string SiteDnsServer::Log() const {
  auto text = ReadFile(log_path_);
  return text ? *text : "";
}

}  // namespace cove::onprem
