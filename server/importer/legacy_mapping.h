// legacy_mapping.h
//
// How a value of the old TypeScript module's schema becomes one this
// schema accepts: canonical ids, usernames and channel names under our
// rules, the strongest of duplicate roles, the key of a direct channel.
// Pure functions, no I/O; the importer (legacy_importer.h) reports every
// value they had to change.
#ifndef CHATGENIUS_SERVER_IMPORTER_LEGACY_MAPPING_H_
#define CHATGENIUS_SERVER_IMPORTER_LEGACY_MAPPING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace chatgenius {

// CanonicalId: the legacy id in canonical ULID form (the old module wrote
// them in either case), or nullopt if it is not a ULID at all.
std::optional<std::string> CanonicalId(absl::string_view legacy_id);

// NameFrom turns a legacy username or channel name ("Ada Lovelace",
// "#General!") into one our rules accept: ASCII letters lower-cased, every
// run of other characters one '-' ('.' kept for usernames), no leading or
// trailing separator, at most 72 characters (room for a "-NNNNNNN" suffix);
// `fallback` when nothing is left.
std::string NameFrom(absl::string_view legacy, bool keep_dots, absl::string_view fallback);

// FallbackName is the name of a row whose legacy name leaves nothing:
// `prefix`, '-', and the last ten characters of its id in lower case.
std::string FallbackName(absl::string_view prefix, absl::string_view id);

// WithSuffix is `base` made distinct by "-n" (n >= 2), at most 80 characters.
std::string WithSuffix(const std::string& base, int n);

// PlaceholderEmail stands in for a legacy address our schema refuses (it
// must be valid and unique among live users): the user id at the reserved
// ".invalid" domain (RFC 2606), so nobody can receive mail there.
std::string PlaceholderEmail(absl::string_view user_id);

// RoleRank orders membership roles: owner 3, admin 2, member 1, other 0.
int RoleRank(absl::string_view role);

// DmKey is the direct-channel key our schema uses: the distinct member ids
// sorted and joined by ','.
std::string DmKey(std::vector<std::string> member_ids);

// TruncateUtf8 keeps at most `max_chars` code points of valid UTF-8.
std::string TruncateUtf8(absl::string_view text, int max_chars);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_IMPORTER_LEGACY_MAPPING_H_
