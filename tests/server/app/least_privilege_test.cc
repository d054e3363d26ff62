// Migrations as an owner role, serving as a DML-only role
// (docs/LEAST_PRIVILEGE.md): RPCs work, schema changes are refused.
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "server/common/ulid.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

// Drops the test's roles after the test database (which they own) is gone;
// roles are cluster-wide.
struct DropRoles {
  testing::TestDatabase* admin;
  std::string owner, app;
  ~DropRoles() {
    admin->AdminExec("DROP ROLE IF EXISTS " + owner);
    admin->AdminExec("DROP ROLE IF EXISTS " + app);
  }
};

TEST(LeastPrivilegeTest, ServingRoleWritesRowsButCannotChangeTheSchema) {
  const std::string tag = absl::AsciiStrToLower(NewUlid()).substr(16);
  const std::string owner = "cg_owner_" + tag;
  const std::string app = "cg_app_" + tag;
  testing::TestDatabase admin;  // destroyed last: runs the role cleanup
  DropRoles drop{&admin, owner, app};
  testing::TestDatabase db;
  db.AdminExec(absl::StrCat("CREATE ROLE ", owner, " LOGIN"));
  db.AdminExec(absl::StrCat("CREATE ROLE ", app, " LOGIN"));
  db.AdminExec(absl::StrCat("ALTER DATABASE ", db.name(), " OWNER TO ", owner));
  db.Query(absl::StrCat("ALTER SCHEMA public OWNER TO ", owner));
  db.Query(absl::StrCat("GRANT USAGE ON SCHEMA public TO ", app));
  db.Query(absl::StrCat("ALTER DEFAULT PRIVILEGES FOR ROLE ", owner,
                        " IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ",
                        app));
  db.Query(absl::StrCat("ALTER DEFAULT PRIVILEGES FOR ROLE ", owner,
                        " IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ", app));

  Config config = db.config();
  config.postgres_user = app;
  config.postgres_migration_user = owner;
  {
    testing::TestServer server(config);
    ASSERT_TRUE(
        server.WaitForHealth("", grpc::health::v1::HealthCheckResponse::SERVING, absl::Seconds(15)))
        << "migrated as the owner, serving as the app role";
    EXPECT_EQ(db.Query("SELECT tableowner FROM pg_tables WHERE tablename = 'messages'"), owner);
    auto client = client::Client::Create({server.address()});
    ASSERT_TRUE(client.ok());
    v1::CreateUserRequest cu;
    cu.mutable_user()->set_username("ada");
    cu.mutable_user()->set_email("ada@example.com");
    absl::StatusOr<v1::User> ada = (*client)->CreateUser(cu);
    ASSERT_TRUE(ada.ok()) << ada.status();
    v1::CreateChannelRequest cc;
    cc.mutable_channel()->set_name("general");
    cc.mutable_channel()->set_type(v1::CHANNEL_TYPE_PUBLIC);
    cc.set_creator_id(ada->id());
    absl::StatusOr<v1::Channel> general = (*client)->CreateChannel(cc);
    ASSERT_TRUE(general.ok()) << general.status() << " (writes rows and an event)";

    // The serving role, directly: rows yes, schema no.
    Config as_app = config;
    pqxx::connection conn(as_app.ConnInfo());
    for (const char* ddl : {"DROP TABLE messages", "ALTER TABLE users ADD COLUMN x int",
                            "CREATE TABLE intruder (x int)", "TRUNCATE events"}) {
      pqxx::nontransaction t(conn);
      try {
        t.exec(ddl);
        ADD_FAILURE() << ddl << " must be refused for the serving role";
      } catch (const pqxx::insufficient_privilege&) {
        // libpqxx's class for SQLSTATE 42501: refused, as it must be.
      } catch (const std::exception& e) {
        ADD_FAILURE() << ddl << " failed, but not with insufficient_privilege: " << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace chatgenius
