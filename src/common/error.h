// Error and Result: the one error type every cove module returns.
//
// A Result<T> holds either a T or an Error. An Error carries a small Code (what kind of failure,
// so callers can branch) and a human message (what exactly went wrong, for logs and for the
// message field of whatever protocol error the edge produces). Each edge translates a Code once:
// the OCI error table (registry), DNS RCODEs (dns), ARM error bodies (arm), exit codes (cli).
//
// No exceptions cross a module boundary: code that calls a throwing library (nlohmann::json,
// yaml-cpp) catches at the call and returns an Error.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace cove {

enum class Code {
  kInvalidArgument,     // the input is malformed or violates a rule
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // creating something that is already there
  kFailedPrecondition,  // the state does not allow this now (e.g. offset mismatch)
  kOutOfRange,          // a range, offset or size outside what is allowed
  kPermissionDenied,    // known caller, not allowed
  kUnauthenticated,     // caller unknown
  kResourceExhausted,   // a limit was hit (size, count, addresses)
  kUnavailable,         // try again later
  kIOError,             // the OS said no (open, write, fsync, socket)
  kCorruption,          // stored data does not match what it should be
  kUnimplemented,       // not supported (yet)
  kInternal,            // a bug or an impossible state
};

std::string_view CodeName(Code code);

struct Error {
  Code code;
  std::string message;
  // Optional, for an edge whose protocol has finer codes than Code: the protocol's own name for
  // this failure ("InvalidResourceName") and its HTTP status (400). Empty and 0 unless the
  // module that failed speaks that protocol (arm sets both); that protocol's edge answers with
  // them and falls back to Code when they are unset.
  std::string reason;
  int http_status = 0;

  std::string ToString() const { return std::string(CodeName(code)) + ": " + message; }
};

template <typename T>
using Result = tl::expected<T, Error>;

// Status is a Result with no value.
using Status = Result<void>;

inline tl::unexpected<Error> Fail(Code code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

inline Status Ok() { return {}; }

}  // namespace cove

// Propagates the error of an expression returning Result<...>; evaluates to nothing.
#define COVE_RETURN_IF_ERROR(expr)                                   \
  do {                                                               \
    auto cove_status_ = (expr);                                      \
    if (!cove_status_) return ::cove::Fail(std::move(cove_status_).error()); \
  } while (0)

#define COVE_CONCAT_INNER_(a, b) a##b
#define COVE_CONCAT_(a, b) COVE_CONCAT_INNER_(a, b)

// COVE_ASSIGN_OR_RETURN(auto x, Foo()); assigns the value or returns the error.
#define COVE_ASSIGN_OR_RETURN(lhs, expr)                                     \
  auto COVE_CONCAT_(cove_result_, __LINE__) = (expr);                        \
  if (!COVE_CONCAT_(cove_result_, __LINE__))                                 \
    return ::cove::Fail(std::move(COVE_CONCAT_(cove_result_, __LINE__)).error()); \
  lhs = std::move(*COVE_CONCAT_(cove_result_, __LINE__))
