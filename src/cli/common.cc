#include "cli/common.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "policy/policy_file.h"
#include "scaigrid/iam/manifest.h"
#include "scaigrid/iam/mutation.h"
#include "scaigrid/iam/registry.h"
#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam::cli {

void AddStateOptions(CLI::App& command, StateOptions& options, bool with_time) {
  command.add_option("--manifests", options.manifests, "Directory of module manifests (*.yaml)")
      ->type_name("DIR")
      ->capture_default_str();
  command
      .add_option("--policy", options.policy,
                  "Policy file with scopes, groups, custom roles and bindings "
                  "(docs/policy-file.md); without it only the platform scope exists")
      ->type_name("FILE");
  if (!with_time) return;
  command
      .add_option("--at", options.at,
                  "Evaluate at this time: RFC 3339 or a date (its start, UTC); default now")
      ->type_name("TIME");
}

Result<State> LoadState(const StateOptions& options, const Clock& clock) {
  State state;
  state.now = clock.Now();
  if (!options.at.empty()) {
    auto at = ParseTime(options.at);
    if (!at) return Err(Status::InvalidArgument("--at: " + at.error().message()));
    state.now = *at;
  }
  auto manifests = LoadManifestDir(options.manifests);
  if (!manifests) {
    const Status& e = manifests.error();
    if (e.code() == StatusCode::kNotFound) {
      return Err(Status::NotFound(e.message() +
                                  " (run from the repository root or pass --manifests DIR)"));
    }
    return Err(e);
  }
  auto registry = Registry::Build(std::move(*manifests));
  if (!registry) {
    // Counted here: the message of Registry::Build counts its list after moving it away.
    const Status& e = registry.error();
    return Err(Status(e.code(),
                      "invalid manifests in " + options.manifests + ": " +
                          std::to_string(e.details().size()) + " problem(s)",
                      e.details()));
  }
  state.snapshot = Snapshot::Empty(*registry);
  if (!options.policy.empty()) {
    Mutation m(*state.snapshot);
    if (Status s = LoadPolicyFile(options.policy, m); !s.ok()) return Err(std::move(s));
    state.snapshot = m.Finish();
  }
  return state;
}

void PrintError(std::ostream& err, const Status& status) {
  err << "error: " << status.message() << "\n";
  for (const std::string& d : status.details()) err << d << "\n";
}

std::string FormatReason(const Snapshot& snapshot, const GrantReason& reason) {
  std::string out = "binding " + std::to_string(reason.binding) + " role " +
                    snapshot.role(reason.role).ref + " at " + snapshot.ScopeName(reason.scope);
  if (reason.via_group.valid()) out += " via group " + snapshot.PrincipalName(reason.via_group);
  return out;
}

std::string_view RoleKindName(RoleKind kind) {
  switch (kind) {
    case RoleKind::kBuiltIn:
      return "built-in";
    case RoleKind::kModule:
      return "module";
    case RoleKind::kCustom:
      return "custom";
  }
  return "unknown";
}

std::string FormatExpiry(Time t) { return t == kTimeMax ? "never" : FormatTime(t); }

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace scaigrid::iam::cli
