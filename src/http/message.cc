#include "http/message.h"

#include <strings.h>

#include <algorithm>
#include <mutex>

#include "common/ascii.h"

namespace cove::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX and '+' (form encoding, as clients send in query strings). Malformed escapes are
// kept literally.
std::string Decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

template <typename F>
void ForEachParam(std::string_view query, F f) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    f(Decode(key), value);
  }
}

}  // namespace

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) out.emplace_back(v);
  }
  return out;
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
}

std::string Request::host() const {
  std::string_view h = headers.Get("Host").value_or("");
  if (!h.empty() && h.front() == '[') {  // [v6]:port
    auto close = h.find(']');
    h = h.substr(1, close == std::string_view::npos ? h.size() - 1 : close - 1);
  } else if (auto colon = h.rfind(':'); colon != std::string_view::npos) {
    h = h.substr(0, colon);
  }
  return AsciiLower(h);
}

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::optional<std::string> out;
  ForEachParam(query(), [&](const std::string& key, std::string_view value) {
    if (!out && key == name) out = Decode(value);
  });
  return out;
}

std::vector<std::string> Request::QueryParams(std::string_view name) const {
  std::vector<std::string> out;
  ForEachParam(query(), [&](const std::string& key, std::string_view value) {
    if (key == name) out.push_back(Decode(value));
  });
  return out;
}

uint64_t Response::BodySize() const {
  struct {
    uint64_t operator()(const std::string& s) const { return s.size(); }
    uint64_t operator()(const FileBody& f) const { return f.length; }
    uint64_t operator()(const LengthOnly& l) const { return l.length; }
  } size;
  return std::visit(size, body);
}

Response Response::Text(int status, std::string content_type, std::string body) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

namespace {
class Fixed final : public Exchange {
 public:
  Fixed(Response response, uint64_t max_ignored)
      : response_(std::move(response)), max_ignored_(max_ignored) {}
  std::optional<Response> OnBody(std::string_view piece) override {
    ignored_ += piece.size();
    if (ignored_ > max_ignored_) {
      response_.close = true;
      return std::move(response_);
    }
    return std::nullopt;
  }
  Response Finish() override { return std::move(response_); }
  bool WantsBody() const override { return max_ignored_ > 0; }
  std::optional<uint64_t> IgnoresBody() const override { return max_ignored_; }

 private:
  Response response_;
  uint64_t max_ignored_;
  uint64_t ignored_ = 0;
};
}  // namespace

namespace {
class LaterExchange final : public Exchange {
 public:
  LaterExchange(uint64_t limit, Response too_large, std::function<void(std::string, Answer)> start)
      : limit_(limit),
        too_large_(std::move(too_large)),
        start_(std::move(start)),
        state_(std::make_shared<State>()) {}
  std::optional<Response> OnBody(std::string_view piece) override {
    if (body_.size() + piece.size() > limit_) {
      too_large_.close = true;
      return std::move(too_large_);
    }
    body_.append(piece);
    return std::nullopt;
  }
  bool Await(Stage stage, std::function<void()> ready) override {
    if (stage != Stage::kBodyDone) return false;
    if (start_) {
      auto start = std::move(start_);
      start_ = nullptr;
      start(std::move(body_), [state = state_](Response response) {
        std::function<void()> wake;
        {
          std::lock_guard lock(state->mu);
          state->response = std::move(response);
          wake = std::move(state->ready);
        }
        if (wake) wake();
      });
    }
    std::lock_guard lock(state_->mu);
    if (state_->response) return false;
    state_->ready = std::move(ready);
    return true;
  }
  Response Finish() override {
    std::lock_guard lock(state_->mu);
    if (!state_->response) return Response::Text(500, "text/plain", "internal server error\n");
    return std::move(*state_->response);
  }

 private:
  struct State {
    std::mutex mu;
    std::optional<Response> response;  // guarded by mu
    std::function<void()> ready;       // guarded by mu
  };
  uint64_t limit_;
  Response too_large_;
  std::function<void(std::string, Answer)> start_;
  std::shared_ptr<State> state_;
  std::string body_;
};
}  // namespace

ExchangePtr BufferLater(uint64_t limit, Response too_large,
                        std::function<void(std::string body, Answer answer)> start) {
  return std::make_unique<LaterExchange>(limit, std::move(too_large), std::move(start));
}

ExchangePtr Respond(Response response, uint64_t max_ignored) {
  return std::make_unique<Fixed>(std::move(response), max_ignored);
}

}  // namespace cove::http
