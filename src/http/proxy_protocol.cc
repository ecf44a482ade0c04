// PROXY protocol v2 parser and writer; the layout is documented in proxy_protocol.h.
#include "http/proxy_protocol.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace cove::http {
namespace {

constexpr std::string_view kSignature("\r\n\r\n\0\r\nQUIT\n", 12);

uint16_t Be16(std::string_view s, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[at]) << 8) | static_cast<uint8_t>(s[at + 1]));
}

void PutBe16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

// CRC32C (Castagnoli), as the spec's PP2_TYPE_CRC32C asks.
uint32_t Crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (char ch : data) crc = table[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

size_t AddressBytes(ProxyHeader::Family family) {
  switch (family) {
    case ProxyHeader::Family::kUnspec: return 0;
    case ProxyHeader::Family::kInet: return 12;
    case ProxyHeader::Family::kInet6: return 36;
    case ProxyHeader::Family::kUnix: return 216;
  }
  return 0;
}

tl::unexpected<Error> Bad(std::string what) {
  return Fail(Code::kInvalidArgument, "PROXY v2 header: " + std::move(what));
}

std::string IpText(int af, const char* bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(af, bytes, text, sizeof text);
  return text;
}

}  // namespace

Result<size_t> ProxyV2HeaderSize(std::string_view prefix) {
  if (prefix.size() < kProxyV2PrefixSize) return Bad("truncated");
  if (prefix.substr(0, kSignature.size()) != kSignature) return Bad("bad signature");
  const uint8_t ver_cmd = static_cast<uint8_t>(prefix[12]);
  if ((ver_cmd >> 4) != 2) return Bad("unsupported version " + std::to_string(ver_cmd >> 4));
  if ((ver_cmd & 0x0f) > 1) return Bad("unknown command " + std::to_string(ver_cmd & 0x0f));
  const size_t size = kProxyV2PrefixSize + Be16(prefix, 14);
  if (size > kProxyV2MaxSize) {
    return Bad("oversized (" + std::to_string(size) + " bytes, at most " +
               std::to_string(kProxyV2MaxSize) + ")");
  }
  return size;
}

Result<ProxyHeader> ParseProxyV2(std::string_view bytes) {
  COVE_ASSIGN_OR_RETURN(size_t size, ProxyV2HeaderSize(bytes));
  if (bytes.size() < size) return Bad("truncated");
  if (bytes.size() > size) return Bad("trailing bytes after the header");

  ProxyHeader header;
  header.command = static_cast<ProxyHeader::Command>(static_cast<uint8_t>(bytes[12]) & 0x0f);
  const uint8_t fam = static_cast<uint8_t>(bytes[13]);
  if ((fam >> 4) > 3) return Bad("unknown address family " + std::to_string(fam >> 4));
  if ((fam & 0x0f) > 2) return Bad("unknown transport " + std::to_string(fam & 0x0f));
  header.family = static_cast<ProxyHeader::Family>(fam >> 4);
  header.transport = static_cast<ProxyHeader::Transport>(fam & 0x0f);

  size_t at = kProxyV2PrefixSize;
  const size_t address_bytes = AddressBytes(header.family);
  if (size - at < address_bytes) return Bad("length too short for the addresses");
  const char* a = bytes.data() + at;
  switch (header.family) {
    case ProxyHeader::Family::kUnspec:
      break;
    case ProxyHeader::Family::kInet:
      header.source_address = IpText(AF_INET, a);
      header.destination_address = IpText(AF_INET, a + 4);
      header.source_port = Be16(bytes, at + 8);
      header.destination_port = Be16(bytes, at + 10);
      break;
    case ProxyHeader::Family::kInet6:
      header.source_address = IpText(AF_INET6, a);
      header.destination_address = IpText(AF_INET6, a + 16);
      header.source_port = Be16(bytes, at + 32);
      header.destination_port = Be16(bytes, at + 34);
      break;
    case ProxyHeader::Family::kUnix:
      header.source_address.assign(a, ::strnlen(a, 108));
      header.destination_address.assign(a + 108, ::strnlen(a + 108, 108));
      break;
  }
  at += address_bytes;

  std::optional<size_t> crc_at;  // offset of a CRC32C TLV's value
  while (at < size) {
    if (size - at < 3) return Bad("truncated TLV");
    ProxyTlv tlv;
    tlv.type = static_cast<uint8_t>(bytes[at]);
    const size_t length = Be16(bytes, at + 1);
    at += 3;
    if (size - at < length) return Bad("TLV runs past the end of the header");
    tlv.value = std::string(bytes.substr(at, length));
    if (tlv.type == kPp2TypeCrc32c) {
      if (length != 4) return Bad("CRC32C TLV of length " + std::to_string(length));
      if (crc_at) return Bad("two CRC32C TLVs");
      crc_at = at;
    } else if (tlv.type == kPp2TypeAzure) {
      if (length == 0) return Bad("empty Azure TLV");
      if (static_cast<uint8_t>(tlv.value[0]) == kPp2SubtypeAzureLinkId) {
        if (length != 5) return Bad("Azure LinkID TLV of length " + std::to_string(length));
        if (header.link_id) return Bad("two Azure LinkID TLVs");
        uint32_t id = 0;
        for (int i = 4; i >= 1; --i) id = (id << 8) | static_cast<uint8_t>(tlv.value[i]);
        header.link_id = id;
      }
    }
    at += length;
    header.tlvs.push_back(std::move(tlv));
  }

  if (crc_at) {
    std::string copy(bytes);
    std::memset(copy.data() + *crc_at, 0, 4);
    const uint32_t want = Crc32c(copy);
    const uint32_t got = (static_cast<uint32_t>(Be16(bytes, *crc_at)) << 16) | Be16(bytes, *crc_at + 2);
    if (want != got) return Bad("CRC32C mismatch");
  }
  return header;
}

