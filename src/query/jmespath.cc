// JMESPath: lexer, Pratt parser (binding powers as in the reference implementation) and a tree
// interpreter over nlohmann::ordered_json. See query.h for the semantics chosen where the
// specification leaves room.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/query.h"
#include "query/text.h"

namespace cove::query {

using Json = nlohmann::ordered_json;

namespace {

constexpr int kMaxDepth = 400;  // nesting limit: keeps recursion (parse, eval, free) bounded

constexpr std::string_view kSyntaxPrefix = "Invalid jmespath expression";
constexpr std::string_view kLexerPrefix = "Bad jmespath expression";

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok {
  kEof,
  kUnquotedIdentifier,
  kQuotedIdentifier,
  kLiteral,
  kRbracket,
  kRparen,
  kComma,
  kRbrace,
  kNumber,
  kCurrent,
  kExpref,
  kColon,
  kPipe,
  kOr,
  kAnd,
  kEq,
  kGt,
  kLt,
  kGte,
  kLte,
  kNe,
  kFlatten,
  kStar,
  kFilter,
  kDot,
  kNot,
  kLbrace,
  kLbracket,
  kLparen,
};

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEof:
      return "eof";
    case Tok::kUnquotedIdentifier:
      return "unquoted_identifier";
    case Tok::kQuotedIdentifier:
      return "quoted_identifier";
    case Tok::kLiteral:
      return "literal";
    case Tok::kRbracket:
      return "rbracket";
    case Tok::kRparen:
      return "rparen";
    case Tok::kComma:
      return "comma";
    case Tok::kRbrace:
      return "rbrace";
    case Tok::kNumber:
      return "number";
    case Tok::kCurrent:
      return "current";
    case Tok::kExpref:
      return "expref";
    case Tok::kColon:
      return "colon";
    case Tok::kPipe:
      return "pipe";
    case Tok::kOr:
      return "or";
    case Tok::kAnd:
      return "and";
    case Tok::kEq:
      return "eq";
    case Tok::kGt:
      return "gt";
    case Tok::kLt:
      return "lt";
    case Tok::kGte:
      return "gte";
    case Tok::kLte:
      return "lte";
    case Tok::kNe:
      return "ne";
    case Tok::kFlatten:
      return "flatten";
    case Tok::kStar:
      return "star";
    case Tok::kFilter:
      return "filter";
    case Tok::kDot:
      return "dot";
    case Tok::kNot:
      return "not";
    case Tok::kLbrace:
      return "lbrace";
    case Tok::kLbracket:
      return "lbracket";
    case Tok::kLparen:
      return "lparen";
  }
  return "?";
}

int BindingPower(Tok t) {
  switch (t) {
    case Tok::kPipe:
      return 1;
    case Tok::kOr:
      return 2;
    case Tok::kAnd:
      return 3;
    case Tok::kEq:
    case Tok::kGt:
    case Tok::kLt:
    case Tok::kGte:
    case Tok::kLte:
    case Tok::kNe:
      return 5;
    case Tok::kFlatten:
      return 9;
    case Tok::kStar:
      return 20;
    case Tok::kFilter:
      return 21;
    case Tok::kDot:
      return 40;
    case Tok::kNot:
      return 45;
    case Tok::kLbrace:
      return 50;
    case Tok::kLbracket:
      return 55;
    case Tok::kLparen:
      return 60;
    default:
      return 0;
  }
}
constexpr int kProjectionStop = 10;

struct Token {
  Tok type = Tok::kEof;
  std::string text;  // the lexeme (identifier name, decoded string, number digits)
  Json value;        // literal value
  int64_t number = 0;
  size_t start = 0;
};

std::string Caret(size_t column) { return std::string(column, ' ') + "^"; }

