// ClientHelloServerName over real ClientHellos (OpenSSL's client), the same split across TLS
// records, every prefix (incomplete, never wrong), and bytes that are not a ClientHello.
#include "privatelink/client_hello.h"

#include <gtest/gtest.h>

#include "privatelink/client_hello_util.h"

namespace cove::privatelink {
namespace {

using testing::MakeClientHello;

TEST(ClientHelloTest, ReadsTheServerNameOfARealClientHelloLowercased) {
  auto name = ClientHelloServerName(MakeClientHello("MyRegistry.EastUS.data.azurecr.io"));
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(*name, "myregistry.eastus.data.azurecr.io");
}

TEST(ClientHelloTest, NoServerNameIsEmptyNotAnError) {
  auto name = ClientHelloServerName(MakeClientHello(""));
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(*name, "");
}

TEST(ClientHelloTest, EveryPrefixIsIncompleteAndTrailingBytesAreIgnored) {
  std::string hello = MakeClientHello("myregistry.azurecr.io");
  for (size_t n = 0; n < hello.size(); ++n) {
    auto name = ClientHelloServerName(std::string_view(hello).substr(0, n));
    ASSERT_FALSE(name) << n;
    EXPECT_EQ(name.error().code, Code::kUnavailable) << n << ": " << name.error().message;
  }
  auto name = ClientHelloServerName(hello + "\x17\x03\x03 more bytes of the connection");
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "myregistry.azurecr.io");
}

TEST(ClientHelloTest, AHandshakeSplitAcrossRecordsIsReassembled) {
  std::string hello = MakeClientHello("myregistry.westus.data.azurecr.io");
  std::string body = hello.substr(5);  // the handshake message of the one record
  auto record = [](std::string_view fragment) {
    std::string r = "\x16\x03\x01";
    r += static_cast<char>(fragment.size() >> 8);
    r += static_cast<char>(fragment.size() & 0xff);
    r += fragment;
    return r;
  };
  std::string split;
  for (size_t at = 0; at < body.size(); at += 7) split += record(std::string_view(body).substr(at, 7));
  auto name = ClientHelloServerName(split);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(*name, "myregistry.westus.data.azurecr.io");
}

TEST(ClientHelloTest, WhatIsNotAClientHelloIsRefused) {
  for (std::string bad : {std::string("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"),
                          std::string("\x15\x03\x03\x00\x02\x02\x28", 7),    // an alert record
                          std::string("\x16\x03\x03\x00\x00", 5),            // empty record
                          std::string("\x16\x03\x03\x00\x04\x02\x00\x00\x00", 9),  // ServerHello
                          std::string("\x16\x03\x03\x00\x04\x01\xff\xff\xff", 9)}) {  // 16 MiB
    auto name = ClientHelloServerName(bad);
    ASSERT_FALSE(name) << bad;
    EXPECT_EQ(name.error().code, Code::kInvalidArgument) << bad;
  }
  // A server_name longer than its extension.
  std::string hello = MakeClientHello("myregistry.azurecr.io");
  size_t at = hello.find("myregistry");
  ASSERT_NE(at, std::string::npos);
  hello[at - 1] = '\x7f';  // the host name's length, low byte
  auto name = ClientHelloServerName(hello);
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace cove::privatelink
