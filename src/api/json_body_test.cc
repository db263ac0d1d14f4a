#include "api/json_body.h"

#include <gtest/gtest.h>

#include <string>

namespace scaigrid::iam::api {
namespace {

std::string ErrorOf(std::string_view body) {
  auto v = ParseJsonBody(body);
  if (v) return "ok";
  return std::string(v.error().reason()) + ": " + v.error().message();
}

TEST(JsonBodyTest, ParsesOrdinaryBodies) {
  auto v = ParseJsonBody(R"({"scope":"tenant:acme","checks":[{"a":1},{"a":2}],"n":{"a":{"a":null}}})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->at("scope").as_string(), "tenant:acme");
}

TEST(JsonBodyTest, RefusesAKeyGivenTwiceAtAnyDepth) {
  EXPECT_EQ(ErrorOf(R"({"scope":"tenant:a","scope":"platform"})"),
            "malformed_json: malformed JSON body: key 'scope' appears twice in one object");
  EXPECT_EQ(ErrorOf(R"({"checks":[{"permission":"x","permission":"y"}]})"),
            "malformed_json: malformed JSON body: key 'permission' appears twice in one object");
  // Escapes are compared decoded: "s\u0063ope" is "scope".
  EXPECT_EQ(ErrorOf(R"({"scope":1,"s\u0063ope":2})"),
            "malformed_json: malformed JSON body: key 'scope' appears twice in one object");
  // The same key in sibling or nested objects is fine.
  EXPECT_EQ(ErrorOf(R"({"a":{"k":1},"b":{"k":2},"k":{"k":3}})"), "ok");
}

TEST(JsonBodyTest, RefusesWhatIsNotStrictJson) {
  EXPECT_EQ(ErrorOf(""), ": the request needs a JSON body");  // no reason: the code (400 invalid_argument) says it
  EXPECT_EQ(ErrorOf("{\"a\":\"\xff\"}"),
            "malformed_json: the request body is not valid UTF-8 (JSON text must be UTF-8)");
  EXPECT_NE(ErrorOf("{\"a\":1,}").find("malformed_json: malformed JSON body"), std::string::npos);
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  EXPECT_NE(ErrorOf(deep).find("malformed_json"), std::string::npos);
  std::string ok(kMaxJsonDepth, '[');
  ok += std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(ErrorOf(ok), "ok");
}

TEST(JsonBodyTest, RefusesNumbersBeyondADouble) {
  // Found by request_fuzzer (fuzz/corpus/request_fuzzer/regress-details-1e400): read as
  // infinity, such a number was written back as text that is not JSON, and the service failed
  // parsing its own serialization.
  EXPECT_EQ(ErrorOf(R"({"details":{"a":1e400}})"),
            "malformed_json: malformed JSON body: a number is beyond the range of a double");
  EXPECT_EQ(ErrorOf(R"([-1e400])"), "malformed_json: malformed JSON body: a number is beyond the range of a double");
  EXPECT_EQ(ErrorOf(R"({"a":1e308,"b":-1e-400,"c":123456789012345678901234567890})"), "ok");
}

TEST(JsonBodyTest, ALongDuplicateKeyIsCutInTheMessage) {
  std::string key(5000, 'k');
  std::string err = ErrorOf("{\"" + key + "\":1,\"" + key + "\":2}");
  EXPECT_LT(err.size(), 200u) << err;
}

}  // namespace
}  // namespace scaigrid::iam::api
