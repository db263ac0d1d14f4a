// KeySet: a set of permission keys as a bitset over the registry's dense key ids.
//
// Sets of different lengths combine as if the shorter were padded with zeros, so a set
// built before a module was registered stays valid after the registry grows.
// Thread-safety: a value; const methods may be called concurrently.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace scaigrid::iam {

using KeyId = std::uint32_t;
inline constexpr KeyId kNoKey = UINT32_MAX;

class KeySet {
 public:
  KeySet() = default;

  bool Test(KeyId id) const noexcept {
    size_t w = id >> 6;
    return w < words_.size() && ((words_[w] >> (id & 63)) & 1) != 0;
  }
  void Set(KeyId id) {
    size_t w = id >> 6;
    if (w >= words_.size()) words_.resize(w + 1, 0);
    words_[w] |= std::uint64_t{1} << (id & 63);
  }
  void Reset(KeyId id) {
    size_t w = id >> 6;
    if (w < words_.size()) words_[w] &= ~(std::uint64_t{1} << (id & 63));
  }
  KeySet& operator|=(const KeySet& o) {
    if (o.words_.size() > words_.size()) words_.resize(o.words_.size(), 0);
    for (size_t i = 0; i < o.words_.size(); ++i) words_[i] |= o.words_[i];
    return *this;
  }
  KeySet& operator&=(const KeySet& o) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] &= i < o.words_.size() ? o.words_[i] : 0;
    return *this;
  }
  // Removes every key of `o` from this set.
  KeySet& Subtract(const KeySet& o) {
    for (size_t i = 0; i < words_.size() && i < o.words_.size(); ++i) words_[i] &= ~o.words_[i];
    return *this;
  }
  bool Empty() const {
    for (auto w : words_)
      if (w) return false;
    return true;
  }
  size_t Count() const {
    size_t n = 0;
    for (auto w : words_) n += static_cast<size_t>(std::popcount(w));
    return n;
  }
  // True when every key of this set is in `o`.
  bool IsSubsetOf(const KeySet& o) const {
    for (size_t i = 0; i < words_.size(); ++i)
      if (words_[i] & ~(i < o.words_.size() ? o.words_[i] : 0)) return false;
    return true;
  }
  // Calls fn(KeyId) for every member in increasing id order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < words_.size(); ++i) {
      std::uint64_t w = words_[i];
      while (w) {
        int b = std::countr_zero(w);
        fn(static_cast<KeyId>(i * 64 + b));
        w &= w - 1;
      }
    }
  }
  std::vector<KeyId> ToVector() const {
    std::vector<KeyId> out;
    ForEach([&](KeyId k) { out.push_back(k); });
    return out;
  }
  friend bool operator==(const KeySet& a, const KeySet& b) {
    size_t n = std::max(a.words_.size(), b.words_.size());
    for (size_t i = 0; i < n; ++i) {
      std::uint64_t x = i < a.words_.size() ? a.words_[i] : 0;
      std::uint64_t y = i < b.words_.size() ? b.words_[i] : 0;
      if (x != y) return false;
    }
    return true;
  }

 private:
  std::vector<std::uint64_t> words_;
};

}  // namespace scaigrid::iam
