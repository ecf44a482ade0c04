// JMESPath queries and az's output formats: the library behind `cove --query ... -o ...`.
//
// Search/Compile evaluate JMESPath (https://jmespath.org/specification.html) the way az does,
// i.e. as the Python `jmespath` package does where the specification leaves room: ordering
// comparators (<, <=, >, >=) also compare two strings, and give null for any other pair that is
// not two numbers; `true == 1` is false; a backquoted literal that is not JSON is read as a
// string (the deprecated JEP-12 form, e.g. `[?name==`web`]`); function arguments may end with a
// comma; sort/min/max compare strings by code point. Unknown functions and wrong argument counts
// are found at Compile time (Python finds them while searching; az prints both the same way).
// Every failure is a Result error with code kInvalidArgument and Python jmespath's message:
//   syntax:   "Expecting: rbracket, got: eof: Parse error at column 3, token "x" (UNQUOTED_
//              IDENTIFIER), for expression:\n"[?a x"\n    ^"   (column from 0, in bytes), or
//             "Invalid jmespath expression: Incomplete expression:\n"[?a"\n    ^"
//   lexing:   "Bad jmespath expression: Unknown token '=':\na = b\n  ^"
//   function: "Unknown function: foo()", "Expected 1 argument for function length(), received 2"
//   type:     "In function length(), invalid type for value: 1, expected one of: ['string',
//              'array', 'object'], received: "number""
// az prints a syntax error as `argument --query: invalid jmespath_type value: '<expr>'` (exit
// code 2) and any other error as `Invalid jmespath query supplied for `--query`: <message>`;
// IsSyntaxError tells the CLI which of the two it has.
//
// Values: Search keeps object keys in document order (nlohmann::ordered_json overloads) so that a
// multiselect hash `{Name: name, Ip: ip}` keeps the order the user wrote, which `-o table` and
// `-o tsv` show. The nlohmann::json overloads (keys sorted) are there for convenience.
//
// Format prints a value exactly as az (knack) does, including the final newline:
//   json   json.dumps(indent=2, sort_keys=True, ensure_ascii=False) + "\n"
//   jsonc  json with ANSI colours when FormatOptions::color; az turns colour off when stdout is
//          not a TTY, so the CLI passes color = isatty(1) (without colour jsonc == json)
//   yaml   PyYAML safe_dump(default_flow_style=False, allow_unicode=True): sorted keys, block
//          style, plain scalars when PyYAML would write them plain, quotes where it would quote
//   yamlc  yaml with colours when FormatOptions::color
//   table  knack's auto-table through tabulate "simple": a list of objects gives one row each,
//          columns are the scalar, non-null fields (not id, type, etag), header = key with its
//          first letter upper-cased, width = max(header + 2, longest cell), separated by two
//          spaces, a dashed line under the header; keys sorted unless options.query_active
//          (then in document/query order); True/False as Python prints them, null empty;
//          an empty list prints an empty line
//   tsv    one line per list element; an object's values tab-separated (sorted by key unless
//          options.query_active), a nested list prints its length, a nested object prints
//          nothing, null prints None, a nested bool True/False, a top-level bool true/false
//   none   nothing
// A null result prints nothing in every format (knack skips output when the result is None).
// Bytes that are not UTF-8 print as U+FFFD. Colours follow pygments' TerminalFormatter for the
// tokens that matter (keys, strings, numbers, literals); whitespace is not wrapped in codes.
//
// Thread-safety: everything here is a pure function; a compiled Expression is immutable and may
// be evaluated from many threads at once.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cove::query {

namespace internal {
struct Node;
}  // namespace internal

// A parsed JMESPath expression. Cheap to copy (shares the immutable tree).
class Expression {
 public:
  // Evaluates against a document. Errors: kInvalidArgument for runtime type errors (a function
  // given the wrong type, sort_by keys of mixed types, a slice step of 0).
  Result<nlohmann::ordered_json> Evaluate(const nlohmann::ordered_json& document) const;
  Result<nlohmann::json> Evaluate(const nlohmann::json& document) const;

  // The text the expression was compiled from.
  const std::string& text() const { return text_; }

 private:
  friend Result<Expression> Compile(std::string_view expression);
  std::string text_;
  std::shared_ptr<const internal::Node> root_;
};

// Parses a JMESPath expression. Errors: kInvalidArgument with the position of the bad token,
// an unknown function name or a wrong number of function arguments (both known at parse time).
Result<Expression> Compile(std::string_view expression);

// Evaluates a JMESPath expression against a document (Compile + Evaluate).
Result<nlohmann::json> Search(std::string_view expression, const nlohmann::json& document);
Result<nlohmann::ordered_json> Search(std::string_view expression,
                                      const nlohmann::ordered_json& document);

// True when an error from Compile/Search is a syntax error (az reports these as
// "argument --query: invalid jmespath_type value: '<expr>'").
bool IsSyntaxError(const Error& error);

enum class OutputFormat { kJson, kJsonc, kTable, kTsv, kYaml, kYamlc, kNone };

// Parses the name of -o/--output (case-insensitive, as az lowercases it). Error: kInvalidArgument
// "invalid choice: 'xml' (choose from 'json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv', 'none')"
// (az's argparse words).
Result<OutputFormat> ParseOutputFormat(std::string_view name);

// The name az uses for a format ("json", "table", ...).
std::string_view OutputFormatName(OutputFormat format);

struct FormatOptions {
  // ANSI colours for jsonc/yamlc (az: only when stdout is a TTY). False: jsonc prints as json.
  bool color = false;
  // Whether --query was given: table and tsv then keep the value's key order instead of sorting.
  bool query_active = false;
};

// Prints a value as az prints it (see the header comment), ending with "\n" (or "" for none and
// for a null value). Every value has a table form, as in knack (a scalar row under "Result", a
// row that is a list under Column1..N, nested values as Python's repr), so Format never fails.
std::string Format(const nlohmann::json& value, OutputFormat format);
std::string Format(const nlohmann::ordered_json& value, OutputFormat format,
                   const FormatOptions& options = {});

// Python's json.dumps(value, separators=(',', ':')) (ASCII only, keys in document order): the
// text of JMESPath's to_string().
std::string CompactJson(const nlohmann::ordered_json& value);

}  // namespace cove::query
