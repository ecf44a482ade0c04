#include "http/accept.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

namespace cove::http {

namespace asio = boost::asio;

// `keep_alive` is never read: as a coroutine parameter it lives in the frame, which is the point.
asio::awaitable<void> AcceptLoop([[maybe_unused]] std::shared_ptr<const void> keep_alive,
                                 asio::ip::tcp::acceptor& acceptor, asio::io_context& ioc,
                                 std::string_view component,
                                 std::function<void(asio::ip::tcp::socket)> on_accept) {
  constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
  const std::string who(component);  // the caller's view may not outlive the first suspension
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::any_io_executor(asio::make_strand(ioc)), kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EINVAL: the socket was shut down by its owner (a private endpoint that went away).
      if (ec == asio::error::invalid_argument) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        co_return;
      }
      spdlog::warn("{}: accept: {}", who, ec.message());
      // Out of descriptors and the like: back off briefly rather than spin.
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    on_accept(std::move(socket));
  }
}

void RunIoContext(asio::io_context& ioc, std::string_view component) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("{}: I/O thread: {}", component, e.what());
    }
  }
}

void LogException(std::string_view component, std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("{}: {}: {}", component, what, x.what());
  } catch (...) {
    spdlog::error("{}: {}: unknown exception", component, what);
  }
}

}  // namespace cove::http
