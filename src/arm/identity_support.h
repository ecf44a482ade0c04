// Pieces the control plane's identity resources share (internal to cove_arm): Azure's built-in
// role definitions, ISO 8601 times, generated secrets and Argon2id hashes, and SecretBox — the
// at-rest encryption of the admin user's passwords, the only secrets cove must read again.
//
// SecretBox: libsodium crypto_secretbox (XSalsa20-Poly1305) with one 32-byte key kept in
// <data>/keys/credentials.key (mode 0600, directory 0700), made on first use. A sealed value is
// "sb1:" + base64(nonce || ciphertext). With no key path (":memory:" control planes) the key is
// random and lives only in memory.
//
// Thread-safety: the functions are pure; a SecretBox belongs to the control plane's writer
// (it is used under the writer lock only).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/guid.h"

namespace cove::arm {

inline constexpr const char* kTenantId = "c0ffee00-0000-4000-8000-0000000000ff";

struct BuiltInRole {
  const char* name;
  const char* guid;
  const char* description;
  std::vector<const char*> actions;
  std::vector<const char*> not_actions;
};
// AcrPull, AcrPush, AcrDelete, Owner, Contributor, Reader, Network Contributor, User Access
// Administrator (actions and notActions as Azure defines them; arm/rbac.h evaluates them).
const std::vector<BuiltInRole>& BuiltInRoles();
const BuiltInRole* FindRoleByGuid(std::string_view guid);
const BuiltInRole* FindRoleByName(std::string_view name);  // case-insensitive
// The GUID at the end of ".../providers/Microsoft.Authorization/roleDefinitions/<guid>" (any
// prefix); nullopt when `id` is not of that shape.
std::optional<std::string> RoleDefinitionGuid(std::string_view id);

// The SystemDefined scope maps every registry has.
struct SystemScopeMapDef {
  const char* name;
  const char* description;
  std::vector<const char*> actions;
};
// _repositories_admin, _repositories_pull, _repositories_push.
const std::vector<SystemScopeMapDef>& SystemScopeMapDefs();
const SystemScopeMapDef* FindSystemScopeMap(std::string_view name);  // case-insensitive

// "2026-11-29T00:37:46Z" (Graph) and "2026-11-29T00:37:46.0000000+00:00" (ARM).
std::string FormatGraphTime(Clock::TimePoint t);
std::string FormatArmTime(Clock::TimePoint t);
// Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]"; nullopt otherwise.
std::optional<Clock::TimePoint> ParseIsoTime(std::string_view text);

// A new secret: 32 characters of [A-Za-z0-9] from libsodium's CSPRNG.
std::string GenerateSecret();
// Argon2id (auth/password.h); `fast` uses libsodium's minimum cost (tests).
Result<std::string> HashSecret(std::string_view secret, bool fast);

class SecretBox {
 public:
  // `key_path` "" keeps a random key in memory.
  explicit SecretBox(std::string key_path) : key_path_(std::move(key_path)) {}
  // kIOError naming the key file when it cannot be read or made.
  Result<std::string> Seal(std::string_view plaintext);
  // kCorruption when `sealed` was not made with this key.
  Result<std::string> Open(std::string_view sealed);

 private:
  Status LoadKey();
  std::string key_path_;
  std::optional<std::array<unsigned char, 32>> key_;
};

}  // namespace cove::arm
