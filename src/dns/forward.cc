#include "dns/forward.h"

#include <algorithm>

#include "dns/wire.h"

namespace cove::dns {
namespace {

uint16_t Id(std::span<const uint8_t> p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void SetId(std::vector<uint8_t>& p, uint16_t id) {
  p[0] = static_cast<uint8_t>(id >> 8);
  p[1] = static_cast<uint8_t>(id);
}

// The largest response the client takes: over UDP its EDNS size (at least 512, at most ours).
size_t ClientLimit(const Message& query, const TransportFacts& facts) {
  if (facts.tcp) return 65535;
  return std::max(kClassicUdpSize, std::min<size_t>(MaxResponseSize(query), facts.max_udp_payload));
}

}  // namespace

std::vector<uint8_t> UpstreamQuery(std::span<const uint8_t> query, uint16_t upstream_id) {
  std::vector<uint8_t> out(query.begin(), query.end());
  SetId(out, upstream_id);
  return out;
}

UpstreamVerdict RelayAnswer(std::span<const uint8_t> query, std::span<const uint8_t> answer,
                            uint16_t upstream_id, bool over_tcp, const TransportFacts& facts,
                            std::vector<uint8_t>& out) {
  out.clear();
  if (answer.size() < 2 || Id(answer) != upstream_id) return UpstreamVerdict::kIgnore;
  auto q = Parse(query);
  auto a = Parse(answer);
  if (!q || q->questions.size() != 1 || !a) return UpstreamVerdict::kBad;
  const Header& h = a->header;
  if (!h.qr || h.opcode != 0 || a->questions.size() != 1 ||
      !(a->questions.front() == q->questions.front())) {
    return UpstreamVerdict::kBad;
  }
  if (h.tc && !over_tcp) return UpstreamVerdict::kTruncated;
  size_t limit = ClientLimit(*q, facts);
  if (answer.size() <= limit) {
    out.assign(answer.begin(), answer.end());
    SetId(out, q->header.id);
  } else {
    a->header.id = q->header.id;
    out = Serialize(*a, limit);
  }
  return UpstreamVerdict::kRelay;
}

ProcessResult ErrorResponse(std::span<const uint8_t> query, uint8_t rcode,
                            const TransportFacts& facts, std::vector<uint8_t>& out) {
  out.clear();
  if (query.size() < kHeaderSize) return {};
  Message m;
  auto q = Parse(query);
  if (q) {
    m.header = q->header;
    if (!q->questions.empty()) m.questions.push_back(q->questions.front());
    if (q->edns) m.edns = Edns{.udp_size = facts.max_udp_payload};
  } else {
    m.header.id = Id(query);
    m.header.opcode = static_cast<uint8_t>((query[2] >> 3) & 0xF);
    m.header.rd = query[2] & 0x01;
    m.header.cd = query[3] & 0x10;
    if (q.error().question) m.questions.push_back(*q.error().question);
  }
  m.header.qr = true;
  m.header.aa = false;
  m.header.tc = false;
  m.header.ra = true;
  m.header.z = false;
  m.header.ad = false;
  m.header.rcode = rcode;
  out = Serialize(m, 65535);
  return {.respond = true, .rcode = rcode, .truncated = false};
}

}  // namespace cove::dns
