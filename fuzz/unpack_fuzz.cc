// Fuzzes the layer unpacker with arbitrary bytes (any compression, any tar): applied into
// <tmp>/rootfs beside a sentinel directory <tmp>/outside holding one file, it must never crash
// and never change anything outside the rootfs.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "runtime/unpack.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base = [] {
    std::string dir = "/tmp/cove-unpack-fuzz-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) abort();
    fs::create_directories(dir + "/outside");
    std::ofstream(dir + "/outside/sentinel") << "untouched";
    return dir;
  }();
  std::error_code ec;
  fs::remove_all(base + "/rootfs", ec);
  (void)cove::runtime::ApplyLayerBytes(std::string_view(reinterpret_cast<const char*>(data), size),
                                       base + "/rootfs");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(base)) {
    std::string name = e.path().filename();
    if (name != "rootfs" && name != "outside") abort();
    ++entries;
  }
  if (entries > 2) abort();
  int outside = 0;
  for (const auto& e : fs::directory_iterator(base + "/outside")) {
    if (e.path().filename() != "sentinel") abort();
    ++outside;
  }
  std::ifstream in(base + "/outside/sentinel");
  std::string text;
  in >> text;
  if (outside != 1 || text != "untouched") abort();
  return 0;
}
