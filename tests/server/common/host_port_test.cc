#include "server/common/host_port.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chatgenius {
namespace {

TEST(SplitHostPortTest, SplitsHostsAndBracketedIpv6) {
  absl::StatusOr<HostPort> v4 = SplitHostPort("127.0.0.1:50051");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 50051);

  absl::StatusOr<HostPort> v6 = SplitHostPort("[::1]:9090");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9090);

  absl::StatusOr<HostPort> any = SplitHostPort(":0");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->host, "");
  EXPECT_EQ(any->port, 0);
}

TEST(SplitHostPortTest, RefusesWhatIsNotHostPort) {
  for (const char* bad : {"localhost", "localhost:", "localhost:http", "h:65536", "h:-1", "::1:80",
                          "[::1:80", "::1]:80", ""}) {
    absl::StatusOr<HostPort> r = SplitHostPort(bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed as " << r->host << " " << r->port;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(absl::StrCat("got '", bad, "'")), std::string::npos)
        << r.status();
  }
}

TEST(IsLoopbackHostTest, OnlyThisMachine) {
  for (const char* host : {"localhost", "::1", "127.0.0.1", "127.1.2.3", "127.255.255.255"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "127.example.com", "127.0.0",
                           "localhost.example.com", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

}  // namespace
}  // namespace chatgenius