Error SyntaxError(std::string_view expression, size_t column, std::string_view value, Tok type,
                  std::string_view reason) {
  std::string type_name(TokName(type));
  std::transform(type_name.begin(), type_name.end(), type_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return Error{Code::kInvalidArgument,
               std::string(reason) + ": Parse error at column " + std::to_string(column) +
                   ", token \"" + std::string(value) + "\" (" + type_name +
                   "), for expression:\n\"" + std::string(expression) + "\"\n" + Caret(column + 1)};
}

Error IncompleteError(std::string_view expression) {
  return Error{Code::kInvalidArgument, std::string(kSyntaxPrefix) + ": Incomplete expression:\n\"" +
                                           std::string(expression) + "\"\n" +
                                           Caret(expression.size() + 1)};
}

Error LexError(std::string_view expression, size_t column, std::string_view message) {
  return Error{Code::kInvalidArgument, std::string(kLexerPrefix) + ": " + std::string(message) +
                                           ":\n" + std::string(expression) + "\n" + Caret(column)};
}

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<Json> ParseJson(std::string_view text) {
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

int64_t ParseInt(std::string_view digits) {
  bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.remove_prefix(1);
  int64_t value = 0;
  for (char c : digits) {
    if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) {
      return negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
    }
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

class Lexer {
 public:
  explicit Lexer(std::string_view expr) : expr_(expr) {}

  Result<std::vector<Token>> Tokenize() {
    std::vector<Token> tokens;
    while (pos_ < expr_.size()) {
      char c = expr_[pos_];
      size_t start = pos_;
      Tok simple = Tok::kEof;
      switch (c) {
        case '.':
          simple = Tok::kDot;
          break;
        case '*':
          simple = Tok::kStar;
          break;
        case ']':
          simple = Tok::kRbracket;
          break;
        case ',':
          simple = Tok::kComma;
          break;
        case ':':
          simple = Tok::kColon;
          break;
        case '@':
          simple = Tok::kCurrent;
          break;
        case '(':
          simple = Tok::kLparen;
          break;
        case ')':
          simple = Tok::kRparen;
          break;
        case '{':
          simple = Tok::kLbrace;
          break;
        case '}':
          simple = Tok::kRbrace;
          break;
        default:
          break;
      }
      if (simple != Tok::kEof) {
        tokens.push_back(Token{simple, std::string(1, c), {}, 0, start});
        ++pos_;
      } else if (IsIdentStart(c)) {
        while (pos_ < expr_.size() && IsIdentChar(expr_[pos_])) ++pos_;
        tokens.push_back(Token{Tok::kUnquotedIdentifier,
                               std::string(expr_.substr(start, pos_ - start)),
                               {},
                               0,
                               start});
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '[') {
        ++pos_;
        if (pos_ < expr_.size() && expr_[pos_] == ']') {
          ++pos_;
          tokens.push_back(Token{Tok::kFlatten, "[]", {}, 0, start});
        } else if (pos_ < expr_.size() && expr_[pos_] == '?') {
          ++pos_;
          tokens.push_back(Token{Tok::kFilter, "[?", {}, 0, start});
        } else {
          tokens.push_back(Token{Tok::kLbracket, "[", {}, 0, start});
        }
      } else if (c == '\'') {
        COVE_ASSIGN_OR_RETURN(std::string raw, ConsumeUntil('\''));
        std::string text;
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '\'') {
            text += '\'';
            ++i;
          } else {
            text += raw[i];
          }
        }
        tokens.push_back(Token{Tok::kLiteral, text, Json(text), 0, start});
      } else if (c == '|') {
        tokens.push_back(MatchOrElse('|', Tok::kOr, Tok::kPipe));
      } else if (c == '&') {
        tokens.push_back(MatchOrElse('&', Tok::kAnd, Tok::kExpref));
      } else if (c == '`') {
        COVE_ASSIGN_OR_RETURN(std::string raw, ConsumeUntil('`'));
        std::string lexeme;
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '`') {
            lexeme += '`';
            ++i;
          } else {
            lexeme += raw[i];
          }
        }
        std::optional<Json> value = ParseJson(lexeme);
        if (!value) {
          // JEP-12 deprecation period: a literal that is not JSON is read as a JSON string.
          size_t first = lexeme.find_first_not_of(" \t\n\r");
          std::string quoted =
              "\"" + (first == std::string::npos ? std::string() : lexeme.substr(first)) + "\"";
          value = ParseJson(quoted);
          if (!value) return Fail(LexError(expr_, start, "Bad token " + lexeme));
        }
        tokens.push_back(Token{Tok::kLiteral, lexeme, std::move(*value), 0, start});
      } else if (IsDigit(c) || c == '-') {
        ++pos_;
        while (pos_ < expr_.size() && IsDigit(expr_[pos_])) ++pos_;
        std::string digits(expr_.substr(start, pos_ - start));
        if (digits == "-") return Fail(LexError(expr_, start, "Unknown token '-'"));
        tokens.push_back(Token{Tok::kNumber, digits, {}, ParseInt(digits), start});
      } else if (c == '"') {
        COVE_ASSIGN_OR_RETURN(std::string raw, ConsumeUntil('"'));
        std::optional<Json> value = ParseJson("\"" + raw + "\"");
        if (!value || !value->is_string()) {
          return Fail(LexError(expr_, start, "Invalid quoted identifier \"" + raw + "\""));
        }
        tokens.push_back(Token{Tok::kQuotedIdentifier, value->get<std::string>(), {}, 0, start});
      } else if (c == '<') {
        tokens.push_back(MatchOrElse('=', Tok::kLte, Tok::kLt));
      } else if (c == '>') {
        tokens.push_back(MatchOrElse('=', Tok::kGte, Tok::kGt));
      } else if (c == '!') {
        tokens.push_back(MatchOrElse('=', Tok::kNe, Tok::kNot));
      } else if (c == '=') {
        if (pos_ + 1 < expr_.size() && expr_[pos_ + 1] == '=') {
          tokens.push_back(Token{Tok::kEq, "==", {}, 0, start});
          pos_ += 2;
        } else {
          return Fail(LexError(expr_, start, "Unknown token '='"));
        }
      } else {
        std::string shown = PrintableChar(expr_, pos_);
        return Fail(LexError(expr_, start, "Unknown token " + shown));
      }
    }
    tokens.push_back(Token{Tok::kEof, "", {}, 0, expr_.size()});
    return tokens;
  }

 private:
  // The character at `at` (a whole UTF-8 sequence when it is one).
  static std::string PrintableChar(std::string_view s, size_t at) {
    size_t end = at + 1;
    while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) ++end;
    return std::string(s.substr(at, end - at));
  }

  // Consumes from the opening delimiter at pos_ up to the matching closing one, keeping
  // backslash escapes as they are (the caller interprets them).
  Result<std::string> ConsumeUntil(char delimiter) {
    size_t start = pos_;
    ++pos_;
    std::string buffer;
    while (true) {
      if (pos_ >= expr_.size()) {
        return Fail(LexError(expr_, start, std::string("Unclosed ") + delimiter + " delimiter"));
      }
      char c = expr_[pos_];
      if (c == delimiter) break;
      if (c == '\\') {
        buffer += '\\';
        ++pos_;
        if (pos_ >= expr_.size()) {
          return Fail(LexError(expr_, start, std::string("Unclosed ") + delimiter + " delimiter"));
        }
        c = expr_[pos_];
      }
      buffer += c;
      ++pos_;
    }
    ++pos_;  // the closing delimiter
    return buffer;
  }

  Token MatchOrElse(char expected, Tok match, Tok otherwise) {
    size_t start = pos_;
    char c = expr_[pos_++];
    if (pos_ < expr_.size() && expr_[pos_] == expected) {
      ++pos_;
      return Token{match, std::string{c, expected}, {}, 0, start};
    }
    return Token{otherwise, std::string(1, c), {}, 0, start};
  }

  std::string_view expr_;
  size_t pos_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Syntax tree

namespace internal {

enum class Kind {
  kIdentity,
  kCurrent,
  kField,
  kSubexpression,
  kIndexExpression,
  kIndex,
  kSlice,
  kProjection,
  kValueProjection,
  kFilterProjection,
  kFlatten,
  kLiteral,
  kMultiSelectList,
  kMultiSelectHash,
  kOr,
  kAnd,
  kNot,
  kPipe,
  kComparator,
  kFunction,
  kExpref,
};

struct FunctionSpec;

struct Node {
  Kind kind = Kind::kIdentity;
  std::string name;                 // field, function or comparator name; hash keys
  Json value;                       // literal
  int64_t index = 0;                // index
  std::optional<int64_t> slice[3];  // start, stop, step
  std::vector<std::unique_ptr<Node>> children;
  std::vector<std::string> keys;  // multiselect hash keys, one per child
  const FunctionSpec* function = nullptr;
  int depth = 1;
};

}  // namespace internal

using internal::Kind;
using internal::Node;
using NodePtr = std::unique_ptr<Node>;

