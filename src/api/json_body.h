// Request bodies: the one parser of untrusted JSON the API uses.
//
// Strict where the JSON grammar is loose, so that every reader of a body — this service, a
// gateway, a WAF in front of it — sees the same document: the text must be UTF-8, nest at most
// kMaxJsonDepth levels, hold no number beyond a double (1e400 would be read as infinity and
// written back as text that is not JSON), and no object may name a key twice (RFC 8259 leaves
// duplicates to the implementation; parsers disagree on which one wins, which is how a proxy's
// check and the service's decision come apart).
//
// Thread-safety: a free function; no shared state.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <string_view>

#include "scaigrid/iam/status.h"

namespace scaigrid::iam::api {

inline constexpr std::size_t kMaxJsonDepth = 32;

// The parsed body. Errors: kInvalidArgument with reason "malformed_json" (not UTF-8, not
// JSON, nested deeper than kMaxJsonDepth, a number beyond a double, a key given twice in one
// object: the message names
// it); kInvalidArgument with no reason for an empty body.
Result<boost::json::value> ParseJsonBody(std::string_view body);

}  // namespace scaigrid::iam::api
