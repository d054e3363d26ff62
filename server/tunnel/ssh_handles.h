// ssh_handles.h
//
// Owning pointers for libssh's handles, so no code path frees one by hand:
// SessionPtr disconnects (if connected) and frees a session, ChannelPtr
// closes (if open) and frees a channel, KeyPtr frees a key. A channel must
// be destroyed before the session it belongs to.
#ifndef CHATGENIUS_SERVER_TUNNEL_SSH_HANDLES_H_
#define CHATGENIUS_SERVER_TUNNEL_SSH_HANDLES_H_

#include <libssh/libssh.h>

#include <memory>
#include <type_traits>

namespace chatgenius {

struct SshSessionDeleter {
  void operator()(ssh_session s) const {
    if (ssh_is_connected(s)) ssh_disconnect(s);
    ssh_free(s);
  }
};
using SessionPtr = std::unique_ptr<std::remove_pointer_t<ssh_session>, SshSessionDeleter>;

struct SshChannelDeleter {
  void operator()(ssh_channel c) const {
    if (!ssh_channel_is_closed(c)) ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
using ChannelPtr = std::unique_ptr<std::remove_pointer_t<ssh_channel>, SshChannelDeleter>;

struct SshKeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, SshKeyDeleter>;

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_TUNNEL_SSH_HANDLES_H_
