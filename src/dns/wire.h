// DNS wire format: the in-memory form of a DNS message and its conversion to and from the
// bytes of RFC 1035 §4 (with EDNS0, RFC 6891). This is the hot path and it reads bytes from the
// network, so Parse is strict and bounded and never crashes on bad input; it answers with a
// ParseError that says whether a FORMERR reply can be built or the packet must be dropped.
// This file knows nothing about zones or query processing (Knot's split: wire / zone / query).
//
// Ownership: every type here is a plain value that owns its data (labels, RDATA bytes);
// Parse copies what it needs out of the input span, which may be freed afterwards.
// Thread-safety: plain values and pure functions; safe to use from any number of threads.
//
// Wire layout (all integers big-endian):
//   header   12 octets: ID(16) | QR(1) OPCODE(4) AA(1) TC(1) RD(1) | RA(1) Z(1) AD(1) CD(1)
//            RCODE(4) | QDCOUNT(16) ANCOUNT(16) NSCOUNT(16) ARCOUNT(16)
//   question QNAME QTYPE(16) QCLASS(16)
//   RR       NAME TYPE(16) CLASS(16) TTL(32) RDLENGTH(16) RDATA
//   name     a sequence of labels, each a length octet 0..63 (top bits 00) and that many octets,
//            ended by a zero octet or by a compression pointer: two octets 11 + 14-bit offset
//            from the start of the message. Label types 01 and 10 are rejected. At most 255
//            octets uncompressed.
//   OPT      (EDNS0, at most one, in the additional section only) NAME = root, TYPE = 41,
//            CLASS = requestor's UDP payload size, TTL = EXTENDED-RCODE(8) VERSION(8) DO(1)
//            Z(15), RDATA = options, each CODE(16) LENGTH(16) DATA.
// Parse accepts compression pointers only if they point strictly before the start of the label
// run they end (so following them always terminates). Names inside RDATA of NS, CNAME, SOA, PTR
// and MX are decompressed on Parse; RDATA is kept and written uncompressed. Serialize compresses
// owner and question names only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::dns {

// Record types and classes used by cove (others pass through as raw RDATA).
inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNS = 2;
inline constexpr uint16_t kTypeCNAME = 5;
inline constexpr uint16_t kTypeSOA = 6;
inline constexpr uint16_t kTypePTR = 12;
inline constexpr uint16_t kTypeMX = 15;
inline constexpr uint16_t kTypeAAAA = 28;
inline constexpr uint16_t kTypeOPT = 41;
inline constexpr uint16_t kClassIN = 1;

inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeFormErr = 1;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;

inline constexpr size_t kMaxNameOctets = 255;
inline constexpr size_t kMaxLabelOctets = 63;
inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kClassicUdpSize = 512;

// A domain name: labels from the leftmost to the TLD; the root has no labels. Labels keep the
// case they were given; comparison ignores ASCII case (RFC 4343).
class Name {
 public:
  Name() = default;  // the root

  // Returns the name, or kInvalidArgument if a label is empty or longer than 63 octets, or the
  // whole name is longer than 255 octets on the wire.
  static Result<Name> FromLabels(std::vector<std::string> labels);
  // Parses presentation form ("www.example.com", trailing dot optional, "." is the root;
  // "\." and "\DDD" escapes). Returns kInvalidArgument on bad escapes, empty labels or limits.
  static Result<Name> FromString(std::string_view text);

  const std::vector<std::string>& labels() const { return labels_; }
  bool IsRoot() const { return labels_.empty(); }
  // Octets this name takes on the wire, uncompressed (the root is 1).
  size_t WireSize() const;
  // Presentation form with a trailing dot; '.', '\\' and '"' are escaped with a backslash and
  // octets outside printable ASCII as \DDD. The root is ".".
  std::string ToString() const;
  // The ASCII-lowercased name, for use as a map key.
  Name Lowercase() const;

  // Case-insensitive comparison (RFC 4343).
  friend bool operator==(const Name& a, const Name& b);

 private:
  explicit Name(std::vector<std::string> labels) : labels_(std::move(labels)) {}
  std::vector<std::string> labels_;
};

