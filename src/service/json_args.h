// JsonArgs: typed, validated access to a JSON request object, collecting every problem.
//
// Each getter records a problem ("field 'x' must be a string") instead of failing at once,
// and Finish() reports them all as one kInvalidArgument, plus every field the operation
// does not know. Thread-safety: one per request.
#pragma once

#include <boost/json/value.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/ids.h"
#include "scaigrid/iam/status.h"

namespace scaigrid::iam::service {

class JsonArgs {
 public:
  // `value` must outlive this object. A non-object is itself a problem.
  JsonArgs(const boost::json::value& value, std::initializer_list<std::string_view> known);

  std::optional<std::string> String(std::string_view field, bool required, size_t max_len = 256);
  std::optional<std::vector<std::string>> Strings(std::string_view field, bool required,
                                                  size_t max_items = 1000);
  std::optional<Time> TimeField(std::string_view field);  // RFC 3339 or date
  std::optional<bool> Bool(std::string_view field);
  std::optional<std::int64_t> Int(std::string_view field, std::int64_t min, std::int64_t max);
  const boost::json::value* Raw(std::string_view field) const;

  void Problem(std::string message) { problems_.push_back(std::move(message)); }
  // kInvalidArgument listing every problem, or OK.
  Status Finish();

 private:
  const boost::json::object* object_ = nullptr;
  std::vector<std::string> problems_;
};

}  // namespace scaigrid::iam::service
