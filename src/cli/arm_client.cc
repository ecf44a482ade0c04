#include "cli/arm_client.h"

#include <chrono>
#include <thread>

namespace cove::cli {

using nlohmann::json;

ArmError ErrorFromResponse(int status, const std::string& body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const json& e = parsed["error"];
    return ArmError{status, e.value("code", std::string("Error")),
                    e.value("message", std::string())};
  }
  std::string code = status == 404 ? "NotFound" : "HttpError" + std::to_string(status);
  std::string message =
      body.empty() ? "Operation returned an invalid status code " + std::to_string(status) : body;
  return ArmError{status, code, message};
}

std::string ArmClient::Target(const std::string& url_or_path) const {
  if (url_or_path.rfind(http_.endpoint(), 0) == 0) {
    return url_or_path.substr(http_.endpoint().size());
  }
  if (size_t scheme = url_or_path.find("://"); scheme != std::string::npos) {
    size_t slash = url_or_path.find('/', scheme + 3);
    return slash == std::string::npos ? "/" : url_or_path.substr(slash);
  }
  return url_or_path;
}

ArmResult<http::HttpResponse> ArmClient::Send(const std::string& method, const std::string& target,
                                        const std::string& body) {
  if (debug_)
    *debug_ << "DEBUG: Request URL: '" << http_.endpoint() << target << "'\n"
            << "DEBUG: Request method: '" << method << "'\n";
  if (debug_ && !body.empty()) *debug_ << "DEBUG: Request body:\n" << body << "\n";
  if (!token_) {
    if (token_source_) {
      auto token = token_source_();
      if (!token) return tl::unexpected(token.error());
      token_ = std::move(*token);
    } else {
      token_ = "";
    }
  }
  std::map<std::string, std::string> headers;
  if (!token_->empty()) headers["Authorization"] = "Bearer " + *token_;
  auto res = http_.Send(method, target, body, "application/json", headers);
  if (!res) return ArmFail(0, "", res.error().message);
  if (token_->empty() && res->status == 401) {
    // No account and no bootstrap credential to use: say so as az does.
    return ArmFail(401, "",
                   "Please run 'cove login' to setup account (or run cove as coved's user, who "
                   "can read coved's bootstrap credential <data dir>/bootstrap.json).");
  }
  if (debug_) {
    *debug_ << "DEBUG: Response status: " << res->status << "\n";
    if (!res->body.empty()) *debug_ << "DEBUG: Response content:\n" << res->body << "\n";
  }
  return std::move(*res);
}

namespace {

std::string WithApiVersion(const std::string& path, const std::string& api) {
  if (api.empty() || path.find("api-version=") != std::string::npos) return path;
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=" + api;
}

json ParseBody(const std::string& body) {
  if (body.empty()) return nullptr;
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(body) : parsed;
}

bool Terminal(const std::string& status) {
  return status == "Succeeded" || status == "Failed" || status == "Canceled";
}

// True when a long-running write's first answer already holds the finished resource
// (provisioningState Succeeded, as coved's writes always do): nothing is left to poll.
bool AlreadySucceeded(const json& body) {
  if (!body.is_object()) return false;
  auto props = body.find("properties");
  const json& holder = props != body.end() && props->is_object() ? *props : body;
  auto state = holder.find("provisioningState");
  return state != holder.end() && state->is_string() && *state == "Succeeded";
}

}  // namespace

ArmResult<json> ArmClient::Call(const std::string& method, const std::string& path,
                                const std::string& api, const std::optional<json>& body) {
  std::string text = body ? body->dump() : "";
  auto res = Send(method, WithApiVersion(path, api), text);
  if (!res) return tl::unexpected(res.error());
  if (res->status >= 400) return tl::unexpected(ErrorFromResponse(res->status, res->body));
  json parsed = ParseBody(res->body);
  if ((res->status == 201 || res->status == 202) &&
      (res->headers.count("azure-asyncoperation") || res->headers.count("location")) &&
      !AlreadySucceeded(parsed)) {
    return Poll(*res, method, path, api);
  }
  return parsed;
}

ArmResult<json> ArmClient::Poll(const http::HttpResponse& first, const std::string& method,
                                const std::string& path, const std::string& api) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); };
  if (auto it = first.headers.find("azure-asyncoperation"); it != first.headers.end()) {
    std::string target = Target(it->second);
    while (true) {
      auto res = Send("GET", target, "");
      if (!res) return tl::unexpected(res.error());
      if (res->status >= 400) return tl::unexpected(ErrorFromResponse(res->status, res->body));
      json op = ParseBody(res->body);
      std::string status = op.is_object() ? op.value("status", std::string()) : "";
      if (status == "Failed" || status == "Canceled") {
        if (op.contains("error")) {
          return tl::unexpected(ErrorFromResponse(200, json{{"error", op["error"]}}.dump()));
        }
        return ArmFail(200, "OperationFailed", "The operation ended with status " + status);
      }
      if (Terminal(status)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return ArmFail(0, "", "timed out waiting for the operation at " + target);
      }
      pause();
    }
  } else {
    std::string target = Target(first.headers.at("location"));
    while (true) {
      auto res = Send("GET", target, "");
      if (!res) return tl::unexpected(res.error());
      if (res->status == 202) {
        if (std::chrono::steady_clock::now() > deadline) {
          return ArmFail(0, "", "timed out waiting for the operation at " + target);
        }
        pause();
        continue;
      }
      if (res->status >= 400 && !(method == "DELETE" && res->status == 404)) {
        return tl::unexpected(ErrorFromResponse(res->status, res->body));
      }
      if (method == "POST") return ParseBody(res->body);
      break;
    }
  }
  if (method == "DELETE") return json(nullptr);
  return Call("GET", path, api);
}

ArmResult<json> ArmClient::List(const std::string& path, const std::string& api) {
  json all = json::array();
  std::string target = WithApiVersion(path, api);
  for (int page = 0; page < 10000; ++page) {
    auto res = Send("GET", target, "");
    if (!res) return tl::unexpected(res.error());
    if (res->status >= 400) return tl::unexpected(ErrorFromResponse(res->status, res->body));
    json body = ParseBody(res->body);
    if (body.is_object() && body.contains("value") && body["value"].is_array()) {
      for (auto& v : body["value"]) all.push_back(std::move(v));
    } else if (body.is_array()) {
      for (auto& v : body) all.push_back(std::move(v));
    }
    if (!body.is_object() || !body.contains("nextLink") || !body["nextLink"].is_string() ||
        body["nextLink"].get<std::string>().empty()) {
      break;
    }
    target = Target(body["nextLink"].get<std::string>());
  }
  return all;
}

ArmResult<http::HttpResponse> ArmClient::PostForm(const std::string& path, const std::string& form) {
  if (debug_) {
    *debug_ << "DEBUG: Request URL: '" << http_.endpoint() << path << "'\n"
            << "DEBUG: Request method: 'POST'\n"
            << "DEBUG: Request body: (form; not shown, it holds credentials)\n";
  }
  auto res = http_.Send("POST", path, form, "application/x-www-form-urlencoded");
  if (!res) return ArmFail(0, "", res.error().message);
  if (debug_) *debug_ << "DEBUG: Response status: " << res->status << "\n";
  return std::move(*res);
}

ArmResult<bool> ArmClient::Exists(const std::string& path, const std::string& api) {
  auto res = Send("GET", WithApiVersion(path, api), "");
  if (!res) return tl::unexpected(res.error());
  if (res->status == 404) return false;
  if (res->status >= 400) return tl::unexpected(ErrorFromResponse(res->status, res->body));
  return true;
}

}  // namespace cove::cli
