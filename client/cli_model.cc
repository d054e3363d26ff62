#include "client/cli_model.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <optional>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, channel);
ABSL_DECLARE_FLAG(std::string, viewer);
ABSL_DECLARE_FLAG(std::string, user);

ABSL_FLAG(std::string, username, "", "create-user: username");
ABSL_FLAG(std::string, email, "", "create-user: email");
ABSL_FLAG(std::string, display_name, "", "create-user: display name");
ABSL_FLAG(std::string, author, "", "post-message: author user id");
ABSL_FLAG(std::string, content, "", "post-message: text");
ABSL_FLAG(std::string, thread, "", "post-message: thread parent message id");
ABSL_FLAG(std::string, client_msg_id, "", "post-message: idempotency key");
ABSL_FLAG(int, limit, 20, "list-messages, search-messages: page size");
ABSL_FLAG(std::string, name, "", "create-channel: name");
ABSL_FLAG(std::string, description, "", "create-channel: description");
ABSL_FLAG(std::string, creator, "", "create-channel: the creating user (its first owner)");
ABSL_FLAG(bool, private_channel, false, "create-channel: members-only (default public)");
ABSL_FLAG(bool, public_only, false, "list-channels: the public channels, not --user's own");
ABSL_FLAG(bool, archived, false, "list-channels: include archived channels");
ABSL_FLAG(std::string, actor, "", "archive/unarchive-channel, add/remove-member: acting user");
ABSL_FLAG(std::string, member, "", "add-member, remove-member: the user added or removed");
ABSL_FLAG(std::string, role, "member", "add-member: member, admin or owner");
ABSL_FLAG(std::string, message, "", "get-message, react, mark-read: message id");
ABSL_FLAG(std::string, query, "", "search-messages: websearch syntax");
ABSL_FLAG(std::string, emoji, "", "react, set-status: emoji shortcode (:tada:)");
ABSL_FLAG(std::string, presence, "", "set-status: online, away or offline");
ABSL_FLAG(std::string, text, "", "set-status: status text");

namespace {

namespace v1 = ::chatgenius::db::v1;
using chatgenius::client::Client;

bool JsonOutput() { return absl::GetFlag(FLAGS_json); }

// Invoke runs one unary call (Client::Call: the client's deadline and
// token). On success prints the response as JSON (--json), else with
// `brief`, else as proto text.
template <typename Response, typename Request, typename Rpc>
int Invoke(Client& client, Rpc rpc, const Request& request,
           const std::function<void(const Response&)>& brief = nullptr) {
  absl::StatusOr<Response> response = client.Call<Response>(rpc, request);
  if (!response.ok()) return Fail(response.status());
  if (JsonOutput() || !brief) {
    Print(*response);
  } else {
    brief(*response);
  }
  return 0;
}

template <typename T>
void PrintId(const T& object) {
  std::cout << object.id() << "\n";
}

void PrintMessages(const google::protobuf::RepeatedPtrField<v1::Message>& messages) {
  std::printf("%-26s %-16s %-7s %s\n", "ID", "AUTHOR", "REPLIES", "CONTENT");
  for (const v1::Message& m : messages) {
    std::printf("%-26s %-16s %-7d %s\n", m.id().c_str(), m.author().username().c_str(),
                m.reply_count(), m.content().substr(0, 60).c_str());
  }
}

// The channel and acting user of the channel-changing commands.
template <typename Request>
Request ChannelAct() {
  Request r;
  r.set_id(absl::GetFlag(FLAGS_channel));
  r.set_actor_id(absl::GetFlag(FLAGS_actor));
  return r;
}

// A flag naming a value outside its set is a usage error (exit 2), before
// any call.
int BadFlag(const std::string& flag, const std::string& allowed) {
  std::cerr << "usage error: --" << flag << ": must be " << allowed << "\n";
  return 2;
}

std::optional<v1::MemberRole> RoleFlag() {
  const std::string role = absl::AsciiStrToLower(absl::GetFlag(FLAGS_role));
  if (role == "owner") return v1::MEMBER_ROLE_OWNER;
  if (role == "admin") return v1::MEMBER_ROLE_ADMIN;
  if (role == "member") return v1::MEMBER_ROLE_MEMBER;
  return std::nullopt;
}

std::optional<v1::Presence> PresenceFlag() {
  const std::string p = absl::AsciiStrToLower(absl::GetFlag(FLAGS_presence));
  if (p == "online") return v1::PRESENCE_ONLINE;
  if (p == "away") return v1::PRESENCE_AWAY;
  if (p == "offline") return v1::PRESENCE_OFFLINE;
  return std::nullopt;
}

using Command = std::function<int(Client&)>;

const std::map<std::string, Command>& UserCommands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"create-user",
       [](Client& c) {
         v1::CreateUserRequest r;
         r.mutable_user()->set_username(absl::GetFlag(FLAGS_username));
         r.mutable_user()->set_email(absl::GetFlag(FLAGS_email));
         r.mutable_user()->set_display_name(absl::GetFlag(FLAGS_display_name));
         return Invoke<v1::User>(
             c, [&](auto* x, auto& q, auto* p) { return c.users().CreateUser(x, q, p); }, r,
             PrintId<v1::User>);
       }},
      {"set-status",
       [](Client& c) {
         const std::optional<v1::Presence> presence = PresenceFlag();
         if (!presence) return BadFlag("presence", "online, away or offline");
         v1::SetUserStatusRequest r;
         r.mutable_status()->set_user_id(absl::GetFlag(FLAGS_user));
         r.mutable_status()->set_presence(*presence);
         r.mutable_status()->set_status_text(absl::GetFlag(FLAGS_text));
         r.mutable_status()->set_status_emoji(absl::GetFlag(FLAGS_emoji));
         return Invoke<v1::UserStatus>(
             c, [&](auto* x, auto& q, auto* p) { return c.users().SetUserStatus(x, q, p); }, r);
       }},
  };
  return *commands;
}

