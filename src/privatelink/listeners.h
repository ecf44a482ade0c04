// Private endpoint listeners: the sockets through which a VNet reaches the service, and their
// reconciliation.
//
// A private endpoint is the VNet's door into a registry: each member address (10.0.0.5 for
// `registry`, 10.0.0.6 for `registry_data_<region>`, ...) gets a TLS :443 listener inside the
// VNet's network namespace, tagged with the endpoint's link id (so the access Gate knows which
// private endpoint a connection came through); each registry's public address gets one in the
// public namespace with no link id. daemon::Planes derives the specs from every control-plane
// commit and hands them to a ListenerSet.
//
// ListenerSet reconciles: given the whole desired set of ListenerSpecs it closes the open
// listeners that are no longer wanted and opens the wanted ones that are not open, nothing
// else. A listener is identified by everything in its spec (ListenerSpec::Key), including the
// namespace instance (its inode), so a VNet deleted and created again under the same name gets
// fresh sockets, and an endpoint whose link id changed is reopened. A listener that fails to
// open is not remembered: the next Reconcile tries it again. The sockets themselves are made
// behind ListenerOpener (the seam: ServerListenerOpener below makes them in a namespace and
// hands them to an http::Server; tests record calls), so the reconciliation is testable
// without root.
//
// Two openers: ServerListenerOpener hands the sockets to an http::Server that serves them
// (instance metadata; tests), ForwarderListenerOpener to a Forwarder (privatelink/forwarder.h)
// that carries each connection to the region node(s) of the listener's service, the LinkID
// travelling in PROXY v2 — coved's registry listeners (docs/regions.md).
//
// Thread-safety: ListenerSet is not thread-safe (Planes calls it under its own mutex).
// ServerListenerOpener may be used from any thread (http::Server::Adopt is thread-safe).
#pragma once

#include <compare>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "fabric/namespaces.h"
#include "http/server.h"
#include "privatelink/forwarder.h"

namespace cove::privatelink {

// One listener: where it listens and what its connections carry.
struct ListenerSpec {
  std::string ns;           // network namespace name
  std::string ns_instance;  // which instance of the name (its inode): a new one, new sockets
  std::string address;      // e.g. a private endpoint member's IP
  uint16_t port = 443;
  std::optional<uint32_t> link_id;  // the private endpoint's; none on public endpoints
  bool tls = true;
  std::string device;  // SO_BINDTODEVICE ("lo": connections from inside the namespace only)
  std::string tag;     // http::ListenerOptions::tag
  // What the listener leads to, for an opener that forwards (daemon::RegionRouter's services:
  // "login/<registry>/<region>", "data/<registry>/<region>", "sni"); "" for one that serves.
  std::string service;

  // "<ns>@<instance>/<address>:<port>/<link id or ->[/<device>][#<tag>][+tls][=><service>]":
  // equal keys, the same listener.
  std::string Key() const;
  auto operator<=>(const ListenerSpec&) const = default;
};

// An open listener; destroying it stops the listener (its socket stops accepting).
class OpenListener {
 public:
  virtual ~OpenListener() = default;
};
using OpenListenerPtr = std::unique_ptr<OpenListener>;

// The seam that makes sockets.
class ListenerOpener {
 public:
  virtual ~ListenerOpener() = default;
  // Starts listening as `spec` says. Returns the open listener; kNotFound when the namespace
  // is gone, kIOError when the address is not local there or is taken, or the server refuses.
  virtual Result<OpenListenerPtr> Open(const ListenerSpec& spec) = 0;
};

// What one Reconcile did (for logs and tests).
struct ListenerChanges {
  std::vector<ListenerSpec> opened;
  std::vector<ListenerSpec> closed;
  std::vector<std::pair<ListenerSpec, Error>> failed;  // not opened; retried next time
};

class ListenerSet {
 public:
  // `opener` must outlive the set. `what` names the listeners in log lines ("registry").
  explicit ListenerSet(ListenerOpener& opener, std::string what = "registry");
  // Closes every listener.
  ~ListenerSet();
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;

  // Makes the open listeners exactly `desired` (duplicates count once): closes the others
  // first (so an address is free before it is taken again), then opens what is missing.
  ListenerChanges Reconcile(const std::vector<ListenerSpec>& desired);
  // Closes every listener (cove down, shutdown).
  void Clear();

  size_t size() const { return open_.size(); }
  bool IsOpen(const ListenerSpec& spec) const { return open_.count(spec.Key()) > 0; }

 private:
  struct Entry {
    ListenerSpec spec;
    OpenListenerPtr listener;
  };
  ListenerOpener& opener_;
  const std::string what_;
  std::map<std::string, Entry> open_;  // by Key()
};

// The real opener: a socket made inside the spec's namespace (fabric::ListenTcp, backlog 1024),
// adopted by `server` with the spec's TLS, link id and tag. Closing shuts the socket down, which
// the server takes as the listener's end (http::Server's accept loop stops on EINVAL).
class ServerListenerOpener final : public ListenerOpener {
 public:
  // Both must outlive the opener and every listener it opened.
  ServerListenerOpener(fabric::Namespaces& namespaces, http::Server& server);
  Result<OpenListenerPtr> Open(const ListenerSpec& spec) override;

 private:
  fabric::Namespaces& namespaces_;
  http::Server& server_;
};

// The deployment's opener: a socket made inside the spec's namespace (as above) whose
// connections `forwarder` carries along route_for(spec) (the link id is the spec's). Closing
// shuts the socket down, which ends the forwarder's accept loop for it.
class ForwarderListenerOpener final : public ListenerOpener {
 public:
  using RouteFor = std::function<Route(const ListenerSpec&)>;
  // `namespaces` and `forwarder` must outlive the opener and every listener it opened.
  ForwarderListenerOpener(fabric::Namespaces& namespaces, Forwarder& forwarder, RouteFor route_for);
  Result<OpenListenerPtr> Open(const ListenerSpec& spec) override;

 private:
  fabric::Namespaces& namespaces_;
  Forwarder& forwarder_;
  RouteFor route_for_;
};

}  // namespace cove::privatelink
