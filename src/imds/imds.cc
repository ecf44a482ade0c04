#include "imds/imds.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "common/ascii.h"

namespace cove::imds {
namespace {

using nlohmann::json;

http::Response JsonResponse(int status, const json& body) {
  // Error descriptions echo the request (a resource URI), which need not be UTF-8.
  auto r = http::Response::Text(status, "application/json; charset=utf-8",
                                body.dump(-1, ' ', false, json::error_handler_t::replace));
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

http::Response IdentityError(int status, const std::string& code, const std::string& description) {
  return JsonResponse(status, {{"error", code}, {"error_description", description}});
}

http::Response InstanceError(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

// The audience a resource URI names: as given, or with its trailing slash added or removed
// ("https://management.azure.com" and ".../" are one resource). nullopt for unknown resources.
std::optional<std::string> Audience(const std::string& resource) {
  const auto& known = auth::IdentityAudiences();
  for (const std::string& candidate :
       {resource, resource + "/",
        resource.ends_with('/') ? resource.substr(0, resource.size() - 1) : resource}) {
    if (std::find(known.begin(), known.end(), candidate) != known.end()) return candidate;
  }
  return std::nullopt;
}

json Compute(const Machine& m) {
  bool vm = EqualsIgnoreCase(m.type, "Microsoft.Compute/virtualMachines");
  return {{"azEnvironment", "AzurePublicCloud"},
          {"location", m.location},
          {"name", m.name},
          {"osType", "Linux"},
          {"provider", m.type.substr(0, m.type.find('/'))},
          {"resourceGroupName", m.resource_group},
          {"resourceId", m.id},
          {"subscriptionId", m.subscription_id},
          {"vmId", m.vm_id},
          {"vmSize", vm ? "Standard_cove" : ""}};
}

json Network(const Machine& m) {
  json address = {{"privateIpAddress", m.private_ip}, {"publicIpAddress", m.public_ip}};
  return {{"interface", json::array({{{"ipv4", {{"ipAddress", json::array({address})}}},
                                      {"macAddress", ""}}})}};
}

}  // namespace

bool FromTheMachine(const http::Peer& peer, const Machine& machine) {
  const std::string& ip = peer.remote_ip;
  if (peer.proxied || ip.empty()) return false;
  return ip == kAddress || ip.starts_with("127.") || ip == machine.private_ip ||
         ip == machine.public_ip;
}

std::string TagOf(const std::string& machine_id) { return AsciiLower(machine_id); }

Service::Service(const auth::IdentityStore& store, auth::TokenService& tokens, std::string tenant)
    : store_(store), tokens_(tokens), tenant_(std::move(tenant)) {
  machines_.store(std::make_shared<const Machines>());
}

void Service::SetMachines(std::shared_ptr<const Machines> machines) {
  machines_.store(machines ? std::move(machines) : std::make_shared<const Machines>());
}

http::ExchangePtr Service::Start(http::Request request) {
  return http::Respond(Handle(request));
}

http::Response Service::Handle(const http::Request& request) const {
  std::string_view path = request.path();
  bool identity = path == "/metadata/identity/oauth2/token";
  bool instance = path == "/metadata/instance" || path == "/metadata/instance/compute" ||
                  path == "/metadata/instance/network";
  if (!identity && !instance) return InstanceError(404, "Not found");
  if (request.method != "GET") {
    auto r = InstanceError(405, "Method not allowed");
    r.headers.Set("Allow", "GET");
    return r;
  }
  // Each endpoint answers a bad request in its own shape.
  auto bad_request = [identity](const std::string& why) {
    return identity ? IdentityError(400, "invalid_request", why)
                    : InstanceError(400, "Bad request. " + why);
  };
  auto machines = machines_.load();
  auto it = machines->find(request.peer.listener_tag);
  if (it != machines->end() && !FromTheMachine(request.peer, it->second)) {
    // The listener is this machine's, the caller is not: another machine that routed
    // 169.254.169.254 to it. Nothing about the machine is told, not even which errors apply.
    return identity ? IdentityError(403, "invalid_request",
                                    "Request was rejected: the instance metadata service "
                                    "answers only the machine it runs on")
                    : InstanceError(403, "Forbidden. The instance metadata service answers only "
                                         "the machine it runs on");
  }
  auto metadata = request.headers.Get("Metadata");
  if (!metadata || !EqualsIgnoreCase(*metadata, "true")) {
    return bad_request("Required metadata header not specified");
  }
  if (request.headers.Get("X-Forwarded-For")) {
    return bad_request("Request was rejected because it contained an X-Forwarded-For header");
  }
  if (request.QueryParams("api-version").empty()) {
    return identity ? IdentityError(400, "invalid_request",
                                    "Required query variable 'api-version' is missing")
                    : InstanceError(400, "Bad request. api-version was not specified in the "
                                         "request. For more information refer to aka.ms/azureimds");
  }
  if (it == machines->end()) {
    return identity ? IdentityError(400, "invalid_request", "Identity not found")
                    : InstanceError(404, "Not found");
  }
  const Machine& m = it->second;
  if (identity) return Token(request, m);
  if (path == "/metadata/instance/compute") return JsonResponse(200, Compute(m));
  if (path == "/metadata/instance/network") return JsonResponse(200, Network(m));
  return JsonResponse(200, {{"compute", Compute(m)}, {"network", Network(m)}});
}

http::Response Service::Token(const http::Request& request, const Machine& m) const {
  auto one = [&](const char* name) -> std::optional<std::string> {
    auto v = request.QueryParams(name);
    if (v.empty()) return std::nullopt;
    return v.front();
  };
  auto resource = one("resource");
  if (!resource || resource->empty()) {
    return IdentityError(400, "invalid_request", "Required query variable 'resource' is missing");
  }
  auto audience = Audience(*resource);
  if (!audience) {
    return IdentityError(400, "invalid_resource",
                         "AADSTS500011: The resource principal named " + *resource +
                             " was not found in the tenant named " + tenant_ +
                             ". This can happen if the application has not been installed by the "
                             "administrator of the tenant or consented to by any user in the "
                             "tenant. You might have sent your authentication request to the "
                             "wrong tenant.");
  }
  auto client_id = one("client_id"), object_id = one("object_id");
  auto res_id = one("msi_res_id");
  if (!res_id) res_id = one("mi_res_id");
  if ((client_id ? 1 : 0) + (object_id ? 1 : 0) + (res_id ? 1 : 0) > 1) {
    return IdentityError(400, "invalid_request",
                         "Only one of client_id, object_id and msi_res_id may be specified");
  }
  std::vector<const MachineIdentity*> all;
  if (m.system_assigned) all.push_back(&*m.system_assigned);
  for (const auto& u : m.user_assigned) all.push_back(&u);
  const MachineIdentity* chosen = nullptr;
  if (client_id || object_id || res_id) {
    for (const MachineIdentity* i : all) {
      if ((client_id && EqualsIgnoreCase(*client_id, i->client_id)) ||
          (object_id && EqualsIgnoreCase(*object_id, i->principal_id)) ||
          (res_id && EqualsIgnoreCase(*res_id, i->resource_id))) {
        chosen = i;
      }
    }
  } else if (m.system_assigned) {
    chosen = &*m.system_assigned;
  } else if (m.user_assigned.size() > 1) {
    return IdentityError(400, "invalid_request",
                         "Multiple user assigned identities exist, please specify the clientId / "
                         "resourceId of the identity in the token request");
  } else if (m.user_assigned.size() == 1) {
    chosen = &m.user_assigned.front();
  }
  if (!chosen) return IdentityError(400, "invalid_request", "Identity not found");

  auto snapshot = store_.Get();
  const auth::Principal* principal = snapshot ? snapshot->PrincipalById(chosen->principal_id) : nullptr;
  if (!principal || principal->kind != auth::PrincipalKind::kManagedIdentity) {
    return IdentityError(400, "invalid_request", "Identity not found");
  }
  auto token = tokens_.IssueIdentityToken(
      *principal, {.tenant = tenant_,
                   .audience = *audience,
                   .client_id = chosen->client_id,
                   .identity_resource_id = chosen->resource_id,
                   .caller_resource_id = m.id});
  if (!token) return IdentityError(500, "unknown_error", token.error().message);
  // The token's own times (TokenService's clock, which may be a test's).
  auto decoded = auth::DecodeJwtUnverified(*token);
  if (!decoded) return IdentityError(500, "unknown_error", decoded.error().message);
  int64_t nbf = decoded->second.value("nbf", int64_t{0});
  int64_t exp = decoded->second.value("exp", int64_t{0});
  std::string lifetime = std::to_string(exp - nbf);
  return JsonResponse(200, {{"access_token", *token},
                            {"client_id", chosen->client_id},
                            {"expires_in", lifetime},
                            {"expires_on", std::to_string(exp)},
                            {"ext_expires_in", lifetime},
                            {"not_before", std::to_string(nbf)},
                            {"resource", *resource},
                            {"token_type", "Bearer"}});
}

}  // namespace cove::imds
