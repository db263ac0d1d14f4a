// Shared pieces of the scaigrid-iam subcommands: where output goes, exit codes, loading the
// manifests + policy file into a Snapshot, and formatting reasons and errors.
//
// Thread-safety: the CLI is single-threaded; nothing here is meant to be shared.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "scaigrid/iam/engine.h"
#include "scaigrid/iam/snapshot.h"
#include "scaigrid/iam/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace scaigrid::iam::cli {

// Process exit codes (docs/cli.md).
inline constexpr int kExitOk = 0;      // success; `check`: allowed
inline constexpr int kExitError = 1;   // bad input, unreadable or invalid files
inline constexpr int kExitUsage = 2;   // bad command line (unknown flag, missing argument)
inline constexpr int kExitDenied = 3;  // `check`: denied

// Where a command writes and what time it is. A command sets exit_code when it runs.
struct CliContext {
  std::ostream& out;
  std::ostream& err;
  const Clock& clock;
  int exit_code = kExitOk;
};

// The flags the query commands share: --manifests, --policy, --at.
struct StateOptions {
  std::string manifests = "manifests";
  std::string policy;  // empty: no bindings at all
  std::string at;      // empty: now
};
// Adds --manifests and --policy, and --at when `with_time`.
void AddStateOptions(CLI::App& command, StateOptions& options, bool with_time = true);

// The policy state a query runs on, and the time it runs at.
struct State {
  std::shared_ptr<const Snapshot> snapshot;
  Time now = 0;
};

// Loads every manifest of options.manifests, applies options.policy to an empty snapshot
// and resolves options.at. Errors: those of LoadManifestDir, Registry::Build (with a count
// of problems), LoadPolicyFile and ParseTime (prefixed "--at: ").
Result<State> LoadState(const StateOptions& options, const Clock& clock);

// Writes "error: MESSAGE" and then each detail on a line of its own.
void PrintError(std::ostream& err, const Status& status);

// "binding 3 role transcribers at tenant:acme [via group group:eng]".
std::string FormatReason(const Snapshot& snapshot, const GrantReason& reason);

// "built-in", "module" or "custom".
std::string_view RoleKindName(RoleKind kind);

// RFC 3339, or "never" for kTimeMax.
std::string FormatExpiry(Time t);

// `text` as a JSON string literal, quotes included.
std::string JsonString(std::string_view text);

}  // namespace scaigrid::iam::cli
