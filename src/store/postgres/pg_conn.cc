#include "store/postgres/pg_conn.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace scaigrid::iam::store {
namespace {

// Type OIDs of the parameters we send (pg_type.dat; stable across PostgreSQL versions).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

std::string TrimTrailingSpace(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Every form in which the password of `url` may appear: what libpq parses out of it, and, for
// a URL libpq cannot parse, what the userinfo of a URI or a "password=" keyword looks like
// (raw and percent-decoded). Messages are scrubbed of each.
std::vector<std::string> PasswordsIn(const std::string& url) {
  std::vector<std::string> secrets;
  const auto add = [&secrets](std::string s) {
    if (!s.empty()) secrets.push_back(std::move(s));
  };
  char* error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(url.c_str(), &error)) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) add(o->val);
    }
    PQconninfoFree(options);
  }
  PQfreemem(error);
  if (const std::size_t scheme = url.find("://"); scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t at = url.rfind('@');
    if (at != std::string::npos && at > start) {
      const std::string userinfo = url.substr(start, at - start);
      if (const std::size_t colon = userinfo.find(':'); colon != std::string::npos) {
        add(userinfo.substr(colon + 1));
        add(PercentDecode(userinfo.substr(colon + 1)));
      }
    }
  }
  for (std::size_t at = url.find("password"); at != std::string::npos;
       at = url.find("password", at + 1)) {
    std::size_t v = at + 8;
    while (v < url.size() && (url[v] == ' ' || url[v] == '=')) ++v;
    std::size_t end = v;
    while (end < url.size() && url[end] != ' ' && url[end] != '&') ++end;
    std::string value = url.substr(v, end - v);
    if (!value.empty() && (value.front() == '\'' || value.front() == '"')) value.erase(0, 1);
    if (!value.empty() && (value.back() == '\'' || value.back() == '"')) value.pop_back();
    add(value);
    add(PercentDecode(value));
  }
  return secrets;
}

std::string ScrubWith(std::string message, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (std::size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + 3)) {
      message.replace(at, secret.size(), "***");
    }
  }
  return message;
}

// "postgres HOST:PORT/DB" from what libpq resolved for `conn` (defaults and environment
// included), or from the parsed URL when the connection object knows nothing.
std::string Target(PGconn* conn, const std::string& url) {
  std::string host, port, db;
  char* error = nullptr;
  if (PQconninfoOption* options = PQconninfoParse(url.c_str(), &error)) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (o->val == nullptr) continue;
      if (std::strcmp(o->keyword, "host") == 0) host = o->val;
      if (std::strcmp(o->keyword, "hostaddr") == 0 && host.empty()) host = o->val;
      if (std::strcmp(o->keyword, "port") == 0) port = o->val;
      if (std::strcmp(o->keyword, "dbname") == 0) db = o->val;
    }
    PQconninfoFree(options);
  }
  PQfreemem(error);
  if (conn != nullptr) {
    if (const char* h = PQhost(conn); h != nullptr && *h != '\0') host = h;
    if (const char* p = PQport(conn); p != nullptr && *p != '\0') port = p;
    if (const char* d = PQdb(conn); d != nullptr && *d != '\0') db = d;
  }
  if (host.empty()) host = "(default host)";
  if (port.empty()) port = "5432";
  return "postgres " + host + ":" + port + "/" + db;
}

bool IsUnavailableSqlState(std::string_view state) {
  return state.starts_with("08") || state.starts_with("53") || state.starts_with("57P") ||
         state == "40001" || state == "40P01" || state == "55P03" || state == "57014";
}

}  // namespace

void PgConnCloser::operator()(pg_conn* conn) const { PQfinish(conn); }
void PgResultClearer::operator()(pg_result* result) const { PQclear(result); }

// ---- PgParams

PgParams& PgParams::Push(unsigned int type, const char* data, std::size_t length) {
  types_.push_back(type);
  values_.push_back(data);
  lengths_.push_back(static_cast<int>(length));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Add(std::string_view bytes) {
  // A non-null pointer even for "": a null value would be SQL NULL.
  return Push(kByteaOid, bytes.empty() ? "" : bytes.data(), bytes.size());
}

PgParams& PgParams::AddText(std::string_view text) {
  return Push(kTextOid, text.empty() ? "" : text.data(), text.size());
}

PgParams& PgParams::Add(std::int64_t value) {
  std::array<char, 8>& bytes = integers_.emplace_back();
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 7; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(bits & 0xff);
    bits >>= 8;
  }
  return Push(kInt8Oid, bytes.data(), bytes.size());
}

