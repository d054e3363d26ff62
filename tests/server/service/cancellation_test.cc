// A call cancelled by its client stops its statement in PostgreSQL and gives
// its connection back, instead of running until the deadline.
#include <thread>

#include <pqxx/pqxx>

#include "chatgenius/db/v1/admin_service.grpc.pb.h"
#include "tests/support/domain_fixture.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;

class CancellationTest : public testing::DomainTest {
 protected:
  int PoolInUse() {
    auto admin = v1::AdminService::NewStub(server_.channel());
    v1::PoolStats stats;
    EXPECT_TRUE(admin->GetPoolStats(Ctx().get(), {}, &stats).ok());
    return stats.in_use();
  }
};

TEST_F(CancellationTest, CancelledCallStopsItsStatement) {
  v1::User ada = User("ada");
  v1::Channel general = Channel(ada, "general");

  // Another session holds the channel row, so UpdateChannel blocks on it.
  pqxx::connection blocker(db_.conninfo());
  pqxx::work hold(blocker);
  hold.exec("SELECT 1 FROM channels WHERE id = " + hold.quote(general.id()) + " FOR UPDATE");

  grpc::ClientContext context;
  testing::SetDeadline(&context, absl::Seconds(60));
  grpc::Status result;
  std::thread caller([&] {
    v1::UpdateChannelRequest r;
    r.mutable_channel()->set_id(general.id());
    r.mutable_channel()->set_description("blocked");
    r.mutable_update_mask()->add_paths("description");
    r.set_actor_id(ada.id());
    v1::Channel out;
    result = channels_->UpdateChannel(&context, r, &out);
  });

  ASSERT_EQ(db_.WaitForLockWaiters(1, absl::Seconds(10)), 1)
      << "the update should be waiting for the row lock";
  EXPECT_GE(PoolInUse(), 1);

  context.TryCancel();
  caller.join();
  EXPECT_EQ(result.error_code(), grpc::StatusCode::CANCELLED);

  // The readiness probe borrows a connection for a moment every 100 ms, so
  // "returned" means in_use reaches 0, not that every sample is 0.
  int waiting = 1, in_use = 1;
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while ((waiting > 0 || in_use > 0) && absl::Now() < until) {
    waiting = db_.LockWaiters();
    in_use = PoolInUse();
    if (waiting > 0 || in_use > 0) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(waiting, 0) << "the statement must be cancelled in PostgreSQL, not left "
                           "waiting until the 60 s deadline";
  EXPECT_EQ(in_use, 0) << "the connection returns to the pool";
  hold.commit();

  v1::GetChannelRequest g;
  g.set_id(general.id());
  g.set_viewer_id(general.created_by());
  v1::Channel after;
  ASSERT_TRUE(channels_->GetChannel(Ctx().get(), g, &after).ok());
  EXPECT_EQ(after.description(), "") << "the cancelled update wrote nothing";
}

}  // namespace
}  // namespace chatgenius
