#include "model/yaml_reader.h"

#include <algorithm>
#include <set>

namespace scaigrid::iam {

std::string QuoteValue(std::string_view v) {
  std::string out = "'";
  out.append(v.substr(0, 200));
  out += "'";
  return out;
}

void YamlReader::Error(int line, const std::string& message) {
  errors_.push_back(file_ + ":" + std::to_string(line) + ": " + message);
}

void YamlReader::OnlyFields(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                            std::string_view where) {
  std::set<std::string> seen;
  for (const auto& kv : map) {
    std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string expected;
      for (std::string_view a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
      Error(kv.first, "unknown field " + QuoteValue(name) + " in " + std::string(where) +
                          " (expected " + expected + ")");
    } else if (!seen.insert(name).second) {
      Error(kv.first, "duplicate field " + QuoteValue(name) + " in " + std::string(where));
    }
  }
}

std::optional<Located> YamlReader::String(const YAML::Node& parent, const char* field,
                                          bool required, std::string_view where) {
  const YAML::Node n = parent[field];
  std::string in = where.empty() ? "" : " in " + std::string(where);
  if (!n) {
    if (required) Error(parent, "missing required field '" + std::string(field) + "'" + in);
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    Error(n, "field '" + std::string(field) + "'" + in + " must be a string");
    return std::nullopt;
  }
  return Located{n.Scalar(), LineOf(n)};
}

bool YamlReader::Bool(const YAML::Node& parent, const char* field) {
  const YAML::Node n = parent[field];
  if (!n) return false;
  if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
  Error(n, "field '" + std::string(field) + "' must be true or false");
  return false;
}

}  // namespace scaigrid::iam