PgParams& PgParams::Add(std::uint64_t value) { return Add(static_cast<std::int64_t>(value)); }

void PgParams::Reserve(std::size_t count) {
  types_.reserve(count);
  values_.reserve(count);
  lengths_.reserve(count);
  formats_.reserve(count);
}

// ---- PgResult

int PgResult::rows() const { return PQntuples(result_.get()); }

std::int64_t PgResult::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples != nullptr && *tuples != '\0' ? std::strtoll(tuples, nullptr, 10) : 0;
}

bool PgResult::IsNull(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }

std::string_view PgResult::View(int row, int col) const {
  if (IsNull(row, col)) return {};
  return std::string_view(PQgetvalue(result_.get(), row, col),
                          static_cast<std::size_t>(PQgetlength(result_.get(), row, col)));
}

std::int64_t PgResult::Int64(int row, int col) const {
  const std::string_view bytes = View(row, col);
  // Binary integers are big-endian; int8, int4 and int2 columns all read here.
  if (bytes.size() != 8 && bytes.size() != 4 && bytes.size() != 2) return 0;
  std::uint64_t bits = static_cast<unsigned char>(bytes[0]) & 0x80 ? ~std::uint64_t{0} : 0;
  for (char c : bytes) bits = (bits << 8) | static_cast<unsigned char>(c);
  return static_cast<std::int64_t>(bits);
}

// ---- PgConn

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& url,
                                                const std::string& application_name,
                                                const char* session_sql) {
  std::vector<std::string> secrets = PasswordsIn(url);
  // Defaults first: the URL's own settings (expanded at "dbname") override them. TCP
  // keepalives and a user timeout make a database that vanishes from the network (no FIN: a
  // partition, a powered-off host) a failed connection within about 15 s instead of a call
  // that blocks for the kernel's retransmission timeout (many minutes).
  const char* keywords[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "tcp_user_timeout", "fallback_application_name", "dbname",
                            nullptr};
  const char* values[] = {"10", "1", "5", "2", "3", "15000", application_name.c_str(), url.c_str(), nullptr};
  std::unique_ptr<pg_conn, PgConnCloser> conn(
      PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  std::string target = Target(conn.get(), url);
  if (conn == nullptr) {
    return Err(Status(StatusCode::kUnavailable, "cannot connect to " + target + ": out of memory"));
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Err(Status(StatusCode::kUnavailable,
                      "cannot connect to " + target + ": " +
                          ScrubWith(TrimTrailingSpace(PQerrorMessage(conn.get())), secrets)));
  }
  PQsetNoticeProcessor(conn.get(), IgnoreNotice, nullptr);
  std::unique_ptr<PgConn> owned(
      new PgConn(std::move(conn), std::move(target), std::move(secrets), session_sql));
  if (session_sql != nullptr) {
    Status set = owned->ExecScript(session_sql);
    if (!set.ok()) return Err(std::move(set));
  }
  return owned;
}

PgConn::PgConn(std::unique_ptr<pg_conn, PgConnCloser> conn, std::string target,
               std::vector<std::string> secrets, const char* session_sql)
    : conn_(std::move(conn)),
      target_(std::move(target)),
      secrets_(std::move(secrets)),
      session_sql_(session_sql) {}

PgConn::~PgConn() = default;

bool PgConn::ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

bool PgConn::Alive() {
  if (!ok()) return false;
  // A server that shut down sent a FATAL message and closed the socket: the first read takes
  // the message, the second meets the end of the stream and marks the connection bad.
  // Nothing pending: each returns at once (libpq's sockets do not block).
  for (int i = 0; i < 2; ++i)
    if (PQconsumeInput(conn_.get()) == 0) return false;
  while (PGnotify* n = PQnotifies(conn_.get())) PQfreemem(n);  // not ours to keep (state conns do not LISTEN)
  return ok();
}

Status PgConn::Reconnect() {
  PQreset(conn_.get());
  if (!ok()) return ConnectionError("cannot reconnect");
  return session_sql_ != nullptr ? ExecScript(session_sql_) : Status::Ok();
}

std::string PgConn::Scrub(std::string message) const {
  return ScrubWith(std::move(message), secrets_);
}

Status PgConn::ConnectionError(std::string_view what) const {
  return Status(StatusCode::kUnavailable,
                target_ + ": " + std::string(what) + ": " +
                    Scrub(TrimTrailingSpace(PQerrorMessage(conn_.get()))));
}

Status PgConn::Check(pg_result* result, std::string_view sql) const {
  if (result == nullptr) return ConnectionError("connection lost");
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  std::string message = primary != nullptr ? primary : TrimTrailingSpace(PQresultErrorMessage(result));
  if (message.empty()) message = TrimTrailingSpace(PQerrorMessage(conn_.get()));
  const std::string_view sqlstate = state != nullptr ? state : "";
  const bool unavailable = !ok() || IsUnavailableSqlState(sqlstate);
  // The statement's first words say which one failed, without any value (values are never
  // part of the SQL text).
  std::string_view head = sql.substr(0, std::min<std::size_t>(sql.size(), 48));
  std::string text = target_ + ": " + Scrub(std::move(message));
  if (!sqlstate.empty()) text += " (sqlstate " + std::string(sqlstate) + ")";
  text += " in \"" + std::string(head) + (head.size() < sql.size() ? "…\"" : "\"");
  return Status(unavailable ? StatusCode::kUnavailable : StatusCode::kInternal, std::move(text));
}

Result<PgResult> PgConn::Exec(const std::string& sql, const PgParams& params) {
  pg_result* result =
      PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.values_.size()),
                   params.types_.data(), params.values_.data(), params.lengths_.data(),
                   params.formats_.data(), /*resultFormat=*/1);
  PgResult owned(result);
  Status checked = Check(result, sql);
  if (!checked.ok()) return Err(std::move(checked));
  return owned;
}

