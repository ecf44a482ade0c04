// Server over plain TCP: framing, streaming bodies, sendfile, keep-alive, errors, timeouts, Stop.
#include "http/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <gtest/gtest.h>

#include "http/http_test_util.h"
#include "support/temp_dir.h"

namespace cove::http {
namespace {

using namespace cove::http::testing;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    server_ = std::make_unique<Server>(handler_, nullptr, options);
    ListenerOptions listener;
    listener.link_id = 77;
    port_ = ListenAndStart(*server_, listener);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Writes `data` to a file in the temp dir and points the handler at it.
  void MakeFile(const std::string& data) {
    handler_.file_path = dir_.Join("blob");
    std::ofstream(handler_.file_path, std::ios::binary) << data;
  }

  cove::testing::TempDir dir_;
  TestHandler handler_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, GetStringBody) {
  StartServer();
  PlainClient client(port_);
  auto response = client.Do(Get("/text"));
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "hello world");
  EXPECT_EQ(response[bhttp::field::content_length], "11");
  EXPECT_EQ(response[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(response[bhttp::field::server], "cove");
  EXPECT_FALSE(response.chunked());
}

TEST_F(ServerTest, PeerDescribesTheConnection) {
  StartServer();
  PlainClient client(port_);
  auto response = client.Do(Get("/peer"));
  std::string body = response.body();
  EXPECT_EQ(body.substr(0, body.rfind(' ')),
            "127.0.0.1 " + std::to_string(port_) + " plain - 77");
}

TEST_F(ServerTest, HeadHasContentLengthButNoBody) {
  MakeFile(std::string(5000, 'x'));
  StartServer();
  for (std::string target : {"/text", "/file", "/length"}) {
    RawClient client(port_);
    client.Send("HEAD " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string reply = client.ReadToEnd();
    std::string expected_length = target == "/text" ? "11" : target == "/file" ? "5000" : "1234";
    EXPECT_NE(reply.find("Content-Length: " + expected_length + "\r\n"), std::string::npos)
        << reply;
    ASSERT_GE(reply.size(), 4u);
    EXPECT_EQ(reply.substr(reply.size() - 4), "\r\n\r\n") << "body after head: " << reply;
    EXPECT_EQ(reply.find("\r\n\r\n"), reply.size() - 4);
  }
}

TEST_F(ServerTest, SendfileWholeLargeFile) {
  std::string data = PseudoRandom(64 << 20, 1);
  MakeFile(data);
  StartServer();
  PlainClient client(port_);
  auto response = client.Do(Get("/file"));
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[bhttp::field::content_length], std::to_string(data.size()));
  ASSERT_EQ(response.body().size(), data.size());
  EXPECT_EQ(Digest::Of(response.body()), Digest::Of(data));
  // The connection is still usable after a sendfile response.
  EXPECT_EQ(client.Do(Get("/text")).body(), "hello world");
}

TEST_F(ServerTest, SendfileRange) {
  std::string data = PseudoRandom(1 << 20, 2);
  MakeFile(data);
  StartServer();
  PlainClient client(port_);
  auto response = client.Do(Get("/file?offset=1000&length=300000"));
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), data.substr(1000, 300000));
}

TEST_F(ServerTest, StreamBodyFromPipe) {
  std::string data = PseudoRandom(64 << 20, 3);
  MakeFile(data);
  StartServer();
  PlainClient client(port_);
  auto response = client.Do(Get("/stream"));
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_EQ(response[bhttp::field::content_length], std::to_string(data.size()));
  ASSERT_EQ(response.body().size(), data.size());
  EXPECT_EQ(Digest::Of(response.body()), Digest::Of(data));
  auto range = client.Do(Get("/stream?offset=1000&length=300000"));
  EXPECT_EQ(range.body(), data.substr(1000, 300000));
  // The connection is still usable after a stream response.
  EXPECT_EQ(client.Do(Get("/text")).body(), "hello world");
}

