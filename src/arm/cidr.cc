#include "arm/cidr.h"

#include <charconv>

namespace cove::arm {

std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t out = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 3 || (digits > 1 && text[0] == '0')) return std::nullopt;
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + digits, value);
    if (value > 255) return std::nullopt;
    out = (out << 8) | value;
    text.remove_prefix(digits);
  }
  if (!text.empty()) return std::nullopt;
  return out;
}

std::string FormatIpv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

std::string Cidr::ToString() const { return FormatIpv4(network) + "/" + std::to_string(length); }

CidrParse ParseCidr(std::string_view text) {
  CidrParse result;
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return result;
  auto address = ParseIpv4(text.substr(0, slash));
  std::string_view len = text.substr(slash + 1);
  if (!address || len.empty() || len.size() > 2 || (len.size() > 1 && len[0] == '0')) {
    return result;
  }
  int length = 0;
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), length);
  if (ec != std::errc() || p != len.data() + len.size() || length < 0 || length > 32) {
    return result;
  }
  Cidr c{*address, length};
  result.aligned = (c.network & ~c.Mask()) == 0;
  result.cidr = c;
  return result;
}

}  // namespace cove::arm
