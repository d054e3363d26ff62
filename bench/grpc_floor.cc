// The floor of one gRPC hop on this machine: a server built from the same
// system libraries and flags as ours whose PostMessage does no work (it
// echoes the request into a Message). The write bench runs the very same
// client calls against it, so "service / composition limit" shows what the
// service adds beyond the hop any gRPC service pays.
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

class SyncFloor final : public v1::MessageService::Service {
  grpc::Status PostMessage(grpc::ServerContext*, const v1::PostMessageRequest* request,
                           v1::Message* out) override {
    Echo(*request, out);
    return grpc::Status::OK;
  }
};

class CallbackFloor final : public v1::MessageService::CallbackService {
  grpc::ServerUnaryReactor* PostMessage(grpc::CallbackServerContext* context,
                                        const v1::PostMessageRequest* request,
                                        v1::Message* out) override {
    Echo(*request, out);
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
