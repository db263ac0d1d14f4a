// `scaigrid-iam manifest lint`: parses manifests and compiles them into a Registry, printing
// every problem as FILE:LINE: message.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "scaigrid/iam/manifest.h"
#include "scaigrid/iam/registry.h"

namespace scaigrid::iam::cli {
namespace {

struct LintOptions {
  std::vector<std::string> files;
  std::string with_dir;
};

// Appends the problems a failed load reports: its details, or its message when it has none.
void AddProblems(const Status& s, std::vector<std::string>& problems) {
  if (s.details().empty()) problems.push_back(s.message());
  problems.insert(problems.end(), s.details().begin(), s.details().end());
}

int RunLint(const LintOptions& options, CliContext& context) {
  std::vector<std::string> problems;
  std::vector<Manifest> manifests;
  std::set<std::string> modules;
  size_t keys = 0;
  for (const std::string& file : options.files) {
    auto m = LoadManifestFile(file);
    if (!m) {
      AddProblems(m.error(), problems);
      continue;
    }
    keys += m->permissions.size();
    modules.insert(m->module);
    manifests.push_back(std::move(*m));
  }
  const size_t linted = manifests.size();
  size_t others = 0;
  if (!options.with_dir.empty()) {
    auto with = LoadManifestDir(options.with_dir);
    if (!with) {
      AddProblems(with.error(), problems);
    } else {
      // A linted file replaces the manifest of the same module in DIR (a new version).
      for (Manifest& m : *with) {
        if (modules.contains(m.module)) continue;
        manifests.push_back(std::move(m));
        ++others;
      }
    }
  }
  // Cross-file checks are only meaningful once every file parses.
  if (problems.empty()) {
    auto registry = Registry::Build(std::move(manifests));
    if (!registry) AddProblems(registry.error(), problems);
  }
  if (!problems.empty()) {
    for (const std::string& p : problems) context.err << p << "\n";
    return kExitError;
  }
  context.out << "ok: " << linted << " manifest(s), " << keys << " key(s)";
  if (!options.with_dir.empty()) {
    context.out << " (checked with " << others << " other manifest(s) from " << options.with_dir
                << ")";
  }
  context.out << "\n";
  return kExitOk;
}

}  // namespace

void AddManifestCommands(CLI::App& app, CliContext& context) {
  CLI::App* manifest = app.add_subcommand("manifest", "Work with module manifests");
  manifest->require_subcommand(1);
  auto options = std::make_shared<LintOptions>();
  CLI::App* lint = manifest->add_subcommand(
      "lint",
      "Check manifests: syntax, keys, implications, roles, references between modules. "
      "Prints every problem as FILE:LINE: message");
  lint->add_option("files", options->files, "Manifest files (YAML)")->type_name("FILE")->required();
  lint->add_option("--with", options->with_dir,
                   "Directory of other manifests the files may reference (a file replaces the "
                   "manifest of the same module there)")
      ->type_name("DIR");
  lint->callback([options, &context] { context.exit_code = RunLint(*options, context); });
}

}  // namespace scaigrid::iam::cli
