// `scaigrid-iam permissions`, `who-can` and `roles`: what a principal holds, who holds a key,
// and which roles can be bound at a scope — each with the reasons.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "scaigrid/iam/names.h"

namespace scaigrid::iam::cli {
namespace {

// Prints "NAME  reason; reason" lines with the names padded to one column.
void PrintTable(const std::vector<std::pair<std::string, std::string>>& rows, std::ostream& out) {
  size_t width = 0;
  for (const auto& [name, _] : rows) width = std::max(width, name.size());
  for (const auto& [name, reasons] : rows) {
    out << name << std::string(width - name.size() + 2, ' ') << reasons << "\n";
  }
}

std::string JoinReasons(const Snapshot& snapshot, const std::vector<GrantReason>& reasons) {
  std::string out;
  for (const GrantReason& r : reasons) {
    if (!out.empty()) out += "; ";
    out += FormatReason(snapshot, r);
  }
  return out;
}

// Resolves a scope name: kInvalidArgument when malformed, kNotFound when not in the policy.
Result<ScopeId> ResolveScope(const Snapshot& snapshot, const std::string& scope) {
  if (auto id = snapshot.FindScope(scope)) return *id;
  auto ref = ScopeRef::Parse(scope);
  if (!ref) return Err(ref.error());
  return Err(Status::NotFound("no scope '" + scope + "' in the policy"));
}

// ---- permissions

struct PermissionsOptions {
  StateOptions state;
  std::string subject;
  std::string scope;
};

int RunPermissions(const PermissionsOptions& o, CliContext& context) {
  auto state = LoadState(o.state, context.clock);
  if (!state) {
    PrintError(context.err, state.error());
    return kExitError;
  }
  const Snapshot& snapshot = *state->snapshot;
  auto scope = ResolveScope(snapshot, o.scope);
  if (!scope) {
    PrintError(context.err, scope.error());
    return kExitError;
  }
  auto subject = snapshot.FindPrincipal(o.subject);
  if (!subject) {
    if (auto ref = PrincipalRef::Parse(o.subject); !ref) {
      PrintError(context.err, ref.error());
      return kExitError;
    }
  }
  std::vector<std::pair<std::string, std::string>> rows;
  if (subject) {
    for (const EffectivePermission& p :
         snapshot.EffectivePermissions(*subject, *scope, state->now)) {
      rows.emplace_back(snapshot.registry().key(p.key).key, JoinReasons(snapshot, p.reasons));
    }
  }
  if (rows.empty()) {
    context.err << o.subject << " holds no permission at " << o.scope << "\n";
  }
  PrintTable(rows, context.out);
  return kExitOk;
}

// ---- who-can

struct WhoCanOptions {
  StateOptions state;
  std::string permission;
  std::string scope;
  size_t limit = 100;
  std::string cursor;
};

int RunWhoCan(const WhoCanOptions& o, CliContext& context) {
  auto state = LoadState(o.state, context.clock);
  if (!state) {
    PrintError(context.err, state.error());
    return kExitError;
  }
  const Snapshot& snapshot = *state->snapshot;
  auto key = snapshot.FindKey(o.permission);
  if (!key) {
    Status s = ValidateKey(o.permission);
    PrintError(
        context.err,
        s.ok() ? Status::InvalidArgument("unknown permission key '" + o.permission + "'") : s);
    return kExitError;
  }
  auto scope = ResolveScope(snapshot, o.scope);
  if (!scope) {
    PrintError(context.err, scope.error());
    return kExitError;
  }
  WhoCanPage page = snapshot.WhoCan(*key, *scope, state->now, o.cursor, o.limit);
  std::vector<std::pair<std::string, std::string>> rows;
  for (const WhoCanEntry& e : page.entries) {
    rows.emplace_back(snapshot.PrincipalName(e.principal), JoinReasons(snapshot, e.reasons));
  }
  if (rows.empty() && o.cursor.empty()) {
    context.err << "nobody holds " << o.permission << " at " << o.scope << "\n";
  }
  PrintTable(rows, context.out);
  if (!page.next_cursor.empty()) {
    context.err << "more: pass --cursor " << page.next_cursor << " for the next page\n";
  }
  return kExitOk;
}

// ---- roles

struct RolesOptions {
  StateOptions state;
  std::string scope;
};

int RunRoles(const RolesOptions& o, CliContext& context) {
  auto state = LoadState(o.state, context.clock);
  if (!state) {
    PrintError(context.err, state.error());
    return kExitError;
  }
  const Snapshot& snapshot = *state->snapshot;
  auto scope = ResolveScope(snapshot, o.scope);
  if (!scope) {
    PrintError(context.err, scope.error());
    return kExitError;
  }
  const Registry& registry = snapshot.registry();
  const bool at_platform = snapshot.ScopeKindOf(*scope) == ScopeKind::kPlatform;
  for (RoleId id : snapshot.RolesUsableAt(*scope)) {
    const detail::RoleNode& role = snapshot.role(id);
    KeySet keys = role.keys;
    if (!at_platform) keys.Subtract(registry.platform_keys());
    context.out << role.ref << " (" << RoleKindName(role.kind);
    if (role.kind == RoleKind::kCustom)
      context.out << " at " << snapshot.ScopeName(role.defined_at);
    context.out << ", \"" << role.name << "\"): ";
    if (id == kSuperAdmin || id == kPartnerAdmin || id == kTenantAdmin) {
      context.out << "catch-all, every " << (id == kSuperAdmin ? "" : "non-platform ") << "key ("
                  << keys.Count() << " keys)\n";
      continue;
    }
    context.out << keys.Count() << " key(s)\n";
    std::vector<std::string> names;
    keys.ForEach([&](KeyId k) { names.push_back(registry.key(k).key); });
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) context.out << "  " << n << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddListingCommands(CLI::App& app, CliContext& context) {
  auto p = std::make_shared<PermissionsOptions>();
  CLI::App* permissions = app.add_subcommand(
      "permissions", "Every key SUBJECT holds at SCOPE, each with the bindings that grant it");
  permissions->add_option("--subject", p->subject, "user:<sub>, service_account:<id> or group:<id>")
      ->type_name("PRINCIPAL")
      ->required();
  permissions
      ->add_option("--scope", p->scope, "platform, partner:<id>, tenant:<id> or project:<id>")
      ->type_name("SCOPE")
      ->required();
  AddStateOptions(*permissions, p->state);
  permissions->callback([p, &context] { context.exit_code = RunPermissions(*p, context); });

  auto w = std::make_shared<WhoCanOptions>();
  CLI::App* who_can = app.add_subcommand(
      "who-can", "Every user and service account holding KEY at SCOPE, with the reasons");
  who_can->add_option("--permission", w->permission, "Permission key")
      ->type_name("KEY")
      ->required();
  who_can->add_option("--scope", w->scope, "platform, partner:<id>, tenant:<id> or project:<id>")
      ->type_name("SCOPE")
      ->required();
  who_can->add_option("--limit", w->limit, "At most this many principals per page")
      ->type_name("N")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  who_can->add_option("--cursor", w->cursor, "Start after this principal (from a previous page)")
      ->type_name("PRINCIPAL");
  AddStateOptions(*who_can, w->state);
  who_can->callback([w, &context] { context.exit_code = RunWhoCan(*w, context); });

  auto r = std::make_shared<RolesOptions>();
  CLI::App* roles = app.add_subcommand(
      "roles", "Built-in, module and custom roles that can be bound at SCOPE, with their keys");
  roles->add_option("--scope", r->scope, "platform, partner:<id>, tenant:<id> or project:<id>")
      ->type_name("SCOPE")
      ->required();
  AddStateOptions(*roles, r->state, /*with_time=*/false);
  roles->callback([r, &context] { context.exit_code = RunRoles(*r, context); });
}

}  // namespace scaigrid::iam::cli
