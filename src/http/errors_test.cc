#include "http/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace scaigrid::iam::http {
namespace {

namespace json = boost::json;

json::value ParseBody(const HttpResponse& response) {
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  EXPECT_FALSE(ec) << "invalid JSON: " << response.body;
  return v;
}

// True when `s` is valid UTF-8 per ToValidUtf8 (which only changes invalid input).
bool IsValidUtf8(std::string_view s) { return ToValidUtf8(s) == s; }

TEST(ErrorResponseTest, ExactShapeWithoutDetails) {
  const HttpResponse r = ErrorResponse(404, "not_found", "no role 'x'");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"not_found","message":"no role 'x'"}})");
}

TEST(ErrorResponseTest, DetailsListedInOrder) {
  const HttpResponse r = ErrorResponse(400, "invalid_argument", "2 problems", {"a", "b"});
  EXPECT_EQ(r.body,
            R"({"error":{"code":"invalid_argument","message":"2 problems","details":["a","b"]}})");
}

TEST(ErrorResponseTest, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string message = std::string("a\"b\\c\n\t\x01 \x1f end\0x", 17);
  const HttpResponse r = ErrorResponse(400, "bad", message, {"\r\n"});
  const json::value v = ParseBody(r);
  EXPECT_EQ(v.at("error").at("message").as_string(), message);
  EXPECT_EQ(v.at("error").at("details").at(0).as_string(), "\r\n");
  for (char c : r.body) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << r.body;
}

TEST(ErrorResponseTest, InvalidUtf8BecomesReplacementCharacterAndJsonStaysValid) {
  const std::string bad = "name \xff\xfe tail \xc3 \xe2\x82 \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80";
  const HttpResponse r = ErrorResponse(400, "invalid_argument", bad, {bad});
  ASSERT_TRUE(IsValidUtf8(r.body));
  const json::value v = ParseBody(r);
  const std::string message(v.at("error").at("message").as_string());
  EXPECT_THAT(message, testing::StartsWith("name \xEF\xBF\xBD\xEF\xBF\xBD tail \xEF\xBF\xBD "));
  EXPECT_EQ(message.find('\xff'), std::string::npos);
}

TEST(ToValidUtf8Test, KeepsValidTextAndReplacesMaximalSubparts) {
  EXPECT_EQ(ToValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ToValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ToValidUtf8("\x80"), fffd);      // stray continuation
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), fffd);  // truncated: one replacement
  EXPECT_EQ(ToValidUtf8("\xE2\x82"
                        "A"),
            fffd + "A");                                                  // truncated before ASCII
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), fffd + fffd);                        // overlong
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), fffd + fffd + fffd);             // surrogate
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
  EXPECT_EQ(ToValidUtf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(HttpStatusForTest, MapsEveryCode) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
}

TEST(StatusResponseTest, UsesCodeNameWhenNoReason) {
  const HttpResponse r = StatusResponse(Status::NotFound("no tenant 'acme'"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":{"code":"not_found","message":"no tenant 'acme'"}})");
}

TEST(StatusResponseTest, UsesReasonAndDetails) {
  const HttpResponse r =
      StatusResponse(Status::FailedPrecondition("separation of duties", {"role a", "role b"})
                         .WithReason("separation_of_duties"));
  EXPECT_EQ(r.status, 409);
  const json::value v = ParseBody(r);
  EXPECT_EQ(v.at("error").at("code").as_string(), "separation_of_duties");
  EXPECT_EQ(v.at("error").at("message").as_string(), "separation of duties");
  EXPECT_EQ(v.at("error").at("details").as_array().size(), 2u);
}

TEST(StatusResponseTest, ResourceExhaustedIs429UnlessPayloadTooLarge) {
  EXPECT_EQ(StatusResponse(Status(StatusCode::kResourceExhausted, "slow down")).status, 429);
  EXPECT_EQ(StatusResponse(
                Status(StatusCode::kResourceExhausted, "too big").WithReason("payload_too_large"))
                .status,
            413);
}

TEST(StatusResponseTest, OkStatusIsACallerBugAnswered500) {
  const HttpResponse r = StatusResponse(Status::Ok());
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(ParseBody(r).at("error").at("code").as_string(), "internal");
}

}  // namespace
}  // namespace scaigrid::iam::http
