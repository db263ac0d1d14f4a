#include "scaigrid/iam/detail/cow.h"

#include <gtest/gtest.h>

namespace scaigrid::iam::detail {
namespace {

TEST(CowVectorTest, CopiesShareUntouchedLeaves) {
  CowVector<int, 2> v;  // leaves of 4
  std::uint64_t e1 = NewEpoch();
  for (int i = 0; i < 10; ++i) v.PushBack(i, e1);
  CowVector<int, 2> w = v;
  std::uint64_t e2 = NewEpoch();
  w.Mutable(5, e2) = 50;
  EXPECT_EQ(v[5], 5) << "the original must not change";
  EXPECT_EQ(w[5], 50);
  EXPECT_EQ(&v[0], &w[0]) << "untouched leaves are shared";
  EXPECT_NE(&v[5], &w[5]);
  w.Mutable(6, e2) = 60;  // same epoch: changed in place, no second copy
  EXPECT_EQ(&w[5] + 1, &w[6]);
}

TEST(CowStringMapTest, CopiesAreIndependent) {
  CowStringMap<int, 2> a;
  std::uint64_t e1 = NewEpoch();
  a.Put("x", 1, e1);
  a.Put("y", 2, e1);
  CowStringMap<int, 2> b = a;
  std::uint64_t e2 = NewEpoch();
  b.Put("x", 10, e2);
  b.Erase("y", e2);
  b.Put("z", 3, e2);
  EXPECT_EQ(*a.Find("x"), 1);
  EXPECT_EQ(*a.Find("y"), 2);
  EXPECT_EQ(a.Find("z"), nullptr);
  EXPECT_EQ(*b.Find("x"), 10);
  EXPECT_EQ(b.Find("y"), nullptr);
  EXPECT_EQ(*b.Find("z"), 3);
}

}  // namespace
}  // namespace scaigrid::iam::detail
