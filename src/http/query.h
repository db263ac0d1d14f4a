// Decoding of the raw pieces of a request-target: the query string into ordered key/value
// pairs, and single path segments. Percent-escapes are decoded; malformed ones are errors.
//
// Thread-safety: stateless free functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scaigrid/iam/status.h"

namespace scaigrid::iam::http {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Parses `raw` (the query without its '?', as in HttpRequest::query) in
// application/x-www-form-urlencoded style: pairs separated by '&', key and value split at the
// first '=', '+' decoded as a space, %XX decoded to a byte. Keeps the order and repeats; empty
// pairs ("a=1&&b=2") are skipped; a key without '=' gets an empty value. Decoded bytes are
// not checked for UTF-8: callers validate names themselves.
// Errors: kInvalidArgument when a '%' is not followed by two hex digits (message names the
// offset).
Result<QueryParams> ParseQuery(std::string_view raw);

// Returns the value of the first pair named `key` in `params`, or nullptr.
const std::string* FindParam(const QueryParams& params, std::string_view key);

// Percent-decodes one path segment ('+' stays a '+'). Does not split on '/': split the raw
// path first, then decode each segment, so that "%2F" stays inside its segment.
// Errors: kInvalidArgument for a malformed percent-escape.
Result<std::string> PercentDecodeSegment(std::string_view segment);

}  // namespace scaigrid::iam::http
