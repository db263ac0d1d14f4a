// Status and Result: how every fallible call in ScaiGrid IAM reports failure.
//
// A Status carries a code from a closed set, a human-readable message (lowercase, naming
// the offending value) and optional details (one line per problem, when there are many).
// A deny is never a Status: decisions are values (see snapshot.h).
//
// Thread-safety: Status and Result are values; const methods may be called concurrently.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scaigrid::iam {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // malformed or invalid input (400)
  kNotFound,            // no such object (404)
  kAlreadyExists,       // duplicate (409)
  kFailedPrecondition,  // conflicts with current state: in use, constraint, stale etag (409)
  kPermissionDenied,    // caller lacks a key (403)
  kUnauthenticated,     // no or bad credential (401)
  kResourceExhausted,   // too large, too many (413/429)
  kUnavailable,         // try again later (503)
  kInternal,            // a bug or an unexpected library failure (500)
};

// Returns a stable lowercase name for `code`, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::vector<std::string> details = {})
      : code_(code), message_(std::move(message)), details_(std::move(details)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m, std::vector<std::string> d = {}) {
    return {StatusCode::kInvalidArgument, std::move(m), std::move(d)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m, std::vector<std::string> d = {}) {
    return {StatusCode::kFailedPrecondition, std::move(m), std::move(d)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  // A machine-readable reason finer than the code, e.g. "unknown_permission",
  // "separation_of_duties", "stale_etag". The HTTP layer uses it as the error code.
  Status&& WithReason(std::string reason) && {
    reason_ = std::move(reason);
    return std::move(*this);
  }
  const std::string& reason() const { return reason_; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<std::string>& details() const { return details_; }

  // "invalid_argument: message" plus one indented line per detail.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::vector<std::string> details_;
  std::string reason_;
};

// A value or the Status that explains why there is none.
template <typename T>
using Result = std::expected<T, Status>;

// Wraps a non-OK Status for returning from a function whose type is Result<T>.
inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

// A non-OK Status on its way out of a function returning either Status or Result<T>
// (what SCAIGRID_RETURN_IF_ERROR returns).
struct [[nodiscard]] StatusReturn {
  Status status;
  operator Status() && { return std::move(status); }
  template <typename T>
  operator Result<T>() && {
    return std::unexpected<Status>(std::move(status));
  }
};

}  // namespace scaigrid::iam

#define SCAIGRID_CONCAT_INNER(a, b) a##b
#define SCAIGRID_CONCAT(a, b) SCAIGRID_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function (returning Status or Result<T>) if `expr`
// is not OK.
#define SCAIGRID_RETURN_IF_ERROR(expr)                                                  \
  do {                                                                                  \
    ::scaigrid::iam::Status scaigrid_status_ = (expr);                                  \
    if (!scaigrid_status_.ok())                                                         \
      return ::scaigrid::iam::StatusReturn{std::move(scaigrid_status_)};                \
  } while (0)
