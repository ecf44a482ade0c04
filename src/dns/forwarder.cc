#include "dns/forwarder.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio.hpp>
#include <memory>
#include <random>
#include <utility>

#include "dns/forward.h"

namespace cove::dns {
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

uint16_t RandomId() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<uint16_t>(std::uniform_int_distribution<uint32_t>(0, 0xFFFF)(generator));
}

class ForwardOp : public std::enable_shared_from_this<ForwardOp> {
 public:
  ForwardOp(asio::io_context& io, UpstreamSocketOpener& opener, std::chrono::milliseconds timeout,
            std::atomic<size_t>& in_flight, ForwardRequest request, ForwardDone done)
      : strand_(asio::make_strand(io)),
        timer_(strand_),
        udp_(strand_),
        tcp_(strand_),
        opener_(opener),
        timeout_(timeout),
        in_flight_(in_flight),
        request_(std::move(request)),
        done_(std::move(done)) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
  }
  ~ForwardOp() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  void Start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->Next(); });
  }

 private:
  // Handlers of an attempt carry its number; once the attempt is over they do nothing.
  template <typename F>
  auto Guard(F&& f) {
    return [self = shared_from_this(), attempt = attempt_, f = std::forward<F>(f)](auto&&... args) {
      if (attempt == self->attempt_ && !self->finished_) f(std::forward<decltype(args)>(args)...);
    };
  }

  // Tries the next target, or answers SERVFAIL when none is left.
  void Next() {
    while (next_target_ < request_.targets.size()) {
      const ForwardTarget& t = request_.targets[next_target_++];
      boost::system::error_code ec;
      asio::ip::address address = asio::ip::make_address(t.ip, ec);
      if (ec) continue;
      if (request_.received_on && request_.received_on->first == address &&
          request_.received_on->second == t.port) {
        continue;  // the socket the query came in on: forwarding there would loop
      }
      target_ = {address, t.port};
      if (StartUdp()) return;
    }
    std::vector<uint8_t> out;
    ProcessResult r = ErrorResponse(request_.query, kRcodeServFail, request_.facts, out);
    Finish(std::move(out), r);
  }

  void ArmTimer() {
    timer_.expires_after(timeout_);
    timer_.async_wait(Guard([this](boost::system::error_code ec) {
      if (!ec) Failed();
    }));
  }

  // Sends the query over UDP to target_; false if no socket could be made.
  bool StartUdp() {
    int family = target_.address().is_v4() ? AF_INET : AF_INET6;
    auto fd = opener_.Open(request_.view, family, SOCK_DGRAM);
    if (!fd) return false;
    boost::system::error_code ec;
    udp_.assign(family == AF_INET ? udp::v4() : udp::v6(), fd->Release(), ec);
    if (!ec) udp_.connect(udp::endpoint(target_.address(), target_.port()), ec);
    if (ec) {
      udp_.close(ec);
      return false;
    }
    ++attempt_;
    id_ = RandomId();
    sent_ = UpstreamQuery(request_.query, id_);
    received_.resize(65535);
    ArmTimer();
    udp_.async_send(asio::buffer(sent_), Guard([this](boost::system::error_code ec, size_t) {
                      if (ec) return Failed();
                      ReadUdp();
                    }));
    return true;
  }

  void ReadUdp() {
    udp_.async_receive(asio::buffer(received_),
                       Guard([this](boost::system::error_code ec, size_t n) {
                         if (ec) return Failed();  // e.g. ICMP port unreachable
                         Judge({received_.data(), n}, false);
                       }));
  }

  void Judge(std::span<const uint8_t> answer, bool over_tcp) {
    std::vector<uint8_t> out;
    switch (RelayAnswer(request_.query, answer, id_, over_tcp, request_.facts, out)) {
      case UpstreamVerdict::kRelay: {
        ProcessResult r{.respond = true,
                        .rcode = static_cast<uint16_t>(out[3] & 0xF),
                        .truncated = (out[2] & 0x02) != 0};
        return Finish(std::move(out), r);
      }
      case UpstreamVerdict::kTruncated:
        return StartTcp();
      case UpstreamVerdict::kIgnore:
        if (!over_tcp) return ReadUdp();
        return Failed();
      case UpstreamVerdict::kBad:
        return Failed();
    }
  }

  // Asks target_ again over TCP (its UDP answer was truncated).
  void StartTcp() {
    CloseSockets();
    int family = target_.address().is_v4() ? AF_INET : AF_INET6;
    auto fd = opener_.Open(request_.view, family, SOCK_STREAM);
    if (!fd) return Failed();
    boost::system::error_code ec;
    tcp_.assign(family == AF_INET ? tcp::v4() : tcp::v6(), fd->Release(), ec);
    if (ec) return Failed();
    ++attempt_;
    ArmTimer();
    tcp_.async_connect(
        tcp::endpoint(target_.address(), target_.port()),
        Guard([this](boost::system::error_code ec) {
          if (ec) return Failed();
          frame_ = {static_cast<uint8_t>(sent_.size() >> 8), static_cast<uint8_t>(sent_.size())};
          std::array<asio::const_buffer, 2> buffers = {asio::buffer(frame_), asio::buffer(sent_)};
          asio::async_write(tcp_, buffers, Guard([this](boost::system::error_code ec, size_t) {
                              if (ec) return Failed();
                              ReadTcpLength();
                            }));
        }));
  }

  void ReadTcpLength() {
    asio::async_read(tcp_, asio::buffer(frame_),
                     Guard([this](boost::system::error_code ec, size_t) {
                       if (ec) return Failed();
                       received_.resize((size_t{frame_[0]} << 8) | frame_[1]);
                       asio::async_read(tcp_, asio::buffer(received_),
                                        Guard([this](boost::system::error_code ec, size_t) {
                                          if (ec) return Failed();
                                          Judge(received_, true);
                                        }));
                     }));
  }

  // This target failed: on to the next.
  void Failed() {
    ++attempt_;
    CloseSockets();
    Next();
  }

  void CloseSockets() {
    boost::system::error_code ignored;
    timer_.cancel();
    udp_.close(ignored);
    tcp_.close(ignored);
  }

  void Finish(std::vector<uint8_t> response, ProcessResult r) {
    finished_ = true;
    CloseSockets();
    ForwardDone done = std::move(done_);
    done(std::move(response), r);
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  udp::socket udp_;
  tcp::socket tcp_;
  UpstreamSocketOpener& opener_;
  std::chrono::milliseconds timeout_;
  std::atomic<size_t>& in_flight_;
  ForwardRequest request_;
  ForwardDone done_;
  size_t next_target_ = 0;
  uint64_t attempt_ = 0;
  bool finished_ = false;
  udp::endpoint target_;
  uint16_t id_ = 0;
  std::vector<uint8_t> sent_;
  std::vector<uint8_t> received_;
  std::array<uint8_t, 2> frame_{};
};

}  // namespace

void StartForward(asio::io_context& io, UpstreamSocketOpener& opener,
                  std::chrono::milliseconds timeout, std::atomic<size_t>& in_flight,
                  ForwardRequest request, ForwardDone done) {
  std::make_shared<ForwardOp>(io, opener, timeout, in_flight, std::move(request), std::move(done))
      ->Start();
}

}  // namespace cove::dns
