// Fuzzes what AzureBlobStore reads from the storage account (storage/azure_wire.h): the list
// answers' XML as the store walks them (List Blobs: Blob > Name, Content-Length, Metadata,
// NextMarker; Get Block List: Block > Name, Size) and a saved hash state, whose counters must
// be refused unless they describe the length it claims. The first 8 bytes pick the length.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "storage/azure_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cove::storage::azure;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::string_view blob : XmlElements(input, "Blob")) {
    (void)XmlElement(blob, "Name");
    (void)ParseUint(XmlElement(blob, "Content-Length"));
    (void)XmlElement(blob, "Metadata");
  }
  (void)XmlElement(input, "NextMarker");
  for (std::string_view block : XmlElements(input, "Block")) {
    (void)XmlElement(block, "Name");
    (void)ParseUint(XmlElement(block, "Size"));
  }
  uint64_t length = 0;
  if (size >= 8) {
    std::memcpy(&length, data, 8);
    length %= uint64_t{1} << 40;
    input.remove_prefix(8);
  }
  auto state = DecodeHashState(input, length, "fuzz");
  if (state && state->empty()) __builtin_trap();  // a state is never empty
  return 0;
}
