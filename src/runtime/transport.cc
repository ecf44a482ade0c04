#include "runtime/transport.h"

#include <nlohmann/json.hpp>

namespace cove::runtime {

std::string Url::origin() const {
  bool default_port = https ? port == "443" : port == "80";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (https ? "https://" : "http://") + h + (default_port ? "" : ":" + port);
}

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  std::string_view rest;
  if (text.substr(0, 8) == "https://") {
    rest = text.substr(8);
  } else if (text.substr(0, 7) == "http://") {
    rest = text.substr(7);
    url.https = false;
  } else {
    return Fail(Code::kInvalidArgument, "not an http(s) URL: '" + std::string(text) + "'");
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!url.target.empty() && url.target[0] == '?') url.target = "/" + url.target;
  if (authority.find('@') != std::string_view::npos || authority.empty()) {
    return Fail(Code::kInvalidArgument, "bad host in URL '" + std::string(text) + "'");
  }
  size_t close = authority.rfind(']');
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    url.host = std::string(authority.substr(0, colon));
    url.port = std::string(authority.substr(colon + 1));
  } else {
    url.host = std::string(authority);
    url.port = url.https ? "443" : "80";
  }
  if (url.host.size() > 2 && url.host.front() == '[' && url.host.back() == ']') {
    url.host = url.host.substr(1, url.host.size() - 2);
  }
  if (url.host.empty() || url.port.empty() ||
      url.port.find_first_not_of("0123456789") != std::string::npos) {
    return Fail(Code::kInvalidArgument, "bad host or port in URL '" + std::string(text) + "'");
  }
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Fail(Code::kInvalidArgument, "bad character in URL '" + std::string(text) + "'");
    }
  }
  return url;
}

Result<Url> ResolveLocation(const Url& base, std::string_view location) {
  if (location.substr(0, 7) == "http://" || location.substr(0, 8) == "https://") {
    return ParseUrl(location);
  }
  if (location.empty() || location[0] != '/' || location.substr(0, 2) == "//") {
    return Fail(Code::kInvalidArgument,
                "unsupported redirect location '" + std::string(location) + "'");
  }
  return ParseUrl(base.origin() + std::string(location));
}

Error ResponseError(const FetchResponse& res) {
  Error e{Code::kUnavailable, ""};
  e.http_status = res.status;
  switch (res.status) {
    case 401:
      e.code = Code::kUnauthenticated;
      e.reason = "UNAUTHORIZED";
      break;
    case 403:
      e.code = Code::kPermissionDenied;
      e.reason = "DENIED";
      break;
    case 404:
      e.code = Code::kNotFound;
      e.reason = "NOT_FOUND";
      break;
    case 429:
      e.code = Code::kResourceExhausted;
      e.reason = "TOOMANYREQUESTS";
      break;
    default:
      e.reason = res.status >= 500 ? "UNAVAILABLE" : "UNKNOWN";
      break;
  }
  if (res.status >= 400 && res.status < 500 && e.reason == "UNKNOWN") {
    e.code = Code::kInvalidArgument;
  }
  nlohmann::json body = nlohmann::json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    const auto errors = body.find("errors");
    if (errors != body.end() && errors->is_array() && !errors->empty() &&
        (*errors)[0].is_object()) {
      const auto& first = (*errors)[0];
      if (first.contains("code") && first["code"].is_string()) e.reason = first["code"];
      if (first.contains("message") && first["message"].is_string()) {
        e.message = first["message"];
      }
    } else if (body.contains("error") && body["error"].is_string()) {
      if (body.contains("error_description") && body["error_description"].is_string()) {
        e.message = body["error_description"];
      } else {
        e.message = body["error"];
      }
    } else if (body.contains("details") && body["details"].is_string()) {
      e.message = body["details"];
    }
  }
  if (e.message.empty()) e.message = std::to_string(res.status) + " " + res.reason;
  return e;
}

}  // namespace cove::runtime