namespace {

NodePtr MakeNode(Kind kind, std::vector<NodePtr> children = {}) {
  auto node = std::make_unique<Node>();
  node->kind = kind;
  for (const NodePtr& child : children) node->depth = std::max(node->depth, child->depth + 1);
  node->children = std::move(children);
  return node;
}

NodePtr Children2(Kind kind, NodePtr a, NodePtr b) {
  std::vector<NodePtr> children;
  children.push_back(std::move(a));
  children.push_back(std::move(b));
  return MakeNode(kind, std::move(children));
}

NodePtr Children3(Kind kind, NodePtr a, NodePtr b, NodePtr c) {
  std::vector<NodePtr> children;
  children.push_back(std::move(a));
  children.push_back(std::move(b));
  children.push_back(std::move(c));
  return MakeNode(kind, std::move(children));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Functions

namespace internal {

// One argument of a function call: a value, or an expression reference (&expr).
struct Arg {
  Json value;
  const Node* expref = nullptr;
};

// Argument types as the reference implementation spells them in its messages.
enum TypeBit : unsigned {
  kAny = 0,
  kNumber = 1,
  kString = 2,
  kBoolean = 4,
  kArray = 8,
  kObject = 16,
  kNull = 32,
  kExpref = 64,
  kArrayNumber = 128,
  kArrayString = 256,
};

struct Evaluator;
using FunctionImpl = Result<Json> (*)(Evaluator&, std::vector<Arg>&);

struct FunctionSpec {
  std::string_view name;
  std::vector<unsigned> args;  // allowed types per argument (kAny = anything)
  bool variadic;               // the last argument repeats (at least args.size() given)
  FunctionImpl impl;
};

}  // namespace internal

using internal::Arg;
using internal::FunctionSpec;

namespace {

const FunctionSpec* FindFunction(std::string_view name);

class Parser {
 public:
  Parser(std::string_view expression, std::vector<Token> tokens)
      : expr_(expression), tokens_(std::move(tokens)) {}

  Result<NodePtr> Parse() {
    COVE_ASSIGN_OR_RETURN(NodePtr node, Expression(0));
    if (Current() != Tok::kEof) {
      const Token& t = tokens_[index_];
      return Fail(SyntaxError(expr_, t.start, t.text, t.type, "Unexpected token: " + t.text));
    }
    if (deferred_) return Fail(std::move(*deferred_));
    return node;
  }

 private:
  Tok Current() const { return tokens_[index_].type; }
  Tok Lookahead(size_t n) const {
    return index_ + n < tokens_.size() ? tokens_[index_ + n].type : Tok::kEof;
  }
  void Advance() {
    if (index_ + 1 < tokens_.size()) ++index_;
  }

  Error ErrorFor(const Token& t, std::string_view reason) const {
    if (t.type == Tok::kEof) return IncompleteError(expr_);
    return SyntaxError(expr_, t.start, t.text, t.type, reason);
  }

  Status Match(Tok type) {
    if (Current() == type) {
      Advance();
      return Ok();
    }
    const Token& t = tokens_[index_];
    return Fail(ErrorFor(
        t, "Expecting: " + std::string(TokName(type)) + ", got: " + std::string(TokName(t.type))));
  }

  Result<NodePtr> Checked(NodePtr node) {
    if (node->depth > kMaxDepth) {
      const Token& t = tokens_[index_];
      return Fail(SyntaxError(expr_, t.start, t.text, t.type, "Expression nested too deeply"));
    }
    return node;
  }

  Result<NodePtr> Expression(int binding_power) {
    if (++nesting_ > kMaxDepth) {
      const Token& t = tokens_[index_];
      return Fail(SyntaxError(expr_, t.start, t.text, t.type, "Expression nested too deeply"));
    }
    Token left_token = tokens_[index_];
    Advance();
    COVE_ASSIGN_OR_RETURN(NodePtr left, Nud(left_token));
    while (binding_power < BindingPower(Current())) {
      Token current = tokens_[index_];
      Advance();
      COVE_ASSIGN_OR_RETURN(left, Led(current, std::move(left)));
      COVE_ASSIGN_OR_RETURN(left, Checked(std::move(left)));
    }
    --nesting_;
    return left;
  }

  Result<NodePtr> Nud(const Token& token) {
    switch (token.type) {
      case Tok::kLiteral: {
        NodePtr node = MakeNode(Kind::kLiteral);
        node->value = token.value;
        return node;
      }
      case Tok::kUnquotedIdentifier: {
        NodePtr node = MakeNode(Kind::kField);
        node->name = token.text;
        return node;
      }
      case Tok::kQuotedIdentifier: {
        if (Current() == Tok::kLparen) {
          const Token& t = tokens_[index_];
          return Fail(SyntaxError(expr_, 0, t.text, t.type,
                                  "Quoted identifier not allowed for function names."));
        }
        NodePtr node = MakeNode(Kind::kField);
        node->name = token.text;
        return node;
      }
      case Tok::kStar: {
        NodePtr left = MakeNode(Kind::kIdentity);
        NodePtr right;
        if (Current() == Tok::kRbracket) {
          right = MakeNode(Kind::kIdentity);
        } else {
          COVE_ASSIGN_OR_RETURN(right, ProjectionRhs(BindingPower(Tok::kStar)));
        }
        return Checked(Children2(Kind::kValueProjection, std::move(left), std::move(right)));
      }
      case Tok::kFilter:
        return ParseFilter(MakeNode(Kind::kIdentity));
      case Tok::kLbrace:
        return MultiSelectHash();
      case Tok::kLparen: {
        COVE_ASSIGN_OR_RETURN(NodePtr inner, Expression(0));
        COVE_RETURN_IF_ERROR(Match(Tok::kRparen));
        return inner;
      }
      case Tok::kFlatten: {
        NodePtr left = MakeNode(Kind::kFlatten, Vec(MakeNode(Kind::kIdentity)));
        COVE_ASSIGN_OR_RETURN(NodePtr right, ProjectionRhs(BindingPower(Tok::kFlatten)));
        return Checked(Children2(Kind::kProjection, std::move(left), std::move(right)));
      }
      case Tok::kNot: {
        COVE_ASSIGN_OR_RETURN(NodePtr inner, Expression(BindingPower(Tok::kNot)));
        return Checked(MakeNode(Kind::kNot, Vec(std::move(inner))));
      }
      case Tok::kLbracket: {
        if (Current() == Tok::kNumber || Current() == Tok::kColon) {
          COVE_ASSIGN_OR_RETURN(NodePtr right, IndexExpression());
          return ProjectIfSlice(MakeNode(Kind::kIdentity), std::move(right));
        }
        if (Current() == Tok::kStar && Lookahead(1) == Tok::kRbracket) {
          Advance();
          Advance();
          COVE_ASSIGN_OR_RETURN(NodePtr right, ProjectionRhs(BindingPower(Tok::kStar)));
          return Checked(Children2(Kind::kProjection, MakeNode(Kind::kIdentity), std::move(right)));
        }
        return MultiSelectList();
      }
      case Tok::kCurrent:
        return MakeNode(Kind::kCurrent);
      case Tok::kExpref: {
        COVE_ASSIGN_OR_RETURN(NodePtr inner, Expression(BindingPower(Tok::kExpref)));
        return Checked(MakeNode(Kind::kExpref, Vec(std::move(inner))));
      }
      case Tok::kEof:
        return Fail(IncompleteError(expr_));
      default:
        return Fail(SyntaxError(expr_, token.start, token.text, token.type, "invalid token"));
    }
  }

  Result<NodePtr> Led(const Token& token, NodePtr left) {
    switch (token.type) {
      case Tok::kDot: {
        if (Current() != Tok::kStar) {
          COVE_ASSIGN_OR_RETURN(NodePtr right, DotRhs(BindingPower(Tok::kDot)));
          return Children2(Kind::kSubexpression, std::move(left), std::move(right));
        }
        Advance();
        COVE_ASSIGN_OR_RETURN(NodePtr right, ProjectionRhs(BindingPower(Tok::kDot)));
        return Children2(Kind::kValueProjection, std::move(left), std::move(right));
      }
      case Tok::kPipe: {
        COVE_ASSIGN_OR_RETURN(NodePtr right, Expression(BindingPower(Tok::kPipe)));
        return Children2(Kind::kPipe, std::move(left), std::move(right));
      }
      case Tok::kOr: {
        COVE_ASSIGN_OR_RETURN(NodePtr right, Expression(BindingPower(Tok::kOr)));
        return Children2(Kind::kOr, std::move(left), std::move(right));
      }
      case Tok::kAnd: {
        COVE_ASSIGN_OR_RETURN(NodePtr right, Expression(BindingPower(Tok::kAnd)));
        return Children2(Kind::kAnd, std::move(left), std::move(right));
      }
      case Tok::kLparen: {
        if (left->kind != Kind::kField) {
          const Token& name = tokens_[index_ >= 2 ? index_ - 2 : 0];
          return Fail(SyntaxError(expr_, name.start, name.text, name.type,
                                  "Invalid function name '" + name.text + "'"));
        }
        // As the reference implementation parses arguments (and so az): a comma after an
        // argument is optional, a trailing one is allowed.
        std::vector<NodePtr> args;
        while (Current() != Tok::kRparen) {
          COVE_ASSIGN_OR_RETURN(NodePtr arg, Expression(0));
          args.push_back(std::move(arg));
          if (Current() == Tok::kComma) Advance();
        }
        COVE_RETURN_IF_ERROR(Match(Tok::kRparen));
        // Unknown names and wrong counts are reported once the whole expression has parsed, so
        // that a syntax error later in the text wins (as in az, which finds these while
        // searching).
        const FunctionSpec* spec = FindFunction(left->name);
        if (spec == nullptr) {
          Defer(Error{Code::kInvalidArgument, "Unknown function: " + left->name + "()"});
        } else {
          size_t want = spec->args.size();
          if (spec->variadic ? args.size() < want : args.size() != want) {
            Defer(Error{Code::kInvalidArgument,
                        std::string("Expected ") + (spec->variadic ? "at least " : "") +
                            std::to_string(want) + (want == 1 ? " argument" : " arguments") +
                            " for function " + left->name + "(), received " +
                            std::to_string(args.size())});
          }
        }
        NodePtr node = MakeNode(Kind::kFunction, std::move(args));
        node->name = left->name;
        node->function = spec;
        return node;
      }
      case Tok::kFilter:
        return ParseFilter(std::move(left));
      case Tok::kFlatten: {
        NodePtr flat = MakeNode(Kind::kFlatten, Vec(std::move(left)));
        COVE_ASSIGN_OR_RETURN(NodePtr right, ProjectionRhs(BindingPower(Tok::kFlatten)));
        return Children2(Kind::kProjection, std::move(flat), std::move(right));
      }
      case Tok::kEq:
      case Tok::kNe:
      case Tok::kGt:
      case Tok::kGte:
      case Tok::kLt:
      case Tok::kLte: {
        COVE_ASSIGN_OR_RETURN(NodePtr right, Expression(BindingPower(token.type)));
        NodePtr node = Children2(Kind::kComparator, std::move(left), std::move(right));
        node->name = std::string(TokName(token.type));
        return node;
      }
      case Tok::kLbracket: {
        if (Current() == Tok::kNumber || Current() == Tok::kColon) {
          COVE_ASSIGN_OR_RETURN(NodePtr right, IndexExpression());
          return ProjectIfSlice(std::move(left), std::move(right));
        }
        COVE_RETURN_IF_ERROR(Match(Tok::kStar));
        COVE_RETURN_IF_ERROR(Match(Tok::kRbracket));
        COVE_ASSIGN_OR_RETURN(NodePtr right, ProjectionRhs(BindingPower(Tok::kStar)));
        return Children2(Kind::kProjection, std::move(left), std::move(right));
      }
      default:
        return Fail(SyntaxError(expr_, token.start, token.text, token.type, "invalid token"));
    }
  }

  static std::vector<NodePtr> Vec(NodePtr a) {
    std::vector<NodePtr> v;
    v.push_back(std::move(a));
    return v;
  }

  Result<NodePtr> ParseFilter(NodePtr left) {
    COVE_ASSIGN_OR_RETURN(NodePtr condition, Expression(0));
    COVE_RETURN_IF_ERROR(Match(Tok::kRbracket));
    NodePtr right;
    if (Current() == Tok::kFlatten) {
      right = MakeNode(Kind::kIdentity);
    } else {
      COVE_ASSIGN_OR_RETURN(right, ProjectionRhs(BindingPower(Tok::kFilter)));
    }
    return Checked(Children3(Kind::kFilterProjection, std::move(left), std::move(right),
                             std::move(condition)));
  }

  Result<NodePtr> IndexExpression() {
    if (Current() == Tok::kColon || Lookahead(1) == Tok::kColon) return SliceExpression();
    NodePtr node = MakeNode(Kind::kIndex);
    node->index = tokens_[index_].number;
    Advance();
    COVE_RETURN_IF_ERROR(Match(Tok::kRbracket));
    return node;
  }

  Result<NodePtr> SliceExpression() {
    NodePtr node = MakeNode(Kind::kSlice);
    int part = 0;
    while (Current() != Tok::kRbracket && part < 3) {
      const Token& t = tokens_[index_];
      if (t.type == Tok::kColon) {
        ++part;
        if (part == 3) return Fail(ErrorFor(t, "syntax error"));
        Advance();
      } else if (t.type == Tok::kNumber) {
        node->slice[part] = t.number;
        Advance();
      } else {
        return Fail(ErrorFor(t, "syntax error"));
      }
    }
    COVE_RETURN_IF_ERROR(Match(Tok::kRbracket));
    return node;
  }

  Result<NodePtr> ProjectIfSlice(NodePtr left, NodePtr right) {
    bool is_slice = right->kind == Kind::kSlice;
    NodePtr index_expr = Children2(Kind::kIndexExpression, std::move(left), std::move(right));
    if (!is_slice) return Checked(std::move(index_expr));
    COVE_ASSIGN_OR_RETURN(NodePtr rhs, ProjectionRhs(BindingPower(Tok::kStar)));
    return Checked(Children2(Kind::kProjection, std::move(index_expr), std::move(rhs)));
  }

  Result<NodePtr> ProjectionRhs(int binding_power) {
    Tok current = Current();
    if (BindingPower(current) < kProjectionStop) return MakeNode(Kind::kIdentity);
    if (current == Tok::kLbracket || current == Tok::kFilter) return Expression(binding_power);
    if (current == Tok::kDot) {
      COVE_RETURN_IF_ERROR(Match(Tok::kDot));
      return DotRhs(binding_power);
    }
    return Fail(ErrorFor(tokens_[index_], "syntax error"));
  }

  Result<NodePtr> DotRhs(int binding_power) {
    Tok current = Current();
    if (current == Tok::kQuotedIdentifier || current == Tok::kUnquotedIdentifier ||
        current == Tok::kStar) {
      return Expression(binding_power);
    }
    if (current == Tok::kLbracket) {
      Advance();
      return MultiSelectList();
    }
    if (current == Tok::kLbrace) {
      Advance();
      return MultiSelectHash();
    }
    const Token& t = tokens_[index_];
    return Fail(ErrorFor(t,
                         "Expecting: ['quoted_identifier', 'unquoted_identifier', 'lbracket', "
                         "'lbrace'], got: " +
                             std::string(TokName(t.type))));
  }

  Result<NodePtr> MultiSelectList() {
    std::vector<NodePtr> items;
    while (true) {
      COVE_ASSIGN_OR_RETURN(NodePtr item, Expression(0));
      items.push_back(std::move(item));
      if (Current() == Tok::kRbracket) break;
      COVE_RETURN_IF_ERROR(Match(Tok::kComma));
    }
    COVE_RETURN_IF_ERROR(Match(Tok::kRbracket));
    return Checked(MakeNode(Kind::kMultiSelectList, std::move(items)));
  }

  Result<NodePtr> MultiSelectHash() {
    std::vector<NodePtr> values;
    std::vector<std::string> keys;
    while (true) {
      const Token& key = tokens_[index_];
      if (key.type != Tok::kQuotedIdentifier && key.type != Tok::kUnquotedIdentifier) {
        return Fail(ErrorFor(key, "Expecting: ['quoted_identifier', 'unquoted_identifier'], got: " +
                                      std::string(TokName(key.type))));
      }
      keys.push_back(key.text);
      Advance();
      COVE_RETURN_IF_ERROR(Match(Tok::kColon));
      COVE_ASSIGN_OR_RETURN(NodePtr value, Expression(0));
      values.push_back(std::move(value));
      if (Current() == Tok::kComma) {
        Advance();
      } else {
        COVE_RETURN_IF_ERROR(Match(Tok::kRbrace));
        break;
      }
    }
    NodePtr node = MakeNode(Kind::kMultiSelectHash, std::move(values));
    node->keys = std::move(keys);
    return Checked(std::move(node));
  }

  void Defer(Error error) {
    if (!deferred_) deferred_ = std::move(error);
  }

  std::string_view expr_;
  std::vector<Token> tokens_;
  size_t index_ = 0;
  int nesting_ = 0;
  std::optional<Error> deferred_;  // the first function error, reported after parsing
};

// ---------------------------------------------------------------------------------------------
// Values

bool IsFalse(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::boolean:
      return !v.get<bool>();
    case Json::value_t::string:
      return v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return v.empty();
    default:
      return false;
  }
}

bool IsNumber(const Json& v) { return v.is_number(); }

double AsDouble(const Json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned())
    return static_cast<double>(v.get<int64_t>());
  if (v.is_number_unsigned()) return static_cast<double>(v.get<uint64_t>());
  return v.get<double>();
}

// Numeric comparison that stays exact for integers. Returns <0, 0, >0.
int CompareNumbers(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    bool au = a.is_number_unsigned(), bu = b.is_number_unsigned();
    if (!au && !bu) {
      int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (au && bu) {
      uint64_t x = a.get<uint64_t>(), y = b.get<uint64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (au) {  // a unsigned, b signed
      int64_t y = b.get<int64_t>();
      if (y < 0) return 1;
      uint64_t x = a.get<uint64_t>();
      return x < static_cast<uint64_t>(y) ? -1 : x > static_cast<uint64_t>(y) ? 1 : 0;
    }
    return -CompareNumbers(b, a);
  }
  double x = AsDouble(a), y = AsDouble(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

}  // namespace

// Deep equality, ignoring object key order; numbers compare by value.
bool JsonEqual(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!JsonEqual(a[i], b[i])) return false;
      }
      return true;
    }
    case Json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !JsonEqual(it.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

namespace {

std::string TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    default:
      return "unknown";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Interpreter

namespace internal {

struct Evaluator {
  Result<Json> Eval(const Node& node, const Json& value);
  Result<Json> Call(const Node& node, const Json& value);
};

}  // namespace internal

using internal::Evaluator;

namespace {

std::optional<int64_t> SliceBound(std::optional<int64_t> given, int64_t length, bool start,
                                  int64_t step) {
  // Python's slice.indices().
  if (!given) {
    if (step < 0) return start ? length - 1 : -1;
    return start ? 0 : length;
  }
  int64_t v = *given;
  if (v < 0) {
    v += length;
    if (v < 0) v = step < 0 ? -1 : 0;
  } else if (v >= length) {
    v = step < 0 ? length - 1 : length;
  }
  return v;
}

}  // namespace

Result<Json> Evaluator::Eval(const Node& node, const Json& value) {
  switch (node.kind) {
    case Kind::kIdentity:
    case Kind::kCurrent:
      return value;
    case Kind::kField: {
      if (!value.is_object()) return Json();
      auto it = value.find(node.name);
      return it == value.end() ? Json() : *it;
    }
    case Kind::kSubexpression:
    case Kind::kIndexExpression:
    case Kind::kPipe: {
      COVE_ASSIGN_OR_RETURN(Json left, Eval(*node.children[0], value));
      return Eval(*node.children[1], left);
    }
    case Kind::kIndex: {
      if (!value.is_array()) return Json();
      int64_t size = static_cast<int64_t>(value.size());
      int64_t i = node.index < 0 ? node.index + size : node.index;
      if (i < 0 || i >= size) return Json();
      return value[static_cast<size_t>(i)];
    }
    case Kind::kSlice: {
      if (!value.is_array()) return Json();
      int64_t step = node.slice[2].value_or(1);
      if (step == 0) {
        return Fail(Code::kInvalidArgument, "Invalid slice expression: step cannot be 0");
      }
      int64_t length = static_cast<int64_t>(value.size());
      int64_t begin = *SliceBound(node.slice[0], length, true, step);
      int64_t end = *SliceBound(node.slice[1], length, false, step);
      // A step longer than the array takes at most one element; clamping keeps i + step exact.
      step = std::clamp(step, -length - 1, length + 1);
      Json out = Json::array();
      if (step > 0) {
        for (int64_t i = begin; i < end; i += step) out.push_back(value[static_cast<size_t>(i)]);
      } else {
        for (int64_t i = begin; i > end; i += step) out.push_back(value[static_cast<size_t>(i)]);
      }
      return out;
    }
    case Kind::kProjection: {
      COVE_ASSIGN_OR_RETURN(Json base, Eval(*node.children[0], value));
      if (!base.is_array()) return Json();
      Json out = Json::array();
      for (const Json& element : base) {
        COVE_ASSIGN_OR_RETURN(Json current, Eval(*node.children[1], element));
        if (!current.is_null()) out.push_back(std::move(current));
      }
      return out;
    }
    case Kind::kValueProjection: {
      COVE_ASSIGN_OR_RETURN(Json base, Eval(*node.children[0], value));
      if (!base.is_object()) return Json();
      Json out = Json::array();
      for (const Json& element : base) {
        COVE_ASSIGN_OR_RETURN(Json current, Eval(*node.children[1], element));
        if (!current.is_null()) out.push_back(std::move(current));
      }
      return out;
    }
    case Kind::kFilterProjection: {
      COVE_ASSIGN_OR_RETURN(Json base, Eval(*node.children[0], value));
      if (!base.is_array()) return Json();
      Json out = Json::array();
      for (const Json& element : base) {
        COVE_ASSIGN_OR_RETURN(Json keep, Eval(*node.children[2], element));
        if (IsFalse(keep)) continue;
        COVE_ASSIGN_OR_RETURN(Json current, Eval(*node.children[1], element));
        if (!current.is_null()) out.push_back(std::move(current));
      }
      return out;
    }
    case Kind::kFlatten: {
      COVE_ASSIGN_OR_RETURN(Json base, Eval(*node.children[0], value));
      if (!base.is_array()) return Json();
      Json out = Json::array();
      for (Json& element : base) {
        if (element.is_array()) {
          for (Json& inner : element) out.push_back(std::move(inner));
        } else {
          out.push_back(std::move(element));
        }
      }
      return out;
    }
    case Kind::kLiteral:
      return node.value;
    case Kind::kMultiSelectList: {
      if (value.is_null()) return Json();
      Json out = Json::array();
      for (const NodePtr& child : node.children) {
        COVE_ASSIGN_OR_RETURN(Json item, Eval(*child, value));
        out.push_back(std::move(item));
      }
      return out;
    }
    case Kind::kMultiSelectHash: {
      if (value.is_null()) return Json();
      Json out = Json::object();
      for (size_t i = 0; i < node.children.size(); ++i) {
        COVE_ASSIGN_OR_RETURN(Json item, Eval(*node.children[i], value));
        out[node.keys[i]] = std::move(item);
      }
      return out;
    }
    case Kind::kOr: {
      COVE_ASSIGN_OR_RETURN(Json left, Eval(*node.children[0], value));
      if (!IsFalse(left)) return left;
      return Eval(*node.children[1], value);
    }
    case Kind::kAnd: {
      COVE_ASSIGN_OR_RETURN(Json left, Eval(*node.children[0], value));
      if (IsFalse(left)) return left;
      return Eval(*node.children[1], value);
    }
    case Kind::kNot: {
      COVE_ASSIGN_OR_RETURN(Json inner, Eval(*node.children[0], value));
      return Json(IsFalse(inner));
    }
    case Kind::kComparator: {
      COVE_ASSIGN_OR_RETURN(Json left, Eval(*node.children[0], value));
      COVE_ASSIGN_OR_RETURN(Json right, Eval(*node.children[1], value));
      const std::string& op = node.name;
      if (op == "eq") return Json(JsonEqual(left, right));
      if (op == "ne") return Json(!JsonEqual(left, right));
      int cmp;
      if (IsNumber(left) && IsNumber(right)) {
        if ((left.is_number_float() && std::isnan(left.get<double>())) ||
            (right.is_number_float() && std::isnan(right.get<double>()))) {
          return Json(false);
        }
        cmp = CompareNumbers(left, right);
      } else if (left.is_string() && right.is_string()) {
        cmp = left.get_ref<const std::string&>().compare(right.get_ref<const std::string&>());
      } else {
        return Json();
      }
      if (op == "lt") return Json(cmp < 0);
      if (op == "lte") return Json(cmp <= 0);
      if (op == "gt") return Json(cmp > 0);
      return Json(cmp >= 0);
    }
    case Kind::kFunction:
      return Call(node, value);
    case Kind::kExpref:
      // Only meaningful as a function argument (handled in Call).
      return Json();
  }
  return Fail(Code::kInternal, "unknown node kind");
}

namespace {

std::string TypeList(unsigned types) {
  std::vector<std::string> names;
  if (types & internal::kNumber) names.push_back("'number'");
  if (types & internal::kString) names.push_back("'string'");
  if (types & internal::kBoolean) names.push_back("'boolean'");
  if (types & internal::kArray) names.push_back("'array'");
  if (types & internal::kArrayNumber) names.push_back("'array-number'");
  if (types & internal::kArrayString) names.push_back("'array-string'");
  if (types & internal::kObject) names.push_back("'object'");
  if (types & internal::kNull) names.push_back("'null'");
  if (types & internal::kExpref) names.push_back("'expref'");
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + "]";
}

Error TypeError(std::string_view function, const std::string& shown, const std::string& actual,
                const std::string& expected) {
  return Error{Code::kInvalidArgument,
               "In function " + std::string(function) + "(), invalid type for value: " + shown +
                   ", expected one of: " + expected + ", received: \"" + actual + "\""};
}

Error ArgTypeError(std::string_view function, const Arg& arg, const std::string& actual,
                   unsigned types) {
  std::string shown = arg.expref ? "<expression>" : CompactJson(arg.value);
  return TypeError(function, shown, actual, TypeList(types));
}

Status CheckArg(const FunctionSpec& spec, const Arg& arg, unsigned types) {
  if (types == internal::kAny) {
    if (arg.expref) return Fail(ArgTypeError(spec.name, arg, "expref", types));
    return Ok();
  }
  if (arg.expref) {
    if (types & internal::kExpref) return Ok();
    return Fail(ArgTypeError(spec.name, arg, "expref", types));
  }
  const Json& v = arg.value;
  if (types & internal::kExpref) return Fail(ArgTypeError(spec.name, arg, TypeName(v), types));
  bool ok = false;
  if ((types & internal::kNumber) && v.is_number()) ok = true;
  if ((types & internal::kString) && v.is_string()) ok = true;
  if ((types & internal::kBoolean) && v.is_boolean()) ok = true;
  if ((types & internal::kObject) && v.is_object()) ok = true;
  if ((types & internal::kNull) && v.is_null()) ok = true;
  if ((types & internal::kArray) && v.is_array()) ok = true;
  if (ok) return Ok();
  if (v.is_array() && (types & (internal::kArrayNumber | internal::kArrayString))) {
    // All elements numbers, or all strings; the first element decides which is required.
    bool numbers_ok = types & internal::kArrayNumber;
    bool strings_ok = types & internal::kArrayString;
    if (v.empty()) return Ok();
    bool want_number;
    if (numbers_ok && strings_ok) {
      if (v[0].is_number()) {
        want_number = true;
      } else if (v[0].is_string()) {
        want_number = false;
      } else {
        return Fail(TypeError(spec.name, CompactJson(v[0]), TypeName(v[0]), TypeList(types)));
      }
    } else {
      want_number = numbers_ok;
    }
    for (const Json& element : v) {
      if (want_number ? !element.is_number() : !element.is_string()) {
        return Fail(TypeError(spec.name, CompactJson(element), TypeName(element), TypeList(types)));
      }
    }
    return Ok();
  }
  return Fail(ArgTypeError(spec.name, arg, TypeName(v), types));
}

}  // namespace

Result<Json> Evaluator::Call(const Node& node, const Json& value) {
  const FunctionSpec& spec = *node.function;
  std::vector<Arg> args;
  args.reserve(node.children.size());
  for (const NodePtr& child : node.children) {
    Arg arg;
    if (child->kind == Kind::kExpref) {
      arg.expref = child->children[0].get();
    } else {
      COVE_ASSIGN_OR_RETURN(arg.value, Eval(*child, value));
    }
    args.push_back(std::move(arg));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    unsigned types = i < spec.args.size() ? spec.args[i] : spec.args.back();
    COVE_RETURN_IF_ERROR(CheckArg(spec, args[i], types));
  }
  return spec.impl(*this, args);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Built-in functions

Json Double(double d) { return Json(d); }

Result<Json> FnAbs(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.is_number_unsigned()) return v;
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x == std::numeric_limits<int64_t>::min()) return Double(std::fabs(static_cast<double>(x)));
    return Json(x < 0 ? -x : x);
  }
  return Double(std::fabs(v.get<double>()));
}

Result<Json> SumOf(const Json& array) {
  bool all_int = true;
  for (const Json& e : array) all_int = all_int && e.is_number_integer();
  if (all_int) {
    int64_t total = 0;
    bool overflow = false;
    for (const Json& e : array) {
      int64_t x =
          e.is_number_unsigned()
              ? (e.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                     ? (overflow = true, 0)
                     : static_cast<int64_t>(e.get<uint64_t>()))
              : e.get<int64_t>();
      if (__builtin_add_overflow(total, x, &total)) overflow = true;
    }
    if (!overflow) return Json(total);
  }
  double total = 0;
  for (const Json& e : array) total += AsDouble(e);
  return Double(total);
}

Result<Json> FnAvg(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.empty()) return Json();
  double total = 0;
  for (const Json& e : v) total += AsDouble(e);
  return Double(total / static_cast<double>(v.size()));
}

