// Catalog: the zone data and the per-VNet views that cove's DNS server answers from, as one
// immutable snapshot; CatalogStore: the current snapshot, replaced atomically.
//
// Input is plain data (CatalogSpec) that the control plane produces from its resources:
//   - public zones: the zones as the internet sees them, e.g. `azurecr.io` holding
//     `myregistry CNAME myregistry.privatelink.azurecr.io.` and a public `privatelink.azurecr.io`
//     holding `myregistry A 203.0.113.10` (the DNS suffix is whatever the spec names);
//   - private zones (Azure Private DNS zones), each with an id (its ARM resource id: two private
//     zones may share a name in different resource groups) and A/AAAA/CNAME/TXT/MX/NS records;
//   - views: one per VNet, keyed by a string id (the VNet's resource id), listing the private
//     zones linked to it, each with a resolutionPolicy (Default | NxDomainRedirect).
// Catalog::Build validates the spec (names, record values, CNAME exclusivity, links to known
// zones, at most one linked zone per name in a view, as Azure enforces) and compiles it into
// lookup tables keyed by lowercase wire-format names, with record data pre-encoded, so that
// query processing (query.h) allocates nothing.
//
// How a view resolves a name (see query.h): the zone is the longest linked private zone whose
// apex is a suffix of the name, else the longest public zone; no zone at all means REFUSED.
//
// A view may also carry forwarding rules: the rules of the DNS forwarding rulesets (Azure DNS
// Private Resolver, outbound endpoints) linked to its VNet, e.g. `contoso.local.` →
// 192.168.1.10:53. As Azure documents (private-resolver-endpoints-rulesets): a rule applies to a
// name at or below its domain and the longest matching domain wins; disabled rules are ignored;
// rules apply to every query of a linked VNet before its private zones are consulted (hence Azure's
// warning that a ruleset whose rule targets an inbound endpoint must not be linked to that
// endpoint's own VNet: the query would loop); the wildcard rule "." does not apply to domains
// reserved for Azure services, which in cove are the catalog's public zones (the DNS suffix, e.g.
// azurecr.io and privatelink.azurecr.io), so those keep resolving as without a rule. The transport
// forwards a query that a rule takes (server.h); Process only says which rule.
//
// Record names in a spec are relative to the zone ("@" is the apex) unless they end with a dot;
// values are presentation form: A "10.0.0.5", AAAA "fd00::5", CNAME/NS "target.example.com."
// (relative targets are relative to the zone), TXT "any text" (split into 255-octet strings),
// MX "10 mail.example.com.".
//
// Thread-safety: a Catalog is immutable after Build and may be read from any number of threads.
// CatalogStore::Get and Set may be called from any thread; readers never wait for writers.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.h"
#include "dns/wire.h"

namespace cove::dns {

inline constexpr uint16_t kTypeTXT = 16;

enum class ResolutionPolicy { kDefault, kNxDomainRedirect };

struct RecordSpec {
  std::string name;  // relative to the zone, "@" for the apex, or absolute with a trailing dot
  uint16_t type = kTypeA;
  uint32_t ttl = 3600;
  std::string value;  // presentation form, see above
};

// Defaults are those of an Azure Private DNS zone's SOA (negative answers live 10 seconds).
struct SoaSpec {
  std::string mname = "azureprivatedns.net.";
  std::string rname = "azureprivatedns-host.microsoft.com.";
  uint32_t serial = 1;
  uint32_t refresh = 3600;
  uint32_t retry = 300;
  uint32_t expire = 2419200;
  uint32_t minimum = 10;
  uint32_t ttl = 3600;
};

struct ZoneSpec {
  std::string id;    // private zones: what links refer to; public zones: may be empty
  std::string name;  // the apex, e.g. "privatelink.azurecr.io"
  SoaSpec soa;
  std::vector<RecordSpec> records;
};

struct LinkSpec {
  std::string zone_id;
  ResolutionPolicy policy = ResolutionPolicy::kDefault;
};

// A DNS server a forwarding rule sends queries to.
struct ForwardTarget {
  std::string ip;  // IPv4 or IPv6 address, e.g. "192.168.1.10"
  uint16_t port = 53;

