// acting_user.h
//
// Which request field names the acting user of each RPC — the user the
// access rule (server/store/channel_access.h) is applied to — and, when
// end-user tokens are on (END_USER_JWT_*), the check that this user is the
// one the call's verified `x-end-user-token` names. (It runs in the
// handler, per call: gRPC's AuthContext belongs to the connection, which a
// gateway shares among all its users.) The table covers every chatgenius.db.v1
// method (a test enumerates the descriptors): methods without an acting
// user are directory reads (profiles, statuses) and operator calls.
#ifndef CHATGENIUS_SERVER_AUTH_ACTING_USER_H_
#define CHATGENIUS_SERVER_AUTH_ACTING_USER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/support/string_ref.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth/end_user_jwt.h"

namespace chatgenius {

// EndUserAuth verifies end users' tokens: `verifier` checks the JWT and
// `resolve` maps its subject to a live user's id (NOT_FOUND if none).
struct EndUserAuth {
  JwtVerifier* verifier = nullptr;
  std::function<absl::StatusOr<std::string>(const std::string& subject)> resolve;
};

// ActingUserFields returns the field paths ("actor_id",
// "attachment.uploader_id") naming the acting user in requests of
// `request_type` (a full message name); empty for methods without one.
// `known` says whether the type is in the table at all.
const std::vector<std::string>& ActingUserFields(absl::string_view request_type,
                                                 bool* known = nullptr);

// ActsForAUser is whether the method at `path` ("/pkg.Service/Method") has
// an acting user (CreateUser counts: its user is the token's subject).
bool ActsForAUser(absl::string_view path);

// CheckActingUser checks a call's `x-end-user-token` (in `metadata`)
// against `request`: OK when end-user tokens are off (`end_users` null) or
// the call carries none (the auth processor admitted it: an admin caller).
// Otherwise the token must verify (UNAUTHENTICATED), its subject must name
// a live user (PERMISSION_DENIED), and every non-empty acting-user field
// must be that user (PERMISSION_DENIED naming the field); for CreateUser,
// user.auth0_id must be the subject.
[[nodiscard]] absl::Status CheckActingUser(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    const google::protobuf::Message& request, const EndUserAuth* end_users);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_AUTH_ACTING_USER_H_
