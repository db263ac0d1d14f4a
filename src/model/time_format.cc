// RFC 3339 parsing and formatting. GCC 12 has the calendar types of <chrono> but not
// chrono::parse or <format>, so the grammar is scanned by hand and the calendar arithmetic
// uses year_month_day (validation, days since the epoch) and, for formatting any int64,
// Howard Hinnant's civil_from_days.
#include "scaigrid/iam/time_format.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>

namespace scaigrid::iam {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

// Reads fixed-width fields left to right; every method returns false without consuming
// anything when the expected text is not there.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  // Exactly `n` ASCII digits.
  bool Digits(int n, int* out) {
    if (pos_ + static_cast<size_t>(n) > text_.size()) return false;
    int value = 0;
    for (int i = 0; i < n; ++i) {
      char c = text_[pos_ + static_cast<size_t>(i)];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += static_cast<size_t>(n);
    *out = value;
    return true;
  }
  // One or more digits, skipped (fractional seconds are truncated).
  bool SkipDigits() {
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }
  // One character of `set`; returns it, or '\0'.
  char Any(std::string_view set) {
    if (pos_ < text_.size() && set.find(text_[pos_]) != std::string_view::npos)
      return text_[pos_++];
    return '\0';
  }
  bool AtEnd() const { return pos_ == text_.size(); }
  std::string_view Rest() const { return text_.substr(pos_); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::string TwoDigits(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

std::unexpected<Status> Bad(std::string_view text, const std::string& why) {
  std::string shown(text.substr(0, 64));
  if (text.size() > 64) shown += "…";
  return Err(Status::InvalidArgument(
      "invalid time '" + shown + "': " + why +
      " (expected RFC 3339 like 2026-05-01T12:00:00Z or a date like 2026-05-01)"));
}

// Days since 1970-01-01 of a valid civil date.
std::int64_t DaysFromCivil(const std::chrono::year_month_day& ymd) {
  return std::chrono::sys_days(ymd).time_since_epoch().count();
}

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

// Howard Hinnant's civil_from_days, for the whole int64 range of days.
Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace

Result<Time> ParseTime(std::string_view text) {
  if (text.empty()) return Bad(text, "it is empty");
  Scanner s(text);
  int year = 0, month = 0, day = 0;
  if (!s.Digits(4, &year) || !s.Any("-") || !s.Digits(2, &month) || !s.Any("-") ||
      !s.Digits(2, &day)) {
    return Bad(text, "expected a date YYYY-MM-DD at the start");
  }
  if (month < 1 || month > 12) return Bad(text, "month " + TwoDigits(month) + " is out of range");
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(month),
                                  std::chrono::day(day)};
  if (!ymd.ok()) {
    return Bad(text,
               "day " + TwoDigits(day) + " is out of range for " + std::string(text.substr(0, 7)));
  }
  Time days = DaysFromCivil(ymd);
  if (s.AtEnd()) return days * kSecondsPerDay;

  if (!s.Any("Tt")) {
    return Bad(text, "expected 'T' and a time HH:MM:SS after the date, found '" +
                         std::string(s.Rest().substr(0, 16)) + "'");
  }
  int hour = 0, minute = 0, second = 0;
  if (!s.Digits(2, &hour) || !s.Any(":") || !s.Digits(2, &minute) || !s.Any(":") ||
      !s.Digits(2, &second)) {
    return Bad(text, "expected a time HH:MM:SS after 'T'");
  }
  if (hour > 23) return Bad(text, "hour " + TwoDigits(hour) + " is out of range");
  if (minute > 59) return Bad(text, "minute " + TwoDigits(minute) + " is out of range");
  if (second > 59) {
    return Bad(text,
               "second " + TwoDigits(second) + " is out of range (leap seconds are not accepted)");
  }
  if (s.Any(".") && !s.SkipDigits()) return Bad(text, "expected digits after '.'");

  Time offset = 0;
  if (s.Any("Zz")) {
    offset = 0;
  } else if (char sign = s.Any("+-"); sign != '\0') {
    int oh = 0, om = 0;
    if (!s.Digits(2, &oh) || !s.Any(":") || !s.Digits(2, &om)) {
      return Bad(text, "expected an offset like +02:00 after '" + std::string(1, sign) + "'");
    }
    if (oh > 23 || om > 59) {
      return Bad(text, "offset " + std::string(1, sign) + TwoDigits(oh) + ":" + TwoDigits(om) +
                           " is out of range");
    }
    offset = (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return Bad(text, "expected 'Z' or an offset like +02:00 after the time");
  }
  if (!s.AtEnd()) {
    return Bad(text,
               "unexpected trailing characters '" + std::string(s.Rest().substr(0, 16)) + "'");
  }
  // The local time minus its offset is UTC.
  return days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset;
}

std::string FormatTime(Time t) {
  std::int64_t days = t / kSecondsPerDay;
  std::int64_t secs = t % kSecondsPerDay;
  if (secs < 0) {
    secs += kSecondsPerDay;
    days -= 1;
  }
  Civil c = CivilFromDays(days);
  char year[32];
  if (c.year >= 0 && c.year <= 9999) {
    std::snprintf(year, sizeof year, "%04" PRId64, c.year);
  } else if (c.year < 0) {
    std::snprintf(year, sizeof year, "-%04" PRId64, -c.year);
  } else {
    std::snprintf(year, sizeof year, "+%" PRId64, c.year);
  }
  char out[80];
  std::snprintf(out, sizeof out, "%s-%02d-%02dT%02d:%02d:%02dZ", year, c.month, c.day,
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return out;
}

Result<std::int64_t> ParseTimeMicros(std::string_view text) {
  auto seconds = ParseTime(text);
  if (!seconds) return Err(seconds.error());
  std::int64_t micros = 0;
  // ParseTime accepted the text, so a '.' after "HH:MM:SS" starts the fraction.
  size_t t = text.find_first_of("Tt");
  if (t != std::string_view::npos && t + 9 < text.size() && text[t + 9] == '.') {
    int digits = 0;
    for (size_t i = t + 10; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (digits < 6) {
        micros = micros * 10 + (text[i] - '0');
        ++digits;
      }
    }
    for (; digits < 6; ++digits) micros *= 10;
  }
  return *seconds * 1000000 + micros;
}

}  // namespace scaigrid::iam