Result<Json> FnSum(Evaluator&, std::vector<Arg>& a) { return SumOf(a[0].value); }

Json IntegralOrDouble(double d) {
  if (std::isfinite(d) && d >= -9.2e18 && d <= 9.2e18) return Json(static_cast<int64_t>(d));
  return Double(d);
}

Result<Json> FnCeil(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.is_number_integer()) return v;
  return IntegralOrDouble(std::ceil(v.get<double>()));
}

Result<Json> FnFloor(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.is_number_integer()) return v;
  return IntegralOrDouble(std::floor(v.get<double>()));
}

Result<Json> FnContains(Evaluator&, std::vector<Arg>& a) {
  const Json& subject = a[0].value;
  const Json& search = a[1].value;
  if (subject.is_string()) {
    if (!search.is_string()) return Json(false);
    return Json(subject.get_ref<const std::string&>().find(search.get_ref<const std::string&>()) !=
                std::string::npos);
  }
  for (const Json& e : subject) {
    if (JsonEqual(e, search)) return Json(true);
  }
  return Json(false);
}

Result<Json> FnEndsWith(Evaluator&, std::vector<Arg>& a) {
  const std::string& s = a[0].value.get_ref<const std::string&>();
  const std::string& suffix = a[1].value.get_ref<const std::string&>();
  return Json(s.size() >= suffix.size() &&
              s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0);
}

