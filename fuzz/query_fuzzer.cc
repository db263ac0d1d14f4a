// Feeds: the raw query string of a request-target (http::ParseQuery), and the same bytes as one
// path segment (http::PercentDecodeSegment).
// Asserts: a decoded query re-encoded (every byte percent-escaped) parses back to the same
// pairs, in order; no pair is made from nothing (pairs <= '&'-separated parts); a decoded
// segment is never longer than its input and round-trips through re-encoding; FindParam
// returns the first pair of a name.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/query.h"

namespace {

std::string EncodeAll(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scaigrid::iam;
  const std::string_view raw = fuzz::AsText(data, size);

  if (auto params = http::ParseQuery(raw)) {
    std::size_t parts = 1;
    for (char c : raw) parts += c == '&';
    FUZZ_CHECK(params->size() <= parts, "more pairs than parts");
    std::string again;
    for (const auto& [key, value] : *params) {
      if (!again.empty()) again += '&';
      again += EncodeAll(key) + "=" + EncodeAll(value);
    }
    auto reparsed = http::ParseQuery(again);
    FUZZ_CHECK(reparsed.has_value(), again);
    // An empty key with an empty value encodes as "=", which is a pair, not a skipped one.
    FUZZ_CHECK(*reparsed == *params, again);
    for (const auto& [key, value] : *params) {
      const std::string* found = http::FindParam(*params, key);
      FUZZ_CHECK(found != nullptr, key);
      for (const auto& [k, v] : *params) {
        if (k == key) {
          FUZZ_CHECK(*found == v, key);
          break;
        }
      }
    }
  }

  if (auto segment = http::PercentDecodeSegment(raw)) {
    FUZZ_CHECK(segment->size() <= raw.size(), "decoded segment grew");
    auto again = http::PercentDecodeSegment(EncodeAll(*segment));
    FUZZ_CHECK(again.has_value() && *again == *segment, *segment);
  }
  return 0;
}
