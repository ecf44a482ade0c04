#include "dns/query.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace cove::dns {
namespace {

constexpr uint16_t kTypeIXFR = 251;
constexpr uint16_t kTypeAXFR = 252;
constexpr uint16_t kTypeMAILB = 253;
constexpr uint16_t kTypeMAILA = 254;
constexpr uint16_t kTypeANY = 255;
constexpr int kMaxChain = 8;
constexpr size_t kOptSize = 11;  // root owner, TYPE, CLASS, TTL, RDLENGTH 0

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

uint16_t Get16(std::span<const uint8_t> p, size_t at) {
  return static_cast<uint16_t>((p[at] << 8) | p[at + 1]);
}

// The parts of a query that processing needs, decoded without allocation.
struct Query {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool rd = false;
  bool cd = false;
  bool has_question = false;
  char qname_wire[kMaxNameOctets];   // as the client wrote it, uncompressed
  char qname_lower[kMaxNameOctets];  // lowercased
  size_t qname_size = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool has_edns = false;
  uint16_t udp_size = 0;
  uint8_t edns_version = 0;
  bool do_bit = false;

  std::string_view lower() const { return {qname_lower, qname_size}; }
  std::string_view wire() const { return {qname_wire, qname_size}; }

  void SetName(std::string_view wire_name) {
    qname_size = wire_name.size();
    std::memcpy(qname_wire, wire_name.data(), qname_size);
    for (size_t i = 0; i < qname_size; ++i) qname_lower[i] = LowerAscii(qname_wire[i]);
  }
};

enum class Decoded { kOk, kDrop, kFormErr, kNotImp, kSlowPath };

// Reads an uncompressed question name at `pos`; returns false if it is compressed, uses another
// label type, is over 255 octets or runs past the packet.
bool ReadPlainName(std::span<const uint8_t> p, size_t& pos, Query& q) {
  size_t start = pos;
  for (;;) {
    if (pos >= p.size()) return false;
    uint8_t len = p[pos];
    if (len == 0) {
      ++pos;
      break;
    }
    if (len > kMaxLabelOctets) return false;
    pos += 1 + len;
    if (pos - start + 1 > kMaxNameOctets) return false;
  }
  q.SetName({reinterpret_cast<const char*>(p.data() + start), pos - start});
  return true;
}

// The fast decoder: one question with a plain name and at most an OPT record. Anything else
// is left to the full parser (kSlowPath).
Decoded DecodeFast(std::span<const uint8_t> p, Query& q) {
  if (p.size() < kHeaderSize) return Decoded::kDrop;
  q.id = Get16(p, 0);
  uint16_t flags = Get16(p, 2);
  if (flags & 0x8000) return Decoded::kDrop;  // a response: never answer it
  q.opcode = static_cast<uint8_t>((flags >> 11) & 0xF);
  q.rd = flags & 0x0100;
  q.cd = flags & 0x0010;
  uint16_t qd = Get16(p, 4), an = Get16(p, 6), ns = Get16(p, 8), ar = Get16(p, 10);
  size_t pos = kHeaderSize;
  if (qd >= 1 && ReadPlainName(p, pos, q) && pos + 4 <= p.size()) {
    q.qtype = Get16(p, pos);
    q.qclass = Get16(p, pos + 2);
    pos += 4;
    q.has_question = true;
  }
  if (q.opcode != 0) return Decoded::kNotImp;
  if (qd != 1 || an != 0 || ns != 0) return Decoded::kFormErr;
  if (!q.has_question) return Decoded::kSlowPath;
  if (ar == 0) return pos == p.size() ? Decoded::kOk : Decoded::kFormErr;
  if (ar != 1 || pos + kOptSize > p.size() || p[pos] != 0 || Get16(p, pos + 1) != kTypeOPT) {
    return Decoded::kSlowPath;
  }
  q.has_edns = true;
  q.udp_size = Get16(p, pos + 3);
  q.edns_version = p[pos + 6];
  q.do_bit = p[pos + 7] & 0x80;
  size_t rdlength = Get16(p, pos + 9);
  pos += kOptSize;
  if (p.size() - pos != rdlength) return Decoded::kFormErr;
  while (pos < p.size()) {  // options: CODE(16) LENGTH(16) DATA
    if (p.size() - pos < 4) return Decoded::kFormErr;
    size_t len = Get16(p, pos + 2);
    pos += 4;
    if (p.size() - pos < len) return Decoded::kFormErr;
    pos += len;
  }
  return Decoded::kOk;
}

// The full parser, for queries the fast decoder does not take (compressed question names,
// other additional records): fills `q` or says why not.
Decoded DecodeSlow(std::span<const uint8_t> p, Query& q) {
  auto parsed = Parse(p);
  if (!parsed) {
    const ParseError& e = parsed.error();
    if (!e.formerr_possible) return Decoded::kDrop;
    q.has_question = e.question.has_value();
    if (e.question) {
      q.SetName(ToWireName(e.question->name).wire);
      q.qtype = e.question->type;
      q.qclass = e.question->klass;
    }
    return Decoded::kFormErr;
  }
  const Message& m = *parsed;
  const Question& question = m.questions.front();  // the fast decoder checked QDCOUNT
  q.SetName(ToWireName(question.name).wire);
  q.qtype = question.type;
  q.qclass = question.klass;
  q.has_question = true;
  if (m.edns) {
    q.has_edns = true;
    q.udp_size = m.edns->udp_size;
    q.edns_version = m.edns->version;
    q.do_bit = m.edns->do_bit;
  }
  return Decoded::kOk;
}

// Writes a response with name compression against the names already written. Keys in the
// compression table are string_views into the query or the catalog, which outlive the writer.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  void U16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void Set16(size_t at, uint16_t v) {
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  void Bytes(std::string_view b) { out_.insert(out_.end(), b.begin(), b.end()); }

