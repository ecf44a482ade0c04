// IPv4 addresses and CIDR prefixes as the control plane checks them: strict dotted-quad
// parsing, prefixes whose host bits must be zero (Azure's InvalidCIDRNotation), containment and
// overlap. IPv6 is not modelled (cove's VNets are IPv4, as the seed's are).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cove::arm {

// Parses "a.b.c.d" (no leading zeros beyond a lone 0, each part 0-255).
std::optional<uint32_t> ParseIpv4(std::string_view text);
std::string FormatIpv4(uint32_t address);

struct Cidr {
  uint32_t network = 0;  // host bits zero when `aligned`
  int length = 0;        // 0-32

  uint32_t Mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  uint32_t First() const { return network & Mask(); }
  uint32_t Last() const { return First() | ~Mask(); }
  uint64_t Size() const { return uint64_t{1} << (32 - length); }
  bool Contains(uint32_t address) const { return (address & Mask()) == First(); }
  bool Contains(const Cidr& other) const {
    return other.length >= length && Contains(other.First());
  }
  bool Overlaps(const Cidr& other) const { return Contains(other.First()) || other.Contains(First()); }
  std::string ToString() const;
};

struct CidrParse {
  std::optional<Cidr> cidr;  // set when the text is a well-formed prefix
  bool aligned = false;      // host bits were zero
};

// "10.0.0.0/16" → network and length. A bare address is not a prefix here.
CidrParse ParseCidr(std::string_view text);

}  // namespace cove::arm
