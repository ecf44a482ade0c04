// Fuzzes what cove does with a forwarding target's answer (forward.h RelayAnswer) and with the
// query it forwards (ErrorResponse): the input is the upstream answer, judged for two fixed
// queries (with and without EDNS) over UDP and TCP; and the input is also taken as a client query
// for the SERVFAIL response. Checks that nothing crashes, that a relayed answer parses, carries
// the client's ID and fits the client's size, and that only kRelay fills the output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "dns/forward.h"
#include "dns/wire.h"

namespace {

using namespace cove::dns;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::vector<uint8_t> MakeQuery(bool edns) {
  Message m;
  m.header.id = 0x1234;
  m.header.rd = true;
  m.questions.push_back({*Name::FromString("host.corp.example"), kTypeA, kClassIN});
  if (edns) m.edns = Edns{.udp_size = 4096};
  return Serialize(m, 65535);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<uint8_t> queries[2] = {MakeQuery(false), MakeQuery(true)};
  std::span<const uint8_t> answer(data, size);
  // The ID the answer must carry: its own first octets half of the time, so both paths run.
  uint16_t upstream_id =
      size >= 2 && (data[size - 1] & 1) ? static_cast<uint16_t>((data[0] << 8) | data[1]) : 0xBEEF;
  std::vector<uint8_t> out;
  for (const auto& query : queries) {
    for (bool over_tcp : {false, true}) {
      for (bool client_tcp : {false, true}) {
        TransportFacts facts{.tcp = client_tcp};
        UpstreamVerdict v = RelayAnswer(query, answer, upstream_id, over_tcp, facts, out);
        if (v != UpstreamVerdict::kRelay) {
          Check(out.empty());
          Check(!(v == UpstreamVerdict::kTruncated && over_tcp));
          continue;
        }
        auto m = Parse(out);
        Check(m.has_value());
        Check(m->header.id == 0x1234);
        Check(m->header.qr);
        Check(out.size() <= (client_tcp ? 65535u : (&query == &queries[0] ? 512u : 1232u)));
      }
    }
  }
  ProcessResult r = ErrorResponse(answer, kRcodeServFail, {}, out);
  Check(r.respond == (size >= kHeaderSize));
  if (r.respond) {
    auto m = Parse(out);
    Check(m.has_value());
    Check(m->header.rcode == kRcodeServFail && out[0] == data[0] && out[1] == data[1]);
  }
  return 0;
}
