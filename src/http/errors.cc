#include "http/errors.h"

#include <boost/json.hpp>
#include <cstdint>
#include <utility>

namespace scaigrid::iam::http {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Returns the number of bytes of the valid sequence starting at s[i], or 0 when s[i] starts
// no valid sequence; `*consumed` is then the length of the maximal invalid subpart (>= 1),
// per Unicode §3.9 "U+FFFD Substitution of Maximal Subparts".
std::size_t ValidSequenceLength(std::string_view s, std::size_t i, std::size_t* consumed) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  *consumed = 1;
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // 0x80..0xC1 or 0xF5..0xFF never start a sequence
  }
  for (std::size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return 0;
    const auto b = static_cast<unsigned char>(s[i + k]);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : IsContinuation(b);
    if (!ok) return 0;
    *consumed = k + 1;
  }
  return len;
}

boost::json::string JsonString(std::string_view bytes) {
  const std::string valid = ToValidUtf8(bytes);
  return boost::json::string(valid);
}

}  // namespace

std::string ToValidUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    std::size_t consumed = 1;
    const std::size_t len = ValidSequenceLength(bytes, i, &consumed);
    if (len > 0) {
      out.append(bytes.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      i += consumed;
    }
  }
  return out;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           const std::vector<std::string>& details) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  try {
    boost::json::object error;
    error["code"] = JsonString(code);
    error["message"] = JsonString(message);
    if (!details.empty()) {
      boost::json::array list;
      list.reserve(details.size());
      for (const std::string& d : details) list.emplace_back(JsonString(d));
      error["details"] = std::move(list);
    }
    boost::json::object root;
    root["error"] = std::move(error);
    response.body = boost::json::serialize(root);
  } catch (const std::exception&) {
    // Only std::bad_alloc can get here; answer with a fixed, valid body.
    response.status = 500;
    response.body = R"({"error":{"code":"internal","message":"internal error"}})";
  }
  return response;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse StatusResponse(const Status& status) {
  if (status.ok()) return ErrorResponse(500, "internal", "internal error");
  int http_status = HttpStatusFor(status.code());
  if (status.code() == StatusCode::kResourceExhausted && status.reason() == "payload_too_large") {
    http_status = 413;
  }
  const std::string_view code =
      status.reason().empty() ? StatusCodeName(status.code()) : std::string_view(status.reason());
  return ErrorResponse(http_status, code, status.message(), status.details());
}

}  // namespace scaigrid::iam::http
