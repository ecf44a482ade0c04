// az's output formats (knack/output.py): json, jsonc, yaml, yamlc, table, tsv, none.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "query/query.h"
#include "query/text.h"

namespace cove::query {

using Json = nlohmann::ordered_json;

namespace {

// ANSI colours as pygments' TerminalFormatter writes them.
constexpr std::string_view kReset = "\x1b[39;49;00m";
constexpr std::string_view kBlue = "\x1b[34m";        // numbers, true/false/null
constexpr std::string_view kBrightBlue = "\x1b[94m";  // object keys (Name.Tag)
constexpr std::string_view kYellow = "\x1b[33m";      // strings

std::string Paint(std::string_view colour, std::string_view text, bool color) {
  if (!color) return std::string(text);
  return std::string(colour) + std::string(text) + std::string(kReset);
}

// Object members in the order a format prints them.
std::vector<std::pair<const std::string*, const Json*>> Members(const Json& object, bool sorted) {
  std::vector<std::pair<const std::string*, const Json*>> members;
  members.reserve(object.size());
  for (auto it = object.begin(); it != object.end(); ++it) {
    members.emplace_back(&it.key(), &it.value());
  }
  if (sorted) {
    std::stable_sort(members.begin(), members.end(),
                     [](const auto& a, const auto& b) { return *a.first < *b.first; });
  }
  return members;
}

std::string JsonNumber(const Json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return PythonFloat(d);
  }
  return PythonStr(v);
}

// ---------------------------------------------------------------------------------------------
// json / jsonc: json.dumps(indent=2, sort_keys=True, ensure_ascii=False, separators=(',', ': '))

void DumpJson(const Json& v, int indent, bool color, std::string& out) {
  switch (v.type()) {
    case Json::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (const auto& [key, value] : Members(v, true)) {
        if (!first) out += ",\n";
        first = false;
        out.append(static_cast<size_t>(indent + 2), ' ');
        out += Paint(kBrightBlue, JsonQuote(*key, false), color);
        out += ": ";
        DumpJson(*value, indent + 2, color, out);
      }
      out += "\n";
      out.append(static_cast<size_t>(indent), ' ');
      out += "}";
      return;
    }
    case Json::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      bool first = true;
      for (const Json& e : v) {
        if (!first) out += ",\n";
        first = false;
        out.append(static_cast<size_t>(indent + 2), ' ');
        DumpJson(e, indent + 2, color, out);
      }
      out += "\n";
      out.append(static_cast<size_t>(indent), ' ');
      out += "]";
      return;
    }
    case Json::value_t::string:
      out += Paint(kYellow, JsonQuote(v.get_ref<const std::string&>(), false), color);
      return;
    case Json::value_t::boolean:
      out += Paint(kBlue, v.get<bool>() ? "true" : "false", color);
      return;
    case Json::value_t::null:
      out += Paint(kBlue, "null", color);
      return;
    default:
      out += Paint(kBlue, JsonNumber(v), color);
      return;
  }
}