const std::map<std::string, Command>& ChannelCommands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"create-channel",
       [](Client& c) {
         v1::CreateChannelRequest r;
         r.mutable_channel()->set_name(absl::GetFlag(FLAGS_name));
         r.mutable_channel()->set_description(absl::GetFlag(FLAGS_description));
         r.mutable_channel()->set_type(absl::GetFlag(FLAGS_private_channel)
                                           ? v1::CHANNEL_TYPE_PRIVATE
                                           : v1::CHANNEL_TYPE_PUBLIC);
         r.set_creator_id(absl::GetFlag(FLAGS_creator));
         return Invoke<v1::Channel>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().CreateChannel(x, q, p); }, r,
             PrintId<v1::Channel>);
       }},
      {"list-channels",
       [](Client& c) {
         v1::ListChannelsRequest r;
         if (absl::GetFlag(FLAGS_public_only)) {
           r.set_public_only(true);
           r.set_viewer_id(absl::GetFlag(FLAGS_user));
         } else {
           r.set_member_id(absl::GetFlag(FLAGS_user));
         }
         r.set_include_archived(absl::GetFlag(FLAGS_archived));
         return Invoke<v1::ListChannelsResponse>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().ListChannels(x, q, p); }, r,
             [](const v1::ListChannelsResponse& list) {
               std::printf("%-26s %-24s %-8s %-7s %s\n", "ID", "NAME", "TYPE", "MEMBERS",
                           "ARCHIVED");
               for (const v1::ChannelListEntry& e : list.channels()) {
                 const v1::Channel& ch = e.channel();
                 std::printf("%-26s %-24s %-8s %-7d %s\n", ch.id().c_str(), ch.name().c_str(),
                             ch.type() == v1::CHANNEL_TYPE_PUBLIC ? "public" : "private",
                             ch.member_count(), ch.has_archive_time() ? "yes" : "");
               }
             });
       }},
      {"archive-channel",
       [](Client& c) {
         return Invoke<v1::Channel>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().ArchiveChannel(x, q, p); },
             ChannelAct<v1::ArchiveChannelRequest>(), PrintId<v1::Channel>);
       }},
      {"unarchive-channel",
       [](Client& c) {
         return Invoke<v1::Channel>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().UnarchiveChannel(x, q, p); },
             ChannelAct<v1::UnarchiveChannelRequest>(), PrintId<v1::Channel>);
       }},
      {"add-member",
       [](Client& c) {
         const std::optional<v1::MemberRole> role = RoleFlag();
         if (!role) return BadFlag("role", "member, admin or owner");
         v1::AddMemberRequest r;
         r.set_channel_id(absl::GetFlag(FLAGS_channel));
         r.set_user_id(absl::GetFlag(FLAGS_member));
         r.set_actor_id(absl::GetFlag(FLAGS_actor));
         r.set_role(*role);
         return Invoke<v1::ChannelMember>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().AddMember(x, q, p); }, r,
             [](const v1::ChannelMember& m) { std::cout << m.user().id() << "\n"; });
       }},
      {"remove-member",
       [](Client& c) {
         v1::RemoveMemberRequest r;
         r.set_channel_id(absl::GetFlag(FLAGS_channel));
         r.set_user_id(absl::GetFlag(FLAGS_member));
         r.set_actor_id(absl::GetFlag(FLAGS_actor));
         return Invoke<google::protobuf::Empty>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().RemoveMember(x, q, p); }, r,
             [](const google::protobuf::Empty&) {});
       }},
      {"mark-read",
       [](Client& c) {
         v1::MarkReadRequest r;
         r.set_channel_id(absl::GetFlag(FLAGS_channel));
         r.set_user_id(absl::GetFlag(FLAGS_user));
         r.set_message_id(absl::GetFlag(FLAGS_message));
         return Invoke<v1::ReadState>(
             c, [&](auto* x, auto& q, auto* p) { return c.channels().MarkRead(x, q, p); }, r);
       }},
  };
  return *commands;
}

