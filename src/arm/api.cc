#include "arm/api.h"

#include <atomic>

namespace cove::arm {
namespace {

constexpr uint64_t kMaxBody = 4 << 20;

http::Response JsonResponse(int status, const std::optional<Json>& body, bool head) {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/json; charset=utf-8");
  static std::atomic<uint64_t> counter{1};
  r.headers.Set("x-ms-request-id", "cove-" + std::to_string(counter++));
  if (body && !head) r.body = body->dump(-1, ' ', false, Json::error_handler_t::replace);
  if (body && head) r.body = http::LengthOnly{body->dump().size()};
  return r;
}

}  // namespace

std::string CollapseSlashes(std::string_view target) {
  size_t query = target.find('?');
  std::string out;
  out.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < query && target[i] == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(target[i]);
  }
  return out;
}

http::ExchangePtr ArmApi::Start(http::Request request) { return Start(std::move(request), {}); }

http::ExchangePtr ArmApi::Start(http::Request request, Filter post_filter) {
  http::Response too_large = JsonResponse(
      413, ErrorBody("RequestEntityTooLarge", "The request body is larger than 4 MiB."), false);
  std::string method = request.method;
  request.target = CollapseSlashes(request.target);
  std::string path(request.path());
  auto api_version = request.QueryParam("api-version");
  std::string if_match(request.headers.Get("If-Match").value_or(""));
  std::string if_none_match(request.headers.Get("If-None-Match").value_or(""));
  std::string filter = request.QueryParam("$filter").value_or("");
  std::string top = request.QueryParam("$top").value_or("");
  std::string skip_token = request.QueryParam("$skiptoken").value_or("");
  std::string expand = request.QueryParam("$expand").value_or("");
  std::string tail = request.QueryParam("tail").value_or("");
  std::string origin =
      scheme_ + "://" + std::string(request.headers.Get("Host").value_or("localhost"));
  return http::Buffer(kMaxBody, std::move(too_large),
                      [this, method, path, api_version, if_match, if_none_match, filter, top,
                       skip_token, expand, tail, origin,
                       post = std::move(post_filter)](std::string body) {
                        ArmRequest r{method,   path,          api_version, std::move(body),
                                     if_match, if_none_match, filter,      top,
                                     skip_token, expand,   tail};
                        ArmResponse answer = control_plane_.Handle(r);
                        if (post && answer.status == 200 && answer.body) post(answer);
                        if (answer.body && answer.body->is_object()) {
                          auto link = answer.body->find("nextLink");
                          if (link != answer.body->end() && link->is_string() &&
                              link->get<std::string>().starts_with("/")) {
                            *link = origin + link->get<std::string>();
                          }
                        }
                        http::Response response =
                            JsonResponse(answer.status, answer.body, method == "HEAD");
                        for (const auto& [name, value] : answer.headers) {
                          response.headers.Set(name, value.starts_with("/") ? origin + value
                                                                            : value);
                        }
                        return response;
                      });
}

}  // namespace cove::arm
