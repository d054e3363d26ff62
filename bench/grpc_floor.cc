// The floor of one gRPC hop on this machine: a server built from the same
// system libraries and flags as ours whose calls do no work. PostMessage
// echoes the request into a Message; GetMessage answers one canned message
// and ListMessages a canned page of 50, shaped and sized like the service's
// answers on the bench dataset. The write and load benches run the very
// same client calls against it, so "service / composition limit" shows what
// the service adds beyond the hop any gRPC service pays.
//
//   grpc_floor --listen=127.0.0.1:50099 --api=sync|callback
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "chatgenius/db/v1/message_service.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50099", "address to serve on (loopback)");
ABSL_FLAG(std::string, api, "sync", "sync (like the service) or callback");

namespace {

namespace v1 = ::chatgenius::db::v1;

void Echo(const v1::PostMessageRequest& request, v1::Message* out) {
  out->set_id("01FLOOR0000000000000000000");
  out->set_channel_id(request.channel_id());
  out->mutable_author()->set_id(request.author_id());
  out->set_content(request.content());
}

// A message as the service renders one of the bench dataset's.
v1::Message Canned(int n) {
  v1::Message m;
  m.set_id(absl::StrCat("01M", std::string(22 - std::to_string(n).size(), '0'), n, "0"));
  m.set_channel_id("01C00000000000000000000000");
  m.mutable_author()->set_id("01A00000000000000000000007");
  m.mutable_author()->set_username("u7");
  m.mutable_author()->set_display_name("User 7");
  m.set_content(absl::StrCat("message ", n, " about the release plan and the chat service"));
  m.mutable_create_time()->set_seconds(1764547200 + n);
  m.mutable_create_time()->set_nanos(123000000);
  return m;
}

const v1::Message& CannedMessage() {
  static const v1::Message* m = new v1::Message(Canned(436512));
  return *m;
}

const v1::ListMessagesResponse& CannedPage() {
  static const v1::ListMessagesResponse* page = [] {
    auto* p = new v1::ListMessagesResponse;
    for (int i = 0; i < 50; ++i) *p->add_messages() = Canned(899999 - i);
    p->set_next_page_token(std::string(120, 'T'));
    return p;
  }();
  return *page;
}

class SyncFloor final : public v1::MessageService::Service {
  grpc::Status PostMessage(grpc::ServerContext*, const v1::PostMessageRequest* request,
                           v1::Message* out) override {
    Echo(*request, out);
    return grpc::Status::OK;
  }
  grpc::Status GetMessage(grpc::ServerContext*, const v1::GetMessageRequest*,
                          v1::Message* out) override {
    *out = CannedMessage();
    return grpc::Status::OK;
  }
  grpc::Status ListMessages(grpc::ServerContext*, const v1::ListMessagesRequest*,
                            v1::ListMessagesResponse* out) override {
    *out = CannedPage();
    return grpc::Status::OK;
  }
};

class CallbackFloor final : public v1::MessageService::CallbackService {
  grpc::ServerUnaryReactor* PostMessage(grpc::CallbackServerContext* context,
                                        const v1::PostMessageRequest* request,
                                        v1::Message* out) override {
    Echo(*request, out);
    return Done(context);
  }
  grpc::ServerUnaryReactor* GetMessage(grpc::CallbackServerContext* context,
                                       const v1::GetMessageRequest*, v1::Message* out) override {
    *out = CannedMessage();
    return Done(context);
  }
  grpc::ServerUnaryReactor* ListMessages(grpc::CallbackServerContext* context,
                                         const v1::ListMessagesRequest*,
                                         v1::ListMessagesResponse* out) override {
    *out = CannedPage();
    return Done(context);
  }

  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  SyncFloor sync;
  CallbackFloor callback;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials());
  const bool use_sync = absl::GetFlag(FLAGS_api) == "sync";
  if (use_sync) {
    builder.RegisterService(&sync);
    // As the service does (server/app/server.cc): idle handler threads kept.
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 32);
  } else {
    builder.RegisterService(&callback);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "cannot serve on %s\n", absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  std::fprintf(stderr, "grpc floor (%s API) on %s\n", use_sync ? "sync" : "callback",
               absl::GetFlag(FLAGS_listen).c_str());
  server->Wait();
  return 0;
}
