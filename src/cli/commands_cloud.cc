// `cove cloud show` (cove only): what Azure's own clients — az, the Azure SDKs — need to work
// against this coved, read from coved's cloud metadata document (GET /metadata/endpoints,
// arm/discovery.h, which needs no credentials) and the CLI's own environment (the CA file):
//
//   register     `az cloud register -n <name> --endpoint-resource-manager <ARM>/
//                --suffix-acr-login-server-endpoint .<suffix>`: az reads the rest (the ADFS-style
//                login endpoint, ARM's audience) from the 2015-01-01 document;
//   graph        `az cloud update -n <name> --cloud-config '{"endpoints":{
//                "microsoftGraphResourceId":"<ARM>/"}}'`: the 2015-01-01 document has no Microsoft
//                Graph endpoint, which `az ad` and `az role` need (coved serves Graph on the same
//                listener);
//   environment  REQUESTS_CA_BUNDLE (az's requests and MSAL), SSL_CERT_FILE (urllib, which az
//                reads ARM_CLOUD_METADATA_URL with), NODE_EXTRA_CA_CERTS (the JavaScript SDK):
//                coved's CA file; ARM_CLOUD_METADATA_URL: the 2019-05-01 document, from which az
//                takes the whole cloud (Graph and the registry suffix included) with no register.
//
// Output is az's: JSON by default, -o tsv/table/yaml and --query through cli/output.h.
//
// Thread-safety: registration happens once; the handler runs on the caller's thread.
#include <string>

#include "cli/commands.h"

namespace cove::cli {

using nlohmann::json;

namespace {

// A shell single-quoted word ('...' with ' written as '\'').
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Outcome ShowCloud(Context& ctx, const ParsedArgs&) {
  auto arm = ctx.Arm();
  if (!arm) return Outcome::FromArm(arm.error());
  (*arm)->SetBearerToken("");  // a public document: no sign-in needed
  auto doc = (*arm)->Get("/metadata/endpoints", "2022-09-01");
  if (!doc) return Outcome::FromArm(doc.error());
  if (!doc->is_object() || !(*doc)["resourceManager"].is_string()) {
    return Outcome::Failure("coved's cloud metadata document names no resource manager");
  }
  const std::string name = doc->value("name", "cove");
  const std::string rm = (*doc)["resourceManager"];
  std::string suffix = doc->contains("suffixes") && (*doc)["suffixes"].is_object()
                           ? (*doc)["suffixes"].value("acrLoginServer", "")
                           : "";
  if (!suffix.empty() && suffix.front() != '.') suffix = "." + suffix;
  const std::string graph = doc->value("microsoftGraphResourceId", rm);
  const std::string ca =
      ctx.env().ca_file.empty() ? ctx.env().data_dir + "/tls/ca.crt" : ctx.env().ca_file;
  std::string base = rm.ends_with('/') ? rm.substr(0, rm.size() - 1) : rm;
  std::string login;
  if (doc->contains("authentication") && (*doc)["authentication"].is_object()) {
    login = (*doc)["authentication"].value("loginEndpoint", "");
  }
  return Outcome::Value(json{
      {"name", name},
      {"resourceManager", rm},
      {"activeDirectory", login},
      {"microsoftGraphResourceId", graph},
      {"acrLoginServerEndpoint", suffix},
      {"caFile", ca},
      {"register", "az cloud register -n " + name + " --endpoint-resource-manager " + rm +
                       (suffix.empty() ? "" : " --suffix-acr-login-server-endpoint " + suffix)},
      {"graph", "az cloud update -n " + name + " --cloud-config " +
                    ShellQuote(json{{"endpoints", {{"microsoftGraphResourceId", graph}}}}.dump())},
      {"environment",
       {{"REQUESTS_CA_BUNDLE", ca},
        {"SSL_CERT_FILE", ca},
        {"NODE_EXTRA_CA_CERTS", ca},
        {"ARM_CLOUD_METADATA_URL", base + "/metadata/endpoints?api-version=2019-05-01"}}}});
}

}  // namespace

void AddCloudCommands(Registry& r) {
  r.AddGroup({{"cloud"}, "How Azure's own clients (az, the Azure SDKs) reach this coved (cove "
                         "only)."});
  r.AddCommand({.path = {"cloud", "show"},
                .summary = "Show the az cloud register command and the environment (CA bundle, "
                           "ARM_CLOUD_METADATA_URL) az and the Azure SDKs need to use coved.",
                .run = ShowCloud,
                .subscription_arg = false});
}

}  // namespace cove::cli
