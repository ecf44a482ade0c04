// Fuzzes the small parsers of a pull that read what the network or a caller sends:
// WWW-Authenticate challenges, the stdin credential, image references, URLs and redirect
// Locations, base64 and a JWT's tid, and a registry's error body (ResponseError).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/credentials.h"
#include "runtime/image_ref.h"
#include "runtime/transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto challenges = cove::runtime::ParseWwwAuthenticate(in)) {
    if (challenges->empty()) abort();
    for (const auto& c : *challenges) {
      if (c.scheme.empty()) abort();
    }
  }
  (void)cove::runtime::ParseCredential(in);
  if (auto ref = cove::runtime::ParseImageReference(in)) {
    // What it prints must read back the same.
    auto again = cove::runtime::ParseImageReference(ref->str());
    if (!again || again->str() != ref->str()) abort();
  }
  if (auto url = cove::runtime::ParseUrl(in)) {
    (void)cove::runtime::ResolveLocation(*url, in.substr(in.size() / 2));
  }
  if (auto decoded = cove::runtime::Base64Decode(in)) {
    if (*cove::runtime::Base64Decode(cove::runtime::Base64Encode(*decoded)) != *decoded) abort();
  }
  (void)cove::runtime::TenantOf(in);
  cove::runtime::FetchResponse res{401, "Unauthorized", {}, std::string(in)};
  if (cove::runtime::ResponseError(res).message.empty()) abort();
  return 0;
}
