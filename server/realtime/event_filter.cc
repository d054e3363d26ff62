#include "server/realtime/event_filter.h"

#include <utility>

namespace chatgenius {

namespace v1 = ::chatgenius::db::v1;

EventFilter EventFilter::ForUser(std::string user_id, std::set<std::string> member_of) {
  return EventFilter(std::move(user_id), std::nullopt, {}, std::move(member_of));
}

EventFilter EventFilter::ForChannels(std::string viewer_id, std::set<std::string> channels,
                                     std::set<std::string> public_channels,
                                     std::set<std::string> member_of) {
  return EventFilter(std::move(viewer_id), std::move(channels), std::move(public_channels),
                     std::move(member_of));
}

EventFilter::EventFilter(std::string user_id, std::optional<std::set<std::string>> requested,
                         std::set<std::string> public_channels, std::set<std::string> member_of)
    : user_id_(std::move(user_id)),
      requested_(std::move(requested)),
      public_(std::move(public_channels)),
      channels_(std::move(member_of)) {}

bool EventFilter::Readable(const std::string& channel) const {
  if (requested_ && requested_->count(channel) == 0) return false;
  return channels_.count(channel) > 0 || public_.count(channel) > 0;
}

bool EventFilter::MayMatch(const StoredEvent& e) const {
  if (!requested_) return true;
  for (const std::string& c : e.channels) {
    if (requested_->count(c) > 0) return true;
  }
  return false;
}

bool EventFilter::Matches(const StoredEvent& e) {
  if (lost_access_) return false;
  const v1::EventKind kind = e.event.kind();
  const bool about_me = e.user_id == user_id_;
  if (kind == v1::EVENT_KIND_USER_STATUS_CHANGED) {
    if (about_me && !requested_) return true;
    for (const std::string& c : e.channels) {
      if (Readable(c)) return true;
    }
    return false;
  }
  if (e.channels.empty()) return false;
  const std::string& channel = e.channels.front();
  if (requested_ && requested_->count(channel) == 0) return false;
  if (about_me && kind == v1::EVENT_KIND_MEMBER_JOINED) {
    channels_.insert(channel);
    return true;
  }
  const bool match = Readable(channel);
  if (about_me && kind == v1::EVENT_KIND_MEMBER_LEFT) {
    channels_.erase(channel);  // delivered (if it matched), then no more
    if (requested_ && match && public_.count(channel) == 0) lost_access_ = true;
  } else if (kind == v1::EVENT_KIND_CHANNEL_DELETED) {
    channels_.erase(channel);
    public_.erase(channel);
    if (requested_ && match) lost_access_ = true;
  }
  return match;
}

}  // namespace chatgenius