const std::map<std::string, Command>& MessageCommands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"post-message",
       [](Client& c) {
         v1::PostMessageRequest r;
         r.set_channel_id(absl::GetFlag(FLAGS_channel));
         r.set_author_id(absl::GetFlag(FLAGS_author));
         r.set_content(absl::GetFlag(FLAGS_content));
         r.set_thread_parent_id(absl::GetFlag(FLAGS_thread));
         r.set_client_msg_id(absl::GetFlag(FLAGS_client_msg_id));
         return Invoke<v1::Message>(
             c, [&](auto* x, auto& q, auto* p) { return c.messages().PostMessage(x, q, p); }, r,
             PrintId<v1::Message>);
       }},
      {"list-messages",
       [](Client& c) {
         v1::ListMessagesRequest r;
         r.set_channel_id(absl::GetFlag(FLAGS_channel));
         r.set_viewer_id(absl::GetFlag(FLAGS_viewer));
         r.set_page_size(absl::GetFlag(FLAGS_limit));
         return Invoke<v1::ListMessagesResponse>(
             c, [&](auto* x, auto& q, auto* p) { return c.messages().ListMessages(x, q, p); }, r,
             [](const v1::ListMessagesResponse& list) { PrintMessages(list.messages()); });
       }},
      {"get-message",
       [](Client& c) {
         v1::GetMessageRequest r;
         r.set_id(absl::GetFlag(FLAGS_message));
         r.set_viewer_id(absl::GetFlag(FLAGS_viewer));
         return Invoke<v1::Message>(
             c, [&](auto* x, auto& q, auto* p) { return c.messages().GetMessage(x, q, p); }, r);
       }},
      {"search-messages",
       [](Client& c) {
         v1::SearchMessagesRequest r;
         r.set_user_id(absl::GetFlag(FLAGS_user));
         r.set_query(absl::GetFlag(FLAGS_query));
         r.set_page_size(absl::GetFlag(FLAGS_limit));
         return Invoke<v1::SearchMessagesResponse>(
             c, [&](auto* x, auto& q, auto* p) { return c.messages().SearchMessages(x, q, p); }, r,
             [](const v1::SearchMessagesResponse& found) {
               std::printf("%-26s %-16s %s\n", "ID", "AUTHOR", "SNIPPET");
               for (const v1::SearchHit& h : found.hits()) {
                 std::printf("%-26s %-16s %s\n", h.message().id().c_str(),
                             h.message().author().username().c_str(), h.snippet().c_str());
               }
             });
       }},
      {"react",
       [](Client& c) {
         v1::AddReactionRequest r;
         r.set_message_id(absl::GetFlag(FLAGS_message));
         r.set_user_id(absl::GetFlag(FLAGS_user));
         r.set_emoji(absl::GetFlag(FLAGS_emoji));
         return Invoke<v1::Reaction>(
             c, [&](auto* x, auto& q, auto* p) { return c.reactions().AddReaction(x, q, p); }, r);
       }},
  };
  return *commands;
}

}  // namespace

int Fail(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return 1;
}
std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

// Print prints a message as JSON (--json) or as "field: value" lines.
void Print(const google::protobuf::Message& m) {
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << Json(m) << "\n";
  } else {
    std::cout << m.DebugString();
  }
}

std::optional<int> RunModelCommand(Client& client, const std::string& command) {
  for (const auto* commands : {&UserCommands(), &ChannelCommands(), &MessageCommands()}) {
    if (auto it = commands->find(command); it != commands->end()) return it->second(client);
  }
  return std::nullopt;
}