Result<Json> FnStartsWith(Evaluator&, std::vector<Arg>& a) {
  const std::string& s = a[0].value.get_ref<const std::string&>();
  const std::string& prefix = a[1].value.get_ref<const std::string&>();
  return Json(s.compare(0, prefix.size(), prefix) == 0);
}

Result<Json> FnJoin(Evaluator&, std::vector<Arg>& a) {
  const std::string& sep = a[0].value.get_ref<const std::string&>();
  std::string out;
  bool first = true;
  for (const Json& e : a[1].value) {
    if (!first) out += sep;
    out += e.get_ref<const std::string&>();
    first = false;
  }
  return Json(out);
}

Result<Json> FnKeys(Evaluator&, std::vector<Arg>& a) {
  Json out = Json::array();
  for (auto it = a[0].value.begin(); it != a[0].value.end(); ++it) out.push_back(it.key());
  return out;
}

Result<Json> FnValues(Evaluator&, std::vector<Arg>& a) {
  Json out = Json::array();
  for (const Json& e : a[0].value) out.push_back(e);
  return out;
}

Result<Json> FnLength(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.is_string())
    return Json(static_cast<int64_t>(CodePointCount(v.get_ref<const std::string&>())));
  return Json(static_cast<int64_t>(v.size()));
}

