// PROXY protocol version 2: the binary header a TCP proxy sends before the proxied bytes, saying
// who the original client was (haproxy's proxy-protocol.txt, section 2.2), with Azure Private
// Link's LinkID TLV (type 0xEE, value = subtype 0x01 + the private endpoint's 32-bit link id in
// little-endian order).
//
// Wire layout (all multi-byte numbers big-endian unless said otherwise):
//
//   offset size
//    0     12   signature  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
//   12      1   version (high nibble, must be 2) | command (low nibble: 0 LOCAL, 1 PROXY)
//   13      1   family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)
//               | transport (low nibble: 0 UNSPEC, 1 STREAM, 2 DGRAM)
//   14      2   length of what follows (addresses + TLVs)
//   16          addresses: INET  src(4) dst(4) src_port(2) dst_port(2)        = 12 bytes
//                          INET6 src(16) dst(16) src_port(2) dst_port(2)      = 36 bytes
//                          UNIX  src(108) dst(108)                            = 216 bytes
//                          UNSPEC none
//               then TLVs: type(1) length(2) value(length), up to the end of the header.
//
// Parsing is strict: a bad signature, a version other than 2, a command other than LOCAL/PROXY,
// an unknown family or transport, a length shorter than the family's addresses, a header longer
// than kProxyV2MaxSize, a TLV running past the end, a malformed Azure TLV or a CRC32C TLV that
// does not match, and a second LinkID or CRC32C TLV are errors (kInvalidArgument).
// For a LOCAL header (health checks from the proxy itself) the receiver uses the real connection
// endpoints; addresses (if any) are still parsed but the caller should ignore them.
//
// Reading from a socket: read exactly kProxyV2PrefixSize bytes, call ProxyV2HeaderSize on them
// to learn the whole header's size, read the rest, then ParseProxyV2 on all of it. Nothing past
// the header is consumed, so TLS or HTTP bytes that follow stay in the socket.
//
// Whom to believe: a header says who the client was, so only a configured forwarder may send
// one. ForwarderRange is a source a listener trusts PROXY headers from (an address or a CIDR
// range); http::Server refuses connections from anyone else before it reads a byte of them.
//
// Thread-safety: pure functions on values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::http {

inline constexpr size_t kProxyV2PrefixSize = 16;
// The largest header accepted: room for UNIX addresses plus a few hundred bytes of TLVs. Real
// proxies (haproxy, Azure, AWS NLB) send far less; anything larger is refused.
inline constexpr size_t kProxyV2MaxSize = 1024;

inline constexpr uint8_t kPp2TypeCrc32c = 0x03;
inline constexpr uint8_t kPp2TypeAzure = 0xEE;
inline constexpr uint8_t kPp2SubtypeAzureLinkId = 0x01;

struct ProxyTlv {
  uint8_t type = 0;
  std::string value;
  bool operator==(const ProxyTlv&) const = default;
};

struct ProxyHeader {
  enum class Command : uint8_t { kLocal = 0, kProxy = 1 };
  enum class Family : uint8_t { kUnspec = 0, kInet = 1, kInet6 = 2, kUnix = 3 };
  enum class Transport : uint8_t { kUnspec = 0, kStream = 1, kDgram = 2 };

  Command command = Command::kProxy;
  Family family = Family::kInet;
  Transport transport = Transport::kStream;
  // INET/INET6: textual addresses ("10.0.0.4", "fd00::4"); UNIX: the socket paths (up to the
  // first NUL); UNSPEC: empty. Ports are 0 for UNIX and UNSPEC.
  std::string source_address;
  std::string destination_address;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  // Every TLV in arrival order (including the Azure and CRC32C ones); unknown types and Azure
  // subtypes other than LinkID are kept uninterpreted.
  std::vector<ProxyTlv> tlvs;
  // From the Azure TLV (0xEE, subtype 0x01), when present.
  std::optional<uint32_t> link_id;

  bool operator==(const ProxyHeader&) const = default;
};

// Given the first kProxyV2PrefixSize bytes of a connection, the size of the whole header
// (prefix included). kInvalidArgument when `prefix` is shorter than kProxyV2PrefixSize, the
// signature, version or command is wrong, or the header would exceed kProxyV2MaxSize.
Result<size_t> ProxyV2HeaderSize(std::string_view prefix);

// Parses one complete header; `bytes` must be exactly the header (as sized by
// ProxyV2HeaderSize). kInvalidArgument with a description of what is wrong otherwise.
Result<ProxyHeader> ParseProxyV2(std::string_view bytes);

// The Azure Private Link TLV carrying `link_id` (for ProxyHeader::tlvs when sending).
ProxyTlv AzureLinkIdTlv(uint32_t link_id);

// Builds the header for `header` (what a forwarder sends before the client's bytes): the
// addresses of its family and `tlvs` verbatim, in order (`link_id` is not consulted: add
// AzureLinkIdTlv to `tlvs`). With `add_crc32c` a CRC32C TLV is appended and filled in.
// kInvalidArgument when an address does not parse for the family, a TLV value exceeds 65535
// bytes or the header would exceed kProxyV2MaxSize.
Result<std::string> SerializeProxyV2(const ProxyHeader& header, bool add_crc32c = false);

// An address ("10.1.0.4", "fd00::4") or CIDR range ("10.1.0.0/24", "fd00::/64") that PROXY v2
// headers are trusted from (ListenerOptions::proxy_sources).
class ForwarderRange {
 public:
  // kInvalidArgument unless `text` is an IPv4/IPv6 address, optionally with a prefix length
  // that fits its family.
  static Result<ForwarderRange> Parse(std::string_view text);
  // True when the textual address `address` lies in the range. An IPv4-mapped IPv6 address
  // (::ffff:10.1.0.4) is compared as the IPv4 address it carries. False for anything that
  // does not parse.
  bool Contains(std::string_view address) const;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
  int prefix_ = 0;
};

// True when `address` lies in one of `ranges` (false for an empty list).
bool FromForwarder(const std::vector<ForwarderRange>& ranges, std::string_view address);

}  // namespace cove::http
