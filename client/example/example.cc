// A short program another ChatGenius service's author can copy: connect,
// create a user and a channel, post, list, and follow the channel's events.
//
//   bazel run //client/example -- --target=127.0.0.1:50051
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "database service address");

namespace v1 = ::chatgenius::db::v1;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  chatgenius::client::ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  auto db = chatgenius::client::Client::Create(options);
  if (!db.ok()) {
    std::cerr << db.status() << "\n";
    return 1;
  }
  auto& client = **db;

  // Unique names, so the example can run more than once.
  const std::string suffix = absl::StrCat(absl::ToUnixMillis(absl::Now()) % 100000000);
  v1::CreateUserRequest new_user;
  new_user.mutable_user()->set_username("example" + suffix);
  new_user.mutable_user()->set_email("example" + suffix + "@example.com");
  absl::StatusOr<v1::User> user = client.CreateUser(new_user);
  if (!user.ok()) {
    std::cerr << "CreateUser: " << user.status() << "\n";
    return 1;
  }

  v1::CreateChannelRequest new_channel;
  new_channel.mutable_channel()->set_name("example-" + suffix);
  new_channel.mutable_channel()->set_type(v1::CHANNEL_TYPE_PUBLIC);
  new_channel.set_creator_id(user->id());
  absl::StatusOr<v1::Channel> channel = client.CreateChannel(new_channel);
  if (!channel.ok()) {
    std::cerr << "CreateChannel: " << channel.status() << "\n";
    return 1;
  }

  // Follow the channel from the start: the creator's join is event one.
  v1::SubscribeRequest follow;
  follow.add_channel_ids(channel->id());
  follow.set_viewer_id(user->id());
  auto events = client.Subscribe(follow);

  v1::PostMessageRequest post;
  post.set_channel_id(channel->id());
  post.set_author_id(user->id());
  post.set_content("Hello from the example!");
  post.set_client_msg_id("example-hello-" + suffix);  // safe to retry
  absl::StatusOr<v1::Message> message = client.PostMessage(post);
  if (!message.ok()) {
    std::cerr << "PostMessage: " << message.status() << "\n";
    return 1;
  }

  v1::ListMessagesRequest list;
  list.set_channel_id(channel->id());
  list.set_viewer_id(user->id());
  absl::StatusOr<v1::ListMessagesResponse> page = client.ListMessages(list);
  if (!page.ok()) {
    std::cerr << "ListMessages: " << page.status() << "\n";
    return 1;
  }
  for (const v1::Message& m : page->messages()) {
    std::cout << m.author().username() << ": " << m.content() << "\n";
  }

  v1::Event event;
  while (events->Next(&event)) {
    std::cout << "event " << event.id() << " " << v1::EventKind_Name(event.kind()) << "\n";
    if (event.kind() == v1::EVENT_KIND_MESSAGE_CREATED) break;
  }
  events->Cancel();
  return 0;
}
