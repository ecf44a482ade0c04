#include "tunnel/ipsec.h"

#include <cctype>
#include <filesystem>
#include <utility>

#include "tunnel/process.h"

namespace cove::tunnel {
namespace {

namespace fs = std::filesystem;

// The plugins charon loads (see the header: what each is for, what is missing here).
constexpr std::string_view kCharonPlugins =
    "random nonce aes sha1 sha2 hmac gmp curve25519 kdf pem pkcs1 pubkey x509 kernel-libipsec "
    "kernel-netlink socket-default vici updown";

std::string Path(const IpsecSpec& spec, std::string_view file) {
  return spec.state_dir + "/" + std::string(file);
}

std::string CommaList(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// The PSK as swanctl's hex form (0x…), so no byte of it needs quoting.
std::string HexSecret(const std::string& psk) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : psk) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// A value that goes into strongswan.conf/swanctl.conf unquoted.
bool IsPlainValue(const std::string& text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '/' && c != '.' && c != ':') {
      return false;
    }
  }
  return true;
}

Status Validate(const IpsecSpec& spec) {
  auto bad = [](const std::string& what) { return Fail(Code::kInvalidArgument, what); };
  if (!IsName(spec.name)) return bad("ipsec: bad connection name '" + spec.name + "'");
  if (spec.netns.empty()) return bad("ipsec: no namespace");
  if (!IsAddress(spec.local_address)) return bad("ipsec: bad local address");
  if (!IsAddress(spec.remote_address)) return bad("ipsec: bad remote address");
  if (spec.local_prefixes.empty() || spec.remote_prefixes.empty()) {
    return bad("ipsec: local and remote prefixes are required");
  }
  for (const auto* list : {&spec.local_prefixes, &spec.remote_prefixes}) {
    for (const std::string& p : *list) {
      if (!IsPrefix(p)) return bad("ipsec: bad prefix '" + p + "'");
    }
  }
  if (spec.psk.empty()) return bad("ipsec: the shared key is empty");
  if (spec.state_dir.empty() || spec.state_dir[0] != '/' || !IsPlainValue(spec.state_dir)) {
    return bad("ipsec: state_dir must be an absolute path of plain characters");
  }
  if (!FitsSocketPath(Path(spec, "charon.vici"))) {
    return bad("ipsec: state_dir is too long for charon's socket");
  }
  if (!IsPlainValue(spec.ike_proposals) || !IsPlainValue(spec.esp_proposals)) {
    return bad("ipsec: bad proposals");
  }
  return Ok();
}

// swanctl --raw's output, as a stream of tokens: section opens ("name {"), closes ("}") and
// key=value pairs (a value may be a bracketed list with spaces).
class RawReader {
 public:
  explicit RawReader(std::string_view text) : text_(text) {}
  enum Kind { kOpen, kClose, kPair, kEnd };
  struct Token {
    Kind kind;
    std::string_view key, value;  // kOpen: key is the section's name
  };
  Token Next() {
    std::string_view word;
    for (;;) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ >= text_.size()) return {kEnd, {}, {}};
      const char c = text_[pos_];
      if (c == '{') {
        ++pos_;
        return {kOpen, word, {}};
      }
      if (c == '}') {
        ++pos_;
        return {kClose, {}, {}};
      }
      const size_t start = pos_;
      while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
             text_[pos_] != '{' && text_[pos_] != '}' && text_[pos_] != '=') {
        ++pos_;
      }
      if (pos_ < text_.size() && text_[pos_] == '=') {
        std::string_view key = text_.substr(start, pos_ - start);
        const size_t value_start = ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '[') {
          while (pos_ < text_.size() && text_[pos_] != ']') ++pos_;
          if (pos_ < text_.size()) ++pos_;
        } else {
          while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
                 text_[pos_] != '}') {
            ++pos_;
          }
        }
        return {kPair, key, text_.substr(value_start, pos_ - value_start)};
      }
      word = text_.substr(start, pos_ - start);  // a bare word: the next section's name
    }
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

uint64_t ToCount(std::string_view text) {
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return n;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

int Rank(ConnectionStatus s) {
  switch (s) {
    case ConnectionStatus::kConnected:
      return 2;
    case ConnectionStatus::kConnecting:
      return 1;
    case ConnectionStatus::kNotConnected:
      return 0;
  }
  return 0;
}

}  // namespace

