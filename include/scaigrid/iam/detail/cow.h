// Persistent (copy-on-write) containers behind Snapshot. Internal: not part of the API.
//
// Each container is a small tree of shared nodes. Copying a container copies one pointer;
// changing it copies only the nodes on the path to the change, so a snapshot and its
// successor share everything untouched. A node is stamped with the epoch of the Mutation
// that created it: a Mutation changes nodes of its own epoch in place (they are not yet
// visible to anyone) and copies every other node before changing it. Published nodes are
// therefore never written again, which is what lets readers go without locks.
//
// Thread-safety: const methods may be called from any number of threads while another
// thread builds a new version from a copy. Non-const methods need exclusive access to
// this container object.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace scaigrid::iam::detail {

// A process-wide unique epoch for a new Mutation. Unique across engines on purpose: two
// mutations forked from one snapshot must never both treat a shared node as their own.
std::uint64_t NewEpoch();

// Returns `slot`'s node ready to be changed by the mutation of `epoch`, copying it first
// when it belongs to another epoch. Node must have a `std::uint64_t epoch` member.
template <typename Node>
Node& MutableNode(std::shared_ptr<Node>& slot, std::uint64_t epoch) {
  if (slot->epoch != epoch) {
    auto copy = std::make_shared<Node>(*slot);
    copy->epoch = epoch;
    slot = std::move(copy);
  }
  return *slot;
}

// A dense vector indexed by id, in leaves of 2^kLeafBits items under one top array.
template <typename T, unsigned kLeafBits = 9>
class CowVector {
 public:
  static constexpr size_t kLeafSize = size_t{1} << kLeafBits;

  size_t size() const { return size_; }

  // `i` < size().
  const T& operator[](size_t i) const {
    return top_->leaves[i >> kLeafBits]->items[i & (kLeafSize - 1)];
  }

  // `i` < size(). Copies the top and the leaf unless they belong to `epoch`.
  T& Mutable(size_t i, std::uint64_t epoch) {
    Top& top = MutableTop(epoch);
    return MutableNode(top.leaves[i >> kLeafBits], epoch).items[i & (kLeafSize - 1)];
  }

  void PushBack(T value, std::uint64_t epoch) {
    if (size_ % kLeafSize == 0) {
      auto leaf = std::make_shared<Leaf>();
      leaf->epoch = epoch;
      MutableTop(epoch).leaves.push_back(std::move(leaf));
    }
    Mutable(size_, epoch) = std::move(value);
    ++size_;
  }

 private:
  struct Leaf {
    std::uint64_t epoch = 0;
    std::array<T, kLeafSize> items{};
  };
  struct Top {
    std::uint64_t epoch = 0;
    std::vector<std::shared_ptr<Leaf>> leaves;
  };

  Top& MutableTop(std::uint64_t epoch) {
    if (!top_) {
      top_ = std::make_shared<Top>();
      top_->epoch = epoch;
    }
    return MutableNode(top_, epoch);
  }

  std::shared_ptr<Top> top_;
  size_t size_ = 0;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// A string-keyed hash map split into 2^kShardBits shards chosen by the hash's top bits.
template <typename V, unsigned kShardBits = 11>
class CowStringMap {
 public:
  static constexpr size_t kShards = size_t{1} << kShardBits;

  const V* Find(std::string_view key) const {
    if (!top_) return nullptr;
    const auto& shard = top_->shards[ShardOf(key)];
    if (!shard) return nullptr;
    auto it = shard->map.find(key);
    return it == shard->map.end() ? nullptr : &it->second;
  }

  // Inserts or replaces.
  void Put(std::string key, V value, std::uint64_t epoch) {
    MutableShard(ShardOf(key), epoch).map.insert_or_assign(std::move(key), std::move(value));
  }

  // Calls fn(const std::string&, const V&) for every entry, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    if (!top_) return;
    for (const auto& shard : top_->shards)
      if (shard)
        for (const auto& [k, v] : shard->map) fn(k, v);
  }

  void Erase(std::string_view key, std::uint64_t epoch) {
    if (Find(key) == nullptr) return;
    auto& map = MutableShard(ShardOf(key), epoch).map;
    map.erase(map.find(key));
  }

 private:
  struct Shard {
    std::uint64_t epoch = 0;
    std::unordered_map<std::string, V, StringHash, std::equal_to<>> map;
  };
  struct Top {
    std::uint64_t epoch = 0;
    std::array<std::shared_ptr<Shard>, kShards> shards;
  };

  static size_t ShardOf(std::string_view key) {
    // Mix so that the shard bits and the map's bucket bits differ.
    std::uint64_t h = StringHash{}(key) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> (64 - kShardBits));
  }

  Shard& MutableShard(size_t i, std::uint64_t epoch) {
    if (!top_) {
      top_ = std::make_shared<Top>();
      top_->epoch = epoch;
    }
    Top& top = MutableNode(top_, epoch);
    if (!top.shards[i]) {
      top.shards[i] = std::make_shared<Shard>();
      top.shards[i]->epoch = epoch;
    }
    return MutableNode(top.shards[i], epoch);
  }

  std::shared_ptr<Top> top_;
};

}  // namespace scaigrid::iam::detail