TEST_F(ServerTest, StreamBodyCutShortEndsTheConnection) {
  MakeFile(PseudoRandom(1 << 20, 4));
  StartServer();
  PlainClient client(port_);
  EXPECT_ANY_THROW(client.Do(Get("/stream?cut=5000")));  // fewer bytes than Content-Length
}

TEST_F(ServerTest, StreamsChunkedBodyInPieces) {
  StartServer();
  std::string data = PseudoRandom(32 << 20, 3);
  RawClient client(port_);
  client.Send("PUT /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  const size_t chunk = 1 << 20;
  char size_line[32];
  for (size_t off = 0; off < data.size(); off += chunk) {
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk);
    client.Send(size_line);
    client.Send(std::string_view(data).substr(off, chunk));
    client.Send("\r\n");
  }
  client.Send("0\r\n\r\n");
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  bhttp::read(client.socket(), buffer, response);
  ASSERT_EQ(response.result_int(), 200);
  std::string body = response.body();
  EXPECT_NE(body.find("bytes=" + std::to_string(data.size()) + " "), std::string::npos) << body;
  EXPECT_NE(body.find("sha256=" + Digest::Of(data).hex()), std::string::npos) << body;
  // Pieces are bounded by the server's buffer, so a 32 MiB body arrives in many of them.
  uint64_t pieces = std::stoull(body.substr(body.find("pieces=") + 7));
  EXPECT_GE(pieces, 32u * 4);
}

TEST_F(ServerTest, StreamsContentLengthBody) {
  StartServer();
  std::string data = PseudoRandom(3 << 20, 4);
  PlainClient client(port_);
  auto request = Get("/count", bhttp::verb::put);
  request.body() = data;
  auto response = client.Do(request);
  ASSERT_EQ(response.result_int(), 200);
  EXPECT_NE(response.body().find("bytes=" + std::to_string(data.size()) + " "), std::string::npos);
  EXPECT_NE(response.body().find("sha256=" + Digest::Of(data).hex()), std::string::npos);
  EXPECT_EQ(handler_.finishes(), 1);
}

