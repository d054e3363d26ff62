// TokenAuthProcessor against an AuthContext kept across calls, as gRPC
// keeps one per connection.
#include "server/auth/token_auth_processor.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

// AuthPropertyIterator's constructors are protected: a subclass makes the
// empty one (the processor never iterates).
struct NoProperties : grpc::AuthPropertyIterator {
  NoProperties() : grpc::AuthPropertyIterator() {}
};

// One connection's context: properties accumulate across calls.
class ConnectionContext : public grpc::AuthContext {
 public:
  bool IsPeerAuthenticated() const override { return false; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> out;
    for (const auto& [k, v] : properties_) {
      if (k == name) out.emplace_back(v);
    }
    return out;
  }
  grpc::AuthPropertyIterator begin() const override { return NoProperties(); }
  grpc::AuthPropertyIterator end() const override { return NoProperties(); }
  void AddProperty(const std::string& key, const grpc::string_ref& value) override {
    properties_.emplace_back(key, std::string(value.data(), value.size()));
  }
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }
  size_t size() const { return properties_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> properties_;
};

// sha256("s3cret-gateway") and sha256("s3cret-ops").
constexpr char kTokens[] =
    "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n"
    "28bfc45beaaf3948f86a6e59325166f5cae0f9d9be493f380bad4368f7225a63  ops  roles=admin\n";

grpc::Status Call(TokenAuthProcessor& p, ConnectionContext& connection, const std::string& path,
                  const std::string& token) {
  const std::string bearer = "Bearer " + token;
  grpc::AuthMetadataProcessor::InputMetadata in;
  in.emplace(":path", path);
  in.emplace("authorization", bearer);
  grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
  return p.Process(in, &connection, &consumed, &response);
}

TEST(TokenAuthProcessorTest, ALongLivedConnectionsContextDoesNotGrow) {
  TokenAuthProcessor processor(*BearerTokens::Parse(kTokens), {"grpc.health.v1.Health"});
  ConnectionContext connection;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(Call(processor, connection, "/chatgenius.db.v1.UserService/GetUser",
                     i % 2 ? "s3cret-gateway" : "s3cret-ops")
                    .ok());
  }
  EXPECT_EQ(connection.size(), 1u) << "one caller property per connection, not one per call";
  EXPECT_EQ(connection.FindPropertyValues(kCallerProperty)[0], "ops") << "the first call's";
}

TEST(TokenAuthProcessorTest, EachCallIsJudgedByItsOwnToken) {
  TokenAuthProcessor processor(*BearerTokens::Parse(kTokens), {"grpc.health.v1.Health"});
  ConnectionContext connection;
  const std::string admin = "/chatgenius.db.v1.AdminService/GetPoolStats";
  EXPECT_TRUE(Call(processor, connection, admin, "s3cret-ops").ok());
  // The connection now carries "ops"; the next call's token decides.
  EXPECT_EQ(Call(processor, connection, admin, "s3cret-gateway").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Call(processor, connection, admin, "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(processor.refused_total(), 2);
}

}  // namespace
}  // namespace chatgenius
