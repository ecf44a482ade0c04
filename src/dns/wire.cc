#include "dns/wire.h"

#include <algorithm>
#include <map>
#include <utility>

namespace cove::dns {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool LabelEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void Put32(std::vector<uint8_t>& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v));
}

void PutNameUncompressed(std::vector<uint8_t>& out, const Name& name) {
  for (const std::string& label : name.labels()) {
    out.push_back(static_cast<uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
  }
  out.push_back(0);
}

// Reads big-endian integers and names from a packet with bounds checks.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

  Result<uint8_t> U8() {
    if (remaining() < 1) return Fail(Code::kInvalidArgument, "truncated");
    return data_[pos_++];
  }
  Result<uint16_t> U16() {
    if (remaining() < 2) return Fail(Code::kInvalidArgument, "truncated");
    uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  Result<uint32_t> U32() {
    COVE_ASSIGN_OR_RETURN(uint16_t hi, U16());
    COVE_ASSIGN_OR_RETURN(uint16_t lo, U16());
    return (static_cast<uint32_t>(hi) << 16) | lo;
  }
  Result<std::vector<uint8_t>> Bytes(size_t n) {
    if (remaining() < n) return Fail(Code::kInvalidArgument, "truncated");
    std::vector<uint8_t> v(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
                           data_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return v;
  }

  // Reads a name at the current position; advances past it (up to and including the first
  // pointer). If !allow_compression, a pointer is an error.
  Result<Name> ReadName(bool allow_compression) {
    std::vector<std::string> labels;
    size_t wire = 1;  // the terminating root octet
    size_t p = pos_;
    size_t segment_start = pos_;
    bool jumped = false;
    for (;;) {
      if (p >= data_.size()) return Fail(Code::kInvalidArgument, "truncated name");
      uint8_t len = data_[p];
      if ((len & 0xC0) == 0xC0) {
        if (!allow_compression) return Fail(Code::kInvalidArgument, "compression not allowed");
        if (p + 1 >= data_.size()) return Fail(Code::kInvalidArgument, "truncated pointer");
        size_t target = (static_cast<size_t>(len & 0x3F) << 8) | data_[p + 1];
        if (target >= segment_start) {
          return Fail(Code::kInvalidArgument, "compression pointer not strictly backwards");
        }
        if (!jumped) pos_ = p + 2;
        jumped = true;
        p = target;
        segment_start = target;
        continue;
      }
      if ((len & 0xC0) != 0) return Fail(Code::kInvalidArgument, "unsupported label type");
      if (len == 0) {
        if (!jumped) pos_ = p + 1;
        break;
      }
      if (p + 1 + len > data_.size()) return Fail(Code::kInvalidArgument, "truncated label");
      wire += 1 + len;
      if (wire > kMaxNameOctets) return Fail(Code::kInvalidArgument, "name over 255 octets");
      labels.emplace_back(reinterpret_cast<const char*>(data_.data() + p + 1), len);
      p += 1 + len;
    }
    return Name::FromLabels(std::move(labels));
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Reads RDATA of `type` and `rdlength` octets, decompressing embedded names of the RFC 1035
// types; returns it uncompressed.
Result<std::vector<uint8_t>> ReadRdata(Reader& r, uint16_t type, uint16_t klass,
                                       uint16_t rdlength) {
  if (r.remaining() < rdlength) return Fail(Code::kInvalidArgument, "truncated RDATA");
  size_t end = r.pos() + rdlength;
  std::vector<uint8_t> out;
  switch (type) {
    case kTypeNS:
    case kTypeCNAME:
    case kTypePTR: {
      COVE_ASSIGN_OR_RETURN(Name n, r.ReadName(true));
      PutNameUncompressed(out, n);
      break;
    }
    case kTypeMX: {
      COVE_ASSIGN_OR_RETURN(uint16_t pref, r.U16());
      COVE_ASSIGN_OR_RETURN(Name n, r.ReadName(true));
      Put16(out, pref);
      PutNameUncompressed(out, n);
      break;
    }
    case kTypeSOA: {
      COVE_ASSIGN_OR_RETURN(Name m, r.ReadName(true));
      COVE_ASSIGN_OR_RETURN(Name rn, r.ReadName(true));
      PutNameUncompressed(out, m);
      PutNameUncompressed(out, rn);
      if (r.pos() > end) return Fail(Code::kInvalidArgument, "RDATA overruns RDLENGTH");
      COVE_ASSIGN_OR_RETURN(std::vector<uint8_t> rest, r.Bytes(20));
      out.insert(out.end(), rest.begin(), rest.end());
      break;
    }
    default: {
      if (klass == kClassIN && type == kTypeA && rdlength != 4) {
        return Fail(Code::kInvalidArgument, "A RDATA is not 4 octets");
      }
      if (klass == kClassIN && type == kTypeAAAA && rdlength != 16) {
        return Fail(Code::kInvalidArgument, "AAAA RDATA is not 16 octets");
      }
      return r.Bytes(rdlength);
    }
  }
  if (r.pos() != end) return Fail(Code::kInvalidArgument, "RDATA does not match RDLENGTH");
  return out;
}

Result<Question> ReadQuestion(Reader& r) {
  Question q;
  COVE_ASSIGN_OR_RETURN(q.name, r.ReadName(true));
  COVE_ASSIGN_OR_RETURN(q.type, r.U16());
  COVE_ASSIGN_OR_RETURN(q.klass, r.U16());
  return q;
}

Result<Edns> ParseOpt(const ResourceRecord& rr) {
  if (!rr.name.IsRoot()) return Fail(Code::kInvalidArgument, "OPT owner is not the root");
  Edns e;
  e.udp_size = rr.klass;
  e.extended_rcode = static_cast<uint8_t>(rr.ttl >> 24);
  e.version = static_cast<uint8_t>(rr.ttl >> 16);
  e.do_bit = (rr.ttl & 0x8000) != 0;
  Reader r(rr.rdata);
  while (r.remaining() > 0) {
    EdnsOption opt;
    COVE_ASSIGN_OR_RETURN(opt.code, r.U16());
    COVE_ASSIGN_OR_RETURN(uint16_t len, r.U16());
    COVE_ASSIGN_OR_RETURN(opt.data, r.Bytes(len));
    e.options.push_back(std::move(opt));
  }
  return e;
}

Result<ResourceRecord> ReadRecord(Reader& r) {
  ResourceRecord rr;
  COVE_ASSIGN_OR_RETURN(rr.name, r.ReadName(true));
  COVE_ASSIGN_OR_RETURN(rr.type, r.U16());
  COVE_ASSIGN_OR_RETURN(rr.klass, r.U16());
  COVE_ASSIGN_OR_RETURN(rr.ttl, r.U32());
  COVE_ASSIGN_OR_RETURN(uint16_t rdlength, r.U16());
  COVE_ASSIGN_OR_RETURN(rr.rdata, ReadRdata(r, rr.type, rr.klass, rdlength));
  return rr;
}

// Writes names with compression; remembers where each written suffix starts (as spelled).
class Writer {
 public:
  std::vector<uint8_t> out;

  void PutName(const Name& name) {
    const auto& labels = name.labels();
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string key = SuffixKey(labels, i);
      auto it = table_.find(key);
      if (it != table_.end()) {
        Put16(out, static_cast<uint16_t>(0xC000 | it->second));
        return;
      }
      if (out.size() < 0x4000) table_.emplace(std::move(key), static_cast<uint16_t>(out.size()));
      out.push_back(static_cast<uint8_t>(labels[i].size()));
      out.insert(out.end(), labels[i].begin(), labels[i].end());
    }
    out.push_back(0);
  }

  // Undoes everything written at or after `size`.
  void Rollback(size_t size) {
    out.resize(size);
    std::erase_if(table_, [size](const auto& kv) { return kv.second >= size; });
  }

 private:
  static std::string SuffixKey(const std::vector<std::string>& labels, size_t from) {
    std::string key;
    for (size_t i = from; i < labels.size(); ++i) {
      key.push_back(static_cast<char>(labels[i].size()));
      // Case-sensitive: a pointer to "myreG" written for "myreg" would change the name's case,
      // which DNS preserves (RFC 4343 section 4); only identical spellings share a suffix.
      key.append(labels[i]);
    }
    return key;
  }

  std::map<std::string, uint16_t> table_;
};

void PutRecord(Writer& w, const ResourceRecord& rr) {
  w.PutName(rr.name);
  Put16(w.out, rr.type);
  Put16(w.out, rr.klass);
  Put32(w.out, rr.ttl);
  Put16(w.out, static_cast<uint16_t>(rr.rdata.size()));
  w.out.insert(w.out.end(), rr.rdata.begin(), rr.rdata.end());
}

std::vector<uint8_t> OptRecord(const Edns& e) {
  std::vector<uint8_t> out;
  out.push_back(0);
  Put16(out, kTypeOPT);
  Put16(out, e.udp_size);
  Put32(out, (static_cast<uint32_t>(e.extended_rcode) << 24) |
                 (static_cast<uint32_t>(e.version) << 16) | (e.do_bit ? 0x8000u : 0u));
  std::vector<uint8_t> rdata;
  for (const EdnsOption& o : e.options) {
    Put16(rdata, o.code);
    Put16(rdata, static_cast<uint16_t>(o.data.size()));
    rdata.insert(rdata.end(), o.data.begin(), o.data.end());
  }
  Put16(out, static_cast<uint16_t>(rdata.size()));
  out.insert(out.end(), rdata.begin(), rdata.end());
  return out;
}

bool SameRrset(const ResourceRecord& a, const ResourceRecord& b) {
  return a.type == b.type && a.klass == b.klass && a.name == b.name;
}

Result<Name> RdataName(const ResourceRecord& rr, uint16_t type) {
  if (rr.type != type) return Fail(Code::kInvalidArgument, "wrong record type");
  Reader r(rr.rdata);
  COVE_ASSIGN_OR_RETURN(Name n, r.ReadName(false));
  if (r.remaining() != 0) return Fail(Code::kInvalidArgument, "trailing RDATA");
  return n;
}

}  // namespace

// ---- Name ----

Result<Name> Name::FromLabels(std::vector<std::string> labels) {
  size_t wire = 1;
  for (const std::string& l : labels) {
    if (l.empty()) return Fail(Code::kInvalidArgument, "empty label");
    if (l.size() > kMaxLabelOctets) return Fail(Code::kInvalidArgument, "label over 63 octets");
    wire += 1 + l.size();
  }
  if (wire > kMaxNameOctets) return Fail(Code::kInvalidArgument, "name over 255 octets");
  return Name(std::move(labels));
}

Result<Name> Name::FromString(std::string_view text) {
  if (text == ".") return Name();
  if (text.empty()) return Fail(Code::kInvalidArgument, "empty name");
  std::vector<std::string> labels;
  std::string label;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return Fail(Code::kInvalidArgument, "dangling escape");
      char n = text[i + 1];
      if (n >= '0' && n <= '9') {
        if (i + 3 >= text.size()) {
          return Fail(Code::kInvalidArgument, "short \\DDD escape");
        }
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char d = text[i + k];
          if (d < '0' || d > '9') return Fail(Code::kInvalidArgument, "bad \\DDD escape");
          v = v * 10 + (d - '0');
        }
        if (v > 255) return Fail(Code::kInvalidArgument, "\\DDD escape over 255");
        label.push_back(static_cast<char>(v));
        i += 3;
      } else {
        label.push_back(n);
        i += 1;
      }
    } else if (c == '.') {
      if (label.empty()) return Fail(Code::kInvalidArgument, "empty label");
      labels.push_back(std::move(label));
      label.clear();
    } else {
      label.push_back(c);
    }
  }
  if (!label.empty()) labels.push_back(std::move(label));
  return FromLabels(std::move(labels));
}

