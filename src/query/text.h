// Text helpers shared by the JMESPath interpreter and the output formats: UTF-8 code points, and
// numbers and strings spelled the way Python spells them (az is a Python program, so its output
// is Python's str(), repr() and json.dumps()).
//
// Internal to cove_query. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cove::query {

// Decodes UTF-8 into code points; an invalid byte (also overlong forms and surrogates) becomes
// U+FFFD.
std::vector<char32_t> DecodeUtf8(std::string_view s);
void AppendUtf8(char32_t c, std::string& out);

size_t CodePointCount(std::string_view s);
std::string ReverseCodePoints(std::string_view s);

// Python's repr(float): shortest round-trip digits, "1.0", "1e+16", "1.5e-05".
std::string PythonFloat(double d);

// Python's str() of a JSON scalar: True/False/None, ints, float repr, strings as they are.
std::string PythonStr(const nlohmann::ordered_json& v);

// Python's repr() of a JSON value as Python holds it (dicts, lists, 'strings', True, None).
std::string PythonRepr(const nlohmann::ordered_json& v);

// Python's int(s), else float(s) (as jmespath's to_number does); nullopt when neither parses or
// the float is not finite.
std::optional<nlohmann::ordered_json> ParsePythonNumber(std::string_view s);

// A JSON string literal as Python's json module writes it (ensure_ascii: \uXXXX escapes for
// everything beyond ASCII).
std::string JsonQuote(std::string_view s, bool ensure_ascii);

// Deep equality of JSON values ignoring object key order; numbers compare by value.
bool JsonEqual(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b);

}  // namespace cove::query
