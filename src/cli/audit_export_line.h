// One line of `scaigrid-iam audit export` read back: the parser `import --audit` uses.
//
// A line is a JSON object, the API form of an event (service::AuditEventToJson) plus the two
// stored fields the hash covers, "time_us" and "details_text" (docs/audit.md). Strings are
// taken as they are; a field that is absent or not a string reads as "" (the API form writes
// null for an empty decision, credential, tenant or resource).
//
// Thread-safety: a pure function.
#pragma once

#include <string_view>

#include "scaigrid/iam/status.h"
#include "store/audit_types.h"

namespace scaigrid::iam::cli {

// Parses one line (without its newline). Errors: kInvalidArgument when it is not a JSON object,
// or lacks an integer "seq" (0 to 2^64-1), an integer "time_us" (a signed 64-bit value) or
// "details_text".
Result<store::AuditEvent> ParseAuditExportLine(std::string_view line);

}  // namespace scaigrid::iam::cli
