// Feeds: one API request straight into ApiHandler::Handle (routing, authentication, query
// decoding, JSON body decoding and the service's argument validation, then the store), on the
// in-process service of service_fixture.h. Input: "METHOD TARGET\n", header lines
// "name: value\n", an empty line, then the body; "$KEY" stands for the super_admin key, which
// is sent when no Authorization header is given.
// Asserts: CheckResponse (no 500, a valid status, valid JSON, the error body shape); an
// exception escaping the handler (which the server would answer with 500) aborts too.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "service_fixture.h"

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  scaigrid::iam::fuzz::ServiceFixture::Get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scaigrid::iam;
  fuzz::ServiceFixture& f = fuzz::ServiceFixture::Get();
  std::string_view text = fuzz::AsText(data, size);
  auto next_line = [&text]() {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    return line;
  };

  http::HttpRequest r{.remote_address = "127.0.0.1", .request_id = "fuzz"};
  const std::string_view first = next_line();
  const std::size_t space = first.find(' ');
  if (space == std::string_view::npos) return 0;
  r.method = std::string(first.substr(0, space));
  r.target = f.ExpandKey(first.substr(space + 1));
  const std::size_t question = r.target.find('?');
  r.path = r.target.substr(0, question);
  if (question != std::string::npos) r.query = r.target.substr(question + 1);
  bool has_auth = false;
  while (!text.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string value(line.substr(colon + 1));
    value.erase(0, value.find_first_not_of(' '));
    r.headers.emplace_back(Lower(line.substr(0, colon)), f.ExpandKey(value));
    has_auth = has_auth || r.headers.back().first == "authorization";
  }
  if (!has_auth) r.headers.emplace_back("authorization", "Bearer " + f.key());
  r.body = std::string(text);

  const http::HttpResponse response = f.Call(r);
  fuzz::CheckResponse(response, r.method + " " + r.target + "\n" + r.body);
  return 0;
}
