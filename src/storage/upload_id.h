// ValidateUploadId: the one rule for upload ids that every BlobStore applies (see
// BlobStore::CreateUpload): 1 to 128 characters from [A-Za-z0-9_-], so an id is always a safe
// single path component and a safe URL segment.
//
// Thread-safety: a pure function.
#pragma once

#include <string_view>

#include "common/error.h"

namespace cove::storage {

// Ok, or kInvalidArgument naming what is wrong with `id`.
Status ValidateUploadId(std::string_view id);

}  // namespace cove::storage
