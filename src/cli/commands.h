// The scaigrid-iam subcommands. Each Add… function registers its subcommands on `app`; the
// one the user picks runs after parsing, writes to context.out / context.err and sets
// context.exit_code. The semantics and output formats are documented in docs/cli.md.
//
// Thread-safety: single-threaded; `context` must outlive the parse of `app`.
#pragma once

#include "cli/common.h"

namespace scaigrid::iam::cli {

// `manifest lint FILE… [--with DIR]`.
void AddManifestCommands(CLI::App& app, CliContext& context);

// `check --subject S --permission K --scope X …`.
void AddCheckCommand(CLI::App& app, CliContext& context);

// `permissions`, `who-can` and `roles`.
void AddListingCommands(CLI::App& app, CliContext& context);

// serve, bootstrap.
void AddServeCommands(CLI::App& app, CliContext& context);

// audit verify, audit query, audit export.
void AddAuditCommands(CLI::App& app, CliContext& context);

// export, import (store_commands.cc).
void AddStoreCommands(CLI::App& app, CliContext& context);

}  // namespace scaigrid::iam::cli
