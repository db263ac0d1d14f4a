// Change codec: the JSON text of a store Change, as every backend keeps it in its change log
// (the `body` of a `changes` row) and as followers read it back. docs/storage.md describes the
// format: one object {"at", "actor", "request_id", "ops": [...]}, each op an object with an
// "op" discriminator ("put_binding", "delete_scope", ...) and the op's fields flattened; times,
// ids and versions are JSON integers, so every value (kTimeMin and kTimeMax included)
// round-trips exactly. String bytes are kept as they are, valid UTF-8 or not.
//
// Also the JSON array form of a list of strings, which backends use for permission columns.
//
// Thread-safety: pure functions. No exception escapes (Boost.JSON's are caught inside), except
// std::bad_alloc from EncodeChange / EncodeStringList, like any string building.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/status.h"
#include "store/store.h"

namespace scaigrid::iam::store {

// Serializes `change`. Deterministic: equal changes give equal text.
std::string EncodeChange(const Change& change);

// Parses text written by EncodeChange. Every field is required; unknown fields are ignored.
// Errors: kInvalidArgument naming the problem (not JSON, not an object, a missing or mistyped
// field with the op's index and name, an unknown "op", an integer out of range).
[[nodiscard]] Result<Change> DecodeChange(std::string_view json);

// A list of strings as a JSON array, e.g. ["iam:roles:read","llm:*"].
std::string EncodeStringList(const std::vector<std::string>& list);

// Parses a JSON array of strings. Errors: kInvalidArgument (not an array of strings).
[[nodiscard]] Result<std::vector<std::string>> DecodeStringList(std::string_view json);

}  // namespace scaigrid::iam::store
