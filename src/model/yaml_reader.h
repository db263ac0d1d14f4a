// YamlReader: the shared base of the YAML document readers (manifests, policy files).
// Internal to the project (not a public header): it exposes yaml-cpp types.
//
// It collects problems as "FILE:LINE: message" instead of stopping at the first, and
// offers the checks every reader needs: only known fields, each once; scalar fields;
// booleans. Thread-safety: one reader per thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scaigrid/iam/manifest.h"

namespace scaigrid::iam {

// Quotes a user-supplied value for a message, cutting it at 200 characters.
std::string QuoteValue(std::string_view v);

class YamlReader {
 public:
  explicit YamlReader(std::string_view file) : file_(file) {}

  void Error(int line, const std::string& message);
  void Error(const YAML::Node& at, const std::string& message) { Error(LineOf(at), message); }
  static int LineOf(const YAML::Node& n) { return n.Mark().line + 1; }
  bool failed() const { return !errors_.empty(); }
  std::vector<std::string>& errors() { return errors_; }

  // Reports every field of `map` not in `allowed`, and every field given twice.
  void OnlyFields(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                  std::string_view where);
  // A scalar field; a missing required one is reported at `parent`'s line.
  std::optional<Located> String(const YAML::Node& parent, const char* field, bool required,
                                std::string_view where = {});
  // An optional true/false field (false when absent).
  bool Bool(const YAML::Node& parent, const char* field);

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace scaigrid::iam
