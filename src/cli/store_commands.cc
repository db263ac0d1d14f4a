// `scaigrid-iam export` and `scaigrid-iam import`: a store's policy state, moved between stores
// (SQLite → PostgreSQL) or kept as a file; `import --audit` moves the audit log with it.
//
// The export is the store's change log — every applied change, in revision order — as one
// JSON document (JSON is YAML): importing it replays the same changes into the target, so the
// target ends at the same revisions with the same state, and tokens and clients that name a
// revision (min_revision, a capability token's `rev`) keep meaning the same state. Importing
// again skips what the target already holds: it is idempotent.
#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/chain.h"
#include "cli/audit_export_line.h"
#include "cli/commands.h"
#include "store/change_codec.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::cli {
namespace {

namespace json = boost::json;

constexpr int kExportFormat = 1;

struct StoreOptions {
  std::string data = "./data";
  std::string database;
  std::string out;
  std::string file;
  std::string audit;
};

// The store named by --database (PostgreSQL) or --data (SQLite). `create`: a missing SQLite
// store is created (import), else it is an error (export).
Result<std::unique_ptr<store::Store>> OpenNamedStore(const StoreOptions& o, bool create) {
  if (!o.database.empty()) {
    if (!o.database.starts_with("postgresql://") && !o.database.starts_with("postgres://")) {
      return Err(Status::InvalidArgument("--database must be a postgresql:// URL"));
    }
    auto store = store::PostgresStore::Open(o.database);
    if (!store) return Err(store.error());
    return std::unique_ptr<store::Store>(std::move(*store));
  }
  const std::string path = o.data + "/scaigrid.db";
  if (!create && !std::filesystem::exists(path)) return Err(Status::NotFound("no store at '" + path + "' (use --data)"));
  std::error_code ec;
  std::filesystem::create_directories(o.data, ec);
  if (ec) return Err(Status(StatusCode::kUnavailable, "cannot create data directory '" + o.data + "': " + ec.message()));
  auto store = store::SqliteStore::Open(path);
  if (!store) return Err(store.error());
  return std::unique_ptr<store::Store>(std::move(*store));
}

int RunExport(const StoreOptions& o, CliContext& context) {
  auto store = OpenNamedStore(o, false);
  if (!store) {
    PrintError(context.err, store.error());
    return kExitError;
  }
  json::array changes;
  std::uint64_t after = 0;
  for (;;) {
    auto page = (*store)->ChangesSince(after, 1000);
    if (!page) {
      PrintError(context.err, page.error());
      return kExitError;
    }
    for (const auto& [revision, change] : *page) {
      boost::system::error_code ec;
      json::value body = json::parse(store::EncodeChange(change), ec);
      if (ec) {
        PrintError(context.err, Status::Internal("change " + std::to_string(revision) + " does not encode as JSON"));
        return kExitError;
      }
      changes.push_back(json::object{{"revision", revision}, {"change", std::move(body)}});
      after = revision;
    }
    if (page->size() < 1000) break;
  }
  json::object doc{{"scaigrid_export", kExportFormat}, {"revision", after}, {"changes", std::move(changes)}};
  std::ofstream file;
  if (!o.out.empty()) {
    // It holds API key hashes and the capability-token signing keys: created readable by its
    // owner only (never, even for a moment, with the umask's mode).
    std::filesystem::remove(o.out);
    const int fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      PrintError(context.err, Status::NotFound("cannot create '" + o.out + "'"));
      return kExitError;
    }
    ::close(fd);
    file.open(o.out, std::ios::binary | std::ios::trunc);
    if (!file) {
      PrintError(context.err, Status::NotFound("cannot write '" + o.out + "'"));
      return kExitError;
    }
  }
  std::ostream& out = o.out.empty() ? context.out : file;
  out << json::serialize(doc) << "\n";
  out.flush();
  if (!out) {
    PrintError(context.err, Status::Internal("writing the export failed"));
    return kExitError;
  }
  if (!o.out.empty()) context.err << "exported " << after << " revision(s) to " << o.out << "\n";
  return kExitOk;
}

