// cli_import.h
//
// chatgenius-db import-legacy --from=<libpq conninfo or URL> [--dry_run]
//     [--batch_size=N]
//
// Copies a database of the old TypeScript module into the configured one
// (POSTGRES_* / SSH_* like `setup`: through the tunnel when SSH_HOST is
// set, as the migration role); see docs/IMPORT.md. On a terminal, stderr
// shows a progress bar per table; stdout ends with the summary table (with
// --json, the summary as JSON). Exit 0 when the import finished, 1 on an
// error (after printing what was done), 2 for bad flags.
#ifndef CHATGENIUS_CLIENT_CLI_IMPORT_H_
#define CHATGENIUS_CLIENT_CLI_IMPORT_H_

#include <string>

// RunImportLegacy imports into `target_conninfo`.
int RunImportLegacy(const std::string& target_conninfo);

#endif  // CHATGENIUS_CLIENT_CLI_IMPORT_H_