size_t Name::WireSize() const {
  size_t n = 1;
  for (const std::string& l : labels_) n += 1 + l.size();
  return n;
}

std::string Name::ToString() const {
  if (labels_.empty()) return ".";
  std::string out;
  for (const std::string& l : labels_) {
    for (char ch : l) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '.' || c == '\\' || c == '"') {
        out.push_back('\\');
        out.push_back(ch);
      } else if (c <= 0x20 || c >= 0x7F) {
        out.push_back('\\');
        out.push_back(static_cast<char>('0' + c / 100));
        out.push_back(static_cast<char>('0' + (c / 10) % 10));
        out.push_back(static_cast<char>('0' + c % 10));
      } else {
        out.push_back(ch);
      }
    }
    out.push_back('.');
  }
  return out;
}

Name Name::Lowercase() const {
  std::vector<std::string> labels = labels_;
  for (std::string& l : labels) {
    for (char& c : l) c = LowerAscii(c);
  }
  return Name(std::move(labels));
}

bool operator==(const Name& a, const Name& b) {
  if (a.labels_.size() != b.labels_.size()) return false;
  for (size_t i = 0; i < a.labels_.size(); ++i) {
    if (!LabelEqual(a.labels_[i], b.labels_[i])) return false;
  }
  return true;
}