struct Header {
  uint16_t id = 0;
  bool qr = false;
  uint8_t opcode = 0;  // 4 bits
  bool aa = false;
  bool tc = false;
  bool rd = false;
  bool ra = false;
  bool z = false;  // reserved; kept so that parse → serialize is exact
  bool ad = false;
  bool cd = false;
  uint8_t rcode = 0;  // the low 4 bits; EDNS carries the upper 8 in Edns::extended_rcode

  friend bool operator==(const Header&, const Header&) = default;
};

struct Question {
  Name name;
  uint16_t type = kTypeA;
  uint16_t klass = kClassIN;

  friend bool operator==(const Question&, const Question&) = default;
};

struct SoaData {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;

  friend bool operator==(const SoaData&, const SoaData&) = default;
};

struct ResourceRecord {
  Name name;
  uint16_t type = 0;
  uint16_t klass = kClassIN;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;  // uncompressed

  static ResourceRecord A(Name name, uint32_t ttl, std::array<uint8_t, 4> address);
  static ResourceRecord AAAA(Name name, uint32_t ttl, std::array<uint8_t, 16> address);
  static ResourceRecord Cname(Name name, uint32_t ttl, const Name& target);
  static ResourceRecord Ns(Name name, uint32_t ttl, const Name& host);
  static ResourceRecord Soa(Name name, uint32_t ttl, const SoaData& soa);

  // Each returns the decoded RDATA, or kInvalidArgument if the type differs or the RDATA is
  // malformed.
  Result<std::array<uint8_t, 4>> AsA() const;
  Result<std::array<uint8_t, 16>> AsAAAA() const;
  Result<Name> AsCname() const;
  Result<Name> AsNs() const;
  Result<SoaData> AsSoa() const;

  friend bool operator==(const ResourceRecord&, const ResourceRecord&) = default;
};

struct EdnsOption {
  uint16_t code = 0;
  std::vector<uint8_t> data;

  friend bool operator==(const EdnsOption&, const EdnsOption&) = default;
};

// The OPT pseudo-record (RFC 6891); it is not kept in Message::additional.
struct Edns {
  uint16_t udp_size = 1232;
  uint8_t extended_rcode = 0;  // upper 8 bits of the 12-bit RCODE
  uint8_t version = 0;
  bool do_bit = false;
  std::vector<EdnsOption> options;

  friend bool operator==(const Edns&, const Edns&) = default;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;  // without the OPT record
  std::optional<Edns> edns;

  friend bool operator==(const Message&, const Message&) = default;
};

// Why Parse refused a packet. If formerr_possible, the header was read: `id` (and `question`
// if the first question parsed) are known and the caller answers FormErr(id, question);
// otherwise (shorter than the 12-octet header) the packet must be dropped.
struct ParseError {
  bool formerr_possible = false;
  uint16_t id = 0;
  std::optional<Question> question;
  std::string message;
};

using ParseResult = tl::expected<Message, ParseError>;

// Returns the message, or a ParseError for: input shorter than a header (drop); truncated
// input, section counts larger than the input can hold, bad label types, forward or looping
// compression pointers, names over 255 octets, RDATA not matching RDLENGTH or its type, more
// than one OPT, OPT outside the additional section or with a non-root owner, and trailing
// octets after the last record (all FORMERR).
ParseResult Parse(std::span<const uint8_t> packet);

// Returns the wire form of `message`, at most max_size octets if possible. Owner and question
// names are compressed. If the records do not fit, whole RRsets (runs of records with equal
// name, type and class) are dropped from the first one that does not fit onwards; TC is set if
// anything from the answer or authority section was dropped (RFC 2181 §9: dropping additional
// data alone does not set TC). The header, the questions and the OPT record are always written,
// even if they alone exceed max_size.
// REQUIRES: each section holds at most 65535 entries.
std::vector<uint8_t> Serialize(const Message& message, size_t max_size);

// The largest response a client accepts for `query`: its EDNS UDP size (at least 512), or 512.
size_t MaxResponseSize(const Message& query);

// The FORMERR response to a query with this id and (if it parsed) question.
Message FormErr(uint16_t id, const std::optional<Question>& question);

}  // namespace cove::dns
