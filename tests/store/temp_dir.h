// TempDir: a fresh directory under /tmp for one test, removed with its contents on
// destruction. Thread-safety: one owner.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace scaigrid::iam::store {

class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/scaigrid_store_XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }

  // Empty when mkdtemp failed (errno says why).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace scaigrid::iam::store
