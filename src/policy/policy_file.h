// Policy files: scopes, groups, custom roles and bindings written as one YAML document, for
// the offline CLI (and tests) to build a Snapshot without a store.
//
// The format is documented in docs/policy-file.md. Loading happens in two passes:
//   1. shape: the YAML is read and every field checked on its own (types, unknown or
//      duplicate fields, scope / principal / key syntax, times, duplicate ids); every problem
//      is collected;
//   2. apply: scopes (in order), group memberships, custom roles, then bindings are applied
//      to the Mutation; the first change the engine refuses stops the load.
// Every problem reads "FILE:LINE: message" and names the offending value.
//
// Thread-safety: pure functions of their arguments; the Mutation is used by the calling
// thread only (see mutation.h).
#pragma once

#include <string>
#include <string_view>

#include "scaigrid/iam/mutation.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam {

// Applies the policy document `yaml` to `m`. `file` is used in messages only.
// Errors:
//   kInvalidArgument "invalid policy file FILE: N problem(s)" with one detail
//     "FILE:LINE: message" per shape problem (nothing was applied);
//   otherwise the engine's code (kInvalidArgument, kNotFound, kAlreadyExists, …) with the
//     message "FILE:LINE: <engine message>" and each engine detail as "FILE:LINE: <detail>",
//     the line being that of the value the engine names (or of the entry).
// After an apply error `m` holds the entries before the failing one: discard it.
Status ApplyPolicyDocument(std::string_view yaml, std::string_view file, Mutation& m);

// Reads `path` and applies it as above. kNotFound when the file cannot be read.
Status LoadPolicyFile(const std::string& path, Mutation& m);

}  // namespace scaigrid::iam
