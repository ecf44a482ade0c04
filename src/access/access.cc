#include "access/access.h"

#include <arpa/inet.h>

#include <charconv>
#include <utility>

#include "oci/errors.h"

namespace cove::access {
namespace {

std::optional<uint32_t> ParseIpv4(std::string_view text) {
  std::string s(text);
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

bool MatchesIpRule(const std::string& ip, const std::string& rule) {
  auto addr = ParseIpv4(ip);
  if (!addr) return false;
  auto slash = rule.find('/');
  if (slash == std::string::npos) {
    auto r = ParseIpv4(rule);
    return r && *r == *addr;
  }
  auto net = ParseIpv4(std::string_view(rule).substr(0, slash));
  std::string_view len_text = std::string_view(rule).substr(slash + 1);
  int len = -1;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (!net || ec != std::errc() || end != len_text.data() + len_text.size() || len < 0 ||
      len > 32) {
    return false;
  }
  uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return (*addr & mask) == (*net & mask);
}

std::string PublicDeniedMessage(const std::string& ip) {
  return "client with IP '" + ip +
         "' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.";
}

std::string DeniedBody(const std::string& message) {
  return oci::ErrorBody(oci::ErrorCode::kDenied, message);
}

http::Response DeniedResponse(const std::string& message) {
  auto response = oci::ErrorResponse(oci::ErrorCode::kDenied, message);
  response.headers.Set("Docker-Distribution-Api-Version", "registry/2.0");
  return response;
}

namespace {

Verdict Deny(std::string message) {
  return {.kind = Verdict::Kind::kDeny, .message = std::move(message)};
}

Verdict DecideRules(const Policy& policy, const std::string& registry, const Via& via) {
  if (via.link_id) {
    uint32_t id = *via.link_id;
    auto link = policy.links.find(id);
    if (link == policy.links.end()) {
      return Deny("the connection came through private endpoint link id " + std::to_string(id) +
                  ", which belongs to no private endpoint connection of registry " +
                  Quote(registry));
    }
    const LinkInfo& l = link->second;
    if (l.registry != registry) {
      return Deny("private endpoint " + Quote(l.endpoint_name) + " (link id " + std::to_string(id) +
                  ") is connected to registry " + Quote(l.registry) + ", not to " +
                  Quote(registry));
    }
    if (l.status != "Approved") {
      return Deny("private endpoint connection " + Quote(l.connection_name) +
                  " (private endpoint " + Quote(l.endpoint_name) + ") of registry " +
                  Quote(registry) + " is " + l.status + "; only Approved connections are served");
    }
    return {.kind = Verdict::Kind::kAllow, .via_private_endpoint = true};
  }
  auto it = policy.registries.find(registry);
  if (it == policy.registries.end()) return {};
  const RegistryRules& rules = it->second;
  if (!rules.public_network_access) {
    auto machine = policy.trusted_service_sources.find(via.client_ip);
    if (rules.bypass_azure_services && machine != policy.trusted_service_sources.end()) {
      // The registry's authentication lets in only this machine's identity (auth/network.h).
      return {.kind = Verdict::Kind::kAllowOwnIdentityOnly,
              .machine = machine->second,
              .message = PublicDeniedMessage(via.client_ip)};
    }
    return Deny(PublicDeniedMessage(via.client_ip));
  }
  if (rules.default_action != "Deny") return {};
  for (const auto& rule : rules.ip_rules) {
    if (rule.action == "Allow" && MatchesIpRule(via.client_ip, rule.value)) return {};
  }
  return Deny(PublicDeniedMessage(via.client_ip));
}

}  // namespace

Verdict Decide(const Policy& policy, const std::string& registry, const Via& via) {
  Verdict v;
  if (!registry.empty()) v = DecideRules(policy, registry, via);
  v.registry = registry;
  return v;
}

// ---- Gate

namespace {

// Counts body bytes both ways around the registry's exchange.
class CountingExchange final : public http::Exchange {
 public:
  CountingExchange(http::ExchangePtr inner, std::vector<std::shared_ptr<void>> keep,
                   std::vector<std::atomic<uint64_t>*> in, std::vector<std::atomic<uint64_t>*> out,
                   std::vector<std::atomic<uint64_t>*> denied, bool head)
      : inner_(std::move(inner)), keep_(std::move(keep)), in_(std::move(in)),
        out_(std::move(out)), denied_(std::move(denied)), head_(head) {}
  std::optional<http::Response> OnBody(std::string_view piece) override {
    for (auto* c : in_) c->fetch_add(piece.size(), std::memory_order_relaxed);
    auto r = inner_->OnBody(piece);
    if (r) Count(*r);
    return r;
  }
  http::Response Finish() override {
    auto r = inner_->Finish();
    Count(r);
    return r;
  }
  bool WantsBody() const override { return inner_->WantsBody(); }
  std::optional<uint64_t> IgnoresBody() const override { return inner_->IgnoresBody(); }
  bool Await(Stage stage, std::function<void()> ready) override {
    return inner_->Await(stage, std::move(ready));
  }
  void Abort() override { inner_->Abort(); }

 private:
  void Count(const http::Response& r) {
    // A 403 the registry decided (a data host's bad signed URL, authentication's DENIED) is a
    // denial at this endpoint as much as the Gate's own.
    if (r.status == 403) {
      for (auto* c : denied_) c->fetch_add(1, std::memory_order_relaxed);
    }
    if (head_ || std::holds_alternative<http::LengthOnly>(r.body)) return;
    uint64_t n = r.BodySize();
    for (auto* c : out_) c->fetch_add(n, std::memory_order_relaxed);
  }
  http::ExchangePtr inner_;
  std::vector<std::shared_ptr<void>> keep_;
  std::vector<std::atomic<uint64_t>*> in_, out_, denied_;
  bool head_;
};

}  // namespace

Gate::Gate(http::Handler& inner, std::function<std::string(const std::string&)> registry_of_host)
    : inner_(inner),
      registry_of_host_(std::move(registry_of_host)),
      policy_(std::make_shared<Policy>()) {}

void Gate::SetPolicy(PolicyPtr policy) {
  std::lock_guard lock(mu_);
  policy_ = std::move(policy);
}

PolicyPtr Gate::policy() const {
  std::lock_guard lock(mu_);
  return policy_;
}

std::vector<std::shared_ptr<Gate::Slot>> Gate::SlotsFor(const http::Peer& peer) {
  std::vector<std::string> keys;
  if (peer.link_id) {
    const std::string link = "link:" + std::to_string(*peer.link_id);
    keys.push_back(link);
    keys.push_back(link + "/member:" + peer.local_ip);
  } else {
    keys.push_back("listener:" + peer.local_ip);
  }
  std::vector<std::shared_ptr<Slot>> out;
  std::lock_guard lock(mu_);
  for (auto& k : keys) {
    auto& slot = slots_[k];
    if (!slot) slot = std::make_shared<Slot>();
    out.push_back(slot);
  }
  return out;
}

http::ExchangePtr Gate::Start(http::Request request) {
  auto slots = SlotsFor(request.peer);
  for (auto& s : slots) s->requests.fetch_add(1, std::memory_order_relaxed);
  std::string host = request.host();
  if (host.empty()) host = request.peer.server_name;
  Via via{request.peer.link_id, request.peer.remote_ip};
  auto verdict = std::make_shared<const Verdict>(Decide(*policy(), registry_of_host_(host), via));
  if (!verdict->allowed()) {
    for (auto& s : slots) s->denied.fetch_add(1, std::memory_order_relaxed);
    return http::Respond(DeniedResponse(verdict->message));
  }
  request.verdict = std::move(verdict);
  bool head = request.method == "HEAD";
  std::vector<std::shared_ptr<void>> keep;
  std::vector<std::atomic<uint64_t>*> in, out, denied;
  for (auto& s : slots) {
    keep.push_back(s);
    in.push_back(&s->bytes_in);
    out.push_back(&s->bytes_out);
    denied.push_back(&s->denied);
  }
  return std::make_unique<CountingExchange>(inner_.Start(std::move(request)), std::move(keep),
                                            std::move(in), std::move(out), std::move(denied),
                                            head);
}

std::map<std::string, EndpointCounters> Gate::Counters() const {
  std::map<std::string, EndpointCounters> out;
  std::lock_guard lock(mu_);
  for (const auto& [k, s] : slots_) {
    out[k] = {s->requests.load(), s->denied.load(), s->bytes_in.load(), s->bytes_out.load()};
  }
  return out;
}

nlohmann::json Gate::CountersJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, c] : Counters()) {
    j[k] = {{"requests", c.requests},
            {"denied", c.denied},
            {"bytesIn", c.bytes_in},
            {"bytesOut", c.bytes_out}};
  }
  return j;
}

}  // namespace cove::access
