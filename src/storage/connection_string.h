// Connection strings of the shared engines, for messages.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace cove::storage {

// `text` with its secrets replaced by "***": a URI's password (postgresql://user:***@host/db),
// a key=value `password=` (libpq) or `?password=` parameter, an Azure Storage connection
// string's AccountKey and SharedAccessSignature. Everything else is kept, so the message still
// says which engine and where.
std::string RedactConnection(std::string_view text);

}  // namespace cove::storage
