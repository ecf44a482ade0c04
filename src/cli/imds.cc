#include "cli/imds.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include "cli/credentials.h"

namespace cove::cli {

using nlohmann::json;

bool IsLocalAddress(const std::string& ipv4) {
  in_addr want{};
  if (::inet_pton(AF_INET, ipv4.c_str(), &want) != 1) return false;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    found = sin->sin_addr.s_addr == want.s_addr;
  }
  ::freeifaddrs(list);
  return found;
}

std::string IdentitySelector::AssignedIdentityInfo() const {
  switch (kind) {
    case Kind::kSystem:
      return "MSI";
    case Kind::kClientId:
      return "MSIClient-" + value;
    case Kind::kObjectId:
      return "MSIObject-" + value;
    case Kind::kResourceId:
      return "MSIResource-" + value;
  }
  return "MSI";
}

std::string IdentitySelector::UserName() const {
  return kind == Kind::kSystem ? "systemAssignedIdentity" : "userAssignedIdentity";
}

std::string IdentitySelector::Query() const {
  switch (kind) {
    case Kind::kSystem:
      return "";
    case Kind::kClientId:
      return "&client_id=" + PercentEncode(value);
    case Kind::kObjectId:
      return "&object_id=" + PercentEncode(value);
    case Kind::kResourceId:
      return "&msi_res_id=" + PercentEncode(value);
  }
  return "";
}

Result<IdentitySelector> IdentitySelector::FromInfo(const std::string& info) {
  if (info == "MSI") return IdentitySelector{};
  struct Prefix {
    const char* text;
    Kind kind;
  };
  for (const Prefix& p :
       {Prefix{"MSIClient-", Kind::kClientId}, Prefix{"MSIObject-", Kind::kObjectId},
        Prefix{"MSIResource-", Kind::kResourceId}}) {
    std::string prefix = p.text;
    if (info.size() > prefix.size() && info.compare(0, prefix.size(), prefix) == 0) {
      return IdentitySelector{p.kind, info.substr(prefix.size())};
    }
  }
  return Fail(Code::kInvalidArgument, "unknown assignedIdentityInfo '" + info + "'");
}

Result<ImdsClient> ImdsClient::ForThisNamespace() {
  if (!IsLocalAddress(kImdsAddress)) {
    return Fail(Code::kFailedPrecondition,
                std::string(kImdsAddress) +
                    " is not an address of this network namespace, so this is not a cove VM or "
                    "container group and cove sends no request to it (on a cloud host it is the "
                    "real metadata service). Run the command inside one: `cove vm exec VM -- "
                    "cove login --identity` or `cove container exec -g GROUP -n NAME "
                    "--exec-command \"cove login --identity\"`.");
  }
  return At(std::string("http://") + kImdsAddress + ":80");
}

Result<ImdsClient> ImdsClient::At(const std::string& endpoint) {
  COVE_ASSIGN_OR_RETURN(auto http, http::HttpClient::Create(endpoint, std::chrono::seconds(30)));
  return ImdsClient(std::move(http));
}

Result<json> ImdsClient::Get(const std::string& target) const {
  auto res = http_.Send("GET", target, "", "application/json", {{"Metadata", "true"}});
  if (!res) {
    return Fail(Code::kUnavailable,
                "Failed to connect to MSI. Please make sure MSI is configured "
                "correctly. (" +
                    res.error().message + ")");
  }
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (res->status != 200) {
    std::string error = body.is_object() ? body.value("error", "") : "";
    std::string why = body.is_object() ? body.value("error_description", res->body) : res->body;
    if (why == "Identity not found") return Fail(Code::kNotFound, why);
    return Fail(Code::kPermissionDenied, "IMDS answered " + std::to_string(res->status) + ": " +
                                             (error.empty() ? why : error + ": " + why));
  }
  if (!body.is_object()) {
    return Fail(Code::kInternal, "IMDS answered something that is not a JSON object");
  }
  return body;
}

Result<ImdsToken> ImdsClient::Token(const std::string& resource,
                                    const IdentitySelector& who) const {
  COVE_ASSIGN_OR_RETURN(
      json body, Get("/metadata/identity/oauth2/token?api-version=" + std::string(kImdsTokenApi) +
                     "&resource=" + PercentEncode(resource) + who.Query()));
  if (!body.contains("access_token") || !body["access_token"].is_string()) {
    return Fail(Code::kInternal, "IMDS answered no access_token");
  }
  ImdsToken t;
  t.access_token = body["access_token"].get<std::string>();
  t.client_id = body.value("client_id", "");
  t.resource = body.value("resource", resource);
  // Numbers as strings, as Azure's IMDS sends them (numbers accepted too).
  const json& on = body.value("expires_on", json());
  if (on.is_string()) {
    const std::string& s = on.get_ref<const std::string&>();
    if (!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos) {
      t.expires_on = std::stoll(s);
    }
  } else if (on.is_number_integer()) {
    t.expires_on = on.get<int64_t>();
  }
  if (t.expires_on == 0) {
    if (auto claims = JwtClaims(t.access_token);
        claims && claims->contains("exp") && (*claims)["exp"].is_number_integer()) {
      t.expires_on = (*claims)["exp"].get<int64_t>();
    }
  }
  return t;
}

Result<json> ImdsClient::Instance() const {
  return Get("/metadata/instance?api-version=" + std::string(kImdsInstanceApi));
}

}  // namespace cove::cli
