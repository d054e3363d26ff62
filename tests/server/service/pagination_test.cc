// The pagination helper every List and Search handler uses.
#include "server/service/pagination.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chatgenius {
namespace {

const PageTokenCodec& Codec() {
  static const auto* codec = new PageTokenCodec("pagination-test-key-0123456789");
  return *codec;
}

// FinishPage over ids, collecting what it adds.
std::string Finish(std::vector<std::string> rows, int page_size, bool cut,
                   std::vector<std::string>* added) {
  return FinishPage(
      Codec(), "q", rows, page_size, cut, [&](std::string& r) { added->push_back(r); },
      [](const std::string& r) { return std::vector<std::string>{r}; });
}

TEST(PageCursorTest, AnEmptyTokenIsTheFirstPage) {
  absl::StatusOr<PageCursor> c = PageCursor::Decode(Codec(), "q", "", 1);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->first_page());
  EXPECT_EQ(c->key(0), "");
  EXPECT_EQ(c->key(0, "from-request"), "from-request");
}

TEST(PageCursorTest, ATokenCarriesItsKeysForItsQueryOnly) {
  const std::string token = Codec().Encode("q", {"a", "b"});
  absl::StatusOr<PageCursor> c = PageCursor::Decode(Codec(), "q", token, 2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->first_page());
  EXPECT_EQ(c->key(0, "ignored"), "a");
  EXPECT_EQ(c->key(1), "b");
  absl::StatusOr<PageCursor> other = PageCursor::Decode(Codec(), "another query", token, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(other.status())) << other.status();
  absl::StatusOr<PageCursor> count = PageCursor::Decode(Codec(), "q", token, 1);
  EXPECT_TRUE(absl::IsInvalidArgument(count.status())) << count.status();
  EXPECT_EQ(count.status().message(), "page_token: malformed");
}

TEST(FinishPageTest, OneRowMoreThanThePageMeansANextPageAfterTheLastKeptRow) {
  std::vector<std::string> added;
  const std::string token = Finish({"1", "2", "3"}, 2, false, &added);
  EXPECT_EQ(added, (std::vector<std::string>{"1", "2"})) << "the extra row is not sent";
  absl::StatusOr<PageCursor> next = PageCursor::Decode(Codec(), "q", token, 1);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->key(0), "2");
}

TEST(FinishPageTest, AFullPageWithoutTheExtraRowIsTheLast) {
  std::vector<std::string> added;
  EXPECT_EQ(Finish({"1", "2"}, 2, false, &added), "");
  EXPECT_EQ(added.size(), 2u);
}

TEST(FinishPageTest, APageTheStoreCutShortStillHasANextPage) {
  std::vector<std::string> added;
  const std::string token = Finish({"1"}, 50, /*cut=*/true, &added);
  ASSERT_FALSE(token.empty()) << "a byte budget ended the page early";
  EXPECT_EQ(PageCursor::Decode(Codec(), "q", token, 1)->key(0), "1");
  EXPECT_EQ(Finish({}, 50, /*cut=*/true, &added), "") << "nothing to continue after";
}

}  // namespace
}  // namespace chatgenius