  friend bool operator==(const ForwardTarget&, const ForwardTarget&) = default;
};

// A forwarding rule (Microsoft.Network/dnsForwardingRulesets/forwardingRules).
struct ForwardRuleSpec {
  std::string domain;  // "contoso.local." (trailing dot optional); "." is the wildcard rule
  std::vector<ForwardTarget> targets;  // asked in this order
  bool enabled = true;
};

struct ViewSpec {
  std::string id;  // the VNet; "" is reserved for the public view
  std::vector<LinkSpec> links;
  // The rules of every ruleset linked to the VNet; two enabled rules for one domain are refused
  // (Azure keeps a domain once per ruleset; across rulesets, a VNet links only one ruleset with
  // a given domain).
  std::vector<ForwardRuleSpec> forwards;
};

struct CatalogSpec {
  std::vector<ZoneSpec> public_zones;
  std::vector<ZoneSpec> private_zones;
  std::vector<ViewSpec> views;
};

// A name as the compiled catalog keeps it: the uncompressed wire form twice, once lowercased
// (for lookups and compression) and once as written in the spec (for output). Same length.
struct WireName {
  std::string lower;
  std::string wire;
};

// The records of one type at one name, each encoded as it follows the owner name on the wire
// (TYPE CLASS TTL RDLENGTH RDATA), back to back in one string (one allocation, read in order).
struct RRset {
  uint16_t type = 0;
  uint16_t count = 0;
  std::string records;

  // Calls f(tail) for each record.
  template <typename F>
  void ForEach(F&& f) const {
    size_t pos = 0;
    for (uint16_t i = 0; i < count; ++i) {
      size_t size = 10 + ((size_t{static_cast<uint8_t>(records[pos + 8])} << 8) |
                          static_cast<uint8_t>(records[pos + 9]));
      f(std::string_view(records).substr(pos, size));
      pos += size;
    }
  }
};

struct Node {
  WireName owner;
  bool has_cname = false;
  WireName cname_target;  // if has_cname
  uint32_t cname_ttl = 0;
  std::vector<RRset> rrsets;  // sorted by type; empty for empty non-terminals and CNAME nodes
};

// A transparent hash so lookups take string_views into packet buffers without copying.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};
template <typename V>
using KeyMap = std::unordered_map<std::string, V, KeyHash, KeyEq>;

// An open-addressing hash index from lowercase wire names to values, for the per-query lookups.
// A probe reads a slot (hash, where the key is) and compares against a copy of the key in one
// contiguous arena, which stays in cache; only a hit touches the entry. Entries live in a deque,
// so references to values stay valid while the index grows.
// Thread-safety: const methods may run concurrently; building is single-threaded.
template <typename V>
class NameIndex {
 public:
  using Entry = std::pair<std::string, V>;

  // A multiply-xorshift hash over 8-octet words (names are short; a byte loop would be the
  // slowest part of a lookup).
  static uint64_t Hash(std::string_view key) {
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    uint64_t h = key.size() * kMul;
    size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      h = (h ^ w) * kMul;
      h ^= h >> 32;
    }
    if (i < key.size()) {
      uint64_t w = 0;
      std::memcpy(&w, key.data() + i, key.size() - i);
      h = (h ^ w) * kMul;
      h ^= h >> 32;
    }
    return h | 1;  // 0 marks an empty slot
  }

