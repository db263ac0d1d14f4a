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
};

// A value or the Status that explains why there is none.
template <typename T>
using Result = std::expected<T, Status>;

// Wraps a non-OK Status for returning from a function whose type is Result<T>.
inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

}  // namespace scaigrid::iam

#define SCAIGRID_CONCAT_INNER(a, b) a##b
#define SCAIGRID_CONCAT(a, b) SCAIGRID_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define SCAIGRID_RETURN_IF_ERROR(expr)                     \
  do {                                                     \
    ::scaigrid::iam::Status scaigrid_status_ = (expr);     \
    if (!scaigrid_status_.ok()) return scaigrid_status_;   \
  } while (0)