// ---- ResourceRecord helpers ----

ResourceRecord ResourceRecord::A(Name name, uint32_t ttl, std::array<uint8_t, 4> address) {
  return {std::move(name), kTypeA, kClassIN, ttl, {address.begin(), address.end()}};
}

ResourceRecord ResourceRecord::AAAA(Name name, uint32_t ttl, std::array<uint8_t, 16> address) {
  return {std::move(name), kTypeAAAA, kClassIN, ttl, {address.begin(), address.end()}};
}

ResourceRecord ResourceRecord::Cname(Name name, uint32_t ttl, const Name& target) {
  ResourceRecord rr{std::move(name), kTypeCNAME, kClassIN, ttl, {}};
  PutNameUncompressed(rr.rdata, target);
  return rr;
}

ResourceRecord ResourceRecord::Ns(Name name, uint32_t ttl, const Name& host) {
  ResourceRecord rr{std::move(name), kTypeNS, kClassIN, ttl, {}};
  PutNameUncompressed(rr.rdata, host);
  return rr;
}

ResourceRecord ResourceRecord::Soa(Name name, uint32_t ttl, const SoaData& soa) {
  ResourceRecord rr{std::move(name), kTypeSOA, kClassIN, ttl, {}};
  PutNameUncompressed(rr.rdata, soa.mname);
  PutNameUncompressed(rr.rdata, soa.rname);
  for (uint32_t v : {soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum}) {
    Put32(rr.rdata, v);
  }
  return rr;
}

