#include "privatelink/client_hello.h"

#include <cstdint>

#include "common/ascii.h"

namespace cove::privatelink {
namespace {

constexpr uint8_t kHandshake = 22;    // TLS record content type
constexpr uint8_t kClientHello = 1;   // handshake message type
constexpr uint16_t kServerName = 0;   // extension type (RFC 6066 §3)
constexpr uint8_t kHostName = 0;      // server_name entry type

Error Malformed(std::string what) {
  return Error{Code::kInvalidArgument, "not a TLS ClientHello: " + std::move(what)};
}

// A bounds-checked reader over one byte string.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Has(size_t n) const { return s_.size() - pos_ >= n; }
  size_t left() const { return s_.size() - pos_; }
  uint32_t Int(size_t bytes) {
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s_[pos_++]);
    return v;
  }
  std::string_view Take(size_t n) {
    auto out = s_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  // A vector with a `len_bytes` length prefix; false when it overruns.
  bool Vector(size_t len_bytes, std::string_view* out) {
    if (!Has(len_bytes)) return false;
    size_t n = Int(len_bytes);
    if (!Has(n)) return false;
    *out = Take(n);
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// The SNI host name in a ClientHello body (after the 4-byte handshake header).
Result<std::string> ServerNameOf(std::string_view body) {
  Reader r(body);
  std::string_view skip;
  if (!r.Has(2 + 32)) return tl::unexpected(Malformed("short ClientHello"));
  r.Take(2 + 32);  // legacy_version, random
  if (!r.Vector(1, &skip) || !r.Vector(2, &skip) || !r.Vector(1, &skip)) {
    return tl::unexpected(Malformed("session id, cipher suites or compression overrun"));
  }
  if (r.left() == 0) return std::string();  // no extensions at all
  std::string_view extensions;
  if (!r.Vector(2, &extensions)) return tl::unexpected(Malformed("extensions overrun"));
  Reader e(extensions);
  while (e.left() > 0) {
    if (!e.Has(4)) return tl::unexpected(Malformed("extension header overrun"));
    uint32_t type = e.Int(2);
    std::string_view data;
    if (!e.Vector(2, &data)) return tl::unexpected(Malformed("extension overrun"));
    if (type != kServerName) continue;
    Reader d(data);
    std::string_view list;
    if (!d.Vector(2, &list)) return tl::unexpected(Malformed("server_name list overrun"));
    Reader l(list);
    while (l.left() > 0) {
      if (!l.Has(1)) return tl::unexpected(Malformed("server_name entry overrun"));
      uint32_t name_type = l.Int(1);
      std::string_view name;
      if (!l.Vector(2, &name)) return tl::unexpected(Malformed("server_name entry overrun"));
      if (name_type != kHostName) continue;
      if (name.empty() || name.size() > 255) return tl::unexpected(Malformed("bad host name"));
      for (char c : name) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
          return tl::unexpected(Malformed("bad host name"));
        }
      }
      return AsciiLower(name);
    }
    return std::string();
  }
  return std::string();
}

}  // namespace

Result<std::string> ClientHelloServerName(std::string_view bytes) {
  // Reassemble the handshake message from as many handshake records as it spans.
  std::string handshake;
  Reader records(bytes);
  size_t consumed = 0;
  for (;;) {
    if (handshake.size() >= 4) {
      size_t need = 4 + ((static_cast<uint8_t>(handshake[1]) << 16) |
                         (static_cast<uint8_t>(handshake[2]) << 8) |
                         static_cast<uint8_t>(handshake[3]));
      if (static_cast<uint8_t>(handshake[0]) != kClientHello) {
        return tl::unexpected(Malformed("first handshake message is not a ClientHello"));
      }
      if (need > kMaxClientHelloBytes) return tl::unexpected(Malformed("ClientHello too large"));
      if (handshake.size() >= need) return ServerNameOf(std::string_view(handshake).substr(4, need - 4));
    }
    if (consumed >= kMaxClientHelloBytes + 5) {
      return tl::unexpected(Malformed("ClientHello too large"));
    }
    if (!records.Has(5)) return Fail(Code::kUnavailable, "ClientHello incomplete");
    uint32_t type = records.Int(1);
    uint32_t major = records.Int(1);
    records.Int(1);  // minor: any TLS 1.x record version
    uint32_t length = records.Int(2);
    if (type != kHandshake || major != 3) return tl::unexpected(Malformed("not a handshake record"));
    if (length == 0 || length > 16384) return tl::unexpected(Malformed("bad record length"));
    if (!records.Has(length)) return Fail(Code::kUnavailable, "ClientHello incomplete");
    handshake.append(records.Take(length));
    consumed += 5 + length;
  }
}

}  // namespace cove::privatelink
