// The parts of Azure Blob Storage's answers that AzureBlobStore reads, apart from the store so
// that a fuzz target can reach them without a network client: the list answers' XML (List
// Blobs, Get Block List), decimal numbers, and the saved SHA-256 state of an upload (a blob the
// store wrote, read back from the account, so as untrusted as any answer).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace cove::storage::azure {

// `offset` as 20 decimal digits (names and block ids sort by it).
std::string Offset20(uint64_t offset);
// A decimal number of at most 20 digits that fits 64 bits; nullopt for anything else.
std::optional<uint64_t> ParseUint(std::string_view s);
// The inner text of every <tag>...</tag> in `xml`, in order. The service's list answers are flat
// enough for this; the names read from them are ids, hex and base64, which need no unescaping.
// Unclosed elements end the list.
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);
// The first of them, or "".
std::string_view XmlElement(std::string_view xml, std::string_view tag);

// An upload's running SHA-256 at `length` bytes, saved as "cove-sha256-state-v1", Offset20(length)
// and OpenSSL's SHA256_CTX (so every node must run the same OpenSSL on the same architecture,
// as with distribution's saved hash states). `ctx` is the SHA256_CTX's bytes.
std::string EncodeHashState(std::string_view ctx, uint64_t length);
// The SHA256_CTX bytes of a saved state, checked: the header names `length`, the size is
// exact, and the context is one a hash of `length` bytes can be in (its bit count is
// length * 8, its partial block holds length % 64 bytes, its digest length is 32) — a state
// that is not would make OpenSSL read or write outside the context. kCorruption naming `where`.
Result<std::string> DecodeHashState(std::string_view bytes, uint64_t length,
                                    const std::string& where);

}  // namespace cove::storage::azure
