// import_tables.h
//
// The legacy import's table writers, in the order ImportLegacy runs them
// (each one's rows refer only to rows of the ones before): each reads its
// old table through run.source(), makes the values fit (legacy_mapping.h),
// writes this schema's rows in run's batches and counts every source row in
// run.report(). docs/IMPORT.md has every choice they make.
#ifndef CHATGENIUS_SERVER_IMPORTER_IMPORT_TABLES_H_
#define CHATGENIUS_SERVER_IMPORTER_IMPORT_TABLES_H_

#include "absl/status/status.h"
#include "server/importer/import_run.h"

namespace chatgenius {

// import_people.cc
absl::Status ImportUsers(ImportRun& run);
absl::Status ImportStatuses(ImportRun& run);
// import_channels.cc
absl::Status ImportChannels(ImportRun& run);
absl::Status ImportMemberships(ImportRun& run);
absl::Status ImportReadMarkers(ImportRun& run);  // after the messages
// import_messages.cc
absl::Status ImportMessages(ImportRun& run);
absl::Status ImportReactions(ImportRun& run);
absl::Status ImportFiles(ImportRun& run);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_IMPORT_TABLES_H_
