// Handles: dense ids a Snapshot assigns to scopes, principals and roles, plus time.
//
// A handle is meaningful only with the snapshot that produced it or a later one of the same
// lineage (ids are never reused). Thread-safety: values.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace scaigrid::iam {

template <typename Tag>
struct Handle {
  static constexpr std::uint32_t kInvalid = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t value = kInvalid;

  constexpr Handle() = default;
  constexpr explicit Handle(std::uint32_t v) : value(v) {}
  constexpr bool valid() const { return value != kInvalid; }
  friend constexpr auto operator<=>(Handle, Handle) = default;
};

using ScopeId = Handle<struct ScopeTag>;
using PrincipalId = Handle<struct PrincipalTag>;
using RoleId = Handle<struct RoleTag>;

// Bindings are named by the caller (the store's id), which keeps them unique within a
// snapshot lineage.
using BindingId = std::uint64_t;

// Seconds since the Unix epoch, UTC.
using Time = std::int64_t;
inline constexpr Time kTimeMin = std::numeric_limits<Time>::min();
inline constexpr Time kTimeMax = std::numeric_limits<Time>::max();

enum class RoleKind : std::uint8_t { kBuiltIn, kModule, kCustom };

}  // namespace scaigrid::iam
