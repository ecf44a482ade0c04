// Passwords: generation from a CSPRNG and slow hashing with Argon2id (libsodium).
//
// Only the hash is ever stored. A hash is libsodium's self-describing string
// ("$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>"), so the cost parameters travel with it and a
// hash made with cheaper parameters (tests) verifies with the same function.
//
// Generated passwords are 32 random bytes in base64 without padding or '+'/'/' (ACR's admin and
// token passwords are of that alphabet and length class), safe in Basic credentials and YAML.
//
// Thread-safety: pure functions; libsodium is initialised once, on first use.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace cove::auth {

// Argon2id cost. kInteractive is libsodium's OPSLIMIT/MEMLIMIT_INTERACTIVE (≈ 64 MiB, ~50 ms);
// kMinimal is the smallest libsodium allows, for tests only.
enum class HashCost { kInteractive, kMinimal };

// kInternal if libsodium fails (out of memory).
Result<std::string> HashPassword(std::string_view password, HashCost cost = HashCost::kInteractive);
// True when `password` matches `hash`; false for a wrong password or a malformed hash.
bool VerifyPassword(std::string_view password, const std::string& hash);
// A new random password (43 characters, [A-Za-z0-9]).
std::string GeneratePassword();
// `n` random bytes from the CSPRNG.
std::string RandomBytes(size_t n);

}  // namespace cove::auth