Result<Json> FnMap(Evaluator& ev, std::vector<Arg>& a) {
  Json out = Json::array();
  for (const Json& e : a[1].value) {
    COVE_ASSIGN_OR_RETURN(Json item, ev.Eval(*a[0].expref, e));
    out.push_back(std::move(item));
  }
  return out;
}

// Orders two values of the same kind (both numbers or both strings).
int CompareSame(const Json& x, const Json& y) {
  if (x.is_string()) {
    return x.get_ref<const std::string&>().compare(y.get_ref<const std::string&>());
  }
  return CompareNumbers(x, y);
}

Result<Json> FnMax(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.empty()) return Json();
  const Json* best = &v[0];
  for (const Json& e : v) {
    if (CompareSame(e, *best) > 0) best = &e;
  }
  return *best;
}

Result<Json> FnMin(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.empty()) return Json();
  const Json* best = &v[0];
  for (const Json& e : v) {
    if (CompareSame(e, *best) < 0) best = &e;
  }
  return *best;
}

// Evaluates the key expression of sort_by/min_by/max_by for each element: every key must be a
// number or a string, all of the kind of the first.
Result<std::vector<Json>> Keys(Evaluator& ev, std::string_view function, const Json& array,
                               const Node& expr) {
  std::vector<Json> keys;
  keys.reserve(array.size());
  for (const Json& e : array) {
    COVE_ASSIGN_OR_RETURN(Json key, ev.Eval(expr, e));
    bool ok = key.is_number() || key.is_string();
    if (ok && !keys.empty()) ok = key.is_string() == keys[0].is_string();
    if (!ok) {
      std::string expected = keys.empty()          ? "['number', 'string']"
                             : keys[0].is_string() ? "['string']"
                                                   : "['number']";
      return Fail(TypeError(function, CompactJson(key), TypeName(key), expected));
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

Result<Json> FnSortBy(Evaluator& ev, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.empty()) return v;
  COVE_ASSIGN_OR_RETURN(std::vector<Json> keys, Keys(ev, "sort_by", v, *a[1].expref));
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return CompareSame(keys[x], keys[y]) < 0; });
  Json out = Json::array();
  for (size_t i : order) out.push_back(v[i]);
  return out;
}

