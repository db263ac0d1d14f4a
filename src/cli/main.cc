// scaigrid-iam: the ScaiGrid IAM command line. Offline subcommands work from the module
// manifests and a policy file (docs/cli.md); the server subcommands come later.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli/commands.h"
#include "scaigrid/iam/engine.h"

int main(int argc, char** argv) {
  using namespace scaigrid::iam;
  SystemClock clock;
  cli::CliContext context{std::cout, std::cerr, clock};
  CLI::App app{"ScaiGrid IAM: multi-tenant role-based access control", "scaigrid-iam"};
  app.set_version_flag("--version", "scaigrid-iam " SCAIGRID_VERSION);
  app.require_subcommand(1);
  cli::AddManifestCommands(app, context);
  cli::AddCheckCommand(app, context);
  cli::AddListingCommands(app, context);
  cli::AddServeCommands(app, context);
  cli::AddAuditCommands(app, context);
  cli::AddStoreCommands(app, context);
  // CLI11 reports usage errors (and --help, --version) by throwing.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? cli::kExitOk : cli::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "error: internal: " << e.what() << "\n";
    return cli::kExitError;
  }
  return context.exit_code;
}
