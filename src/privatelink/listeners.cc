#include "privatelink/listeners.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace cove::privatelink {
namespace {

// The spec's listening socket, made in its namespace, and a dup of it to shut it down with.
Result<std::pair<UniqueFd, UniqueFd>> ListenInNamespace(fabric::Namespaces& namespaces,
                                                        const ListenerSpec& spec) {
  COVE_ASSIGN_OR_RETURN(UniqueFd fd, fabric::ListenTcp(namespaces, spec.ns, spec.address,
                                                       spec.port, 1024, spec.device));
  UniqueFd dup(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!dup.valid()) return Fail(Code::kIOError, std::string("dup: ") + std::strerror(errno));
  return std::pair{std::move(fd), std::move(dup)};
}

// A socket the server adopted; a dup of it is kept to shut it down.
class AdoptedListener final : public OpenListener {
 public:
  explicit AdoptedListener(UniqueFd dup) : dup_(std::move(dup)) {}
  ~AdoptedListener() override { ::shutdown(dup_.get(), SHUT_RDWR); }

 private:
  UniqueFd dup_;
};

}  // namespace

std::string ListenerSpec::Key() const {
  std::string key = ns + "@" + ns_instance + "/" + address + ":" + std::to_string(port) + "/" +
                    (link_id ? std::to_string(*link_id) : "-");
  if (!device.empty()) key += "/" + device;
  if (!tag.empty()) key += "#" + tag;
  if (tls) key += "+tls";
  if (!service.empty()) key += "=>" + service;
  return key;
}

ListenerSet::ListenerSet(ListenerOpener& opener, std::string what)
    : opener_(opener), what_(std::move(what)) {}

ListenerSet::~ListenerSet() { Clear(); }

void ListenerSet::Clear() { open_.clear(); }

ListenerChanges ListenerSet::Reconcile(const std::vector<ListenerSpec>& desired) {
  ListenerChanges changes;
  std::map<std::string, const ListenerSpec*> want;
  for (const ListenerSpec& spec : desired) want.emplace(spec.Key(), &spec);
  for (auto it = open_.begin(); it != open_.end();) {
    if (want.count(it->first)) {
      ++it;
      continue;
    }
    spdlog::info("{} listener {} closed", what_, it->first);
    changes.closed.push_back(std::move(it->second.spec));
    it = open_.erase(it);  // stops it
  }
  for (const auto& [key, spec] : want) {
    if (open_.count(key)) continue;
    auto listener = opener_.Open(*spec);
    if (!listener) {
      spdlog::warn("{} listener {}:{} in {}: {}", what_, spec->address, spec->port, spec->ns,
                   listener.error().message);
      changes.failed.emplace_back(*spec, listener.error());
      continue;
    }
    if (spec->link_id || spec->tag.empty()) {
      spdlog::info("{} listening on {}:{} in {} (link id {})", what_, spec->address, spec->port,
                   spec->ns,
                   spec->link_id ? std::to_string(*spec->link_id) : "none: public endpoint");
    } else {
      spdlog::info("{} listening on {}:{} in {}", what_, spec->address, spec->port, spec->ns);
    }
    open_.emplace(key, Entry{*spec, std::move(*listener)});
    changes.opened.push_back(*spec);
  }
  return changes;
}

ServerListenerOpener::ServerListenerOpener(fabric::Namespaces& namespaces, http::Server& server)
    : namespaces_(namespaces), server_(server) {}

Result<OpenListenerPtr> ServerListenerOpener::Open(const ListenerSpec& spec) {
  COVE_ASSIGN_OR_RETURN(auto fds, ListenInNamespace(namespaces_, spec));
  auto& [fd, dup] = fds;
  http::ListenerOptions options;
  options.address = spec.address;
  options.port = spec.port;
  options.tls = spec.tls;
  options.link_id = spec.link_id;
  options.tag = spec.tag;
  COVE_RETURN_IF_ERROR(server_.Adopt(std::move(fd), options));
  return std::make_unique<AdoptedListener>(std::move(dup));
}

ForwarderListenerOpener::ForwarderListenerOpener(fabric::Namespaces& namespaces,
                                                 Forwarder& forwarder, RouteFor route_for)
    : namespaces_(namespaces), forwarder_(forwarder), route_for_(std::move(route_for)) {}

Result<OpenListenerPtr> ForwarderListenerOpener::Open(const ListenerSpec& spec) {
  COVE_ASSIGN_OR_RETURN(auto fds, ListenInNamespace(namespaces_, spec));
  auto& [fd, dup] = fds;
  Route route = route_for_(spec);
  route.link_id = spec.link_id;
  COVE_RETURN_IF_ERROR(forwarder_.Adopt(std::move(fd), route));
  return std::make_unique<AdoptedListener>(std::move(dup));
}

}  // namespace cove::privatelink