Result<PgResult> PgConn::Exec(const std::string& sql) {
  static const PgParams kNone;
  return Exec(sql, kNone);
}

Status PgConn::ExecScript(const char* sql) {
  PgResult result(PQexec(conn_.get(), sql));
  return Check(result.get(), sql);
}

Status PgConn::CopyIn(const char* copy_sql, std::string_view data) {
  PgResult started(PQexec(conn_.get(), copy_sql));
  if (PQresultStatus(started.get()) != PGRES_COPY_IN) return Check(started.get(), copy_sql);
  // Sent in pieces of 1 MiB: libpq buffers what it cannot write yet (blocking connection).
  constexpr std::size_t kPiece = 1 << 20;
  for (std::size_t at = 0; at < data.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, data.size() - at);
    if (PQputCopyData(conn_.get(), data.data() + at, static_cast<int>(n)) != 1) {
      return ConnectionError("sending COPY data");
    }
  }
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) return ConnectionError("ending COPY");
  Status status = Status::Ok();
  while (pg_result* r = PQgetResult(conn_.get())) {
    PgResult result(r);
    if (status.ok()) status = Check(result.get(), copy_sql);
  }
  return status;
}

PgBinaryCopy::PgBinaryCopy() {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // 11 bytes with its NUL
  data_.append(kSignature, 11);
  Int32(0);  // flags
  Int32(0);  // header extension length
}

void PgBinaryCopy::Int32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  const char bytes[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
                         static_cast<char>(u)};
  data_.append(bytes, 4);
}

void PgBinaryCopy::BeginRow(int fields) {
  const auto u = static_cast<std::uint16_t>(fields);
  const char bytes[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  data_.append(bytes, 2);
}

void PgBinaryCopy::Add(std::string_view bytes) {
  Int32(static_cast<std::int32_t>(bytes.size()));
  data_.append(bytes);
}

void PgBinaryCopy::Add(std::int64_t value) {
  Int32(8);
  const auto u = static_cast<std::uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) data_.push_back(static_cast<char>(u >> shift));
}

std::string PgBinaryCopy::Finish() {
  data_.append("\xff\xff", 2);  // the trailer: a field count of -1
  return std::move(data_);
}

// ---- PgTransaction

Result<PgTransaction> PgTransaction::Begin(PgConn& conn, const char* begin) {
  Status begun = conn.ExecScript(begin);
  if (!begun.ok()) return Err(std::move(begun));
  return PgTransaction(conn);
}

PgTransaction::~PgTransaction() {
  if (conn_ != nullptr && conn_->ok()) PQclear(PQexec(conn_->raw(), "ROLLBACK"));
}

Status PgTransaction::Commit() {
  PgConn* conn = conn_;
  conn_ = nullptr;
  PgResult result(PQexec(conn->raw(), "COMMIT"));
  const char* status = PQcmdStatus(result.get());
  if (PQresultStatus(result.get()) == PGRES_COMMAND_OK && status != nullptr &&
      std::strcmp(status, "COMMIT") == 0) {
    return Status::Ok();
  }
  if (!conn->ok()) return conn->ConnectionError("connection lost during commit (outcome unknown)");
  return Status::Internal(conn->target() + ": the transaction was rolled back at commit");
}


}  // namespace scaigrid::iam::store
