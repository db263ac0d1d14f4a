// `scaigrid-iam check`: one decision on the state built from manifests and a policy file,
// with the engine's explanation, as text or JSON.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam::cli {
namespace {

struct CheckOptions {
  StateOptions state;
  std::string subject;
  std::string permission;
  std::string scope;
  std::string resource_owner;
  bool explain = false;
  bool json = false;
};

// The full grant chain, one "name: value" line each.
void PrintExplanation(const Snapshot& snapshot, const Explanation& e, std::ostream& out) {
  out << "  decision:     " << DecisionCodeName(e.code) << "\n";
  if (!e.grant) return;
  const Explanation::Grant& g = *e.grant;
  out << "  binding:      " << g.binding << "\n";
  out << "  role:         " << g.role << " (" << RoleKindName(g.role_kind);
  if (auto id = snapshot.FindRole(g.role)) out << ", \"" << snapshot.role(*id).name << "\"";
  if (g.catch_all) out << ", catch-all";
  out << ")\n";
  out << "  scope:        " << g.scope << "\n";
  out << "  via group:    " << (g.via_group.empty() ? "(direct)" : g.via_group) << "\n";
  out << "  implied from: ";
  if (g.implied_from.empty()) {
    out << (g.catch_all ? "(catch-all role)" : "(the role names the key)");
  } else {
    for (size_t i = 0; i < g.implied_from.size(); ++i) {
      out << (i == 0 ? "" : " -> ") << g.implied_from[i];
    }
  }
  out << "\n";
  out << "  expires:      " << FormatExpiry(g.expires_at) << "\n";
}

std::string ToJson(const CheckOptions& o, Time now, const Explanation& e) {
  std::string out = "{\"allowed\":" + std::string(e.allowed ? "true" : "false");
  out += ",\"decision\":" + JsonString(DecisionCodeName(e.code));
  out += ",\"subject\":" + JsonString(o.subject);
  out += ",\"permission\":" + JsonString(o.permission);
  out += ",\"scope\":" + JsonString(o.scope);
  out += ",\"at\":" + JsonString(FormatTime(now));
  out += ",\"reason\":" + JsonString(e.summary);
  out += ",\"by_override\":" + std::string(e.by_override ? "true" : "false");
  out += ",\"grant\":";
  if (!e.grant) {
    out += "null";
  } else {
    const Explanation::Grant& g = *e.grant;
    out += "{\"binding\":" + std::to_string(g.binding);
    out += ",\"role\":" + JsonString(g.role);
    out += ",\"role_kind\":" + JsonString(RoleKindName(g.role_kind));
    out += ",\"scope\":" + JsonString(g.scope);
    out +=
        ",\"via_group\":" + (g.via_group.empty() ? std::string("null") : JsonString(g.via_group));
    out += ",\"catch_all\":" + std::string(g.catch_all ? "true" : "false");
    out += ",\"implied_from\":[";
    for (size_t i = 0; i < g.implied_from.size(); ++i) {
      out += (i == 0 ? "" : ",") + JsonString(g.implied_from[i]);
    }
    out += "],\"expires_at\":" +
           (g.expires_at == kTimeMax ? std::string("null") : JsonString(FormatTime(g.expires_at)));
    out += "}";
  }
  out += "}";
  return out;
}

int RunCheck(const CheckOptions& o, CliContext& context) {
  auto state = LoadState(o.state, context.clock);
  if (!state) {
    PrintError(context.err, state.error());
    return kExitError;
  }
  const Snapshot& snapshot = *state->snapshot;
  CheckInput input{.subject = o.subject,
                   .scope = o.scope,
                   .key = o.permission,
                   .has_resource = !o.resource_owner.empty(),
                   .resource_owner = o.resource_owner};
  // Resolving validates every name (an unknown key is an error, never a deny).
  auto request = snapshot.Resolve(input);
  if (!request) {
    PrintError(context.err, request.error());
    return kExitError;
  }
  Decision decision = snapshot.Check(*request, state->now);
  Explanation e = snapshot.Explain(*request, decision, state->now);
  if (o.json) {
    context.out << ToJson(o, state->now, e) << "\n";
  } else {
    context.out << (e.allowed ? "allowed" : "denied") << "\n" << e.summary << "\n";
    if (o.explain) PrintExplanation(snapshot, e, context.out);
  }
  return e.allowed ? kExitOk : kExitDenied;
}

}  // namespace

void AddCheckCommand(CLI::App& app, CliContext& context) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* check = app.add_subcommand(
      "check", "May SUBJECT use permission KEY at SCOPE? Exit 0 allowed, 3 denied, 1 error");
  check->add_option("--subject", o->subject, "user:<sub>, service_account:<id> or group:<id>")
      ->type_name("PRINCIPAL")
      ->required();
  check->add_option("--permission", o->permission, "Permission key, e.g. scaiecho:transcribe")
      ->type_name("KEY")
      ->required();
  check->add_option("--scope", o->scope, "platform, partner:<id>, tenant:<id> or project:<id>")
      ->type_name("SCOPE")
      ->required();
  check
      ->add_option("--resource-owner", o->resource_owner,
                   "Owner of the resource acted on (for owner-only keys)")
      ->type_name("PRINCIPAL");
  check->add_flag("--explain", o->explain, "Print the full grant chain");
  check->add_flag("--json", o->json, "Print the decision as one JSON object");
  AddStateOptions(*check, o->state);
  check->callback([o, &context] { context.exit_code = RunCheck(*o, context); });
}

}  // namespace scaigrid::iam::cli
