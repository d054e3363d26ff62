// migration_service.h
//
// MigrationServiceImpl: reports and applies the migrations built into the
// binary, through Migrator.
#ifndef CHATGENIUS_SERVER_SERVICE_MIGRATION_SERVICE_H_
#define CHATGENIUS_SERVER_SERVICE_MIGRATION_SERVICE_H_

#include "chatgenius/db/v1/migration_service.grpc.pb.h"
#include "server/migrate/migrator.h"

namespace chatgenius {

// ToProto converts a migration report to the API message.
db::v1::MigrationStatus ToProto(const MigrationReport& report);

class MigrationServiceImpl final : public db::v1::MigrationService::Service {
 public:
  // `migrator` must outlive the service.
  explicit MigrationServiceImpl(const Migrator* migrator, absl::Duration max_statement_time);

  grpc::Status GetMigrationStatus(grpc::ServerContext* context,
                                  const db::v1::GetMigrationStatusRequest* request,
                                  db::v1::MigrationStatus* response) override;
  grpc::Status ApplyMigrations(grpc::ServerContext* context,
                               const db::v1::ApplyMigrationsRequest* request,
                               db::v1::MigrationStatus* response) override;

 private:
  const Migrator* const migrator_;
  const absl::Duration max_statement_time_;
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_SERVICE_MIGRATION_SERVICE_H_
