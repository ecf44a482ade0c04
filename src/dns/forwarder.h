// Forwarder: one forwarded query's trip to its rule's targets, on Asio (internal to
// cove_dns_server; server.h says what forwarding does, forward.h judges the answers).
//
// For each target in order (skipping one equal to `received_on`, the loop guard): a fresh socket
// from the opener, a fresh random ID, the query over connected UDP; an answer with TC set sends
// the query again over TCP to the same target. Each transport gets `timeout`; an ICMP refusal, a
// timeout or a bad answer moves on to the next target; with none left, SERVFAIL. `done` is
// called exactly once, on the forwarder's strand, unless the io_context is stopped and destroyed
// first (then never).
//
// Thread-safety: StartForward may be called from any thread; the operation runs on a strand of
// its own.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dns/catalog.h"
#include "dns/query.h"
#include "dns/server.h"

namespace cove::dns {

struct ForwardRequest {
  std::string view;
  std::vector<uint8_t> query;  // the client's bytes
  std::vector<ForwardTarget> targets;
  TransportFacts facts;  // the client's transport
  // The address and port the query arrived on; a target equal to it is skipped.
  std::optional<std::pair<boost::asio::ip::address, uint16_t>> received_on;
};

// The response for the client (never empty for a query of a header or more) and its counters.
using ForwardDone = std::function<void(std::vector<uint8_t> response, ProcessResult result)>;

// Starts forwarding `request`. `opener` must outlive the operation; `in_flight` is incremented
// now and decremented when the operation ends (or is destroyed with the io_context).
void StartForward(boost::asio::io_context& io, UpstreamSocketOpener& opener,
                  std::chrono::milliseconds timeout, std::atomic<size_t>& in_flight,
                  ForwardRequest request, ForwardDone done);

}  // namespace cove::dns
