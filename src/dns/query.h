// Query processing: one DNS query in, one response (or nothing) out, for one view of a Catalog.
// No sockets, no clocks, no allocation on the common path: the transport (server.h) hands in the
// bytes it read and the facts it knows, and writes out what Process leaves in `out`.
//
// cove answers as Azure's resolver at 168.63.129.16 does (a recursive resolver, not an
// authoritative server): RA set, AA clear, RD and CD copied, and CNAME chains followed across
// zones with every link in the answer section, e.g. in a view linked to privatelink.azurecr.io:
//   myregistry.azurecr.io.              CNAME myregistry.privatelink.azurecr.io.
//   myregistry.privatelink.azurecr.io.  A     10.0.0.5
// Rules, in order:
//   - shorter than a header, or a response (QR set): dropped;
//   - opcode other than QUERY: NOTIMP;
//   - not parseable, QDCOUNT != 1, records in the answer or authority section, QTYPE 0 or OPT:
//     FORMERR (with the question if it could be read);
//   - EDNS version > 0: BADVERS (RFC 6891 §6.1.3); class other than IN: REFUSED; AXFR/IXFR:
//     REFUSED; MAILA/MAILB: NOTIMP;
//   - a name that one of the view's forwarding rules takes (catalog.h: longest domain, before
//     the zones): no response; ProcessResult::forward names the rule and the transport forwards
//     the query (forward.h builds what it relays);
//   - the zone of a name is the view's longest linked private zone containing it, else the
//     longest public zone (a linked private zone hides public zones below it); none: REFUSED (for
//     the first name) or the chain so far (for a CNAME target outside every zone, as nothing more
//     can be known about it);
//   - a name missing from a private zone linked with NxDomainRedirect is resolved in the public
//     view instead; otherwise a missing name is NXDOMAIN and an existing name without the type
//     is NODATA, both with the zone's SOA in the authority section, TTL min(SOA TTL, MINIMUM);
//   - CNAME chains longer than 8 or looping: SERVFAIL;
//   - ANY (RFC 8482): the CNAME at a CNAME node, else the node's first RRset by type;
//   - EDNS: the response carries OPT (version 0, our payload size, DO copied) iff the query did;
//     over UDP the response fits in max(512, min(client's size, facts.max_udp_payload)),
//     dropping whole RRsets and setting TC when the answer or authority section is cut.
// Names in the response keep the question's case (the first owner name is a pointer to it).
//
// Thread-safety: a pure function; call it from any number of threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dns/catalog.h"

namespace cove::dns {

struct TransportFacts {
  bool tcp = false;
  uint16_t max_udp_payload = 1232;  // the largest UDP response we send (DNS flag day 2020)
};

inline constexpr uint16_t kRcodeBadVers = 16;

struct ProcessResult {
  bool respond = false;  // false: drop the query (or forward it, below)
  uint16_t rcode = 0;    // full 12-bit RCODE of the response, for counters
  bool truncated = false;
  // Not null (and respond false): the rule of the view that takes the query; it points into the
  // catalog, valid while the caller holds it.
  const ForwardRule* forward = nullptr;
};

// Processes `query` in `view` of `catalog` (the view must belong to it). On respond, `out` holds
// the response; otherwise it is empty.
ProcessResult Process(std::span<const uint8_t> query, const Catalog& catalog, const View& view,
                      const TransportFacts& facts, std::vector<uint8_t>& out);

}  // namespace cove::dns
