// The one place where Status codes become HTTP statuses and JSON error bodies (SPEC §6):
//   {"error":{"code":"…","message":"…","details":["…"]}}   ("details" only when non-empty)
// Messages and details may carry user input: they are made valid UTF-8 (invalid sequences
// become U+FFFD) and JSON-escaped, so the body is always valid JSON.
//
// Thread-safety: stateless free functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/http_types.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam::http {

// Returns `bytes` with every maximal invalid UTF-8 subsequence (stray continuation bytes,
// truncated or overlong sequences, surrogates, code points above U+10FFFF) replaced by
// U+FFFD. Valid input is returned unchanged.
std::string ToValidUtf8(std::string_view bytes);

// Builds an error response with HTTP status `status` and the JSON error body above.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           const std::vector<std::string>& details = {});

// Maps a code to its HTTP status: kOk 200, kInvalidArgument 400, kUnauthenticated 401,
// kPermissionDenied 403, kNotFound 404, kAlreadyExists and kFailedPrecondition 409,
// kResourceExhausted 429, kUnavailable 503, kInternal 500.
int HttpStatusFor(StatusCode code);

// Returns the error response for a non-OK `status`: HTTP status from HttpStatusFor (except
// kResourceExhausted with reason "payload_too_large", which is 413), error.code =
// status.reason() when set, else StatusCodeName(code); message and details as given.
// For an OK status returns 500 `internal` (a caller bug: there is no error to report).
HttpResponse StatusResponse(const Status& status);

}  // namespace scaigrid::iam::http
