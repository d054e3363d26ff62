// cli_model.h
//
// The chatgenius-db CLI's model commands: what a newcomer tries first, over
// the same gRPC API as any client (the access rules apply: every command
// names the user it acts or reads as).
//
//   create-user --username=U --email=E [--display_name=D]
//   set-status --user=U --presence=online|away|offline [--text=T] [--emoji=E]
//   create-channel --name=N --creator=U [--private] [--description=D]
//   list-channels --user=U [--public] [--archived]
//   archive-channel | unarchive-channel --channel=C --actor=U
//   add-member | remove-member --channel=C --member=U --actor=U [--role=member|admin|owner]
//   post-message --channel=C --author=U --content=TEXT [--thread=M] [--client_msg_id=K]
//   list-messages --channel=C --viewer=U [--limit=N]
//   get-message --message=M --viewer=U
//   search-messages --user=U --query=Q [--limit=N]
//   react --message=M --user=U --emoji=E
//   mark-read --channel=C --user=U --message=M
//
// Output: the new or changed object's id (create-*, post-message), a table
// (list-*, search-messages), or the object; with --json, the response as
// proto JSON. Errors print "error: CODE: message" and exit 1.
#ifndef CHATGENIUS_CLIENT_CLI_MODEL_H_
#define CHATGENIUS_CLIENT_CLI_MODEL_H_

#include <optional>
#include <string>

#include "client/client.h"

// RunModelCommand runs `command` and returns its exit code, or nullopt if
// it is not a model command.
std::optional<int> RunModelCommand(chatgenius::client::Client& client, const std::string& command);

// The CLI's output conventions (shared with cli.cc).
int Fail(const absl::Status& status);
std::string Json(const google::protobuf::Message& message);
void Print(const google::protobuf::Message& message);

#endif  // CHATGENIUS_CLIENT_CLI_MODEL_H_
