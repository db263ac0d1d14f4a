#include "postgres_test_db.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "store/postgres/pg_conn.h"
#include "store/postgres/postgres_store.h"

#ifndef SCAIGRID_PG_URL_FILE_DEFAULT
#define SCAIGRID_PG_URL_FILE_DEFAULT ""
#endif

namespace scaigrid::iam::store {
namespace {

std::string Fnv1a64Hex(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

bool IsDatabaseName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<std::string> PostgresServerUrl() {
  if (const char* url = std::getenv("SCAIGRID_PG_URL"); url != nullptr && *url != '\0') {
    return std::string(url);
  }
  const char* env_file = std::getenv("SCAIGRID_PG_URL_FILE");
  const std::string file =
      env_file != nullptr && *env_file != '\0' ? env_file : SCAIGRID_PG_URL_FILE_DEFAULT;
  std::ifstream in(file);
  std::string url;
  if (file.empty() || !in || !std::getline(in, url) || url.empty()) {
    return Err(Status(StatusCode::kUnavailable,
                      "no postgres test cluster: cannot read its url from \"" + file +
                          "\". Run the tests through ctest (its postgres_cluster_start fixture "
                          "starts one), or start one with `scripts/pg_cluster.sh start DIR 0` "
                          "and set SCAIGRID_PG_URL_FILE=DIR/url (or SCAIGRID_PG_URL)"));
  }
  return url;
}

Result<std::string> PostgresDatabaseUrl(const std::string& name) {
  Result<std::string> server = PostgresServerUrl();
  if (!server) return server;
  // postgresql://user@host:port/postgres[?query] -> postgresql://user@host:port/NAME[?query]
  const std::size_t scheme = server->find("://");
  if (scheme == std::string::npos) {
    return Err(Status::InvalidArgument("the test cluster url is not a uri: " + *server));
  }
  const std::size_t path = server->find('/', scheme + 3);
  const std::size_t query = server->find('?', scheme + 3);
  std::string url = server->substr(0, std::min(path, query)) + "/" + name;
  if (query != std::string::npos) url += server->substr(query);
  return url;
}

Result<std::string> FreshPostgresDatabase(const std::string& name) {
  // CREATE / DROP DATABASE take no parameters; the name is checked to be a plain identifier.
  if (!IsDatabaseName(name)) return Err(Status::InvalidArgument("bad database name " + name));
  Result<std::string> server = PostgresServerUrl();
  if (!server) return server;
  Result<std::unique_ptr<PgConn>> admin = PgConn::Connect(*server, "scaigrid-iam tests");
  if (!admin) return Err(std::move(admin).error());
  const std::string drop = "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)";
  const std::string create = "CREATE DATABASE " + name;
  for (const std::string* sql : {&drop, &create}) {
    Status done = (*admin)->ExecScript(sql->c_str());
    if (!done.ok()) return Err(std::move(done));
  }
  return PostgresDatabaseUrl(name);
}

Result<std::string> PostgresDatabaseForDir(const std::string& dir) {
  const std::string marker = dir + "/postgres_database";
  {
    std::ifstream in(marker);
    std::string name;
    if (in && std::getline(in, name) && !name.empty()) return PostgresDatabaseUrl(name);
  }
  const std::string name = "scaigrid_d_" + Fnv1a64Hex(dir);
  Result<std::string> url = FreshPostgresDatabase(name);
  if (!url) return url;
  std::ofstream out(marker);
  out << name << "\n";
  if (!out) return Err(Status::Internal("cannot write " + marker));
  return url;
}

std::unique_ptr<Store> OpenPostgresForDir(const std::string& dir) {
  Result<std::string> url = PostgresDatabaseForDir(dir);
  if (!url) {
    ADD_FAILURE() << url.error().ToString();
    return nullptr;
  }
  Result<std::unique_ptr<PostgresStore>> store = PostgresStore::Open(*url);
  if (!store) {
    ADD_FAILURE() << store.error().ToString();
    return nullptr;
  }
  return *std::move(store);
}

std::string PostgresNameForCurrentTest() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string full = info != nullptr ? std::string(info->test_suite_name()) + "." +
                                                 info->name()
                                           : "none";
  return "scaigrid_t_" + Fnv1a64Hex(full);
}

}  // namespace scaigrid::iam::store