  // Writes a name given as lowercase and original-case uncompressed wire forms.
  void Name(std::string_view lower, std::string_view wire) {
    size_t pos = 0;
    while (lower[pos] != 0) {
      std::string_view suffix = lower.substr(pos);
      for (size_t i = 0; i < entries_; ++i) {
        if (table_[i].key == suffix) {
          U16(static_cast<uint16_t>(0xC000 | table_[i].offset));
          return;
        }
      }
      if (entries_ < kTableSize && out_.size() < 0x4000) {
        table_[entries_++] = {suffix, static_cast<uint16_t>(out_.size())};
      }
      size_t len = 1 + static_cast<uint8_t>(lower[pos]);
      Bytes(wire.substr(pos, len));
      pos += len;
    }
    out_.push_back(0);
  }

  struct Mark {
    size_t size;
    size_t entries;
  };
  Mark mark() const { return {out_.size(), entries_}; }
  void Rollback(Mark m) {
    out_.resize(m.size);
    entries_ = m.entries;
  }

 private:
  static constexpr size_t kTableSize = 48;
  struct Entry {
    std::string_view key;
    uint16_t offset;
  };
  std::vector<uint8_t>& out_;
  Entry table_[kTableSize];
  size_t entries_ = 0;
};

// One RRset of the response: the records of `rrset` at an owner, or a CNAME, or a zone's SOA.
struct Item {
  std::string_view owner_lower;
  std::string_view owner_wire;
  const RRset* rrset = nullptr;
  const Node* cname = nullptr;
  const std::string* soa_tail = nullptr;
};

