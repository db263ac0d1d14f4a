#include "store/change_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "store/store_test_util.h"

namespace scaigrid::iam::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ChangeCodecTest, EveryOpRoundTripsExactly) {
  const Change change = SampleChangeWithEveryOp();
  const std::string text = EncodeChange(change);
  Result<Change> decoded = DecodeChange(text);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded, change);
  EXPECT_EQ(EncodeChange(*decoded), text);  // and re-encodes to the same text
}

TEST(ChangeCodecTest, EachOpRoundTripsAlone) {
  for (const Op& op : SampleChangeWithEveryOp().ops) {
    const Change change{.ops = {op}};
    Result<Change> decoded = DecodeChange(EncodeChange(change));
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(*decoded, change);
  }
}

TEST(ChangeCodecTest, DefaultValuesRoundTrip) {
  const Change change{.ops = {PutBinding{}, PutApiKey{}, PutCustomRole{}, RevokeApiKey{}}};
  Result<Change> decoded = DecodeChange(EncodeChange(change));
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded, change);
}

TEST(ChangeCodecTest, EmptyChangeRoundTrips) {
  Result<Change> decoded = DecodeChange(EncodeChange(Change{}));
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded, Change{});
}

TEST(ChangeCodecTest, WritesOpDiscriminatorsAndIntegerTimes) {
  const Change change{.ops = {PutBinding{SampleBinding(42)}, DeleteScope{"tenant:x"}},
                      .actor = "user:root",
                      .request_id = "r",
                      .at = 5};
  const std::string text = EncodeChange(change);
  EXPECT_THAT(text, HasSubstr(R"("op":"put_binding","id":42,"subject":"user:alice")"));
  EXPECT_THAT(text, HasSubstr(R"("not_before":1000,"expires_at":2000)"));
  EXPECT_THAT(text, HasSubstr(R"({"op":"delete_scope","scope":"tenant:x"})"));
  EXPECT_THAT(text, HasSubstr(R"("at":5,"actor":"user:root","request_id":"r")"));
}

TEST(ChangeCodecTest, ExtremeTimesAreIntegers) {
  BindingRow row = SampleBinding(1);
  row.not_before = kTimeMin;
  row.expires_at = kTimeMax;
  const std::string text = EncodeChange(Change{.ops = {PutBinding{row}}});
  EXPECT_THAT(text, HasSubstr(R"("not_before":-9223372036854775808)"));
  EXPECT_THAT(text, HasSubstr(R"("expires_at":9223372036854775807)"));
}

TEST(ChangeCodecTest, IgnoresUnknownFields) {
  Result<Change> decoded = DecodeChange(R"({"at":1,"actor":"a","request_id":"r","extra":true,)"
                                        R"("ops":[{"op":"delete_binding","id":3,"note":"x"}]})");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded,
            (Change{.ops = {DeleteBinding{3}}, .actor = "a", .request_id = "r", .at = 1}));
}

TEST(ChangeCodecTest, RejectsMalformedInput) {
  const auto kInvalid = StatusCode::kInvalidArgument;
  EXPECT_THAT(DecodeChange("{"), StatusIs(kInvalid, HasSubstr("not valid json")));
  EXPECT_THAT(DecodeChange("[]"), StatusIs(kInvalid, HasSubstr("must be a json object")));
  EXPECT_THAT(DecodeChange(R"({"actor":"a","request_id":"r","ops":[]})"),
              StatusIs(kInvalid, HasSubstr("change: missing field \"at\"")));
  EXPECT_THAT(DecodeChange(R"({"at":"1","actor":"a","request_id":"r","ops":[]})"),
              StatusIs(kInvalid, HasSubstr("field \"at\" must be a 64-bit signed integer")));
  EXPECT_THAT(DecodeChange(R"({"at":1,"actor":"a","request_id":"r"})"),
              StatusIs(kInvalid, HasSubstr("\"ops\" must be an array")));
  EXPECT_THAT(DecodeChange(R"({"at":1,"actor":"a","request_id":"r","ops":[3]})"),
              StatusIs(kInvalid, HasSubstr("op 0: must be a json object")));
  EXPECT_THAT(DecodeChange(R"({"at":1,"actor":"a","request_id":"r","ops":[{"id":3}]})"),
              StatusIs(kInvalid, HasSubstr("op 0: field \"op\" must be a string")));
  EXPECT_THAT(DecodeChange(R"({"at":1,"actor":"a","request_id":"r","ops":[{"op":"nope"}]})"),
              StatusIs(kInvalid, HasSubstr("op 0: unknown op \"nope\"")));
  EXPECT_THAT(
      DecodeChange(R"({"at":1,"actor":"a","request_id":"r","ops":[{"op":"delete_binding"}]})"),
      StatusIs(kInvalid, HasSubstr("op 0 (delete_binding): missing field \"id\"")));
  EXPECT_THAT(
      DecodeChange(
          R"({"at":1,"actor":"a","request_id":"r","ops":[{"op":"delete_binding","id":-1}]})"),
      StatusIs(kInvalid, HasSubstr("\"id\" must be a 64-bit unsigned integer")));
  EXPECT_THAT(
      DecodeChange(
          R"({"at":1,"actor":"a","request_id":"r","ops":[{"op":"delete_binding","id":1.5}]})"),
      StatusIs(kInvalid, HasSubstr("\"id\" must be a 64-bit unsigned integer")));
  EXPECT_THAT(DecodeChange(R"({"at":1,"actor":"a","request_id":"r","ops":[)"
                           R"({"op":"put_module","module":"m","version":4294967296,)"
                           R"("source":"","registered_at":0}]})"),
              StatusIs(kInvalid, HasSubstr("\"version\" must be a 32-bit integer")));
  EXPECT_THAT(
      DecodeChange(R"({"at":1,"actor":"a","request_id":"r","ops":[)"
                   R"({"op":"revoke_api_key","id":"k","revoked_at":9223372036854775808}]})"),
      StatusIs(kInvalid, HasSubstr("\"revoked_at\" must be a 64-bit signed integer")));
}

TEST(ChangeCodecTest, StringListRoundTrips) {
  const std::vector<std::string> list = {"llm:chat", "iam:*", "", "q\"uote", "\xff"};
  Result<std::vector<std::string>> decoded = DecodeStringList(EncodeStringList(list));
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded, list);
  EXPECT_EQ(EncodeStringList({}), "[]");
  EXPECT_EQ(EncodeStringList({"a:b", "c:*"}), R"(["a:b","c:*"])");
  Result<std::vector<std::string>> empty = DecodeStringList("[]");
  ASSERT_THAT(empty, IsOk());
  EXPECT_THAT(*empty, ElementsAre());
}

TEST(ChangeCodecTest, StringListRejectsOtherJson) {
  EXPECT_THAT(DecodeStringList("{}"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("array")));
  EXPECT_THAT(DecodeStringList("[1]"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("array")));
  EXPECT_THAT(DecodeStringList("[\"a\""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("json")));
}

}  // namespace
}  // namespace scaigrid::iam::store
