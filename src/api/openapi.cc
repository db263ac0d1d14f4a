#include "api/openapi.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <charconv>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>

namespace scaigrid::iam::api {
namespace json = boost::json;

namespace {

constexpr int kMaxDepth = 256;
constexpr std::size_t kMaxNodes = 1'000'000;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";

bool IsDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 8    ? (c >= '0' && c <= '7')
              : base == 10 ? (c >= '0' && c <= '9')
                           : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
    if (!ok) return false;
  }
  return true;
}

std::optional<bool> CoreBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool CoreNull(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

// YAML 1.2 core schema integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. Values beyond
// 64 bits become doubles (JSON has no bigger integer).
std::optional<json::value> CoreInt(std::string_view s) {
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    digits = s.substr(2);
  } else if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    digits = s.substr(1);
  }
  if (!IsDigits(digits, base)) return std::nullopt;
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec == std::errc() && end == digits.data() + digits.size()) {
    if (!negative) {
      if (magnitude <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return json::value(static_cast<std::int64_t>(magnitude));
      return json::value(magnitude);
    }
    if (magnitude <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1)
      return json::value(static_cast<std::int64_t>(0 - magnitude));
  }
  if (base != 10) return std::nullopt;  // too big to be anything but a string
  double d = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), d);
  if (r.ec != std::errc()) return std::nullopt;
  return json::value(negative ? -d : d);
}

// YAML 1.2 core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
// (.inf and .nan have no JSON form and are left to the caller).
std::optional<json::value> CoreFloat(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  std::size_t i = 0;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  double d = 0;
  auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ec != std::errc() || r.ptr != body.data() + body.size()) return std::nullopt;
  return json::value(negative ? -d : d);
}

class Converter {
 public:
  Result<json::value> Convert(const YAML::Node& node, int depth) {
    if (++nodes_ > kMaxNodes) return Err(Problem(node, "the document expands to more than a million nodes"));
    if (depth > kMaxDepth) return Err(Problem(node, "the document nests deeper than 256 levels"));
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json::value(nullptr);
      case YAML::NodeType::Scalar:
        return Scalar(node);
      case YAML::NodeType::Sequence: {
        json::array out;
        out.reserve(node.size());
        for (const YAML::Node& item : node) {
          auto v = Convert(item, depth + 1);
          if (!v) return v;
          out.push_back(std::move(*v));
        }
        return json::value(std::move(out));
      }
      case YAML::NodeType::Map: {
        json::object out;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) return Err(Problem(kv.first, "a map key must be a scalar"));
          const std::string& key = kv.first.Scalar();
          if (out.contains(key)) return Err(Problem(kv.first, "duplicate key '" + key + "'"));
          auto v = Convert(kv.second, depth + 1);
          if (!v) return v;
          out.emplace(key, std::move(*v));
        }
        return json::value(std::move(out));
      }
    }
    return Err(Problem(node, "unknown YAML node type"));
  }

 private:
  Result<json::value> Scalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    // "!": quoted or block scalar, always a string. Other non-core tags: strings too.
    if (tag == "!" || tag == kTagStr) return json::value(text);
    if (tag == "?") {
      if (CoreNull(text)) return json::value(nullptr);
      if (auto b = CoreBool(text)) return json::value(*b);
      if (auto i = CoreInt(text)) return *i;
      if (auto f = CoreFloat(text)) return *f;
      return json::value(text);
    }
    if (tag == kTagNull) {
      if (CoreNull(text)) return json::value(nullptr);
      return Err(Problem(node, "'" + text + "' is not a null"));
    }
    if (tag == kTagBool) {
      if (auto b = CoreBool(text)) return json::value(*b);
      return Err(Problem(node, "'" + text + "' is not a boolean"));
    }
    if (tag == kTagInt) {
      if (auto i = CoreInt(text)) return *i;
      return Err(Problem(node, "'" + text + "' is not an integer"));
    }
    if (tag == kTagFloat) {
      if (auto f = CoreFloat(text)) return *f;
      if (auto i = CoreInt(text)) return *i;
      return Err(Problem(node, "'" + text + "' is not a float with a JSON form"));
    }
    return json::value(text);
  }

  Status Problem(const YAML::Node& node, std::string message) const {
    const YAML::Mark mark = node.Mark();
    std::string where = mark.is_null() ? path_ : path_ + ":" + std::to_string(mark.line + 1);
    return Status::InvalidArgument(where + ": " + std::move(message));
  }

 public:
  std::string path_;

 private:
  std::size_t nodes_ = 0;
};

}  // namespace

Result<std::string> OpenApiJsonFromYaml(const std::string& yaml_path) {
  std::ifstream in(yaml_path, std::ios::binary);
  if (!in) return Err(Status::NotFound("cannot read '" + yaml_path + "'"));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Err(Status::NotFound("cannot read '" + yaml_path + "'"));
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    std::string where = yaml_path + (e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1));
    return Err(Status::InvalidArgument(where + ": invalid YAML: " + e.msg));
  }
  if (!root.IsMap()) return Err(Status::InvalidArgument("'" + yaml_path + "' is not a YAML map (an OpenAPI document is one)"));
  Converter converter;
  converter.path_ = yaml_path;
  try {
    auto value = converter.Convert(root, 0);
    if (!value) return Err(value.error());
    return json::serialize(*value);
  } catch (const YAML::Exception& e) {
    return Err(Status::InvalidArgument(yaml_path + ": invalid YAML: " + e.msg));
  }
}

}  // namespace scaigrid::iam::api
