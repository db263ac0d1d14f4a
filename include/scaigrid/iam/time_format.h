// Times as users write them: RFC 3339 timestamps and bare dates, to and from Time.
//
// Accepted (SPEC §7): "2026-05-01T12:00:00Z", with fractional seconds
// ("2026-05-01T12:00:00.250Z", truncated to the whole second), with a numeric offset
// ("2026-05-01T14:00:00+02:00", "-00:00" meaning UTC), a lowercase "t"/"z", and a bare date
// "2026-05-01" meaning its start, 00:00:00 UTC. Years are four digits (0000-9999); leap
// seconds (":60") are not accepted.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "scaigrid/iam/ids.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam {

// Parses an RFC 3339 timestamp or a bare date into seconds since the epoch.
// Errors: kInvalidArgument naming the text and what is wrong with it (a month or day out of
// range, a missing part, trailing characters, …).
Result<Time> ParseTime(std::string_view text);

// Formats `t` as RFC 3339 in UTC with a "Z" suffix and no fraction: "2026-05-01T12:00:00Z".
// Times outside the years 0000-9999 (kTimeMin, kTimeMax) are written with a sign and as many
// year digits as needed; they are not valid RFC 3339 and ParseTime rejects them.
std::string FormatTime(Time t);

// As ParseTime, in microseconds since the epoch, keeping up to six fraction digits (more are
// truncated). Errors: as ParseTime.
Result<std::int64_t> ParseTimeMicros(std::string_view text);

}  // namespace scaigrid::iam
