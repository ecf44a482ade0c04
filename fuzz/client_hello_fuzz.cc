// Fuzzes the ClientHello server-name reader (privatelink/client_hello.h), which the forwarder
// runs on the first bytes of every connection to a shared address. Checks that it never crashes,
// that a name it returns is lowercase printable ASCII of at most 255 bytes, and that it is
// prefix-consistent: a prefix of an input it answered is either "incomplete" or the same answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "privatelink/client_hello.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto name = cove::privatelink::ClientHelloServerName(bytes);
  if (!name) {
    Check(name.error().code == cove::Code::kUnavailable ||
          name.error().code == cove::Code::kInvalidArgument);
    return 0;
  }
  Check(name->size() <= 255);
  for (char c : *name) Check(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
  auto shorter = cove::privatelink::ClientHelloServerName(bytes.substr(0, size / 2));
  Check(shorter ? *shorter == *name : shorter.error().code == cove::Code::kUnavailable);
  return 0;
}
