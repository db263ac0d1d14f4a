#include "cli/audit_export_line.h"

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace scaigrid::iam::cli {
namespace {

namespace json = boost::json;

// Integers only: a fraction or an exponent form is not a seq or a time, and a value out of
// range is refused rather than converted (json::value::to_number would throw for it).
std::optional<std::uint64_t> AsUint64(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return std::nullopt;
}

std::optional<std::int64_t> AsInt64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

}  // namespace

Result<store::AuditEvent> ParseAuditExportLine(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  const json::object* e = ec ? nullptr : v.if_object();
  if (e == nullptr) return Err(Status::InvalidArgument("not a JSON object (expected `audit export` lines)"));
  auto text = [&](const char* k) -> std::string {
    const json::value* x = e->if_contains(k);
    return x != nullptr && x->is_string() ? std::string(x->get_string()) : std::string();
  };
  const json::value* seq_value = e->if_contains("seq");
  const json::value* time_value = e->if_contains("time_us");
  const std::optional<std::uint64_t> seq = seq_value ? AsUint64(*seq_value) : std::nullopt;
  const std::optional<std::int64_t> time_us = time_value ? AsInt64(*time_value) : std::nullopt;
  if (!seq || !time_us || !e->contains("details_text")) {
    return Err(Status::InvalidArgument(
        "needs an integer seq, an integer time_us and details_text (write it with `audit export`)"));
  }
  return store::AuditEvent{.seq = *seq,
                           .id = text("id"),
                           .time_us = *time_us,
                           .module = text("module"),
                           .action = text("action"),
                           .decision = text("decision"),
                           .actor_user_id = text("actor_user_id"),
                           .actor_type = text("actor_type"),
                           .credential_id = text("credential_id"),
                           .tenant = text("tenant"),
                           .resource_id = text("resource_id"),
                           .request_id = text("request_id"),
                           .source_ip = text("source_ip"),
                           .details = text("details_text"),
                           .prev_hash = text("prev_hash"),
                           .hash = text("hash")};
}

}  // namespace scaigrid::iam::cli
