// SqliteDb: a thin RAII layer over one sqlite3 connection, used by SqliteStore and its
// migrations (internal to src/store/sqlite). It owns the connection (closed on destruction),
// caches prepared statements by their SQL text, binds values by position (never by building
// SQL), and turns SQLite result codes into Status: busy, locked, I/O, full disk, read-only and
// cannot-open are kUnavailable; everything else (corrupt, not a database, constraint, misuse)
// is kInternal. Messages are lowercase and name the database path.
//
// Thread-safety: none. The owner serializes every call, including the use of a
// SqliteStatement, and destroys statements before the SqliteDb.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "scaigrid/iam/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace scaigrid::iam::store {

class SqliteDb;

struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};

// A prepared statement borrowed from SqliteDb's cache. On destruction it is reset and its
// bindings cleared, so the next borrower finds it fresh. Move-only.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Binds the next parameter (the first call binds ?1). A uint64 is stored as the int64 with
  // the same bits and read back by UInt64. A failure is reported by the next Step.
  SqliteStatement& Bind(std::string_view text);
  // Binds `text` without copying it: the caller keeps it alive and unchanged until the
  // statement is reset (Reset, or this object's destruction). For bulk inserts.
  SqliteStatement& BindStatic(std::string_view text);
  SqliteStatement& Bind(std::int64_t value);
  SqliteStatement& Bind(std::uint64_t value);
  SqliteStatement& Bind(int value);

  // Advances to the next row: true when a row is ready to read, false when done.
  [[nodiscard]] Result<bool> Step();
  // Steps to the end, for statements that return no rows.
  [[nodiscard]] Status Run();

  // Makes the statement ready to run again, with no parameters bound (the next Bind binds
  // ?1): for running one statement for many rows without borrowing it again.
  void Reset();

  // Columns of the current row, 0-based. NULL reads as 0 or "".
  std::int64_t Int64(int column) const;
  std::uint64_t UInt64(int column) const;
  std::string Text(int column) const;
  // The same text without a copy: valid until the next Step, Reset or destruction.
  std::string_view TextView(int column) const;

 private:
  friend class SqliteDb;
  SqliteStatement(const SqliteDb& db, sqlite3_stmt* stmt, bool* in_use)
      : db_(&db), stmt_(stmt), in_use_(in_use) {}

  const SqliteDb* db_;
  sqlite3_stmt* stmt_;  // owned by db_'s cache; null once moved from
  bool* in_use_;        // the cache entry's borrowed flag, cleared on destruction
  int next_parameter_ = 1;
  int bind_error_ = 0;  // the first failed bind's result code, 0 when none
};

class SqliteDb {
 public:
  // Opens the database file at `path`, creating it when absent. Sets a busy timeout; pragmas
  // are the caller's. Errors: kUnavailable naming the path (missing directory, cannot open).
  [[nodiscard]] static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);

  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs constant SQL text without parameters (pragmas, DDL, BEGIN / COMMIT); several
  // statements separated by ';' are allowed. Never pass text built from values.
  [[nodiscard]] Status Exec(const char* sql);

  // The cached prepared statement for `sql` (one statement, values as ? parameters),
  // preparing it on first use. kInternal when it is already borrowed (a nested use).
  [[nodiscard]] Result<SqliteStatement> Prepare(std::string_view sql);

  // Rows inserted, updated or deleted by the last completed statement.
  int Changes() const;
  // True inside an explicit transaction (BEGIN ... not yet committed or rolled back).
  bool InTransaction() const;

  // A Status for result code `rc`, with the connection's message and `what` as context.
  Status Error(int rc, std::string_view what) const;

  const std::string& path() const { return path_; }

 private:
  SqliteDb(std::string path, std::unique_ptr<sqlite3, SqliteCloser> db)
      : path_(std::move(path)), db_(std::move(db)) {}

  std::string path_;
  std::unique_ptr<sqlite3, SqliteCloser> db_;
  struct CachedStatement {
    std::unique_ptr<sqlite3_stmt, SqliteFinalizer> stmt;
    bool in_use = false;  // borrowed by a live SqliteStatement
  };
  // Declared after db_, so finalized before the connection closes. Nodes are stable, so
  // borrowers may keep a pointer to in_use across inserts.
  std::unordered_map<std::string, CachedStatement> statements_;
};

// "<insert><values>, <values>, …" with `rows` copies of `values`: one INSERT of `rows` rows,
// e.g. MultiRowInsert("INSERT INTO t (a, b) VALUES ", "(?, ?)", 3).
std::string MultiRowInsert(std::string_view insert, std::string_view values, std::size_t rows);

// Inserts `count` rows with MultiRowInsert statements: chunks of `per_insert` rows with one
// statement, the rest one row per statement. Within one execution SQLite keeps its cursors
// where the previous row left them, so rows in key order are appended at the right edge of
// the table and its indexes without a descent from the root each, and the statement's fixed
// cost is paid once per chunk. bind_head(statement) binds what comes before the rows' values
// (parameters the rows share, e.g. "(?1, ?, ?)"), bind_row(statement, i) binds row i's.
template <typename BindHead, typename BindRow>
Status InsertRows(SqliteDb& db, std::string_view insert, std::string_view values,
                  std::size_t per_insert, std::size_t count, const BindHead& bind_head,
                  const BindRow& bind_row) {
  std::size_t at = 0;
  const auto run = [&](SqliteStatement& stmt, std::size_t rows) -> Status {
    bind_head(stmt);
    for (std::size_t i = at; i < at + rows; ++i) bind_row(stmt, i);
    Status ran = stmt.Run();
    stmt.Reset();
    at += rows;
    return ran;
  };
  if (count >= per_insert) {
    Result<SqliteStatement> chunk = db.Prepare(MultiRowInsert(insert, values, per_insert));
    if (!chunk) return std::move(chunk).error();
    while (count - at >= per_insert) {
      Status ran = run(*chunk, per_insert);
      if (!ran.ok()) return ran;
    }
  }
  if (at < count) {
    Result<SqliteStatement> row = db.Prepare(MultiRowInsert(insert, values, 1));
    if (!row) return std::move(row).error();
    while (at < count) {
      Status ran = run(*row, 1);
      if (!ran.ok()) return ran;
    }
  }
  return Status::Ok();
}

// An explicit transaction that rolls back on destruction unless committed. Move-only.
class SqliteTransaction {
 public:
  enum class Mode {
    kDeferred,   // BEGIN: a consistent read snapshot from the first read on
    kImmediate,  // BEGIN IMMEDIATE: takes the write lock now (waits up to the busy timeout)
  };

  [[nodiscard]] static Result<SqliteTransaction> Begin(SqliteDb& db, Mode mode);

  SqliteTransaction(SqliteTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  ~SqliteTransaction();

  // Commits. On error the transaction is rolled back (by SQLite or by the destructor).
  [[nodiscard]] Status Commit();

 private:
  explicit SqliteTransaction(SqliteDb& db) : db_(&db) {}

  SqliteDb* db_;  // null once committed or moved from
};

}  // namespace scaigrid::iam::store