std::string_view ConnectionStatusName(ConnectionStatus status) {
  switch (status) {
    case ConnectionStatus::kConnected:
      return "Connected";
    case ConnectionStatus::kConnecting:
      return "Connecting";
    case ConnectionStatus::kNotConnected:
      return "NotConnected";
  }
  return "NotConnected";
}

SaSummary ParseListSas(std::string_view raw, std::string_view name) {
  // Sections: "list-sa event" > IKE_SA name > "child-sas" > CHILD_SA name.
  SaSummary summary;
  RawReader reader(raw);
  std::vector<std::string_view> path;
  std::string_view ike_state;
  bool child_installed = false;
  uint64_t in = 0, out = 0;
  for (RawReader::Token t = reader.Next(); t.kind != RawReader::kEnd; t = reader.Next()) {
    const bool in_ike = path.size() >= 2 && path[0] == "event" && path[1] == name;
    if (t.kind == RawReader::kOpen) {
      path.push_back(t.key);
      if (path.size() == 2) {
        ike_state = {};
        child_installed = false;
        in = out = 0;
      }
      continue;
    }
    if (t.kind == RawReader::kClose) {
      if (path.empty()) return SaSummary{};  // unbalanced: not swanctl's output
      if (path.size() == 2 && in_ike) {
        ConnectionStatus s = ConnectionStatus::kConnecting;
        if (ike_state == "ESTABLISHED" && child_installed) {
          s = ConnectionStatus::kConnected;
          summary.ingress_bytes += in;
          summary.egress_bytes += out;
        }
        if (Rank(s) > Rank(summary.status)) summary.status = s;
      }
      path.pop_back();
      continue;
    }
    if (!in_ike) continue;
    if (path.size() == 2 && t.key == "state") ike_state = t.value;
    if (path.size() == 4 && path[2] == "child-sas") {
      if (t.key == "state" && t.value == "INSTALLED") child_installed = true;
      if (t.key == "bytes-in") in += ToCount(t.value);
      if (t.key == "bytes-out") out += ToCount(t.value);
    }
  }
  return summary;
}

std::string StrongswanConf(const IpsecSpec& spec) {
  const std::string vici = "unix://" + Path(spec, "charon.vici");
  std::string conf;
  conf += "# Written by cove (tunnel/ipsec.cc) for connection " + spec.name +
          "; charon and swanctl read it through STRONGSWAN_CONF.\n";
  conf += "charon {\n";
  conf += "  load = " + std::string(kCharonPlugins) + "\n";
  conf += "  install_routes = yes\n";
  conf += "  install_virtual_ip = no\n";
  conf += "  plugins {\n";
  conf += "    vici {\n      socket = " + vici + "\n    }\n";
  conf += "  }\n";
  conf += "  filelog {\n    cove {\n      path = " + Path(spec, "charon.log") + "\n";
  conf += "      time_format = %F %T\n      flush_line = yes\n      default = 1\n    }\n  }\n";
  conf += "  syslog {\n    daemon {\n      default = -1\n    }\n  }\n";
  conf += "}\n";
  conf += "swanctl {\n  load = random\n  socket = " + vici + "\n}\n";
  return conf;
}

std::string SwanctlConf(const IpsecSpec& spec) {
  std::string conf;
  conf += "# Written by cove (tunnel/ipsec.cc): IKEv2, PSK, site-to-site.\n";
  conf += "connections {\n";
  conf += "  " + spec.name + " {\n";
  conf += "    version = 2\n";
  conf += "    local_addrs = " + spec.local_address + "\n";
  conf += "    remote_addrs = " + spec.remote_address + "\n";
  conf += "    proposals = " + spec.ike_proposals + "\n";
  conf += "    keyingtries = 1\n";
  conf += "    dpd_delay = 10s\n";
  conf += "    local {\n      auth = psk\n      id = " + spec.local_address + "\n    }\n";
  conf += "    remote {\n      auth = psk\n      id = " + spec.remote_address + "\n    }\n";
  conf += "    children {\n";
  conf += "      " + spec.name + " {\n";
  conf += "        local_ts = " + CommaList(spec.local_prefixes) + "\n";
  conf += "        remote_ts = " + CommaList(spec.remote_prefixes) + "\n";
  conf += "        esp_proposals = " + spec.esp_proposals + "\n";
  conf += std::string("        start_action = ") + (spec.initiator ? "start" : "none") + "\n";
  conf += std::string("        dpd_action = ") + (spec.initiator ? "restart" : "clear") + "\n";
  conf += "      }\n";
  conf += "    }\n";
  conf += "  }\n";
  conf += "}\n";
  conf += "secrets {\n";
  conf += "  ike-" + spec.name + " {\n";
  conf += "    id-1 = " + spec.local_address + "\n";
  conf += "    id-2 = " + spec.remote_address + "\n";
  conf += "    secret = " + HexSecret(spec.psk) + "\n";
  conf += "  }\n";
  conf += "}\n";
  return conf;
}

