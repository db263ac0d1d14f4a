// PgConn: a thin RAII layer over one libpq connection, used by PostgresStore and its
// migrations (internal to src/store/postgres). It owns the PGconn (closed on destruction) and
// every PGresult (PgResult, cleared on destruction), sends values only as bound parameters
// (PgParams, never spliced into SQL), and turns libpq failures into Status: a lost or refused
// connection, SQLSTATE classes 08 (connection), 53 (resources), 57P (shutdown), 40001 / 40P01
// (serialization, deadlock) and 55P03 (lock not available) are kUnavailable; everything else
// (syntax, constraint, trigger, bad data) is kInternal.
//
// Wire format: every parameter and every result column is binary. Strings travel as their
// bytes (bytea columns), integers as 8-byte big-endian int8, so every std::string round-trips
// exactly, NUL and invalid UTF-8 included, and no text parsing happens on either side.
//
// Messages are lowercase and name the target as "postgres HOST:PORT/DB" — never the
// password: a message that libpq builds is scrubbed of it before it leaves this layer.
//
// Thread-safety: none. The owner serializes every call on one PgConn (and the use of its
// results is free: a PgResult is independent of the connection once returned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/status.h"

struct pg_conn;
struct pg_result;

namespace scaigrid::iam::store {

struct PgConnCloser {
  void operator()(pg_conn* conn) const;
};
struct PgResultClearer {
  void operator()(pg_result* result) const;
};

// Parameters of one statement, $1, $2, … in the order added. Strings are bound without a copy:
// the caller keeps them alive and unchanged until the statement has run. Integers are copied.
class PgParams {
 public:
  PgParams() = default;
  PgParams(const PgParams&) = delete;
  PgParams& operator=(const PgParams&) = delete;

  // bytea (the store's string columns).
  PgParams& Add(std::string_view bytes);
  // text (pg_notify's arguments): the bytes must be valid in the database encoding.
  PgParams& AddText(std::string_view text);
  // int8. A uint64 is sent as the int64 with the same bits and read back by UInt64.
  PgParams& Add(std::int64_t value);
  PgParams& Add(std::uint64_t value);
  PgParams& Add(int value) { return Add(static_cast<std::int64_t>(value)); }

  void Reserve(std::size_t count);
  std::size_t size() const { return values_.size(); }

 private:
  friend class PgConn;
  PgParams& Push(unsigned int type, const char* data, std::size_t length);

  std::vector<unsigned int> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::array<char, 8>> integers_;  // stable storage for the integers' bytes
};

// Rows in PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html,
// "Binary Format"): the header, then per row its field count and each field as a 32-bit length
// and its bytes (bytea: the bytes; int8: 8 bytes, big-endian), then the trailer (Finish).
class PgBinaryCopy {
 public:
  PgBinaryCopy();
  void BeginRow(int fields);
  void Add(std::string_view bytes);
  void Add(std::int64_t value);
  void Add(std::uint64_t value) { Add(static_cast<std::int64_t>(value)); }
  // The whole input, with its trailer; the object must not be used afterwards.
  std::string Finish();

 private:
  void Int32(std::int32_t v);
  std::string data_;
};

// The rows of one statement. Move-only.
class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}

  int rows() const;
  // Rows inserted, updated or deleted (PQcmdTuples), 0 when the statement reports none.
  std::int64_t affected() const;

  // Column `col` of row `row`, 0-based, in binary form: int8 (Int64, UInt64) and bytea or
  // text (Bytes). NULL reads as 0 or "". The view is valid while this result lives.
  std::int64_t Int64(int row, int col) const;
  std::uint64_t UInt64(int row, int col) const { return static_cast<std::uint64_t>(Int64(row, col)); }
  std::string Bytes(int row, int col) const { return std::string(View(row, col)); }
  std::string_view View(int row, int col) const;
  bool IsNull(int row, int col) const;

  pg_result* get() const { return result_.get(); }

 private:
  std::unique_ptr<pg_result, PgResultClearer> result_;
};