ProxyTlv AzureLinkIdTlv(uint32_t link_id) {
  ProxyTlv tlv;
  tlv.type = kPp2TypeAzure;
  tlv.value.push_back(static_cast<char>(kPp2SubtypeAzureLinkId));
  for (int i = 0; i < 4; ++i) tlv.value.push_back(static_cast<char>((link_id >> (8 * i)) & 0xff));
  return tlv;
}

Result<std::string> SerializeProxyV2(const ProxyHeader& header, bool add_crc32c) {
  std::string out(kSignature);
  out.push_back(static_cast<char>(0x20 | static_cast<uint8_t>(header.command)));
  out.push_back(static_cast<char>((static_cast<uint8_t>(header.family) << 4) |
                                  static_cast<uint8_t>(header.transport)));
  PutBe16(out, 0);  // length, filled in below

  auto put_ip = [&](int af, const std::string& text) -> Status {
    char buf[16];
    if (::inet_pton(af, text.c_str(), buf) != 1) return Bad("bad address '" + text + "'");
    out.append(buf, af == AF_INET ? 4 : 16);
    return Ok();
  };
  switch (header.family) {
    case ProxyHeader::Family::kUnspec:
      break;
    case ProxyHeader::Family::kInet:
    case ProxyHeader::Family::kInet6: {
      const int af = header.family == ProxyHeader::Family::kInet ? AF_INET : AF_INET6;
      COVE_RETURN_IF_ERROR(put_ip(af, header.source_address));
      COVE_RETURN_IF_ERROR(put_ip(af, header.destination_address));
      PutBe16(out, header.source_port);
      PutBe16(out, header.destination_port);
      break;
    }
    case ProxyHeader::Family::kUnix:
      for (const std::string* path : {&header.source_address, &header.destination_address}) {
        if (path->size() > 108 || path->find('\0') != std::string::npos) {
          return Bad("bad UNIX socket path");
        }
        std::string field(108, '\0');
        std::memcpy(field.data(), path->data(), path->size());
        out += field;
      }
      break;
  }
  for (const ProxyTlv& tlv : header.tlvs) {
    if (tlv.value.size() > 0xffff) return Bad("TLV value too long");
    out.push_back(static_cast<char>(tlv.type));
    PutBe16(out, static_cast<uint16_t>(tlv.value.size()));
    out += tlv.value;
    if (out.size() > kProxyV2MaxSize) break;
  }
  size_t crc_at = 0;
  if (add_crc32c) {
    out.push_back(static_cast<char>(kPp2TypeCrc32c));
    PutBe16(out, 4);
    crc_at = out.size();
    out.append(4, '\0');
  }
  if (out.size() > kProxyV2MaxSize) {
    return Bad("would be " + std::to_string(out.size()) + " bytes, at most " +
               std::to_string(kProxyV2MaxSize));
  }
  const uint16_t length = static_cast<uint16_t>(out.size() - kProxyV2PrefixSize);
  out[14] = static_cast<char>(length >> 8);
  out[15] = static_cast<char>(length & 0xff);
  if (add_crc32c) {
    const uint32_t crc = Crc32c(out);
    for (int i = 0; i < 4; ++i) out[crc_at + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
  }
  return out;
}

namespace {

// A textual address as 16 bytes (IPv4 in the first 4), and whether it is IPv6. IPv4-mapped
// IPv6 addresses become IPv4.
std::optional<std::pair<bool, std::array<uint8_t, 16>>> ParseAddress(std::string_view text) {
  std::string z(text);
  std::array<uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, z.c_str(), bytes.data()) == 1) return std::pair{false, bytes};
  if (inet_pton(AF_INET6, z.c_str(), bytes.data()) != 1) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::array<uint8_t, 16> v4{};
    std::memcpy(v4.data(), bytes.data() + 12, 4);
    return std::pair{false, v4};
  }
  return std::pair{true, bytes};
}

}  // namespace

Result<ForwarderRange> ForwarderRange::Parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = ParseAddress(text.substr(0, slash));
  if (!address) {
    return Fail(Code::kInvalidArgument,
                "forwarder '" + std::string(text) + "' is not an address or CIDR range");
  }
  ForwarderRange r;
  r.v6_ = address->first;
  r.bytes_ = address->second;
  int max = r.v6_ ? 128 : 32;
  r.prefix_ = max;
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != len.npos ||
        std::stoi(std::string(len)) > max) {
      return Fail(Code::kInvalidArgument,
                  "forwarder '" + std::string(text) + "' has a bad prefix length");
    }
    r.prefix_ = std::stoi(std::string(len));
  }
  return r;
}

bool ForwarderRange::Contains(std::string_view address) const {
  auto a = ParseAddress(address);
  if (!a || a->first != v6_) return false;
  int bits = prefix_;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a->second[i] & mask) != (bytes_[i] & mask)) return false;
  }
  return true;
}

bool FromForwarder(const std::vector<ForwarderRange>& ranges, std::string_view address) {
  for (const auto& r : ranges) {
    if (r.Contains(address)) return true;
  }
  return false;
}

}  // namespace cove::http
