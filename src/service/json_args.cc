#include "service/json_args.h"

#include <boost/json.hpp>

#include "scaigrid/iam/time_format.h"

namespace scaigrid::iam::service {
namespace json = boost::json;

JsonArgs::JsonArgs(const json::value& value, std::initializer_list<std::string_view> known) {
  object_ = value.if_object();
  if (object_ == nullptr) {
    problems_.push_back("the request body must be a JSON object");
    return;
  }
  for (const auto& kv : *object_) {
    std::string_view k(kv.key().data(), kv.key().size());
    bool ok = false;
    for (std::string_view n : known) ok = ok || n == k;
    if (!ok) {
      std::string expected;
      for (std::string_view n : known) expected += (expected.empty() ? "" : ", ") + std::string(n);
      problems_.push_back("unknown field '" + std::string(k.substr(0, 64)) + "' (expected " + expected + ")");
    }
  }
}

const json::value* JsonArgs::Raw(std::string_view field) const {
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(field);
  return it == object_->end() || it->value().is_null() ? nullptr : &it->value();
}

std::optional<std::string> JsonArgs::String(std::string_view field, bool required, size_t max_len) {
  const json::value* v = Raw(field);
  if (v == nullptr) {
    if (required && object_ != nullptr) problems_.push_back("missing required field '" + std::string(field) + "'");
    return std::nullopt;
  }
  if (!v->is_string()) {
    problems_.push_back("field '" + std::string(field) + "' must be a string");
    return std::nullopt;
  }
  std::string s(v->get_string());
  if (s.size() > max_len) {
    problems_.push_back("field '" + std::string(field) + "' is longer than " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<std::string>> JsonArgs::Strings(std::string_view field, bool required, size_t max_items) {
  const json::value* v = Raw(field);
  if (v == nullptr) {
    if (required && object_ != nullptr) problems_.push_back("missing required field '" + std::string(field) + "'");
    return std::nullopt;
  }
  const json::array* a = v->if_array();
  if (a == nullptr) {
    problems_.push_back("field '" + std::string(field) + "' must be a list of strings");
    return std::nullopt;
  }
  if (a->size() > max_items) {
    problems_.push_back("field '" + std::string(field) + "' has more than " + std::to_string(max_items) + " entries");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& e : *a) {
    if (!e.is_string() || e.get_string().size() > 256) {
      problems_.push_back("field '" + std::string(field) + "' must be a list of strings of at most 256 characters");
      return std::nullopt;
    }
    out.emplace_back(e.get_string());
  }
  return out;
}

std::optional<Time> JsonArgs::TimeField(std::string_view field) {
  auto s = String(field, false, 64);
  if (!s) return std::nullopt;
  auto t = ParseTime(*s);
  if (!t) {
    problems_.push_back("field '" + std::string(field) + "': " + t.error().message());
    return std::nullopt;
  }
  return *t;
}

std::optional<bool> JsonArgs::Bool(std::string_view field) {
  const json::value* v = Raw(field);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    problems_.push_back("field '" + std::string(field) + "' must be true or false");
    return std::nullopt;
  }
  return v->get_bool();
}

std::optional<std::int64_t> JsonArgs::Int(std::string_view field, std::int64_t min, std::int64_t max) {
  const json::value* v = Raw(field);
  if (v == nullptr) return std::nullopt;
  std::int64_t out = 0;
  if (v->is_int64()) out = v->get_int64();
  else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) out = static_cast<std::int64_t>(v->get_uint64());
  else {
    problems_.push_back("field '" + std::string(field) + "' must be an integer");
    return std::nullopt;
  }
  if (out < min || out > max) {
    problems_.push_back("field '" + std::string(field) + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return out;
}

Status JsonArgs::Finish() {
  if (problems_.empty()) return Status::Ok();
  if (problems_.size() == 1) return Status::InvalidArgument(std::move(problems_[0]));
  std::string message = std::to_string(problems_.size()) + " problems in the request";
  return Status::InvalidArgument(std::move(message), std::move(problems_));
}

}  // namespace scaigrid::iam::service
