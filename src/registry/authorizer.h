// RequiredAccess: the access (authz/authorizer.h) each Distribution API route needs, as the
// table in authz/authorizer.h gives it.
//
// Thread-safety: a pure function.
#pragma once

#include <string_view>

#include "authz/authorizer.h"
#include "registry/route.h"

namespace cove::registry {

AccessRequirement RequiredAccess(const Route& route, std::string_view method);

}  // namespace cove::registry
