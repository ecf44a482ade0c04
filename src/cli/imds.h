// The CLI's side of the Instance Metadata Service (IMDS): `cove login --identity`,
// `account get-access-token` and `acr login` for a managed-identity account.
//
// Inside every cove VM and container group, 169.254.169.254 is an address on `lo` and coved
// serves IMDS there on plain HTTP port 80 (the contract: prompts/mi-contract.md; Azure's
// IMDS API):
//   GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R
//       [&client_id=|&object_id=|&msi_res_id=]                           header Metadata: true
//   GET /metadata/instance?api-version=2021-02-01                         header Metadata: true
//
// Safety: on a cloud host 169.254.169.254 is a real metadata service, and a cove command must
// never ask it for anything. ImdsClient::ForThisNamespace() therefore first checks that
// 169.254.169.254 is one of this network namespace's own interface addresses (getifaddrs):
// coved puts it on `lo` in its namespaces, which a cloud VM never does (there it is a routed
// address of the hypervisor). When it is not local it returns kFailedPrecondition and nothing
// is sent.
//
// Thread-safety: functions are pure or read the process's namespace; an ImdsClient is used by
// one thread at a time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http/client.h"
#include "common/error.h"

namespace cove::cli {

inline constexpr char kImdsAddress[] = "169.254.169.254";
inline constexpr char kImdsTokenApi[] = "2018-02-01";
inline constexpr char kImdsInstanceApi[] = "2021-02-01";

// True when `ipv4` is an address of an interface of the calling thread's network namespace.
bool IsLocalAddress(const std::string& ipv4);

// Which identity a token is asked for, as az records it in the account's
// user.assignedIdentityInfo: "MSI" (system-assigned), "MSIClient-<clientId>",
// "MSIObject-<objectId>", "MSIResource-<resource id>".
struct IdentitySelector {
  enum class Kind { kSystem, kClientId, kObjectId, kResourceId };
  Kind kind = Kind::kSystem;
  std::string value;

  std::string AssignedIdentityInfo() const;
  // The account's user.name: "systemAssignedIdentity" or "userAssignedIdentity".
  std::string UserName() const;
  // "&client_id=..." etc. ("" for the system-assigned identity).
  std::string Query() const;
  // Parses AssignedIdentityInfo(); kInvalidArgument for anything else.
  static Result<IdentitySelector> FromInfo(const std::string& info);
};

struct ImdsToken {
  std::string access_token;
  std::string client_id;
  std::string resource;
  int64_t expires_on = 0;  // unix seconds
};

class ImdsClient {
 public:
  // The IMDS of this network namespace, or kFailedPrecondition (see above; nothing is sent).
  static Result<ImdsClient> ForThisNamespace();

  // A token for `resource`. kNotFound with IMDS's error_description when IMDS answers
  // 400 "Identity not found"; kUnavailable when IMDS cannot be reached; kPermissionDenied
  // with "error: error_description" for any other refusal.
  Result<ImdsToken> Token(const std::string& resource, const IdentitySelector& who) const;

  // GET /metadata/instance: {"compute": {...}, "network": {...}}.
  Result<nlohmann::json> Instance() const;

  // For tests that serve IMDS on another address (never a real one): `endpoint` as
  // http::HttpClient takes it.
  static Result<ImdsClient> At(const std::string& endpoint);

 private:
  explicit ImdsClient(http::HttpClient http) : http_(std::move(http)) {}
  Result<nlohmann::json> Get(const std::string& target) const;
  http::HttpClient http_;
};

}  // namespace cove::cli
