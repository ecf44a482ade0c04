// Fuzzes the PROXY protocol v2 parser with arbitrary bytes. Checks that ProxyV2HeaderSize and
// ParseProxyV2 never crash and agree with each other, and that whatever is accepted survives
// Serialize → Parse unchanged (apart from the CRC32C TLV, which is recomputed: bytes the header
// carries but the parsed form drops, such as those after a UNIX path's NUL, change it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

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
  cove::http::ProxyHeader expected = *first;
  bool had_crc = std::erase_if(expected.tlvs, [](const cove::http::ProxyTlv& t) {
                   return t.type == cove::http::kPp2TypeCrc32c;
                 }) > 0;
  auto serialized = cove::http::SerializeProxyV2(expected, had_crc);
  Check(serialized.has_value());
  auto second = cove::http::ParseProxyV2(*serialized);
  Check(second.has_value());
  if (had_crc) {
    Check(!second->tlvs.empty() && second->tlvs.back().type == cove::http::kPp2TypeCrc32c);
    second->tlvs.pop_back();
  }
  Check(expected == *second);
  return 0;
}
