#include "api/openapi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <string>

namespace scaigrid::iam::api {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

const std::string kSpec = std::string(SCAIGRID_SOURCE_DIR) + "/docs/openapi.yaml";

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/openapi_test_" + name + ".yaml";
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message();
  return v;
}

TEST(OpenApiJsonFromYaml, ConvertsTheShippedDocument) {
  auto text = OpenApiJsonFromYaml(kSpec);
  ASSERT_TRUE(text.has_value()) << text.error().ToString();
  json::value doc = Parse(*text);
  ASSERT_TRUE(doc.is_object());
  ASSERT_TRUE(doc.as_object().contains("openapi"));
  EXPECT_EQ(doc.at("openapi"), json::value("3.0.3"));
  EXPECT_TRUE(doc.at("info").at("version").is_string());  // 0.1.0 is no number
  boost::system::error_code ec;
  const json::value* check = doc.find_pointer("/paths/~1v1~1iam~1check/post", ec);
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->at("operationId"), json::value("check"));
  // Typed scalars of the real document: `required: true`, `minimum: 1`, `maximum: 1000`.
  const json::array& params = doc.at("paths").at("/v1/iam/who-can").at("get").at("parameters").as_array();
  bool found_limit = false;
  for (const json::value& p : params) {
    if (!p.as_object().contains("name") || p.at("name") != json::value("limit")) continue;
    found_limit = true;
    EXPECT_TRUE(p.at("required").is_bool());
    EXPECT_TRUE(p.at("schema").at("minimum").is_int64());
    EXPECT_EQ(p.at("schema").at("minimum").as_int64(), 1);
    EXPECT_EQ(p.at("schema").at("maximum").as_int64(), 1000);
  }
  EXPECT_TRUE(found_limit);
  // Quoted status codes stay keys; the shared Error schema is there.
  EXPECT_TRUE(doc.at("paths").at("/healthz").at("get").at("responses").as_object().contains("200"));
  EXPECT_TRUE(doc.at("components").at("schemas").as_object().contains("Error"));
}

TEST(OpenApiJsonFromYaml, KeepsTypedScalarsTypedAndQuotedOnesStrings) {
  auto path = WriteTemp("scalars", R"(int: 1
quoted_int: "1"
single_quoted_int: '1'
negative: -7
hex: 0x1F
octal: 0o17
big: 18446744073709551615
float: 1.5
exp: 2e3
version: 3.0.3
bool: true
quoted_bool: "true"
yes_is_a_string: yes
null_word: null
tilde: ~
empty:
quoted_null: "null"
tagged_str: !!str 5
tagged_int: !!int "5"
infinity: .inf
block: |
  42
list: [1, "1", false, x]
nested: {a: {b: 2}}
)");
  auto text = OpenApiJsonFromYaml(path);
  ASSERT_TRUE(text.has_value()) << text.error().ToString();
  json::object o = Parse(*text).as_object();
  EXPECT_TRUE(o.at("int").is_int64());
  EXPECT_EQ(o.at("int").as_int64(), 1);
  EXPECT_EQ(o.at("quoted_int"), json::value("1"));
  EXPECT_EQ(o.at("single_quoted_int"), json::value("1"));
  EXPECT_EQ(o.at("negative").as_int64(), -7);
  EXPECT_EQ(o.at("hex").as_int64(), 31);
  EXPECT_EQ(o.at("octal").as_int64(), 15);
  EXPECT_TRUE(o.at("big").is_uint64());
  EXPECT_EQ(o.at("big").as_uint64(), 18446744073709551615ULL);
  EXPECT_TRUE(o.at("float").is_double());
  EXPECT_DOUBLE_EQ(o.at("float").as_double(), 1.5);
  EXPECT_DOUBLE_EQ(o.at("exp").as_double(), 2000.0);
  EXPECT_EQ(o.at("version"), json::value("3.0.3"));
  EXPECT_EQ(o.at("bool"), json::value(true));
  EXPECT_EQ(o.at("quoted_bool"), json::value("true"));
  EXPECT_EQ(o.at("yes_is_a_string"), json::value("yes"));
  EXPECT_TRUE(o.at("null_word").is_null());
  EXPECT_TRUE(o.at("tilde").is_null());
  EXPECT_TRUE(o.at("empty").is_null());
  EXPECT_EQ(o.at("quoted_null"), json::value("null"));
  EXPECT_EQ(o.at("tagged_str"), json::value("5"));
  EXPECT_EQ(o.at("tagged_int"), json::value(5));
  EXPECT_EQ(o.at("infinity"), json::value(".inf"));
  EXPECT_EQ(o.at("block"), json::value("42\n"));
  EXPECT_EQ(o.at("list"), json::parse(R"([1, "1", false, "x"])"));
  EXPECT_EQ(o.at("nested").at("a").at("b").as_int64(), 2);
}

TEST(OpenApiJsonFromYaml, KeepsKeyOrder) {
  auto text = OpenApiJsonFromYaml(WriteTemp("order", "b: 1\na: 2\nc: 3\n"));
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, R"({"b":1,"a":2,"c":3})");
}

TEST(OpenApiJsonFromYaml, MissingFileIsNotFound) {
  auto text = OpenApiJsonFromYaml(testing::TempDir() + "/no-such-openapi.yaml");
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code(), StatusCode::kNotFound);
}

TEST(OpenApiJsonFromYaml, InvalidYamlNamesTheLine) {
  auto text = OpenApiJsonFromYaml(WriteTemp("invalid", "openapi: 3.0.3\ninfo:\n  title: [unclosed\n"));
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(text.error().message(), HasSubstr("invalid YAML"));
}

TEST(OpenApiJsonFromYaml, RejectsNonMapRootsDuplicateKeysAndBadTags) {
  auto list = OpenApiJsonFromYaml(WriteTemp("list", "- 1\n- 2\n"));
  ASSERT_FALSE(list.has_value());
  EXPECT_THAT(list.error().message(), HasSubstr("not a YAML map"));

  auto duplicate = OpenApiJsonFromYaml(WriteTemp("duplicate", "a: 1\nb: 2\na: 3\n"));
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_THAT(duplicate.error().message(), HasSubstr("duplicate key 'a'"));
  EXPECT_THAT(duplicate.error().message(), HasSubstr(":3:"));

  auto bad_int = OpenApiJsonFromYaml(WriteTemp("badint", "a: !!int five\n"));
  ASSERT_FALSE(bad_int.has_value());
  EXPECT_THAT(bad_int.error().message(), HasSubstr("not an integer"));

  auto map_key = OpenApiJsonFromYaml(WriteTemp("mapkey", "? [a, b]\n: 1\n"));
  ASSERT_FALSE(map_key.has_value());
  EXPECT_THAT(map_key.error().message(), HasSubstr("must be a scalar"));
}

TEST(OpenApiJsonFromYaml, StopsAliasBombs) {
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string name(1, c);
    yaml += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
    prev = name;
  }
  auto text = OpenApiJsonFromYaml(WriteTemp("bomb", yaml));
  ASSERT_FALSE(text.has_value());
  EXPECT_THAT(text.error().message(), HasSubstr("more than a million nodes"));
}

}  // namespace
}  // namespace scaigrid::iam::api
