// Fuzzes the PROXY protocol v2 parser with arbitrary bytes. Checks that ProxyV2HeaderSize and
// ParseProxyV2 never crash and agree with each other, and that whatever is accepted survives
// Serialize → Parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/proxy_protocol.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto header_size = cove::http::ProxyV2HeaderSize(bytes);
  auto first = cove::http::ParseProxyV2(bytes);
  if (!first) return 0;
  Check(header_size.has_value() && *header_size == size);
  Check(size <= cove::http::kProxyV2MaxSize);
  auto serialized = cove::http::SerializeProxyV2(*first);
  Check(serialized.has_value());
  auto second = cove::http::ParseProxyV2(*serialized);
  Check(second.has_value());
  Check(*first == *second);
  return 0;
}
