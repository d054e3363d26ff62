// content_limits.h
//
// ContentLimits bound what accumulates on one message, so a message view
// (which embeds its reactions and attachments) stays small however many
// callers pile onto it, and what one listing or search may cost. The stores check them inside the writing
// transaction with the message row locked, so concurrent writers cannot
// overshoot; the refusal is FAILED_PRECONDITION naming the setting. The
// defaults follow Slack's (10 files per message, 50 distinct reactions).
#ifndef CHATGENIUS_SERVER_STORE_CONTENT_LIMITS_H_
#define CHATGENIUS_SERVER_STORE_CONTENT_LIMITS_H_

namespace chatgenius {

struct ContentLimits {
  int max_attachments_per_message = 10;         // MAX_ATTACHMENTS_PER_MESSAGE
  int max_emoji_per_message = 50;               // MAX_EMOJI_PER_MESSAGE (distinct emoji)
  int max_reactions_per_user_per_message = 20;  // MAX_REACTIONS_PER_USER_PER_MESSAGE
  // A page of messages stops once their content passes this many bytes
  // (plus kRowOverheadBytes each); the page that would pass it ends early
  // with a next page token. Below gRPC's default 4 MiB receive limit, with
  // room for the one message that crosses it.
  int max_response_bytes = 3 << 20;  // MAX_RESPONSE_BYTES
  // Search ranks only the newest this many matches of a query: the work of
  // one SearchMessages stays bounded however common its words.
  int search_max_candidates = 10000;  // SEARCH_MAX_CANDIDATES
};

// What a message row costs in a response beyond its content: author,
// times, ids, and the reactions and attachments the caps above bound.
inline constexpr int kRowOverheadBytes = 1024;

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_CONTENT_LIMITS_H_
