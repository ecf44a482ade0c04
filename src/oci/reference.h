// Names, tags and references as the OCI distribution spec defines them.
//
//   <name>      [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//   <tag>       [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
//   <reference> a tag or a digest
//
// cove limits a repository name to 255 characters (with the registry host, the spec's
// recommended bound) and refuses names with more than 64 path components.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "common/digest.h"
#include "common/error.h"

namespace cove::oci {

bool IsValidRepositoryName(std::string_view name);
bool IsValidTag(std::string_view tag);

// A manifest reference: a tag or a digest.
struct Reference {
  std::variant<std::string, Digest> value;
  bool is_digest() const { return std::holds_alternative<Digest>(value); }
  const Digest& digest() const { return std::get<Digest>(value); }
  const std::string& tag() const { return std::get<std::string>(value); }
  std::string str() const;
};

// Parses a reference: a string containing ':' must be a valid digest, otherwise a valid tag.
// kInvalidArgument otherwise (message says which).
Result<Reference> ParseReference(std::string_view text);

}  // namespace cove::oci
