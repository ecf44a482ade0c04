// Helpers for the providers' projections (ResourceProvider::project, provider.h): reading the
// stored documents into Snapshot views without throwing on a missing or mistyped field.
// Internal to cove_arm.
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <string>
#include <vector>

#include "arm/snapshot.h"

namespace cove::arm {

// j[key] when it is a string; "" otherwise.
std::string Str(const Json& j, const char* key);
// The strings of an array (others skipped); empty when `j` is not an array.
std::vector<std::string> Strings(const Json& j);
// doc["_cove"][field], or an empty object.
const Json& Cove(const Json& doc, const char* field);
// name → {hash, expiry?} as stored under "_cove" → views.
std::vector<SecretView> Secrets(const Json& stored);
// The documents exactly one level below `parent`: "<parent>/<type>/<name>".
std::vector<const Json*> ChildDocuments(const Documents& docs, const std::string& parent,
                                        const std::string& type);

// Projections shared by several types.
// A VM or a container group → snapshot.machines (and its system-assigned principal).
void ProjectMachine(const std::string& key, const Json& doc, Snapshot& snapshot);
// A Graph directory object (#directory/users/..., #directory/serviceprincipals/...) →
// snapshot.principals (directory.cc).
void ProjectDirectoryObject(const std::string& key, const Json& doc, Snapshot& snapshot);

}  // namespace cove::arm