void DumpCompact(const Json& v, std::string& out) {
  switch (v.type()) {
    case Json::value_t::object: {
      out += "{";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ",";
        first = false;
        out += JsonQuote(it.key(), true);
        out += ":";
        DumpCompact(it.value(), out);
      }
      out += "}";
      return;
    }
    case Json::value_t::array: {
      out += "[";
      bool first = true;
      for (const Json& e : v) {
        if (!first) out += ",";
        first = false;
        DumpCompact(e, out);
      }
      out += "]";
      return;
    }
    case Json::value_t::string:
      out += JsonQuote(v.get_ref<const std::string&>(), true);
      return;
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::null:
      out += "null";
      return;
    default:
      out += JsonNumber(v);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// tsv: knack's _TsvOutput

void TsvCell(const Json& v, std::string& out) {
  if (v.is_array()) {
    out += std::to_string(v.size());
  } else if (v.is_object()) {
    // nothing: keeps the column count stable
  } else {
    out += PythonStr(v);
  }
}

std::string FormatTsv(const Json& value, bool sort_keys) {
  std::string out;
  auto row = [&](const Json& item) {
    if (item.is_object()) {
      bool first = true;
      for (const auto& [key, v] : Members(item, sort_keys)) {
        if (!first) out += '\t';
        first = false;
        TsvCell(*v, out);
      }
    } else if (item.is_array()) {
      bool first = true;
      for (const Json& v : item) {
        if (!first) out += '\t';
        first = false;
        TsvCell(v, out);
      }
    } else if (item.is_boolean()) {
      out += item.get<bool>() ? "true" : "false";
    } else {
      TsvCell(item, out);
    }
    out += '\n';
  };
  if (value.is_array()) {
    for (const Json& item : value) row(item);
  } else {
    row(value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// table: knack's _TableOutput + tabulate(headers="keys", tablefmt="simple", disable_numparse)

std::string Capitalize(const std::string& key) {
  if (key.empty()) return key;
  std::string out = key;
  out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

using Row = std::vector<std::pair<std::string, const Json*>>;

Row AutoTableItem(const Json& item, bool sort_keys) {
  Row row;
  if (item.is_object()) {
    for (const auto& [key, v] : Members(item, sort_keys)) {
      if (*key == "id" || *key == "type" || *key == "etag") continue;
      if (v->is_null() || v->is_array() || v->is_object()) continue;
      row.emplace_back(Capitalize(*key), v);
    }
  } else if (item.is_array()) {
    for (size_t i = 0; i < item.size(); ++i) {
      row.emplace_back("Column" + std::to_string(i + 1), &item[i]);
    }
  } else {
    row.emplace_back("Result", &item);
  }
  return row;
}

std::string StripWhitespace(std::string_view s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(s.substr(start));
      return lines;
    }
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
}

std::string RstripSpaces(std::string s) {
  size_t e = s.find_last_not_of(' ');
  s.erase(e == std::string::npos ? 0 : e + 1);
  return s;
}

std::string FormatTable(const Json& value, bool sort_keys) {
  std::vector<Row> rows;
  if (value.is_array()) {
    for (const Json& item : value) rows.push_back(AutoTableItem(item, sort_keys));
  } else {
    rows.push_back(AutoTableItem(value, sort_keys));
  }
  if (rows.empty()) return "\n";
  // Headers: every key, in order of first appearance.
  std::vector<std::string> headers;
  for (const Row& row : rows) {
    for (const auto& [key, v] : row) {
      if (std::find(headers.begin(), headers.end(), key) == headers.end()) headers.push_back(key);
    }
  }
  if (headers.empty()) return "\n";
  // Cells (stripped, possibly several lines each) and column widths.
  std::vector<std::vector<std::vector<std::string>>> cells(rows.size());
  std::vector<size_t> widths;
  for (const std::string& h : headers) widths.push_back(CodePointCount(h) + 2);
  bool multiline = false;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < headers.size(); ++c) {
      std::string text;
      for (const auto& [key, v] : rows[r]) {
        if (key == headers[c]) {
          text = v->is_null() ? "" : v->is_string() ? v->get<std::string>() : PythonStr(*v);
          break;
        }
      }
      std::vector<std::string> lines;
      if (text.find('\n') != std::string::npos) {
        multiline = true;
        for (const std::string& line : SplitLines(text)) lines.push_back(StripWhitespace(line));
      } else {
        lines.push_back(StripWhitespace(text));
      }
      for (const std::string& line : lines) widths[c] = std::max(widths[c], CodePointCount(line));
      cells[r].push_back(std::move(lines));
    }
  }
  (void)multiline;
  auto pad = [](const std::string& s, size_t width) {
    size_t n = CodePointCount(s);
    return n >= width ? s : s + std::string(width - n, ' ');
  };
  std::string out;
  {
    std::string line;
    for (size_t c = 0; c < headers.size(); ++c) {
      if (c) line += "  ";
      line += pad(headers[c], widths[c]);
    }
    out += RstripSpaces(line) + "\n";
  }
  {
    std::string line;
    for (size_t c = 0; c < headers.size(); ++c) {
      if (c) line += "  ";
      line += std::string(widths[c], '-');
    }
    out += line + "\n";
  }
  for (const auto& row : cells) {
    size_t height = 1;
    for (const auto& cell : row) height = std::max(height, cell.size());
    for (size_t l = 0; l < height; ++l) {
      std::string line;
      for (size_t c = 0; c < row.size(); ++c) {
        if (c) line += "  ";
        line += pad(l < row[c].size() ? row[c][l] : "", widths[c]);
      }
      out += RstripSpaces(line) + "\n";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// yaml: PyYAML safe_dump(default_flow_style=False, allow_unicode=True) — sort_keys, indent 2,
// width 80, indentless sequences inside mappings.

constexpr size_t kBestWidth = 80;

bool IsSpecialSpace(char32_t c) {
  return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0x85 || c == 0x2028 ||
         c == 0x2029;
}
bool IsBreak(char32_t c) { return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029; }

// A tiny cursor for the YAML 1.1 implicit-type patterns below (PyYAML's resolver regexes,
// written out by hand).
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool Done() const { return i_ == s_.size(); }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool EatAny(std::string_view set) {
    if (i_ < s_.size() && set.find(s_[i_]) != std::string_view::npos) return ++i_, true;
    return false;
  }
  size_t EatMany(std::string_view set) {
    size_t n = 0;
    while (EatAny(set)) ++n;
    return n;
  }
  bool EatWord(std::string_view w) {
    if (s_.substr(i_, w.size()) == w) return i_ += w.size(), true;
    return false;
  }
  size_t pos() const { return i_; }
  void Reset(size_t pos) { i_ = pos; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kDigitsU = "0123456789_";

// (?::[0-5]?[0-9])+ — sexagesimal parts; returns whether at least one was eaten.
bool Sexagesimal(Cursor& c) {
  bool any = false;
  while (true) {
    size_t save = c.pos();
    if (!c.Eat(':')) break;
    size_t p = c.pos();
    bool ok = false;
    if (c.EatAny("012345") && c.EatAny(kDigits)) {
      ok = true;
    } else {
      c.Reset(p);
      ok = c.EatAny(kDigits);
    }
    if (!ok) {
      c.Reset(save);
      break;
    }
    any = true;
  }
  return any;
}

bool IsYamlInt(std::string_view s) {
  Cursor c(s);
  c.EatAny("+-");
  size_t body = c.pos();
  if (c.EatWord("0b")) return c.EatMany("01_") > 0 && c.Done();
  c.Reset(body);
  if (c.EatWord("0x")) return c.EatMany("0123456789abcdefABCDEF_") > 0 && c.Done();
  c.Reset(body);
  if (c.Eat('0')) {
    if (c.Done()) return true;
    return c.EatMany("01234567_") > 0 && c.Done();
  }
  if (!c.EatAny("123456789")) return false;
  c.EatMany(kDigitsU);
  if (c.Done()) return true;
  return Sexagesimal(c) && c.Done();
}

bool IsYamlFloat(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  Cursor c(s);
  c.EatAny("+-");
  size_t body = c.pos();
  if (c.EatWord(".inf") || c.EatWord(".Inf") || c.EatWord(".INF")) return c.Done();
  auto exponent = [](Cursor& k) {
    size_t save = k.pos();
    if (k.EatAny("eE")) {
      if (k.EatAny("+-") && k.EatMany(kDigits) > 0) return;
      k.Reset(save);
    }
  };
  c.Reset(body);
  if (c.EatAny(kDigits)) {
    c.EatMany(kDigitsU);
    size_t after_int = c.pos();
    if (c.Eat('.')) {
      c.EatMany(kDigitsU);
      exponent(c);
      if (c.Done()) return true;
    }
    c.Reset(after_int);
    if (Sexagesimal(c) && c.Eat('.')) {
      c.EatMany(kDigitsU);
      return c.Done();
    }
    return false;
  }
  // \.[0-9][0-9_]* (no sign allowed by the pattern)
  if (body != 0) return false;
  if (!c.Eat('.') || !c.EatAny(kDigits)) return false;
  c.EatMany(kDigitsU);
  exponent(c);
  return c.Done();
}

bool IsYamlTimestamp(std::string_view s) {
  Cursor c(s);
  auto digits = [&c](size_t min, size_t max) {
    size_t n = 0;
    while (n < max && c.EatAny(kDigits)) ++n;
    return n >= min;
  };
  if (!digits(4, 4) || !c.Eat('-')) return false;
  size_t month = c.pos();
  if (digits(2, 2) && c.Eat('-') && digits(2, 2) && c.Done()) return true;
  c.Reset(month);
  if (!digits(1, 2) || !c.Eat('-') || !digits(1, 2)) return false;
  if (!c.EatAny("Tt") && c.EatMany(" \t") == 0) return false;
  if (!digits(1, 2) || !c.Eat(':') || !digits(2, 2) || !c.Eat(':') || !digits(2, 2)) return false;
  if (c.Eat('.')) c.EatMany(kDigits);
  if (c.Done()) return true;
  c.EatMany(" \t");
  if (c.Eat('Z')) return c.Done();
  if (!c.EatAny("+-") || !digits(1, 2)) return false;
  if (c.Eat(':') && !digits(2, 2)) return false;
  return c.Done();
}

// Would a plain scalar with this text resolve to something other than a string (YAML 1.1
// implicit types as PyYAML's resolver knows them)?
bool ResolvesToNonString(const std::string& s) {
  static constexpr std::array<std::string_view, 22> kWords = {
      "yes",   "Yes", "YES", "no", "No",  "NO",  "true", "True", "TRUE", "false", "False",
      "FALSE", "on",  "On",  "ON", "off", "Off", "OFF",  "~",    "null", "Null",  "NULL"};
  if (s.empty()) return true;  // null
  if (std::find(kWords.begin(), kWords.end(), s) != kWords.end()) return true;
  if (s == "<<" || s == "=") return true;
  char c = s[0];
  if (std::string_view("-+0123456789.").find(c) == std::string_view::npos) return false;
  return IsYamlInt(s) || IsYamlFloat(s) || IsYamlTimestamp(s);
}

struct Analysis {
  bool empty = false;
  bool multiline = false;
  bool allow_block_plain = true;
  bool allow_single_quoted = true;
};

Analysis AnalyzeScalar(const std::vector<char32_t>& s) {
  Analysis a;
  if (s.empty()) {
    a.empty = true;
    return a;
  }
  bool block_indicators = false, line_breaks = false, special = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false,
       break_space = false, space_break = false;
  auto starts = [&](std::u32string_view p) {
    return s.size() >= p.size() && std::equal(p.begin(), p.end(), s.begin());
  };
  if (starts(U"---") || starts(U"...")) block_indicators = true;
  bool preceded_by_whitespace = true;
  bool followed_by_whitespace = s.size() == 1 || IsSpecialSpace(s[1]);
  bool previous_space = false, previous_break = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t ch = s[i];
    if (i == 0) {
      if (std::u32string_view(U"#,[]{}&*!|>'\"%@`").find(ch) != std::u32string_view::npos) {
        block_indicators = true;
      }
      if ((ch == '?' || ch == ':') && followed_by_whitespace) block_indicators = true;
      if (ch == '-' && followed_by_whitespace) block_indicators = true;
    } else {
      if (ch == ':' && followed_by_whitespace) block_indicators = true;
      if (ch == '#' && preceded_by_whitespace) block_indicators = true;
    }
    if (IsBreak(ch)) line_breaks = true;
    if (!(ch == '\n' || (ch >= 0x20 && ch <= 0x7E))) {
      bool unicode = (ch == 0x85 || (ch >= 0xA0 && ch <= 0xD7FF) ||
                      (ch >= 0xE000 && ch <= 0xFFFD) || (ch >= 0x10000 && ch < 0x10FFFF)) &&
                     ch != 0xFEFF;
      if (!unicode) special = true;  // allow_unicode=True: other printable characters are fine
    }
    if (ch == ' ') {
      if (i == 0) leading_space = true;
      if (i == s.size() - 1) trailing_space = true;
      if (previous_break) break_space = true;
      previous_space = true;
      previous_break = false;
    } else if (IsBreak(ch)) {
      if (i == 0) leading_break = true;
      if (i == s.size() - 1) trailing_break = true;
      if (previous_space) space_break = true;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    preceded_by_whitespace = IsSpecialSpace(ch);
    followed_by_whitespace = i + 2 >= s.size() || IsSpecialSpace(s[i + 2]);
  }
  if (leading_space || leading_break || trailing_space || trailing_break) {
    a.allow_block_plain = false;
  }
  if (break_space) a.allow_block_plain = a.allow_single_quoted = false;
  if (space_break || special) a.allow_block_plain = a.allow_single_quoted = false;
  if (line_breaks) a.allow_block_plain = false;
  if (block_indicators) a.allow_block_plain = false;
  a.multiline = line_breaks;
  return a;
}

class YamlWriter {
 public:
  explicit YamlWriter(bool color) : color_(color) {}

  std::string Document(const Json& v) {
    if (v.is_object() && !v.empty()) {
      Mapping(v, 0);
    } else if (v.is_array() && !v.empty()) {
      Sequence(v, 0);
    } else {
      bool plain = Scalar(v, 2, /*key=*/false);
      if (plain) {
        // PyYAML ends a document whose root is a plain scalar with "...".
        Newline();
        out_ += "...";
      }
    }
    Newline();
    return out_;
  }

 private:
  void Write(std::string_view s, size_t width) {
    out_ += s;
    column_ += width;
  }
  void Write(std::string_view s) { Write(s, CodePointCount(s)); }
  void Newline() {
    out_ += '\n';
    column_ = 0;
  }
  void Indent(size_t indent) {
    Newline();
    out_.append(indent, ' ');
    column_ = indent;
  }

  // Writes a block mapping whose first key goes at the current position (column == indent, or
  // right after "- ").
  void Mapping(const Json& v, size_t indent) {
    bool first = true;
    for (const auto& [key, value] : Members(v, true)) {
      if (!first) Indent(indent);
      first = false;
      std::vector<char32_t> cps = DecodeUtf8(*key);
      Analysis a = AnalyzeScalar(cps);
      if (a.empty || a.multiline || cps.size() + 5 >= 128) {  // 5: the length of "!!str"
        // Not a simple key: PyYAML writes "? key" and the value on a ": " line.
        Write("?");
        Scalar(Json(*key), indent + 2, false);
        Indent(indent);
        Write(":");
        if (value->is_object() && !value->empty()) {
          Write(" ");
          Mapping(*value, indent + 2);
        } else if (value->is_array() && !value->empty()) {
          Write(" ");
          Sequence(*value, indent + 2);
        } else {
          Scalar(*value, indent + 2, false);
        }
        continue;
      }
      WriteKey(*key, indent);
      Write(":");
      if (value->is_object() && !value->empty()) {
        Indent(indent + 2);
        Mapping(*value, indent + 2);
      } else if (value->is_array() && !value->empty()) {
        Indent(indent);
        Sequence(*value, indent);
      } else {
        Scalar(*value, indent + 2, false);
      }
    }
  }

  void Sequence(const Json& v, size_t indent) {
    bool first = true;
    for (const Json& item : v) {
      if (!first) Indent(indent);
      first = false;
      Write("-");
      if (item.is_object() && !item.empty()) {
        Write(" ");
        Mapping(item, indent + 2);
      } else if (item.is_array() && !item.empty()) {
        Write(" ");
        Sequence(item, indent + 2);
      } else {
        Scalar(item, indent + 2, false);
      }
    }
  }

  void WriteKey(const std::string& key, size_t indent) {
    std::vector<char32_t> cps = DecodeUtf8(key);
    Analysis a = AnalyzeScalar(cps);
    size_t before = out_.size();
    bool painted = false;
    if (!a.empty && !a.multiline && a.allow_block_plain && !ResolvesToNonString(key)) {
      WritePlain(cps, indent, false, true);
      painted = true;
    } else if (a.allow_single_quoted && !a.multiline) {
      WriteSingleQuoted(cps, indent, false, true);
    } else {
      WriteDoubleQuoted(cps, indent, false, true);
    }
    if (color_ && painted) {
      out_.insert(before, kBrightBlue);
      out_ += kReset;
    } else if (color_) {
      out_.insert(before, kYellow);
      out_ += kReset;
    }
  }

  // Writes " value" after "key:" or "-" (or the value alone at the root). Returns whether the
  // scalar was written plain.
  bool Scalar(const Json& v, size_t indent, bool key) {
    std::string text;
    bool is_string = v.is_string();
    if (v.is_object()) {
      text = "{}";
    } else if (v.is_array()) {
      text = "[]";
    } else if (v.is_null()) {
      text = "null";
    } else if (v.is_boolean()) {
      text = v.get<bool>() ? "true" : "false";
    } else if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::isnan(d)) {
        text = ".nan";
      } else if (std::isinf(d)) {
        text = d > 0 ? ".inf" : "-.inf";
      } else {
        text = AsciiLower(PythonFloat(d));
        if (text.find('.') == std::string::npos && text.find('e') != std::string::npos) {
          text.replace(text.find('e'), 1, ".0e");
        }
      }
    } else if (v.is_number()) {
      text = PythonStr(v);
    } else {
      text = v.get<std::string>();
    }
    bool root = out_.empty();
    if (!root) Write(" ");
    if (!is_string) {
      Write(text);
      return !(v.is_object() || v.is_array());
    }
    std::vector<char32_t> cps = DecodeUtf8(text);
    Analysis a = AnalyzeScalar(cps);
    size_t before = out_.size();
    bool plain = false;
    if (!(key && (a.empty || a.multiline)) && a.allow_block_plain && !ResolvesToNonString(text)) {
      WritePlain(cps, indent, !key, true);
      plain = true;
    } else if (a.allow_single_quoted && !(key && a.multiline)) {
      WriteSingleQuoted(cps, indent, !key, true);
    } else {
      WriteDoubleQuoted(cps, indent, !key, true);
    }
    if (color_ && !plain) {
      out_.insert(before, kYellow);
      out_ += kReset;
    }
    return plain;
  }

  void WriteIndent(size_t indent) {
    Newline();
    out_.append(indent, ' ');
    column_ = indent;
  }

  static std::string Utf8(const std::vector<char32_t>& cps, size_t begin, size_t end) {
    std::string s;
    for (size_t i = begin; i < end; ++i) AppendUtf8(cps[i], s);
    return s;
  }

  void WritePlain(const std::vector<char32_t>& text, size_t indent, bool split, bool) {
    bool spaces = false;
    size_t start = 0;
    for (size_t end = 0; end <= text.size(); ++end) {
      char32_t ch = end < text.size() ? text[end] : 0;
      bool at_end = end == text.size();
      if (spaces) {
        if (at_end || ch != ' ') {
          if (start + 1 == end && column_ > kBestWidth && split) {
            WriteIndent(indent);
          } else {
            Write(Utf8(text, start, end), end - start);
          }
          start = end;
        }
      } else if (at_end || ch == ' ') {
        Write(Utf8(text, start, end), end - start);
        start = end;
      }
      if (!at_end) spaces = ch == ' ';
    }
  }

  void WriteSingleQuoted(const std::vector<char32_t>& text, size_t indent, bool split, bool) {
    Write("'");
    bool spaces = false, breaks = false;
    size_t start = 0;
    for (size_t end = 0; end <= text.size(); ++end) {
      bool at_end = end == text.size();
      char32_t ch = at_end ? 0 : text[end];
      if (spaces) {
        if (at_end || ch != ' ') {
          if (start + 1 == end && column_ > kBestWidth && split && start != 0 &&
              end != text.size()) {
            WriteIndent(indent);
          } else {
            Write(Utf8(text, start, end), end - start);
          }
          start = end;
        }
      } else if (breaks) {
        if (at_end || !IsBreak(ch)) {
          if (text[start] == '\n') Newline();
          for (size_t i = start; i < end; ++i) {
            if (text[i] == '\n') {
              Newline();
            } else {
              out_ += Utf8(text, i, i + 1);
              column_ = 0;
            }
          }
          out_.append(indent, ' ');  // the line breaks left the column at 0
          column_ = indent;
          start = end;
        }
      } else if (at_end || ch == ' ' || ch == '\'' || IsBreak(ch)) {
        if (start < end) {
          Write(Utf8(text, start, end), end - start);
          start = end;
        }
      }
      if (ch == '\'') {
        Write("''");
        start = end + 1;
      }
      if (!at_end) {
        spaces = ch == ' ';
        breaks = IsBreak(ch);
      }
    }
    Write("'");
  }

  void WriteDoubleQuoted(const std::vector<char32_t>& text, size_t indent, bool split, bool) {
    Write("\"");
    size_t start = 0;
    for (size_t end = 0; end <= text.size(); ++end) {
      bool at_end = end == text.size();
      char32_t ch = at_end ? 0 : text[end];
      bool printable = (ch >= 0x20 && ch <= 0x7E) || (ch >= 0xA0 && ch <= 0xD7FF) ||
                       (ch >= 0xE000 && ch <= 0xFFFD);
      if (at_end || ch == '"' || ch == '\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 ||
          ch == 0xFEFF || !printable) {
        if (start < end) {
          Write(Utf8(text, start, end), end - start);
          start = end;
        }
        if (!at_end) {
          std::string escape;
          switch (ch) {
            case 0:
              escape = "\\0";
              break;
            case 0x07:
              escape = "\\a";
              break;
            case 0x08:
              escape = "\\b";
              break;
            case 0x09:
              escape = "\\t";
              break;
            case 0x0A:
              escape = "\\n";
              break;
            case 0x0B:
              escape = "\\v";
              break;
            case 0x0C:
              escape = "\\f";
              break;
            case 0x0D:
              escape = "\\r";
              break;
            case 0x1B:
              escape = "\\e";
              break;
            case '"':
              escape = "\\\"";
              break;
            case '\\':
              escape = "\\\\";
              break;
            case 0x85:
              escape = "\\N";
              break;
            case 0xA0:
              escape = "\\_";
              break;
            case 0x2028:
              escape = "\\L";
              break;
            case 0x2029:
              escape = "\\P";
              break;
            default: {
              char buf[16];
              if (ch <= 0xFF) {
                std::snprintf(buf, sizeof(buf), "\\x%02X", static_cast<unsigned>(ch));
              } else if (ch <= 0xFFFF) {
                std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(ch));
              } else {
                std::snprintf(buf, sizeof(buf), "\\U%08X", static_cast<unsigned>(ch));
              }
              escape = buf;
            }
          }
          Write(escape);
          start = end + 1;
        }
      }
      if (end > 0 && end + 1 < text.size() && (ch == ' ' || start >= end) &&
          column_ + (end - start) > kBestWidth && split) {
        std::string data = Utf8(text, start, end) + "\\";
        if (start < end) start = end;
        Write(data);
        WriteIndent(indent);
        if (text[start] == ' ') Write("\\");
      }
    }
    Write("\"");
  }

  bool color_;
  std::string out_;
  size_t column_ = 0;
};

constexpr std::array<std::pair<std::string_view, OutputFormat>, 7> kFormats = {{
    {"json", OutputFormat::kJson},
    {"jsonc", OutputFormat::kJsonc},
    {"yaml", OutputFormat::kYaml},
    {"yamlc", OutputFormat::kYamlc},
    {"table", OutputFormat::kTable},
    {"tsv", OutputFormat::kTsv},
    {"none", OutputFormat::kNone},
}};

}  // namespace

std::string CompactJson(const Json& value) {
  std::string out;
  DumpCompact(value, out);
  return out;
}

Result<OutputFormat> ParseOutputFormat(std::string_view name) {
  std::string lower = AsciiLower(name);
  for (const auto& [n, f] : kFormats) {
    if (n == lower) return f;
  }
  std::string choices;
  for (const auto& [n, f] : kFormats) {
    choices += (choices.empty() ? "'" : ", '") + std::string(n) + "'";
  }
  return Fail(Code::kInvalidArgument,
              "invalid choice: '" + lower + "' (choose from " + choices + ")");
}

std::string_view OutputFormatName(OutputFormat format) {
  for (const auto& [n, f] : kFormats) {
    if (f == format) return n;
  }
  return "json";
}

std::string Format(const nlohmann::json& value, OutputFormat format) {
  return Format(Json(value), format, FormatOptions{});
}

std::string Format(const Json& value, OutputFormat format, const FormatOptions& options) {
  if (value.is_null() || format == OutputFormat::kNone) return "";
  switch (format) {
    case OutputFormat::kJson:
    case OutputFormat::kJsonc: {
      std::string out;
      DumpJson(value, 0, format == OutputFormat::kJsonc && options.color, out);
      return out + "\n";
    }
    case OutputFormat::kYaml:
    case OutputFormat::kYamlc:
      return YamlWriter(format == OutputFormat::kYamlc && options.color).Document(value);
    case OutputFormat::kTable:
      return FormatTable(value, !options.query_active);
    case OutputFormat::kTsv:
      return FormatTsv(value, !options.query_active);
    case OutputFormat::kNone:
      return "";
  }
  return "";
}

}  // namespace cove::query