void WriteItem(Writer& w, const Item& item) {
  if (item.rrset) {
    item.rrset->ForEach([&](std::string_view tail) {
      w.Name(item.owner_lower, item.owner_wire);
      w.Bytes(tail);
    });
  } else if (item.cname) {
    w.Name(item.owner_lower, item.owner_wire);
    w.U16(kTypeCNAME);
    w.U16(kClassIN);
    w.U16(static_cast<uint16_t>(item.cname->cname_ttl >> 16));
    w.U16(static_cast<uint16_t>(item.cname->cname_ttl));
    size_t rdlength_at = w.size();
    w.U16(0);
    w.Name(item.cname->cname_target.lower, item.cname->cname_target.wire);
    w.Set16(rdlength_at, static_cast<uint16_t>(w.size() - rdlength_at - 2));
  } else {
    w.Name(item.owner_lower, item.owner_wire);
    w.Bytes(*item.soa_tail);
  }
}

struct Answer {
  uint16_t rcode = kRcodeNoError;
  Item answers[kMaxChain + 1];
  size_t answer_count = 0;
  Item authority;
  bool has_authority = false;
};

void Negative(Answer& a, uint16_t rcode, const Zone& zone) {
  a.rcode = rcode;
  a.authority = {zone.apex.lower, zone.apex.wire, nullptr, nullptr, &zone.soa_tail};
  a.has_authority = true;
}

void Resolve(const Catalog& catalog, const View& view, const Query& q, Answer& a) {
  std::string_view lower = q.lower();
  std::string_view wire = q.wire();
  for (int chain = 0;; ++chain) {
    const ZoneRef* zone_ref = view.FindZone(lower);
    const Zone* zone = zone_ref ? zone_ref->zone : nullptr;
    const Node* node = zone ? zone->Find(lower) : nullptr;
    if (zone && !node && zone->is_private &&
        zone_ref->policy == ResolutionPolicy::kNxDomainRedirect) {
      zone_ref = catalog.public_view().FindZone(lower);
      zone = zone_ref ? zone_ref->zone : nullptr;
      node = zone ? zone->Find(lower) : nullptr;
    }
    if (!zone) {
      // Outside every zone cove knows: refuse the question; a CNAME target out there ends the
      // chain, since nothing more can be known about it.
      if (chain == 0) a.rcode = kRcodeRefused;
      return;
    }
    if (!node) return Negative(a, kRcodeNxDomain, *zone);
    if (node->has_cname) {
      a.answers[a.answer_count++] = {lower, wire, nullptr, node, nullptr};
      if (q.qtype == kTypeCNAME || q.qtype == kTypeANY) return;
      if (chain + 1 >= kMaxChain) {
        a.answer_count = 0;
        a.rcode = kRcodeServFail;
        return;
      }
      lower = node->cname_target.lower;
      wire = node->cname_target.wire;
      continue;
    }
    const RRset* rrset = nullptr;
    if (q.qtype == kTypeANY) {
      if (!node->rrsets.empty()) rrset = &node->rrsets.front();
    } else {
      for (const RRset& s : node->rrsets) {
        if (s.type == q.qtype) rrset = &s;
      }
    }
    if (!rrset) return Negative(a, kRcodeNoError, *zone);
    a.answers[a.answer_count++] = {lower, wire, rrset, nullptr, nullptr};
    return;
  }
}

// Writes the header and the question (if any); counts are patched by Finish.
void Begin(Writer& w, const Query& q, uint16_t rcode, bool tc) {
  w.U16(q.id);
  uint16_t flags =
      static_cast<uint16_t>(0x8000 | (q.opcode << 11) | (tc ? 0x0200 : 0) | (q.rd ? 0x0100 : 0) |
                            0x0080 | (q.cd ? 0x0010 : 0) | (rcode & 0xF));
  w.U16(flags);
  w.U16(q.has_question ? 1 : 0);
  for (int i = 0; i < 3; ++i) w.U16(0);
  if (q.has_question) {
    w.Name(q.lower(), q.wire());
    w.U16(q.qtype);
    w.U16(q.qclass);
  }
}

