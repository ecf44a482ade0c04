// The server name (SNI) a TLS client asks for, read from its ClientHello without terminating
// TLS — how a forwarder in front of several nodes (one per region) picks the node for a
// connection to a shared address (a registry's public endpoint, a loopback listener) before
// any byte reaches a node, as sniproxy and Azure's front doors do.
//
// Input: the first bytes the client sent. The ClientHello may span several TLS records
// (RFC 8446 §5.1: handshake messages may be fragmented); at most kMaxClientHelloBytes are
// looked at. Parsing follows RFC 8446 §4.1.2 and RFC 6066 §3 (server_name extension, host_name
// entries; the first host_name wins), for TLS 1.0–1.3 record and ClientHello versions.
//
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cove::privatelink {

// A ClientHello longer than this is refused (real ones are well below 4 KiB, post-quantum key
// shares included).
inline constexpr size_t kMaxClientHelloBytes = 16 * 1024;

// The host name of the ClientHello that starts `bytes`, lowercased; "" when it carries no
// server_name. kUnavailable when `bytes` ends before the ClientHello does (read more and call
// again); kInvalidArgument when the bytes are not a TLS ClientHello, are malformed, or the
// ClientHello exceeds kMaxClientHelloBytes.
Result<std::string> ClientHelloServerName(std::string_view bytes);

}  // namespace cove::privatelink