// The changes of an export document, checked: format, consecutive revisions from 1.
Result<std::vector<std::pair<std::uint64_t, store::Change>>> ReadExport(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::NotFound("cannot read '" + path + "'"));
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  auto bad = [&](const std::string& why) { return Err(Status::InvalidArgument("'" + path + "' is not a scaigrid-iam export: " + why)); };
  if (ec) return bad("not JSON (" + ec.message() + ")");
  const json::object* o = doc.if_object();
  if (o == nullptr || !o->contains("scaigrid_export") || !o->at("scaigrid_export").is_int64() ||
      !o->contains("changes") || !o->at("changes").is_array()) {
    return bad("expected {\"scaigrid_export\": 1, \"revision\": N, \"changes\": [...]}");
  }
  if (o->at("scaigrid_export").as_int64() != kExportFormat) {
    return bad("format " + std::to_string(o->at("scaigrid_export").as_int64()) + "; this version reads format 1");
  }
  std::vector<std::pair<std::uint64_t, store::Change>> changes;
  for (const json::value& item : o->at("changes").as_array()) {
    const json::object* c = item.if_object();
    // An integer revision: to_number would throw for -1 or 1.5.
    if (c == nullptr || !c->contains("revision") || !(c->at("revision").is_uint64() || c->at("revision").is_int64()) ||
        !c->contains("change")) {
      return bad("change " + std::to_string(changes.size() + 1) + " needs 'revision' and 'change'");
    }
    const json::value& rev = c->at("revision");
    const std::uint64_t revision = rev.is_uint64() ? rev.get_uint64()
                                   : rev.get_int64() < 0 ? 0
                                                         : static_cast<std::uint64_t>(rev.get_int64());
    if (revision != changes.size() + 1) {
      return bad("revision " + std::to_string(revision) + " where " + std::to_string(changes.size() + 1) + " was expected");
    }
    auto change = store::DecodeChange(json::serialize(c->at("change")));
    if (!change) return bad("revision " + std::to_string(revision) + ": " + change.error().message());
    changes.emplace_back(revision, std::move(*change));
  }
  return changes;
}

// Appends the audit events of an `audit export` file after what the target holds.
Result<std::pair<std::uint64_t, std::uint64_t>> ImportAudit(store::Store& target, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::NotFound("cannot read '" + path + "'"));
  auto last = target.LastAuditEvent();
  if (!last) return Err(last.error());
  const std::uint64_t held = *last ? (*last)->seq : 0;
  // The file must continue the target's chain exactly: its event at the target's last seq
  // is the target's last event, and each later event links to the one before. Checked line by
  // line before anything is appended after a mismatch (the log is append-only).
  std::string tail_hash = *last ? (*last)->hash : std::string();
  std::uint64_t skipped = 0, appended = 0, line_no = 0;
  std::vector<store::AuditEvent> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    SCAIGRID_RETURN_IF_ERROR(target.AppendAudit(batch));
    appended += batch.size();
    batch.clear();
    return Status::Ok();
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto where = path + ":" + std::to_string(line_no) + ": ";
    auto parsed = ParseAuditExportLine(line);
    if (!parsed) return Err(Status::InvalidArgument(where + parsed.error().message()));
    store::AuditEvent event = std::move(*parsed);
    if (event.seq < held) {
      ++skipped;  // already there (an earlier import); VerifyChain below checks the whole log
      continue;
    }
    if (event.seq == held) {
      if (event.hash != tail_hash) {
        return Err(Status::FailedPrecondition(where + "event " + std::to_string(held) +
                                              " differs from the target's: the target's audit log is another one"));
      }
      ++skipped;
      continue;
    }
    if (event.prev_hash != tail_hash) {
      return Err(Status::FailedPrecondition(where + "event " + std::to_string(event.seq) +
                                            " does not follow the target's log (prev_hash differs)"));
    }
    tail_hash = event.hash;
    batch.push_back(std::move(event));
    if (batch.size() == 1000) SCAIGRID_RETURN_IF_ERROR(flush());
  }
  SCAIGRID_RETURN_IF_ERROR(flush());
  return std::pair{appended, skipped};
}