Result<std::unique_ptr<IpsecEndpoint>> IpsecEndpoint::Start(fabric::Namespaces& namespaces,
                                                            const IpsecSpec& spec) {
  COVE_RETURN_IF_ERROR(Validate(spec));
  std::error_code ec;
  for (const char* dir : {"run", "swanctl"}) {
    fs::create_directories(Path(spec, dir), ec);
    if (ec) return Fail(Code::kIOError, "ipsec: mkdir " + Path(spec, dir) + ": " + ec.message());
  }
  fs::remove(Path(spec, "charon.vici"), ec);
  COVE_RETURN_IF_ERROR(WriteFile(Path(spec, "strongswan.conf"), StrongswanConf(spec)));
  COVE_RETURN_IF_ERROR(WriteFile(Path(spec, "swanctl/swanctl.conf"), SwanctlConf(spec), 0600));

  // Spawn gives the child its own mount namespace; the shell puts a private /run there (for
  // charon's fixed PID file) and then becomes charon, keeping the pid.
  DaemonLaunch launch;
  launch.what = "ipsec: charon for " + spec.name;
  launch.ns = spec.netns;
  launch.argv = {"/bin/sh",
                 "-c",
                 "mount --bind \"$1\" /run && export STRONGSWAN_CONF=\"$2\" && exec \"$3\"",
                 "cove-charon",
                 Path(spec, "run"),
                 Path(spec, "strongswan.conf"),
                 spec.charon_path};
  launch.output_path = Path(spec, "charon.out");
  launch.sockets = {Path(spec, "charon.vici")};
  launch.logs = {Path(spec, "charon.log")};
  launch.timeout = spec.start_timeout;
  COVE_ASSIGN_OR_RETURN(const pid_t pid, LaunchDaemon(namespaces, launch));
  std::unique_ptr<IpsecEndpoint> endpoint(new IpsecEndpoint(namespaces, spec, pid));
  auto loaded =
      endpoint->Swanctl({"--load-all", "--noprompt", "--file", Path(spec, "swanctl/swanctl.conf")});
  if (!loaded) {
    (void)endpoint->Stop();
    return Fail(Code::kIOError, "ipsec: loading " + spec.name + ": " + loaded.error().message);
  }
  return endpoint;
}

IpsecEndpoint::~IpsecEndpoint() { (void)Stop(); }

std::string IpsecEndpoint::ViciUri() const { return "unix://" + Path(spec_, "charon.vici"); }

Result<std::string> IpsecEndpoint::Swanctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {
      "/usr/bin/env", "STRONGSWAN_CONF=" + Path(spec_, "strongswan.conf"), spec_.swanctl_path};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--uri");
  argv.push_back(ViciUri());
  return ExecOk(namespaces_, spec_.netns, argv);
}

SaSummary IpsecEndpoint::Summary() const {
  if (pid_ <= 0) return SaSummary{};
  if (Exited(pid_)) {
    pid_ = -1;
    return SaSummary{};
  }
  auto raw = Swanctl({"--list-sas", "--raw", "--ike", spec_.name});
  if (!raw) return SaSummary{};
  return ParseListSas(*raw, spec_.name);
}

ConnectionStatus IpsecEndpoint::Status() const { return Summary().status; }

bool IpsecEndpoint::WaitFor(ConnectionStatus want, std::chrono::milliseconds timeout) const {
  return WaitUntil([&] { return Status() == want; }, timeout);
}

cove::Status IpsecEndpoint::Stop() {
  if (pid_ <= 0) return Ok();
  const pid_t pid = std::exchange(pid_, -1);
  return StopProcess(pid);
}

}  // namespace cove::tunnel
