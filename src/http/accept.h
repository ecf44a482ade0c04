// Accepting TCP connections with Asio, the way every cove listener does it: the loop shared by
// the HTTP server (http/server.h) and the private link forwarder (privatelink/forwarder.h), the
// body of their I/O threads, and the log line for an exception that escapes a coroutine. Transport code only (it includes
// Asio); domain code never sees it.
//
// AcceptLoop accepts on `acceptor` until it is closed, giving each socket its own strand of
// `ioc` and handing it to `on_accept`. It ends quietly when the acceptor is closed or its
// socket is shut down by its owner (EINVAL: a private endpoint that went away; the acceptor is
// then closed too). Other accept errors (out of descriptors and the like) are logged as
// "<component>: accept: ..." and retried after 50 ms rather than spun on. `keep_alive` holds
// whatever owns `acceptor` for as long as the loop runs.
//
// Thread-safety: run the loop on the acceptor's executor; on_accept is called there.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string_view>

#include <boost/asio.hpp>

namespace cove::http {

boost::asio::awaitable<void> AcceptLoop(
    std::shared_ptr<const void> keep_alive, boost::asio::ip::tcp::acceptor& acceptor,
    boost::asio::io_context& ioc, std::string_view component,
    std::function<void(boost::asio::ip::tcp::socket)> on_accept);

// The body of an I/O thread: runs `ioc` until it stops; an exception that escapes a handler is
// logged ("<component>: I/O thread: ...") and the loop goes on.
void RunIoContext(boost::asio::io_context& ioc, std::string_view component);

// Logs "<component>: <what>: <exception text>" at error level when `e` holds an exception (the
// completion handler of a co_spawn); nothing when it is null.
void LogException(std::string_view component, std::string_view what, std::exception_ptr e);

}  // namespace cove::http