int RunImport(const StoreOptions& o, CliContext& context) {
  auto changes = ReadExport(o.file);
  if (!changes) {
    PrintError(context.err, changes.error());
    return kExitError;
  }
  auto store = OpenNamedStore(o, true);
  if (!store) {
    PrintError(context.err, store.error());
    return kExitError;
  }
  auto current = (*store)->Revision();
  if (!current) {
    PrintError(context.err, current.error());
    return kExitError;
  }
  // What the target holds must be the export's own beginning: the same change at each revision.
  auto held = (*store)->ChangesSince(0, static_cast<std::size_t>(*current));
  if (!held) {
    PrintError(context.err, held.error());
    return kExitError;
  }
  for (const auto& [revision, change] : *held) {
    if (revision > changes->size() ||
        store::EncodeChange(change) != store::EncodeChange((*changes)[revision - 1].second)) {
      PrintError(context.err, Status::FailedPrecondition(
                                  "the target store holds another history (revision " + std::to_string(revision) +
                                  " differs from the export's): import into an empty store, before its first start"));
      return kExitError;
    }
  }
  std::uint64_t imported = 0;
  for (auto& [revision, change] : *changes) {
    if (revision <= *current) continue;
    change.base_revision = revision - 1;
    auto applied = (*store)->Apply(change);
    if (!applied) {
      PrintError(context.err, Status(applied.error().code(), "revision " + std::to_string(revision) + ": " +
                                                                 applied.error().message()));
      return kExitError;
    }
    ++imported;
  }
  context.out << "imported " << imported << " change(s); the store is at revision " << changes->size()
              << (imported == 0 ? " (nothing to do)" : "") << "\n";
  if (!o.audit.empty()) {
    auto audit = ImportAudit(**store, o.audit);
    if (!audit) {
      PrintError(context.err, audit.error());
      return kExitError;
    }
    auto verified = audit::VerifyChain(**store);
    if (!verified) {
      PrintError(context.err, verified.error());
      return kExitError;
    }
    if (!verified->ok) {
      context.err << "the imported audit log does not verify after " << verified->events << " event(s): " << verified->problem << "\n";
      return kExitError;
    }
    context.out << "imported " << audit->first << " audit event(s) (" << audit->second
                << " already there); chain intact, " << verified->events << " event(s)\n";
  }
  return kExitOk;
}

void AddStoreFlags(CLI::App* cmd, StoreOptions& o) {
  cmd->add_option("--data", o.data, "Directory of the SQLite store")->envname("SCAIGRID_DATA")->capture_default_str();
  cmd->add_option("--database", o.database, "PostgreSQL URL (instead of --data)")->envname("SCAIGRID_DATABASE");
}

}  // namespace

void AddStoreCommands(CLI::App& app, CliContext& context) {
  auto o = std::make_shared<StoreOptions>();
  CLI::App* exp = app.add_subcommand("export", "The store's policy state (its change log) as one JSON/YAML document");
  AddStoreFlags(exp, *o);
  exp->add_option("--out", o->out, "Write to FILE (mode 0600) instead of standard output");
  exp->callback([o, &context] { context.exit_code = RunExport(*o, context); });

  CLI::App* imp = app.add_subcommand("import", "Replay an export into a store (idempotent); --audit moves the audit log");
  AddStoreFlags(imp, *o);
  imp->add_option("file", o->file, "The export document")->required();
  imp->add_option("--audit", o->audit, "JSON lines of `audit export`, appended after the target's events");
  imp->callback([o, &context] { context.exit_code = RunImport(*o, context); });
}

}  // namespace scaigrid::iam::cli
