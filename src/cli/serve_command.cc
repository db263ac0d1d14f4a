// `scaigrid-iam serve` and `scaigrid-iam bootstrap`: the server on its SQLite store, or on
// PostgreSQL with --database (several nodes share one database).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include "api/api_handler.h"
#include "api/openapi.h"
#include "cli/commands.h"
#include "http/http_server.h"
#include "service/service.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace scaigrid::iam::cli {
namespace {

struct ServeOptions {
  std::string data = "./data";
  std::string database;  // postgresql://… (empty: SQLite in `data`)
  std::string listen = "127.0.0.1:8080";
  std::string manifests = "manifests";
  std::string openapi = "docs/openapi.yaml";
  int threads = 0;
  std::size_t body_limit = 1 << 20;
  std::string user = "user:admin";
  std::string config;
  std::string log_level = "info";
  std::string sync = "full";
  std::string oidc_config;
};

// Applies a configuration file to the options of `cmd` that neither the command line nor
// the environment set. Format: `key = value` per line (TOML/INI style: quotes optional,
// `#`/`;` comments and `[section]` lines ignored), keys named like the long flags.
// Errors: kNotFound (unreadable file), kInvalidArgument naming FILE:LINE for an unknown key,
// a malformed line or a bad value.
Status ApplyConfigFile(const std::string& path, CLI::App& cmd) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read configuration file '" + path + "'");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto trim = [](std::string v) {
      size_t b = v.find_first_not_of(" \t\r"), e = v.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
    };
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    size_t eq = line.find('=');
    std::string where = path + ":" + std::to_string(number) + ": ";
    if (eq == std::string::npos) return Status::InvalidArgument(where + "expected key = value");
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::replace(key.begin(), key.end(), '_', '-');
    CLI::Option* opt = cmd.get_option_no_throw("--" + key);
    if (opt == nullptr || key == "config") return Status::InvalidArgument(where + "unknown key '" + key + "'");
    bool from_env = !opt->get_envname().empty() && std::getenv(opt->get_envname().c_str()) != nullptr;
    if (opt->count() > 0 || from_env) continue;  // the command line and the environment win
    try {
      opt->add_result(value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return Status::InvalidArgument(where + "bad value for '" + key + "': " + e.what());
    }
  }
  return Status::Ok();
}

// Where the state lives, for the start-up line: the database's host, port and name only —
// never its user, password or parameters.
std::string StoreName(const ServeOptions& o) {
  if (o.database.empty()) return "data " + o.data;
  std::string rest = o.database;
  if (const auto scheme = rest.find("://"); scheme != std::string::npos) rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find('?'));
  if (const auto slash = rest.find('/'), at = rest.rfind('@', slash); at != std::string::npos) rest = rest.substr(at + 1);
  return "PostgreSQL " + rest;
}

Result<std::unique_ptr<store::Store>> OpenStore(const ServeOptions& o) {
  if (!o.database.empty()) {
    if (!o.database.starts_with("postgresql://") && !o.database.starts_with("postgres://")) {
      return Err(Status::InvalidArgument("--database must be a postgresql:// URL (without it, the SQLite store in --data is used)"));
    }
    auto store = store::PostgresStore::Open(o.database);
    if (!store) return Err(store.error());
    return std::unique_ptr<store::Store>(std::move(*store));
  }
  std::error_code ec;
  std::filesystem::create_directories(o.data, ec);
  if (ec) return Err(Status(StatusCode::kUnavailable, "cannot create data directory '" + o.data + "': " + ec.message()));
  auto store = store::SqliteStore::Open(o.data + "/scaigrid.db", o.sync == "normal" ? store::SqliteStore::Sync::kNormal
                                                                                   : store::SqliteStore::Sync::kFull);
  if (!store) return Err(store.error());
  return std::unique_ptr<store::Store>(std::move(*store));
}

Result<std::unique_ptr<service::IamService>> OpenService(const ServeOptions& o, const Clock& clock) {
  auto store = OpenStore(o);
  if (!store) return Err(store.error());
  service::ServiceOptions options{o.manifests};
  if (!o.oidc_config.empty()) {
    auto issuers = auth::LoadIssuerConfig(o.oidc_config);
    if (!issuers) return Err(issuers.error());
    auto verifier = auth::JwtVerifier::Create(std::move(*issuers));
    if (!verifier) return Err(verifier.error());
    options.jwt = std::move(*verifier);
  }
  return service::IamService::Open(std::move(*store), std::move(options), clock);
}

Result<std::pair<std::string, std::uint16_t>> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  auto bad = Err(Status::InvalidArgument("--listen must be ADDRESS:PORT, e.g. 127.0.0.1:8080, not '" + listen + "'"));
  if (colon == std::string::npos || colon == 0) return bad;
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) return bad;
  } catch (...) {
    return bad;
  }
  if (port < 0 || port > 65535) return bad;
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