Result<std::array<uint8_t, 4>> ResourceRecord::AsA() const {
  if (type != kTypeA || rdata.size() != 4) return Fail(Code::kInvalidArgument, "not an A record");
  std::array<uint8_t, 4> a;
  std::copy(rdata.begin(), rdata.end(), a.begin());
  return a;
}

Result<std::array<uint8_t, 16>> ResourceRecord::AsAAAA() const {
  if (type != kTypeAAAA || rdata.size() != 16) {
    return Fail(Code::kInvalidArgument, "not an AAAA record");
  }
  std::array<uint8_t, 16> a;
  std::copy(rdata.begin(), rdata.end(), a.begin());
  return a;
}

Result<Name> ResourceRecord::AsCname() const { return RdataName(*this, kTypeCNAME); }
Result<Name> ResourceRecord::AsNs() const { return RdataName(*this, kTypeNS); }

Result<SoaData> ResourceRecord::AsSoa() const {
  if (type != kTypeSOA) return Fail(Code::kInvalidArgument, "not an SOA record");
  Reader r(rdata);
  SoaData soa;
  COVE_ASSIGN_OR_RETURN(soa.mname, r.ReadName(false));
  COVE_ASSIGN_OR_RETURN(soa.rname, r.ReadName(false));
  COVE_ASSIGN_OR_RETURN(soa.serial, r.U32());
  COVE_ASSIGN_OR_RETURN(soa.refresh, r.U32());
  COVE_ASSIGN_OR_RETURN(soa.retry, r.U32());
  COVE_ASSIGN_OR_RETURN(soa.expire, r.U32());
  COVE_ASSIGN_OR_RETURN(soa.minimum, r.U32());
  if (r.remaining() != 0) return Fail(Code::kInvalidArgument, "trailing SOA RDATA");
  return soa;
}

// ---- Parse ----

