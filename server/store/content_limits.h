// content_limits.h
//
// ContentLimits bound what accumulates on one message, so a message view
// (which embeds its reactions and attachments) stays small however many
// callers pile onto it. The stores check them inside the writing
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
};

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_STORE_CONTENT_LIMITS_H_
