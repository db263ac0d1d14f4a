// Feeds: one line of an `audit export` file to cli::ParseAuditExportLine, the parser
// `scaigrid-iam import --audit` reads an exported audit log with.
// Asserts: a parsed event, written again the way `audit export` writes it (the API form of
// service::AuditEventToJson plus time_us and details_text), parses back to the same event,
// field by field; the chain hash of an event depends only on those fields.
#include <boost/json.hpp>

#include <cstdint>
#include <string>

#include "audit/chain.h"
#include "cli/audit_export_line.h"
#include "fuzz_check.h"
#include "service/service.h"

namespace {

using scaigrid::iam::store::AuditEvent;

bool SameEvent(const AuditEvent& a, const AuditEvent& b) {
  return a.seq == b.seq && a.id == b.id && a.time_us == b.time_us && a.module == b.module &&
         a.action == b.action && a.decision == b.decision && a.actor_user_id == b.actor_user_id &&
         a.actor_type == b.actor_type && a.credential_id == b.credential_id && a.tenant == b.tenant &&
         a.resource_id == b.resource_id && a.request_id == b.request_id && a.source_ip == b.source_ip &&
         a.details == b.details && a.prev_hash == b.prev_hash && a.hash == b.hash;
}

// The line `audit export` writes for `e` (src/cli/audit_commands.cc).
std::string ExportLine(const AuditEvent& e) {
  boost::json::object line = scaigrid::iam::service::AuditEventToJson(e);
  line["time_us"] = e.time_us;
  line["details_text"] = e.details;
  return boost::json::serialize(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scaigrid::iam;
  auto event = cli::ParseAuditExportLine(fuzz::AsText(data, size));
  if (!event) return 0;
  const std::string line = ExportLine(*event);
  auto again = cli::ParseAuditExportLine(line);
  FUZZ_CHECK(again.has_value(), line + " -> " + again.error().ToString());
  FUZZ_CHECK(SameEvent(*again, *event), line);
  FUZZ_CHECK(audit::ChainHash(*again) == audit::ChainHash(*event), line);
  return 0;
}