ParseResult Parse(std::span<const uint8_t> packet) {
  ParseError err;
  if (packet.size() < kHeaderSize) {
    err.message = "packet shorter than the DNS header";
    return tl::unexpected(std::move(err));
  }
  Reader r(packet);
  Message m;
  uint16_t counts[4];
  uint16_t flags = 0;
  // The header fits, so none of these reads can fail.
  m.header.id = *r.U16();
  flags = *r.U16();
  for (uint16_t& c : counts) c = *r.U16();
  err.formerr_possible = true;
  err.id = m.header.id;
  Header& h = m.header;
  h.qr = flags & 0x8000;
  h.opcode = static_cast<uint8_t>((flags >> 11) & 0xF);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.z = flags & 0x0040;
  h.ad = flags & 0x0020;
  h.cd = flags & 0x0010;
  h.rcode = static_cast<uint8_t>(flags & 0xF);

  auto fail = [&err](std::string message) {
    err.message = std::move(message);
    return tl::unexpected(std::move(err));
  };

  // Each question takes at least 5 octets and each record at least 11.
  size_t min_size = size_t{counts[0]} * 5 + (size_t{counts[1]} + counts[2] + counts[3]) * 11;
  if (min_size > r.remaining()) return fail("section counts exceed the packet");

  for (uint16_t i = 0; i < counts[0]; ++i) {
    auto q = ReadQuestion(r);
    if (!q) return fail("question: " + q.error().message);
    if (i == 0) err.question = *q;
    m.questions.push_back(std::move(*q));
  }
  std::vector<ResourceRecord>* sections[3] = {&m.answers, &m.authority, &m.additional};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s + 1]; ++i) {
      auto rr = ReadRecord(r);
      if (!rr) return fail("record: " + rr.error().message);
      if (rr->type == kTypeOPT) {
        if (s != 2) return fail("OPT record outside the additional section");
        if (m.edns) return fail("more than one OPT record");
        auto e = ParseOpt(*rr);
        if (!e) return fail("OPT: " + e.error().message);
        m.edns = std::move(*e);
        continue;
      }
      sections[s]->push_back(std::move(*rr));
    }
  }
  if (r.remaining() != 0) return fail("trailing octets after the last record");
  return m;
}

// ---- Serialize ----

std::vector<uint8_t> Serialize(const Message& message, size_t max_size) {
  Writer w;
  const Header& h = message.header;
  Put16(w.out, h.id);
  uint16_t flags = static_cast<uint16_t>(
      (h.qr ? 0x8000 : 0) | ((h.opcode & 0xF) << 11) | (h.aa ? 0x0400 : 0) |
      (h.tc ? 0x0200 : 0) | (h.rd ? 0x0100 : 0) | (h.ra ? 0x0080 : 0) | (h.z ? 0x0040 : 0) |
      (h.ad ? 0x0020 : 0) | (h.cd ? 0x0010 : 0) | (h.rcode & 0xF));
  Put16(w.out, flags);
  for (int i = 0; i < 4; ++i) Put16(w.out, 0);  // counts, filled in below
  for (const Question& q : message.questions) {
    w.PutName(q.name);
    Put16(w.out, q.type);
    Put16(w.out, q.klass);
  }
  std::vector<uint8_t> opt;
  if (message.edns) opt = OptRecord(*message.edns);
  size_t limit = max_size > opt.size() ? max_size - opt.size() : 0;

  const std::vector<ResourceRecord>* sections[3] = {&message.answers, &message.authority,
                                                    &message.additional};
  uint16_t written[3] = {0, 0, 0};
  bool dropped = false;
  bool truncated = false;
  for (int s = 0; s < 3 && !dropped; ++s) {
    const auto& records = *sections[s];
    size_t i = 0;
    while (i < records.size()) {
      size_t j = i + 1;
      while (j < records.size() && SameRrset(records[i], records[j])) ++j;
      size_t mark = w.out.size();
      for (size_t k = i; k < j; ++k) PutRecord(w, records[k]);
      if (w.out.size() > limit) {
        w.Rollback(mark);
        dropped = true;
        truncated = s < 2;
        break;
      }
      written[s] = static_cast<uint16_t>(written[s] + (j - i));
      i = j;
    }
  }
  w.out.insert(w.out.end(), opt.begin(), opt.end());
  std::vector<uint8_t>& out = w.out;
  if (truncated) out[2] |= 0x02;
  auto set16 = [&out](size_t at, size_t v) {
    out[at] = static_cast<uint8_t>(v >> 8);
    out[at + 1] = static_cast<uint8_t>(v);
  };
  set16(4, message.questions.size());
  set16(6, written[0]);
  set16(8, written[1]);
  set16(10, written[2] + (message.edns ? 1 : 0));
  return std::move(w.out);
}

size_t MaxResponseSize(const Message& query) {
  if (!query.edns) return kClassicUdpSize;
  return std::max<size_t>(kClassicUdpSize, query.edns->udp_size);
}

Message FormErr(uint16_t id, const std::optional<Question>& question) {
  Message m;
  m.header.id = id;
  m.header.qr = true;
  m.header.rcode = kRcodeFormErr;
  if (question) m.questions.push_back(*question);
  return m;
}

}  // namespace cove::dns
