#include "auth/wire.h"

#include <cctype>

#include "common/ascii.h"
#include "common/percent.h"

#include "auth/jwt.h"

namespace cove::auth {
namespace {

Result<std::string> Unescape(std::string_view s) {
  auto out = PercentDecode(s, true);
  if (!out) return Fail(Code::kInvalidArgument, "bad %-escape in form body");
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Form> ParseForm(std::string_view body) {
  if (body.size() > 64 * 1024) return Fail(Code::kInvalidArgument, "form body is too large");
  Form form;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    COVE_ASSIGN_OR_RETURN(auto name, Unescape(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      COVE_ASSIGN_OR_RETURN(value, Unescape(pair.substr(eq + 1)));
    }
    if (form.size() >= 256) return Fail(Code::kInvalidArgument, "form has too many fields");
    form.emplace(std::move(name), std::move(value));
  }
  return form;
}

std::optional<std::string> FormValue(const Form& form, const std::string& name) {
  auto it = form.find(name);
  if (it == form.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> FormValues(const Form& form, const std::string& name) {
  std::vector<std::string> out;
  auto [b, e] = form.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

Result<Credentials> ParseAuthorization(std::optional<std::string_view> header) {
  Credentials c;
  if (!header) return c;
  std::string_view v = Trim(*header);
  if (StartsWithIgnoreCase(v, "basic ")) {
    c.scheme = Credentials::kBasic;
    std::string_view b64 = Trim(v.substr(6));
    if (b64.empty() || b64.size() > 16 * 1024 ||
        b64.find_first_of("-_") != std::string_view::npos) {
      return Fail(Code::kInvalidArgument, "Basic credentials are not base64");
    }
    auto decoded = Base64UrlDecode(b64);
    if (!decoded) return Fail(Code::kInvalidArgument, "Basic credentials are not base64");
    auto colon = decoded->find(':');
    if (colon == std::string::npos) {
      return Fail(Code::kInvalidArgument, "Basic credentials are not user:password");
    }
    c.user = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
    return c;
  }
  if (StartsWithIgnoreCase(v, "bearer ")) {
    c.scheme = Credentials::kBearer;
    c.token = std::string(Trim(v.substr(7)));
    if (c.token.empty()) return Fail(Code::kInvalidArgument, "empty Bearer token");
    return c;
  }
  c.scheme = Credentials::kOther;
  return c;
}

}  // namespace cove::auth