Result<Json> ByExtreme(Evaluator& ev, std::vector<Arg>& a, std::string_view name, int sign) {
  const Json& v = a[0].value;
  if (v.empty()) return Json();
  COVE_ASSIGN_OR_RETURN(std::vector<Json> keys, Keys(ev, name, v, *a[1].expref));
  size_t best = 0;
  for (size_t i = 1; i < keys.size(); ++i) {
    if (CompareSame(keys[i], keys[best]) * sign > 0) best = i;
  }
  return v[best];
}

Result<Json> FnMaxBy(Evaluator& ev, std::vector<Arg>& a) { return ByExtreme(ev, a, "max_by", 1); }
Result<Json> FnMinBy(Evaluator& ev, std::vector<Arg>& a) { return ByExtreme(ev, a, "min_by", -1); }

Result<Json> FnMerge(Evaluator&, std::vector<Arg>& a) {
  Json out = Json::object();
  for (const Arg& arg : a) {
    for (auto it = arg.value.begin(); it != arg.value.end(); ++it) out[it.key()] = it.value();
  }
  return out;
}

Result<Json> FnNotNull(Evaluator&, std::vector<Arg>& a) {
  for (const Arg& arg : a) {
    if (!arg.value.is_null()) return arg.value;
  }
  return Json();
}