  const V* Find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    uint64_t h = Hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return nullptr;
      if (s.hash == h && s.size == key.size() &&
          std::string_view(arena_).substr(s.offset, s.size) == key) {
        return &entries_[s.index].second;
      }
    }
  }
  V* Find(std::string_view key) {
    return const_cast<V*>(static_cast<const NameIndex*>(this)->Find(key));
  }

  // Returns the value at `key`, inserting a default one if there is none.
  V& operator[](std::string_view key) {
    if (V* v = Find(key)) return *v;
    return Insert(key, V());
  }
  // Inserts `value` at `key` unless the key is there; returns whether it inserted.
  bool TryEmplace(std::string_view key, V value) {
    if (Find(key)) return false;
    Insert(key, std::move(value));
    return true;
  }

  auto begin() { return entries_.begin(); }
  auto end() { return entries_.end(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;  // of the key in arena_
    uint32_t size = 0;
    uint32_t index = 0;  // in entries_
  };

  V& Insert(std::string_view key, V value) {
    if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
    entries_.emplace_back(std::string(key), std::move(value));
    Place(static_cast<uint32_t>(entries_.size() - 1));
    return entries_.back().second;
  }
  void Place(uint32_t index) {
    const std::string& key = entries_[index].first;
    uint64_t h = Hash(key);
    size_t i = h & mask_;
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i] = {h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), index};
    arena_ += key;
  }
  void Grow() {
    slots_.assign(std::max<size_t>(16, slots_.size() * 2), Slot{});
    mask_ = slots_.size() - 1;
    arena_.clear();
    for (uint32_t i = 0; i < entries_.size(); ++i) Place(i);
  }

  std::deque<Entry> entries_;
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
};

struct Zone {
  WireName apex;
  bool is_private = false;
  std::string id;
  std::string soa_tail;           // the SOA record after its owner name, TTL = negative-answer TTL
  std::string soa_tail_positive;  // the SOA record with its own TTL, for SOA queries
  NameIndex<Node> nodes;  // every owner name and every empty non-terminal, by lowercase wire name

  // Returns the node, or null if the name does not exist in this zone.
  const Node* Find(std::string_view lower_wire_name) const;
};

struct ZoneRef {
  const Zone* zone = nullptr;
  ResolutionPolicy policy = ResolutionPolicy::kDefault;
};

// An enabled forwarding rule with at least one target, compiled.
struct ForwardRule {
  WireName domain;  // the root ("\0") for the wildcard rule
  std::vector<ForwardTarget> targets;
};

// The zones one VNet sees, by lowercase wire-format apex, and its forwarding rules by domain.
struct View {
  std::string id;
  NameIndex<ZoneRef> zones;
  NameIndex<ForwardRule> rules;

  // Returns the zone with the longest apex that is a suffix of `lower_wire_name` (a lowercase
  // uncompressed wire name), or null if there is none.
  const ZoneRef* FindZone(std::string_view lower_wire_name) const;
  // Returns the rule that takes `lower_wire_name` (longest domain at or above it; the wildcard
  // rule only outside `reserved`'s zones), or null when no rule applies.
  const ForwardRule* FindRule(std::string_view lower_wire_name, const View& reserved) const;
};

class Catalog {
 public:
  // Returns the compiled snapshot, or kInvalidArgument naming the zone/record/link at fault.
  static Result<std::shared_ptr<const Catalog>> Build(const CatalogSpec& spec);

  // The view of this VNet; a VNet the catalog does not know sees the public view.
  const View& view(std::string_view id) const;
  const View& public_view() const { return public_view_; }

 private:
  Catalog() = default;
  std::vector<std::unique_ptr<Zone>> zones_;
  View public_view_;
  KeyMap<View> views_;
};

using CatalogPtr = std::shared_ptr<const Catalog>;

class CatalogStore {
 public:
  // Starts with an empty catalog (every query is REFUSED).
  CatalogStore();
  CatalogPtr Get() const { return current_.load(std::memory_order_acquire); }
  void Set(CatalogPtr catalog) { current_.store(std::move(catalog), std::memory_order_release); }

 private:
  std::atomic<CatalogPtr> current_;
};

// Helpers on uncompressed wire names (a sequence of length-prefixed labels ending in 0).
// Returns the lowercase wire form of `name`.
WireName ToWireName(const Name& name);

}  // namespace cove::dns
