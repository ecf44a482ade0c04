#include "arm/discovery.h"


#include "arm/errors.h"

namespace cove::arm {
namespace {

// Azure Resource Manager's names as a token audience, the first the one az asks for.
Json Audiences() {
  return Json::array({"https://management.core.windows.net/", "https://management.azure.com/"});
}

Json Cloud(const CloudEndpoints& e) {
  const std::string& rm = e.resource_manager;
  return {{"name", e.name},
          {"portal", rm},
          {"resourceManager", rm},
          {"gallery", rm},
          {"graph", rm},
          {"graphAudience", rm},
          {"microsoftGraphResourceId", rm},
          {"authentication",
           {{"loginEndpoint", e.login_endpoint},
            {"audiences", Audiences()},
            {"tenant", "adfs"},
            {"identityProvider", "ADFS"}}},
          {"suffixes", {{"acrLoginServer", e.acr_suffix}}}};
}

}  // namespace

const std::vector<std::string>& CloudMetadataApiVersions() {
  static const std::vector<std::string> kVersions = {"1.0", "2015-01-01", "2019-05-01",
                                                     "2020-06-01", "2022-09-01"};
  return kVersions;
}

Result<Json> CloudMetadata(const std::optional<std::string>& api_version,
                           const CloudEndpoints& endpoints) {
  if (!api_version || api_version->empty()) {
    return ArmFail(400, "MissingApiVersionParameter",
                   "The api-version query parameter (?api-version=) is required for all "
                   "requests.");
  }
  COVE_RETURN_IF_ERROR(CheckApiVersionIn(CloudMetadataApiVersions(), *api_version));
  if (*api_version == "1.0" || *api_version == "2015-01-01") {
    const std::string& rm = endpoints.resource_manager;
    return Json{{"galleryEndpoint", rm},
                {"graphEndpoint", rm},
                {"portalEndpoint", rm},
                {"authentication",
                 {{"loginEndpoint", endpoints.login_endpoint}, {"audiences", Audiences()}}}};
  }
  if (*api_version == "2022-09-01") return Cloud(endpoints);
  return Json::array({Cloud(endpoints)});
}

}  // namespace cove::arm
