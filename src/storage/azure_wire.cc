// The low-level SHA256_CTX is deprecated in OpenSSL 3 but present; it is what can be saved.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "storage/azure_wire.h"

#include <openssl/sha.h>

#include <cstdio>
#include <cstring>

namespace cove::storage::azure {
namespace {

constexpr char kStateMagic[] = "cove-sha256-state-v1";

}  // namespace

std::string Offset20(uint64_t offset) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(offset));
  return buf;
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t start = pos + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(start, end - start));
    pos = end + close.size();
  }
  return out;
}

std::string_view XmlElement(std::string_view xml, std::string_view tag) {
  auto all = XmlElements(xml, tag);
  return all.empty() ? std::string_view() : all.front();
}

std::string EncodeHashState(std::string_view ctx, uint64_t length) {
  std::string out(kStateMagic);
  out += Offset20(length);
  out.append(ctx);
  return out;
}

Result<std::string> DecodeHashState(std::string_view bytes, uint64_t length,
                                    const std::string& where) {
  std::string head = std::string(kStateMagic) + Offset20(length);
  auto bad = [&](const std::string& why) {
    return Fail(Code::kCorruption,
                where + " is not a hash state at " + std::to_string(length) + ": " + why);
  };
  if (bytes.size() != head.size() + sizeof(SHA256_CTX) || bytes.substr(0, head.size()) != head) {
    return bad("wrong header or size");
  }
  SHA256_CTX ctx;
  std::memcpy(&ctx, bytes.data() + head.size(), sizeof ctx);
  uint64_t bits = length * 8;
  if (length > (UINT64_MAX >> 3) || ctx.Nl != static_cast<SHA_LONG>(bits & 0xffffffffu) ||
      ctx.Nh != static_cast<SHA_LONG>(bits >> 32) || ctx.num != length % SHA256_CBLOCK ||
      ctx.md_len != SHA256_DIGEST_LENGTH) {
    return bad("its counters do not describe that many bytes");
  }
  return std::string(bytes.substr(head.size()));
}

}  // namespace cove::storage::azure
