// Fuzzes the DNS wire parser with arbitrary packets. Checks that Parse never crashes, and that
// whatever it accepts survives Serialize → Parse unchanged (exact labels, not just
// case-insensitively equal) and serializes to the same bytes again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "dns/wire.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameLabels(const std::vector<cove::dns::ResourceRecord>& a,
                const std::vector<cove::dns::ResourceRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name.labels() != b[i].name.labels()) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto first = cove::dns::Parse(std::span<const uint8_t>(data, size));
  if (!first) {
    Check(first.error().formerr_possible == (size >= cove::dns::kHeaderSize));
    return 0;
  }
  std::vector<uint8_t> bytes = cove::dns::Serialize(*first, 65535);
  auto second = cove::dns::Parse(bytes);
  Check(second.has_value());
  // RDATA names are written uncompressed, so a packet that compressed them heavily can grow past
  // 64 KiB and be truncated; then only the prefix can be compared.
  if (second->answers.size() != first->answers.size() ||
      second->authority.size() != first->authority.size() ||
      second->additional.size() != first->additional.size()) {
    Check(second->questions == first->questions && second->edns == first->edns);
    return 0;
  }
  Check(*first == *second);
  for (size_t i = 0; i < first->questions.size(); ++i) {
    Check(first->questions[i].name.labels() == second->questions[i].name.labels());
  }
  Check(SameLabels(first->answers, second->answers));
  Check(SameLabels(first->authority, second->authority));
  Check(SameLabels(first->additional, second->additional));
  Check(cove::dns::Serialize(*second, 65535) == bytes);
  return 0;
}
