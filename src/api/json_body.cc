#include "api/json_body.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <cmath>
#include <string>
#include <unordered_set>
#include <vector>

#include "http/errors.h"

namespace scaigrid::iam::api {
namespace {

namespace json = boost::json;

// A basic_parser handler that builds nothing and remembers the first key an object repeats.
struct DuplicateKeyFinder {
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  std::vector<std::unordered_set<std::string>> open;  // the keys of each object being read
  std::string key;                                    // the key being read
  std::string duplicate;                              // the first key seen twice, if any
  bool non_finite = false;                            // a number beyond a double (1e400)

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    open.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key.append(s.data(), s.size());
    if (!open.back().insert(key).second) {
      duplicate = std::move(key);
      ec = json::error::syntax;  // stop here: the caller reports the key
      return false;
    }
    key.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double d, json::string_view, json::error_code& ec) {
    if (std::isfinite(d)) return true;
    non_finite = true;  // it would be written back as text that is not JSON
    ec = json::error::syntax;
    return false;
  }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

Status Malformed(std::string message) {
  return Status::InvalidArgument(std::move(message)).WithReason("malformed_json");
}

}  // namespace

Result<json::value> ParseJsonBody(std::string_view body) {
  if (body.empty()) return Err(Status::InvalidArgument("the request needs a JSON body"));
  if (http::ToValidUtf8(body) != body) return Err(Malformed("the request body is not valid UTF-8 (JSON text must be UTF-8)"));
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  json::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec, {}, opts);
  if (ec) return Err(Malformed("malformed JSON body: " + ec.message()));
  // A well-formed body: read it once more for keys an object names twice.
  json::basic_parser<DuplicateKeyFinder> finder(opts);
  finder.write_some(false, body.data(), body.size(), ec);
  if (finder.handler().non_finite) return Err(Malformed("malformed JSON body: a number is beyond the range of a double"));
  if (!finder.handler().duplicate.empty()) {
    std::string key = http::ToValidUtf8(finder.handler().duplicate.substr(0, 64));
    return Err(Malformed("malformed JSON body: key '" + key + "' appears twice in one object"));
  }
  return v;
}

}  // namespace scaigrid::iam::api
