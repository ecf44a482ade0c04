#include "query/text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cove::query {

using Json = nlohmann::ordered_json;

std::vector<char32_t> DecodeUtf8(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    char32_t cp;
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (i + static_cast<size_t>(extra) >= s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};  // shorter forms are overlong
    if (!ok || cp > 0x10FFFF || cp < kMin[extra] || (cp >= 0xD800 && cp <= 0xDFFF)) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

void AppendUtf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

size_t CodePointCount(std::string_view s) { return DecodeUtf8(s).size(); }

std::string ReverseCodePoints(std::string_view s) {
  std::vector<char32_t> cps = DecodeUtf8(s);
  std::string out;
  for (auto it = cps.rbegin(); it != cps.rend(); ++it) AppendUtf8(*it, out);
  return out;
}

std::string PythonFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, end);
  std::string out;
  size_t pos = 0;
  if (sci[0] == '-') {
    out += '-';
    pos = 1;
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exponent = std::atoi(sci.c_str() + e + 1);
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() < int_len) digits.append(int_len - digits.size(), '0');
      std::string frac = digits.substr(int_len);
      out += digits.substr(0, int_len) + "." + (frac.empty() ? "0" : frac);
    } else {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp[16];
  std::snprintf(exp, sizeof(exp), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp;
}

std::string PythonStr(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "None";
    case Json::value_t::boolean:
      return v.get<bool>() ? "True" : "False";
    case Json::value_t::string:
      return v.get<std::string>();
    case Json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float:
      return PythonFloat(v.get<double>());
    case Json::value_t::array:
    case Json::value_t::object:
      return PythonRepr(v);
    default:
      return "";
  }
}

namespace {

std::string PythonStringRepr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : DecodeUtf8(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      AppendUtf8(c, out);
    }
  }
  out += quote;
  return out;
}

}  // namespace

std::string PythonRepr(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string:
      return PythonStringRepr(v.get_ref<const std::string&>());
    case Json::value_t::array: {
      std::string out = "[";
      bool first = true;
      for (const Json& e : v) {
        if (!first) out += ", ";
        out += PythonRepr(e);
        first = false;
      }
      return out + "]";
    }
    case Json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        out += PythonStringRepr(it.key()) + ": " + PythonRepr(it.value());
        first = false;
      }
      return out + "}";
    }
    default:
      return PythonStr(v);
  }
}

namespace {

std::string_view Strip(std::string_view s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// Python int() syntax: optional sign, digits with single underscores between them.
bool PythonIntDigits(std::string_view s, std::string& clean) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean += s[i++];
  if (i >= s.size()) return false;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      clean += c;
      prev_digit = true;
    } else if (c == '_' && prev_digit && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
      prev_digit = false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<Json> ParsePythonNumber(std::string_view raw) {
  std::string_view s = Strip(raw);
  std::string clean;
  if (PythonIntDigits(s, clean)) {
    const char* begin = clean.c_str();
    if (*begin == '+') ++begin;
    int64_t value = 0;
    auto [p, ec] = std::from_chars(begin, clean.c_str() + clean.size(), value);
    if (ec == std::errc() && p == clean.c_str() + clean.size()) return Json(value);
    double d = std::strtod(clean.c_str(), nullptr);
    return Json(d);
  }
  // float(): decimal digits with optional fraction and exponent (no hex, no inf/nan: those are
  // not JSON numbers).
  std::string f;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) f += s[i++];
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') f += s[i++], ++digits;
  if (i < s.size() && s[i] == '.') {
    f += s[i++];
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') f += s[i++], ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    f += s[i++];
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) f += s[i++];
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') f += s[i++], ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  double d = std::strtod(f.c_str(), nullptr);
  if (!std::isfinite(d)) return std::nullopt;
  return Json(d);
}

std::string JsonQuote(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  auto hex4 = [&out](unsigned v) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "\\u%04x", v & 0xFFFFu);
    out += buf;
  };
  for (char32_t c : DecodeUtf8(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          hex4(c);
        } else if (c <= 0x7F || !ensure_ascii) {
          AppendUtf8(c, out);
        } else if (c < 0x10000) {
          hex4(c);
        } else {
          char32_t v = c - 0x10000;
          hex4(0xD800 + (v >> 10));
          hex4(0xDC00 + (v & 0x3FF));
        }
    }
  }
  return out + "\"";
}

}  // namespace cove::query
