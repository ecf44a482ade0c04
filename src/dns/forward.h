// Forwarding, the pure part: what the transport sends to a forwarding rule's target (catalog.h,
// ForwardRule) and what it relays to the client, as functions of bytes. No sockets, no clocks;
// the transport (server.h) owns the network side: targets in order, a timeout per target, UDP
// then TCP when the answer is truncated, SERVFAIL when every target failed.
//
// The query goes upstream as the client wrote it (its EDNS size, RD, CD) but with an ID of the
// transport's choosing, so that an answer is matched to this query only. An answer is relayed
// only if it is a well-formed response (wire.h Parse) to that ID and to the client's question
// (name compared without case, type, class); it then goes back with the client's ID and, over
// UDP, within the size the client accepts (whole RRsets dropped and TC set when it does not
// fit, as Serialize does), so the client retries over TCP.
//
// Thread-safety: pure functions; call them from any number of threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dns/query.h"

namespace cove::dns {

// Returns `query` with its ID replaced by `upstream_id`. REQUIRES: query.size() >= 12.
std::vector<uint8_t> UpstreamQuery(std::span<const uint8_t> query, uint16_t upstream_id);

enum class UpstreamVerdict {
  kRelay,      // `out` holds the response for the client
  kTruncated,  // a UDP answer with TC set: ask the same target over TCP
  kIgnore,     // not an answer to this query (another ID, or shorter than an ID): keep waiting
  kBad,        // an answer to this ID that is malformed or answers another question: the
               // target failed
};

// Judges `answer`, received from a target (over TCP if `over_tcp`) for `query` (the client's
// bytes, which Process took for forwarding) sent with `upstream_id`; on kRelay fills `out` with
// what the client gets under `facts` (the client's transport), else leaves it empty.
UpstreamVerdict RelayAnswer(std::span<const uint8_t> query, std::span<const uint8_t> answer,
                            uint16_t upstream_id, bool over_tcp, const TransportFacts& facts,
                            std::vector<uint8_t>& out);

// Fills `out` with a response to `query` carrying `rcode` (SERVFAIL when every target failed):
// the question, RA set, RD and CD copied, OPT iff the query had one. Returns what Process would
// for counters. A query shorter than a header gets no response.
ProcessResult ErrorResponse(std::span<const uint8_t> query, uint8_t rcode,
                            const TransportFacts& facts, std::vector<uint8_t>& out);

}  // namespace cove::dns
