// The request layout the HTTP-level fuzz targets share: "METHOD\nTARGET\nHeader: value\n...\n\n"
// then the body. ReadRequestHead takes the head off the front of `in` (leaving the body there).
#pragma once

#include <string>
#include <string_view>

#include "http/message.h"

namespace cove::fuzz {

// The next line of `in` (without its '\n'), removed from `in`.
inline std::string NextLine(std::string_view& in) {
  auto nl = in.find('\n');
  std::string line(in.substr(0, nl));
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

// Method, target and headers (up to an empty line) into `req`.
inline void ReadRequestHead(std::string_view& in, http::Request& req) {
  req.method = NextLine(in);
  req.target = NextLine(in);
  for (std::string line = NextLine(in); !line.empty(); line = NextLine(in)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.headers.Add(line.substr(0, colon), value);
  }
}

}  // namespace cove::fuzz
