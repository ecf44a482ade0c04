// Authorizer: the seam through which the registry asks "may this request go ahead?", and which
// serves the login server's token endpoints (/oauth2/...). cove_auth implements it
// (auth/authenticator.h); the registry knows nothing of identities or tokens.
//
// The registry calls Serve() for every request to a login server whose path starts with
// /oauth2/, and Check() before dispatching any other login-server request, with the access the
// route needs (RequiredAccess in registry/authorizer.h). Data hosts are never checked: their
// signed URLs carry their own authorization (registry/url_signer.h). Without an authorizer the
// registry is open.
//
// Route → access (Docker's token scopes, as ACR names them in its challenges):
//   GET/HEAD manifest, blob, referrers                  repository:<name>:pull
//   GET tags/list                                       repository:<name>:metadata_read
//   PUT manifest, POST/PATCH/PUT/GET/DELETE upload      repository:<name>:pull,push
//   DELETE manifest, DELETE blob                        repository:<name>:delete
//   GET /v2/_catalog                                    registry:catalog:*
//   GET /v2/                                            authentication only (no scope)
// A cross-repository mount (POST ...?mount=&from=) also needs pull on `from`; without it the
// mount is not attempted and an ordinary upload starts (as the spec allows).
//
// The registry calls CheckLater first and Check only when CheckLater declines, so that an
// authorizer can move slow checks off the I/O threads (Exchange::Await).
//
// Why a target of its own (cove_authz): the seam is the registry's, but its implementer
// (cove_auth) must not link the registry — its storage, SQLite and handlers — nor drag them into
// everything that links cove_auth (the ARM plane, IMDS). It is not in cove_http: it speaks of
// registries and Docker scopes, not of HTTP alone. The types keep the registry's namespace, so
// implementers name them as before (registry::Authorizer); only the link unit is separate.
//
// Thread-safety: implementations must be thread-safe (called from every server thread).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/registry_info.h"
#include "http/message.h"

namespace cove::registry {

struct AccessRequirement {
  enum Kind { kLogin, kRepository, kCatalog };
  Kind kind = kLogin;
  std::string repository;
  std::vector<std::string> actions;  // "pull", "push", "delete", "metadata_read"
  // A bearer token granting these instead is enough too, when its subject holds `actions`
  // itself (empty: none). Tag listing asks for metadata_read in its challenge, as ACR's does,
  // but containers/image (skopeo inspect) lists tags with the pull token it fetched for the
  // image and never retries with the challenge's scope: an identity allowed metadata_read may
  // list tags with a pull token; one with content/read alone still may not.
  std::vector<std::string> or_actions;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Serves a request under /oauth2/ on `registry`'s login server. Never null.
  virtual http::ExchangePtr Serve(const http::Request& request, const RegistryInfo& registry,
                                  const std::string& login_server) = 0;
  // nullopt when the request may go ahead; otherwise the response to send (401 with a Bearer
  // challenge, or 403 DENIED).
  virtual std::optional<http::Response> Check(const http::Request& request,
                                              const RegistryInfo& registry,
                                              const std::string& login_server,
                                              const AccessRequirement& needed) = 0;
  // Check for callers on HTTP I/O threads, which must not wait for slow work (a password
  // hash). False: nothing was started; call Check, which answers at once. True: the check runs
  // elsewhere and `done` receives what Check would return — on another thread, or already
  // before CheckLater returns. The default never defers.
  virtual bool CheckLater(const http::Request& request, const RegistryInfo& registry,
                          const std::string& login_server, const AccessRequirement& needed,
                          std::function<void(std::optional<http::Response>)> done) {
    (void)request, (void)registry, (void)login_server, (void)needed, (void)done;
    return false;
  }
};

}  // namespace cove::registry