int RunServe(const ServeOptions& o, CliContext& context) {
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  auto listen = ParseListen(o.listen);
  if (!listen) {
    PrintError(context.err, listen.error());
    return kExitError;
  }
  // Block the stop signals before any thread starts, then wait for one on this thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto svc = OpenService(o, context.clock);
  if (!svc) {
    PrintError(context.err, svc.error());
    return kExitError;
  }
  // /openapi.json: the YAML document as JSON; a minimal document when it cannot be read.
  std::string openapi = R"({"openapi":"3.0.3","info":{"title":"ScaiGrid IAM","version":"unknown"},"paths":{}})";
  if (auto doc = api::OpenApiJsonFromYaml(o.openapi)) {
    openapi = std::move(*doc);
  } else {
    context.err << "scaigrid-iam: warning: /openapi.json serves a minimal document: " << doc.error().ToString()
                << " (set --openapi)" << std::endl;
  }
  http::Metrics metrics;
  api::ApiHandler handler(**svc, &metrics, std::move(openapi));
  http::HttpServerOptions options;
  options.address = listen->first;
  options.port = listen->second;
  options.threads = o.threads;
  options.body_limit = o.body_limit;
  // A response waiting for its audit batch gets the service's audit wait, then 503.
  options.response_timeout = service::ServiceOptions{}.audit_wait;
  http::HttpServer server(
      options,
      http::AsyncHttpHandler([&](const http::HttpRequest& r, const http::Responder& respond) { return handler.Handle(r, respond); }),
      &metrics);
  auto port = server.Start();
  if (!port) {
    PrintError(context.err, port.error());
    return kExitError;
  }
  context.out << "scaigrid-iam listening on " << listen->first << ":" << *port << " (" << StoreName(o)
              << ", revision " << (*svc)->revision() << ")" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  context.out << "scaigrid-iam stopping (signal " << sig << ")" << std::endl;
  server.Stop();
  return kExitOk;
}

int RunBootstrap(const ServeOptions& o, CliContext& context) {
  auto svc = OpenService(o, context.clock);
  if (!svc) {
    PrintError(context.err, svc.error());
    return kExitError;
  }
  auto key = (*svc)->Bootstrap(o.user);
  if (!key) {
    PrintError(context.err, key.error());
    return kExitError;
  }
  context.out << "Created the first super_admin API key for " << o.user << ". It is shown only this once:\n\n  "
              << (*key)["key"].as_string().c_str() << "\n\nexport SCAIGRID_API_KEY=" << (*key)["key"].as_string().c_str()
              << "\n";
  return kExitOk;
}

void AddDataOptions(CLI::App& cmd, ServeOptions& o) {
  cmd.add_option("--data", o.data, "Directory of the SQLite store")->envname("SCAIGRID_DATA")->capture_default_str();
  cmd.add_option("--database", o.database,
                 "PostgreSQL URL (postgresql://user:password@host:port/db) shared by several nodes; instead of --data")
      ->envname("SCAIGRID_DATABASE");
  cmd.add_option("--manifests", o.manifests, "Manifests registered on first start")
      ->envname("SCAIGRID_MANIFESTS")
      ->capture_default_str();
}

}  // namespace

void AddServeCommands(CLI::App& app, CliContext& context) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* serve = app.add_subcommand("serve", "Run the HTTP API server on the embedded SQLite store");
  serve->add_option("--config", o->config, "Configuration file: `key = value` lines, keys named like the flags")
      ->envname("SCAIGRID_CONFIG");
  AddDataOptions(*serve, *o);
  serve->add_option("--listen", o->listen, "ADDRESS:PORT to listen on")->envname("SCAIGRID_LISTEN")->capture_default_str();
  serve->add_option("--sync", o->sync,
                    "full: fsync every commit (survives power loss); normal: survives the process "
                    "being killed, fsync at checkpoints (much faster audited checks)")
      ->envname("SCAIGRID_SYNC")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  serve->add_option("--log-level", o->log_level, "trace, debug (one line per request), info, warn, error or off")
      ->envname("SCAIGRID_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  serve->add_option("--oidc-config", o->oidc_config,
                    "Issuer config (YAML) of trusted identity providers: their JWT access tokens are accepted as bearer credentials")
      ->envname("SCAIGRID_OIDC_CONFIG");
  serve->add_option("--threads", o->threads, "Worker threads (0: one per core)")->envname("SCAIGRID_THREADS");
  serve->add_option("--body-limit", o->body_limit, "Largest request body, bytes")->envname("SCAIGRID_BODY_LIMIT")->capture_default_str();
  serve->add_option("--openapi", o->openapi, "OpenAPI document (YAML) served as JSON at /openapi.json")->envname("SCAIGRID_OPENAPI")->capture_default_str();
  serve->callback([o, serve, &context] {
    if (!o->config.empty()) {
      if (Status s = ApplyConfigFile(o->config, *serve); !s.ok()) {
        PrintError(context.err, s);
        context.exit_code = kExitError;
        return;
      }
    }
    context.exit_code = RunServe(*o, context);
  });

  CLI::App* bootstrap = app.add_subcommand("bootstrap", "Create the first super_admin API key (printed once)");
  AddDataOptions(*bootstrap, *o);
  bootstrap->add_option("--user", o->user, "The user who becomes super_admin")->capture_default_str();
  bootstrap->callback([o, &context] { context.exit_code = RunBootstrap(*o, context); });
}

}  // namespace scaigrid::iam::cli
