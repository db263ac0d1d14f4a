// `scaigrid-iam audit verify|query|export`: the audit log of a data directory, offline.
#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <fstream>

#include "audit/chain.h"
#include "cli/commands.h"
#include "scaigrid/iam/time_format.h"
#include "service/service.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::cli {
namespace {

struct AuditOptions {
  std::string data = "./data";
  std::string module, actor, action, resource, tenant, decision, since, until, out;
  std::string order = "asc";
  size_t limit = 100;
  bool all = false;
};

Result<std::unique_ptr<store::SqliteStore>> OpenStore(const AuditOptions& o) {
  std::string path = o.data + "/scaigrid.db";
  if (!std::ifstream(path)) return Err(Status::NotFound("no store at '" + path + "' (use --data)"));
  return store::SqliteStore::Open(path);
}

int RunVerify(const AuditOptions& o, CliContext& context) {
  auto store = OpenStore(o);
  if (!store) {
    PrintError(context.err, store.error());
    return kExitError;
  }
  auto result = audit::VerifyChain(**store);
  if (!result) {
    PrintError(context.err, result.error());
    return kExitError;
  }
  if (!result->ok) {
    context.err << "audit chain broken after " << result->events << " good event(s): " << result->problem << "\n";
    return kExitError;
  }
  context.out << "ok: " << result->events << " event(s), chain intact, head hash "
              << (result->last_hash.empty() ? "(empty log)" : result->last_hash) << "\n";
  return kExitOk;
}

int RunQuery(const AuditOptions& o, CliContext& context) {
  auto store = OpenStore(o);
  if (!store) {
    PrintError(context.err, store.error());
    return kExitError;
  }
  store::AuditQuery q;
  auto opt = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
  q.module = opt(o.module);
  q.actor = opt(o.actor);
  q.action = opt(o.action);
  q.resource = opt(o.resource);
  q.tenant = o.tenant.empty() ? std::nullopt : std::optional<std::string>("tenant:" + o.tenant);
  q.decision = opt(o.decision);
  for (auto [text, into] : {std::pair{&o.since, &q.since_us}, std::pair{&o.until, &q.until_us}}) {
    if (text->empty()) continue;
    auto t = ParseTimeMicros(*text);
    if (!t) {
      PrintError(context.err, t.error());
      return kExitError;
    }
    *into = *t;
  }
  q.descending = o.order == "desc";
  q.limit = o.limit;
  do {
    auto page = (*store)->QueryAudit(q);
    if (!page) {
      PrintError(context.err, page.error());
      return kExitError;
    }
    for (const auto& e : page->events) context.out << boost::json::serialize(service::AuditEventToJson(e)) << "\n";
    if (!page->more || page->events.empty() || !o.all) break;
    q.after_seq = page->events.back().seq;
  } while (true);
  return kExitOk;
}

int RunExport(const AuditOptions& o, CliContext& context) {
  auto store = OpenStore(o);
  if (!store) {
    PrintError(context.err, store.error());
    return kExitError;
  }
  std::int64_t since = std::numeric_limits<std::int64_t>::min(), until = std::numeric_limits<std::int64_t>::max();
  for (auto [text, into] : {std::pair{&o.since, &since}, std::pair{&o.until, &until}}) {
    if (text->empty()) continue;
    auto t = ParseTimeMicros(*text);
    if (!t) {
      PrintError(context.err, t.error());
      return kExitError;
    }
    *into = *t;
  }
  std::ofstream file;
  if (!o.out.empty()) {
    file.open(o.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      PrintError(context.err, Status::NotFound("cannot write '" + o.out + "'"));
      return kExitError;
    }
  }
  std::ostream& out = o.out.empty() ? context.out : file;
  // Seq order is time order: the range starts at the first event at or after `since`.
  std::uint64_t first = 1;
  if (!o.since.empty()) {
    auto page = (*store)->QueryAudit({.since_us = since, .limit = 1});
    if (!page) {
      PrintError(context.err, page.error());
      return kExitError;
    }
    if (page->events.empty()) first = std::numeric_limits<std::uint64_t>::max();
    else first = page->events.front().seq;
  }
  std::uint64_t count = 0;
  Status s = (*store)->ScanAudit(first, [&](const store::AuditEvent& e) {
    if (e.time_us >= until) return false;
    // The API form, plus the stored time and details text the hash covers, so the line can be
    // checked byte for byte without ScaiGrid (docs/audit.md).
    boost::json::object line = service::AuditEventToJson(e);
    line["time_us"] = e.time_us;
    line["details_text"] = e.details;
    out << boost::json::serialize(line) << "\n";
    ++count;
    return true;
  });
  if (!s.ok()) {
    PrintError(context.err, s);
    return kExitError;
  }
  if (!o.out.empty()) context.err << "exported " << count << " event(s) to " << o.out << "\n";
  return kExitOk;
}

}  // namespace

void AddAuditCommands(CLI::App& app, CliContext& context) {
  auto o = std::make_shared<AuditOptions>();
  CLI::App* audit = app.add_subcommand("audit", "The audit log of a data directory: verify, query, export");
  audit->require_subcommand(1);
  auto data = [&](CLI::App* cmd) {
    cmd->add_option("--data", o->data, "Directory of the SQLite store")->envname("SCAIGRID_DATA")->capture_default_str();
  };
  CLI::App* verify = audit->add_subcommand("verify", "Walk the hash chain; name the first broken link (exit 1)");
  data(verify);
  verify->callback([o, &context] { context.exit_code = RunVerify(*o, context); });

  CLI::App* query = audit->add_subcommand("query", "Events matching filters, as JSON lines");
  data(query);
  for (auto [flag, into] : {std::pair{"--module", &o->module}, std::pair{"--actor", &o->actor}, std::pair{"--action", &o->action},
                            std::pair{"--resource", &o->resource}, std::pair{"--tenant", &o->tenant}}) {
    query->add_option(flag, *into);
  }
  query->add_option("--decision", o->decision)->check(CLI::IsMember({"allowed", "denied"}));
  query->add_option("--since", o->since, "Date or RFC 3339 time (inclusive)");
  query->add_option("--until", o->until, "Date or RFC 3339 time (exclusive)");
  query->add_option("--order", o->order)->check(CLI::IsMember({"asc", "desc"}))->capture_default_str();
  query->add_option("--limit", o->limit, "Events per page")->check(CLI::Range(1, 1000))->capture_default_str();
  query->add_flag("--all", o->all, "Every page, not just the first");
  query->callback([o, &context] { context.exit_code = RunQuery(*o, context); });

  CLI::App* exp = audit->add_subcommand("export", "Every event of a time range as JSON lines (for archiving)");
  data(exp);
  exp->add_option("--since", o->since, "Date or RFC 3339 time (inclusive)");
  exp->add_option("--until", o->until, "Date or RFC 3339 time (exclusive)");
  exp->add_option("--out", o->out, "File to write (default: standard output)");
  exp->callback([o, &context] { context.exit_code = RunExport(*o, context); });
}

}  // namespace scaigrid::iam::cli