Result<Json> FnReverse(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.is_string()) return Json(ReverseCodePoints(v.get_ref<const std::string&>()));
  Json out = Json::array();
  for (auto it = v.rbegin(); it != v.rend(); ++it) out.push_back(*it);
  return out;
}

Result<Json> FnSort(Evaluator&, std::vector<Arg>& a) {
  Json out = a[0].value;
  std::stable_sort(out.begin(), out.end(),
                   [](const Json& x, const Json& y) { return CompareSame(x, y) < 0; });
  return out;
}

Result<Json> FnToArray(Evaluator&, std::vector<Arg>& a) {
  if (a[0].value.is_array()) return a[0].value;
  Json out = Json::array();
  out.push_back(a[0].value);
  return out;
}

Result<Json> FnToString(Evaluator&, std::vector<Arg>& a) {
  if (a[0].value.is_string()) return a[0].value;
  return Json(CompactJson(a[0].value));
}

Result<Json> FnToNumber(Evaluator&, std::vector<Arg>& a) {
  const Json& v = a[0].value;
  if (v.is_number()) return v;
  if (!v.is_string()) return Json();
  std::optional<Json> n = ParsePythonNumber(v.get_ref<const std::string&>());
  return n ? *n : Json();
}

Result<Json> FnType(Evaluator&, std::vector<Arg>& a) { return Json(TypeName(a[0].value)); }

using namespace internal;  // NOLINT: the type bits below

const std::vector<FunctionSpec>& Functions() {
  static const std::vector<FunctionSpec> kFunctions = {
      {"abs", {kNumber}, false, FnAbs},
      {"avg", {kArrayNumber}, false, FnAvg},
      {"ceil", {kNumber}, false, FnCeil},
      {"contains", {kArray | kString, kAny}, false, FnContains},
      {"ends_with", {kString, kString}, false, FnEndsWith},
      {"floor", {kNumber}, false, FnFloor},
      {"join", {kString, kArrayString}, false, FnJoin},
      {"keys", {kObject}, false, FnKeys},
      {"length", {kString | kArray | kObject}, false, FnLength},
      {"map", {kExpref, kArray}, false, FnMap},
      {"max", {kArrayNumber | kArrayString}, false, FnMax},
      {"max_by", {kArray, kExpref}, false, FnMaxBy},
      {"merge", {kObject}, true, FnMerge},
      {"min", {kArrayNumber | kArrayString}, false, FnMin},
      {"min_by", {kArray, kExpref}, false, FnMinBy},
      {"not_null", {kAny}, true, FnNotNull},
      {"reverse", {kArray | kString}, false, FnReverse},
      {"sort", {kArrayString | kArrayNumber}, false, FnSort},
      {"sort_by", {kArray, kExpref}, false, FnSortBy},
      {"starts_with", {kString, kString}, false, FnStartsWith},
      {"sum", {kArrayNumber}, false, FnSum},
      {"to_array", {kAny}, false, FnToArray},
      {"to_number", {kAny}, false, FnToNumber},
      {"to_string", {kAny}, false, FnToString},
      {"type", {kAny}, false, FnType},
      {"values", {kObject}, false, FnValues},
  };
  return kFunctions;
}

const FunctionSpec* FindFunction(std::string_view name) {
  for (const FunctionSpec& spec : Functions()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public interface

Result<Expression> Compile(std::string_view expression) {
  if (expression.empty()) {
    return Fail(Code::kInvalidArgument, "Invalid JMESPath expression: cannot be empty.");
  }
  COVE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(expression).Tokenize());
  Parser parser(expression, std::move(tokens));
  COVE_ASSIGN_OR_RETURN(NodePtr root, parser.Parse());
  Expression compiled;
  compiled.text_ = std::string(expression);
  compiled.root_ = std::shared_ptr<const Node>(std::move(root));
  return compiled;
}

Result<nlohmann::ordered_json> Expression::Evaluate(const nlohmann::ordered_json& document) const {
  Evaluator evaluator;
  return evaluator.Eval(*root_, document);
}

Result<nlohmann::json> Expression::Evaluate(const nlohmann::json& document) const {
  COVE_ASSIGN_OR_RETURN(Json result, Evaluate(Json(document)));
  return nlohmann::json(result);
}

Result<nlohmann::json> Search(std::string_view expression, const nlohmann::json& document) {
  COVE_ASSIGN_OR_RETURN(Expression compiled, Compile(expression));
  return compiled.Evaluate(document);
}

Result<nlohmann::ordered_json> Search(std::string_view expression,
                                      const nlohmann::ordered_json& document) {
  COVE_ASSIGN_OR_RETURN(Expression compiled, Compile(expression));
  return compiled.Evaluate(document);
}

bool IsSyntaxError(const Error& error) {
  std::string_view m = error.message;
  return m.find(": Parse error at column ") != std::string_view::npos ||
         m.substr(0, kSyntaxPrefix.size()) == kSyntaxPrefix ||
         m.substr(0, kLexerPrefix.size()) == kLexerPrefix ||
         m.rfind("Invalid JMESPath expression", 0) == 0;
}

}  // namespace cove::query
