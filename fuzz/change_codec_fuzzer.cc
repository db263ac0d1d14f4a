// Feeds: the JSON text of a change-log body (store::DecodeChange, what a follower or `import`
// reads back), and the same bytes as a JSON list of strings (store::DecodeStringList).
// Asserts: where decoding succeeds, encode -> decode succeeds and encoding that gives the very
// same text (the codec is a bijection on what it writes); a decoded string list encodes and
// decodes back to the same list.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "store/change_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scaigrid::iam;
  const std::string_view text = fuzz::AsText(data, size);

  if (auto change = store::DecodeChange(text)) {
    const std::string encoded = store::EncodeChange(*change);
    auto decoded = store::DecodeChange(encoded);
    FUZZ_CHECK(decoded.has_value(), encoded + " -> " + decoded.error().ToString());
    FUZZ_CHECK(decoded->ops.size() == change->ops.size(), encoded);
    FUZZ_CHECK(decoded->at == change->at && decoded->actor == change->actor &&
                   decoded->request_id == change->request_id,
               encoded);
    const std::string again = store::EncodeChange(*decoded);
    FUZZ_CHECK(again == encoded, encoded + " != " + again);
  }

  if (auto list = store::DecodeStringList(text)) {
    const std::string encoded = store::EncodeStringList(*list);
    auto decoded = store::DecodeStringList(encoded);
    FUZZ_CHECK(decoded.has_value() && *decoded == *list, encoded);
  }
  return 0;
}