TEST_F(ServerTest, EarlyResponseClosesConnection) {
  StartServer();
  RawClient client(port_);
  client.Send("PUT /early HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n");
  client.Send(PseudoRandom(1 << 20, 5));
  boost::system::error_code ec;
  std::string reply = client.ReadToEnd(&ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413 ", 0), 0u) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(reply.substr(reply.size() - 10), "too large\n");
  EXPECT_EQ(handler_.finishes(), 0);
}

TEST_F(ServerTest, KeepAliveHundredRequests) {
  StartServer();
  PlainClient client(port_);
  std::string first;
  for (int i = 0; i < 100; ++i) {
    auto response = client.Do(Get("/peer"));
    ASSERT_EQ(response.result_int(), 200);
    // The client's port is the last field: the same connection every time.
    std::string port = response.body().substr(response.body().rfind(' ') + 1);
    if (i == 0) first = port;
    EXPECT_EQ(port, first);
  }
}

TEST_F(ServerTest, PipelinedRequests) {
  StartServer();
  RawClient client(port_);
  client.Send(
      "GET /text HTTP/1.1\r\nHost: x\r\n\r\nGET /text HTTP/1.1\r\nHost: x\r\nConnection: "
      "close\r\n\r\n");
  std::string reply = client.ReadToEnd();
  size_t first = reply.find("hello world");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(reply.find("hello world", first + 1), std::string::npos) << reply;
}

TEST_F(ServerTest, ExpectContinue) {
  StartServer();
  RawClient client(port_);
  client.Send(
      "PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.ReadUntil("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  client.Send("abcde");
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  bhttp::read(client.socket(), buffer, response);
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body().rfind("bytes=5 ", 0), 0u) << response.body();
}

TEST_F(ServerTest, MalformedRequestLineIs400) {
  StartServer();
  RawClient client(port_);
  client.Send("THIS IS NOT HTTP\r\n\r\n");
  boost::system::error_code ec;
  std::string reply = client.ReadToEnd(&ec);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400 ", 0), 0u) << reply;
  EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(ServerTest, OversizedHeadIs431) {
  ServerOptions options;
  options.max_header_bytes = 8 * 1024;
  StartServer(options);
  RawClient client(port_);
  client.Send("GET /text HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16 * 1024, 'a') +
              "\r\n\r\n");
  boost::system::error_code ec;
  std::string reply = client.ReadToEnd(&ec);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431 ", 0), 0u) << reply.substr(0, 100);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST_F(ServerTest, BadChunkedEncodingIs400AndAborts) {
  StartServer();
  RawClient client(port_);
  client.Send("PUT /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n");
  boost::system::error_code ec;
  std::string reply = client.ReadToEnd(&ec);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400 ", 0), 0u) << reply;
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_TRUE(handler_.WaitForAborts(1));
  EXPECT_EQ(handler_.finishes(), 0);
}

TEST_F(ServerTest, ClientVanishingMidBodyAborts) {
  StartServer();
  {
    RawClient client(port_);
    client.Send("PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789");
  }
  EXPECT_TRUE(handler_.WaitForAborts(1));
  EXPECT_EQ(handler_.finishes(), 0);
}

TEST_F(ServerTest, SilentClientCutOffAfterHeaderTimeout) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  StartServer(options);
  RawClient client(port_);
  client.Send("GET /text HTTP/1.1\r\nHost: x\r\n");
  auto start = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  std::string reply = client.ReadToEnd(&ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(reply, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ServerTest, IdleKeepAliveConnectionCutOff) {
  ServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  StartServer(options);
  RawClient client(port_);
  client.Send("GET /text HTTP/1.1\r\nHost: x\r\n\r\n");
  boost::system::error_code ec;
  std::string reply = client.ReadToEnd(&ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_NE(reply.find("hello world"), std::string::npos);
}

TEST_F(ServerTest, StopWithIdleConnectionsIsPrompt) {
  StartServer();  // default timeouts: 30 s header, 60 s idle
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawClient>(port_));
    if (i % 2 == 0) {
      clients.back()->Send("GET /text HTTP/1.1\r\nHost: x\r\n\r\n");
      clients.back()->ReadUntil("hello world");
    } else {
      clients.back()->Send("GET /text HTTP/1.1\r\n");  // half a head
    }
  }
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (auto& client : clients) {
    boost::system::error_code ec;
    client->ReadToEnd(&ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, ListenOnIpv6AndAdopt) {
  server_ = std::make_unique<Server>(handler_, nullptr);
  ListenerOptions v6;
  v6.address = "::1";
  auto port6 = server_->Listen(v6);
  ASSERT_TRUE(port6) << port6.error().ToString();

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ListenerOptions adopted;
  adopted.link_id = 5;
  auto port4 = server_->Adopt(UniqueFd(fd), adopted);
  ASSERT_TRUE(port4) << port4.error().ToString();
  server_->Start();

  PlainClient client(*port4);
  auto response = client.Do(Get("/peer"));
  EXPECT_EQ(response.body().substr(0, response.body().rfind(' ')),
            "127.0.0.1 " + std::to_string(*port4) + " plain - 5");

  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("::1"), *port6));
  beast::flat_buffer buffer;
  auto r6 = RoundTrip(socket, buffer, Get("/peer"));
  EXPECT_EQ(r6.body().rfind("::1 " + std::to_string(*port6) + " plain - -", 0), 0u) << r6.body();
}

TEST_F(ServerTest, ListenErrors) {
  server_ = std::make_unique<Server>(handler_, nullptr);
  ListenerOptions bad;
  bad.address = "not-an-address";
  EXPECT_EQ(server_->Listen(bad).error().code, Code::kInvalidArgument);
  ListenerOptions tls;
  tls.tls = true;
  EXPECT_EQ(server_->Listen(tls).error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace cove::http