void WriteOpt(Writer& w, uint16_t rcode, const Query& q, const TransportFacts& facts) {
  w.U16(0);  // root owner (1 octet) and the high octet of TYPE
  w.Bytes(std::string_view("\x29", 1));
  w.U16(facts.max_udp_payload);
  w.U16(static_cast<uint16_t>(((rcode >> 4) & 0xFF) << 8));  // EXTENDED-RCODE, VERSION 0
  w.U16(q.do_bit ? 0x8000 : 0);
  w.U16(0);
}

// A response with no records besides OPT (errors).
ProcessResult Bare(const Query& q, uint16_t rcode, bool with_opt, const TransportFacts& facts,
                   std::vector<uint8_t>& out) {
  Writer w(out);
  Begin(w, q, rcode, false);
  if (with_opt) {
    WriteOpt(w, rcode, q, facts);
    w.Set16(10, 1);
  }
  return {true, rcode, false};
}

}  // namespace

ProcessResult Process(std::span<const uint8_t> packet, const Catalog& catalog, const View& view,
                      const TransportFacts& facts, std::vector<uint8_t>& out) {
  out.clear();
  Query q;
  Decoded d = DecodeFast(packet, q);
  if (d == Decoded::kSlowPath) {
    q = Query();
    d = DecodeSlow(packet, q);
    q.id = Get16(packet, 0);
    q.rd = packet[2] & 0x01;
    q.cd = packet[3] & 0x10;
  }
  switch (d) {
    case Decoded::kDrop:
      return {};
    case Decoded::kFormErr:
      return Bare(q, kRcodeFormErr, false, facts, out);
    case Decoded::kNotImp:
      return Bare(q, kRcodeNotImp, false, facts, out);
    case Decoded::kSlowPath:
    case Decoded::kOk:
      break;
  }
  if (q.has_edns && q.edns_version > 0) return Bare(q, kRcodeBadVers, true, facts, out);
  if (q.qtype == 0 || q.qtype == kTypeOPT) return Bare(q, kRcodeFormErr, q.has_edns, facts, out);
  if (q.qclass != kClassIN || q.qtype == kTypeAXFR || q.qtype == kTypeIXFR) {
    return Bare(q, kRcodeRefused, q.has_edns, facts, out);
  }
  if (q.qtype == kTypeMAILA || q.qtype == kTypeMAILB) {
    return Bare(q, kRcodeNotImp, q.has_edns, facts, out);
  }

  if (const ForwardRule* rule = view.FindRule(q.lower(), catalog.public_view())) {
    return {.respond = false, .rcode = 0, .truncated = false, .forward = rule};
  }

  Answer a;
  Resolve(catalog, view, q, a);

  size_t max_size = 65535;
  if (!facts.tcp) {
    size_t client = q.has_edns ? q.udp_size : kClassicUdpSize;
    max_size = std::max(kClassicUdpSize, std::min<size_t>(client, facts.max_udp_payload));
  }
  size_t limit = max_size - (q.has_edns ? kOptSize : 0);

  out.reserve(512);
  Writer w(out);
  Begin(w, q, a.rcode, false);
  uint16_t counts[2] = {0, 0};
  bool truncated = false;
  auto put = [&](const Item& item, int section) {
    if (truncated) return;
    Writer::Mark m = w.mark();
    WriteItem(w, item);
    if (w.size() > limit) {
      w.Rollback(m);
      truncated = true;
      return;
    }
    counts[section] = static_cast<uint16_t>(counts[section] + (item.rrset ? item.rrset->count : 1));
  };
  for (size_t i = 0; i < a.answer_count; ++i) put(a.answers[i], 0);
  if (a.has_authority) put(a.authority, 1);
  if (q.has_edns) WriteOpt(w, a.rcode, q, facts);
  w.Set16(6, counts[0]);
  w.Set16(8, counts[1]);
  w.Set16(10, q.has_edns ? 1 : 0);
  if (truncated) out[2] |= 0x02;
  return {true, a.rcode, truncated};
}

}  // namespace cove::dns