class PgConn {
 public:
  // Connects to `url` (a postgresql:// URI or a "key=value …" string, as libpq takes).
  // `application_name` names the connection in pg_stat_activity unless the URL sets one;
  // connect_timeout defaults to 10 s unless the URL sets one. Notices are not printed.
  // `session_sql` (constant text, may be null) runs on every new session: now and after each
  // Reconnect (e.g. SET statements the owner's queries rely on).
  // Errors: kUnavailable naming host, port and database (unreachable, refused, bad
  // credentials, no such database, a URL libpq cannot parse), never the password; the
  // session_sql's error.
  [[nodiscard]] static Result<std::unique_ptr<PgConn>> Connect(const std::string& url,
                                                               const std::string& application_name,
                                                               const char* session_sql = nullptr);

  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;
  ~PgConn();

  // Runs `sql` (one statement, values as $n parameters) and returns its rows in binary form.
  [[nodiscard]] Result<PgResult> Exec(const std::string& sql, const PgParams& params);
  [[nodiscard]] Result<PgResult> Exec(const std::string& sql);
  // Runs `copy_sql` (a constant `COPY … FROM STDIN`) and sends `data` as its input, in
  // PostgreSQL's format for it (e.g. PgBinaryCopy's). Errors: the statement's or the
  // connection's, with the server's message.
  [[nodiscard]] Status CopyIn(const char* copy_sql, std::string_view data);

  // Runs constant SQL text without parameters (DDL, BEGIN / COMMIT, LISTEN); several
  // statements separated by ';' are allowed. Never pass text built from values.
  [[nodiscard]] Status ExecScript(const char* sql);

  // True unless libpq has seen the connection fail.
  bool ok() const;
  // Reads whatever the server sent since the last statement, without blocking, so that a
  // connection the server closed while it was idle (a restart, an administrator's
  // pg_terminate_backend) is seen as failed now rather than at the next statement; then
  // ok(). Idle connections only (not inside a transaction or with a result pending).
  bool Alive();
  // Re-establishes a failed connection (same parameters). kUnavailable when it cannot.
  [[nodiscard]] Status Reconnect();

  // "postgres HOST:PORT/DB": the target, for messages (never the password).
  const std::string& target() const { return target_; }
  // A Status for a connection-level failure (`what` as context), with libpq's message.
  Status ConnectionError(std::string_view what) const;

  // The raw handle, for LISTEN / notification handling (PostgresStore::WaitForChange).
  pg_conn* raw() const { return conn_.get(); }

 private:
  PgConn(std::unique_ptr<pg_conn, PgConnCloser> conn, std::string target,
         std::vector<std::string> secrets, const char* session_sql);
  Status Check(pg_result* result, std::string_view sql) const;
  std::string Scrub(std::string message) const;

  std::unique_ptr<pg_conn, PgConnCloser> conn_;
  std::string target_;
  std::vector<std::string> secrets_;  // strings never to let into a message (the password)
  const char* session_sql_;           // constant text run on every new session, or null
};

// An explicit transaction that rolls back on destruction unless committed. Move-only.
class PgTransaction {
 public:
  // `begin` is the constant BEGIN statement, e.g. "BEGIN ISOLATION LEVEL REPEATABLE READ".
  [[nodiscard]] static Result<PgTransaction> Begin(PgConn& conn, const char* begin = "BEGIN");

  PgTransaction(PgTransaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  PgTransaction& operator=(PgTransaction&&) = delete;
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  ~PgTransaction();

  // Commits; durable once it returns OK (synchronous_commit on). On error nothing is
  // committed, except when the connection is lost during COMMIT (kUnavailable: unknown).
  [[nodiscard]] Status Commit();

 private:
  explicit PgTransaction(PgConn& conn) : conn_(&conn) {}

  PgConn* conn_;  // null once committed or moved from
};


}  // namespace scaigrid::iam::store
