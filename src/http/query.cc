#include "http/query.h"

#include <string>

namespace scaigrid::iam::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes `in` (which starts at `base_offset` of the whole input, for messages).
Result<std::string> Decode(std::string_view in, bool plus_is_space, std::size_t base_offset,
                           std::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Err(Status::InvalidArgument("malformed percent-escape in " + std::string(what) +
                                           " at offset " + std::to_string(base_offset + i) +
                                           ": '%' must be followed by two hex digits"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Result<QueryParams> ParseQuery(std::string_view raw) {
  QueryParams params;
  std::size_t start = 0;
  while (start <= raw.size()) {
    std::size_t end = raw.find('&', start);
    if (end == std::string_view::npos) end = raw.size();
    const std::string_view pair = raw.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      const std::string_view key = pair.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      Result<std::string> k = Decode(key, /*plus_is_space=*/true, start, "query");
      if (!k) return Err(std::move(k.error()));
      Result<std::string> v =
          Decode(value, /*plus_is_space=*/true, start + key.size() + 1, "query");
      if (!v) return Err(std::move(v.error()));
      params.emplace_back(std::move(*k), std::move(*v));
    }
    start = end + 1;
  }
  return params;
}

const std::string* FindParam(const QueryParams& params, std::string_view key) {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

Result<std::string> PercentDecodeSegment(std::string_view segment) {
  return Decode(segment, /*plus_is_space=*/false, 0, "path segment");
}

}  // namespace scaigrid::iam::http
