#include "store/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>

namespace scaigrid::iam::store {
namespace {

// How long a writer waits for another connection's write lock before kUnavailable.
constexpr int kBusyTimeoutMs = 5000;

// The first line of `sql`, for error messages.
std::string_view FirstLine(std::string_view sql) {
  const std::size_t start = sql.find_first_not_of(" \n");
  if (start == std::string_view::npos) return {};
  sql.remove_prefix(start);
  return sql.substr(0, sql.find('\n'));
}

}  // namespace

void SqliteCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void SqliteFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

// ---- SqliteStatement

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_),
      stmt_(other.stmt_),
      in_use_(other.in_use_),
      next_parameter_(other.next_parameter_),
      bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
  other.in_use_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  if (in_use_ != nullptr) *in_use_ = false;
}

SqliteStatement& SqliteStatement::Bind(std::string_view text) {
  const char* data = text.data() != nullptr ? text.data() : "";  // null would bind NULL
  const int rc = sqlite3_bind_text64(stmt_, next_parameter_++, data, text.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::BindStatic(std::string_view text) {
  const char* data = text.data() != nullptr ? text.data() : "";  // null would bind NULL
  const int rc =
      sqlite3_bind_text64(stmt_, next_parameter_++, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, next_parameter_++, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqliteStatement& SqliteStatement::Bind(std::uint64_t value) {
  return Bind(static_cast<std::int64_t>(value));
}

SqliteStatement& SqliteStatement::Bind(int value) { return Bind(std::int64_t{value}); }

Result<bool> SqliteStatement::Step() {
  if (bind_error_ != 0) {
    return Err(db_->Error(bind_error_, "binding parameters of " + std::string(sqlite3_sql(stmt_))));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Err(db_->Error(rc, "running " + std::string(FirstLine(sqlite3_sql(stmt_)))));
}

Status SqliteStatement::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row) return std::move(row).error();
    if (!*row) return Status::Ok();
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  next_parameter_ = 1;
  bind_error_ = 0;
}

std::int64_t SqliteStatement::Int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::uint64_t SqliteStatement::UInt64(int column) const {
  return static_cast<std::uint64_t>(sqlite3_column_int64(stmt_, column));
}

std::string SqliteStatement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string_view SqliteStatement::TextView(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(text),
                          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

// ---- SqliteDb

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    return Err(Status(
        StatusCode::kUnavailable,
        "cannot open sqlite database " + path + ": directory " + dir.string() + " does not exist"));
  }
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, SqliteCloser> db(raw);  // closed on every path, even on failure
  if (rc != SQLITE_OK) {
    const std::string reason = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return Err(
        Status(StatusCode::kUnavailable, "cannot open sqlite database " + path + ": " + reason));
  }
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  return std::unique_ptr<SqliteDb>(new SqliteDb(path, std::move(db)));
}

SqliteDb::~SqliteDb() = default;

Status SqliteDb::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "running " + std::string(FirstLine(sql)));
  return Status::Ok();
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, &tail);
    std::unique_ptr<sqlite3_stmt, SqliteFinalizer> stmt(raw);
    if (rc != SQLITE_OK) return Err(Error(rc, "preparing " + std::string(FirstLine(sql))));
    const std::string_view rest(tail, sql.data() + sql.size() - tail);
    if (stmt == nullptr || rest.find_first_not_of(" \n;") != std::string_view::npos) {
      return Err(Status::Internal("sqlite: not exactly one statement: " + std::string(sql)));
    }
    it = statements_.emplace(std::string(sql), CachedStatement{std::move(stmt)}).first;
  }
  if (it->second.in_use) {
    return Err(Status::Internal("sqlite: statement already in use: " + std::string(sql)));
  }
  it->second.in_use = true;
  return SqliteStatement(*this, it->second.stmt.get(), &it->second.in_use);
}

int SqliteDb::Changes() const { return sqlite3_changes(db_.get()); }

bool SqliteDb::InTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

Status SqliteDb::Error(int rc, std::string_view what) const {
  StatusCode code = StatusCode::kInternal;
  switch (rc & 0xff) {  // the primary result code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      code = StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  const char* reason = (sqlite3_errcode(db_.get()) & 0xff) == (rc & 0xff)
                           ? sqlite3_errmsg(db_.get())
                           : sqlite3_errstr(rc);
  return Status(code, "sqlite database " + path_ + ": " + std::string(what) + ": " + reason);
}

std::string MultiRowInsert(std::string_view insert, std::string_view values, std::size_t rows) {
  std::string sql(insert);
  sql.reserve(insert.size() + rows * (values.size() + 2));
  for (std::size_t i = 0; i < rows; ++i) {
    if (i > 0) sql += ", ";
    sql += values;
  }
  return sql;
}

// ---- SqliteTransaction

Result<SqliteTransaction> SqliteTransaction::Begin(SqliteDb& db, Mode mode) {
  Status begun = db.Exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!begun.ok()) return Err(std::move(begun));
  return SqliteTransaction(db);
}

SqliteTransaction::~SqliteTransaction() {
  if (db_ != nullptr && db_->InTransaction()) {
    (void)db_->Exec("ROLLBACK");  // best effort: SQLite may already have rolled back
  }
}

Status SqliteTransaction::Commit() {
  Status committed = db_->Exec("COMMIT");
  if (committed.ok()) db_ = nullptr;
  return committed;
}

}  // namespace scaigrid::iam::store
