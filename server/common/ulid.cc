#include "server/common/ulid.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chatgenius {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Value of each ASCII character in Crockford base32, -1 if not canonical.
// Lower case and the I/L/O aliases are rejected on purpose: ids are compared
// as bytes in SQL, so only one spelling may exist.
constexpr std::array<int8_t, 128> MakeDecodeTable() {
  std::array<int8_t, 128> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 32; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  return table;
}
constexpr std::array<int8_t, 128> kDecode = MakeDecodeTable();

struct MonotonicState {
  absl::Mutex mu;
  uint64_t last_ms ABSL_GUARDED_BY(mu) = 0;
  std::array<uint8_t, 10> last_random ABSL_GUARDED_BY(mu) = {};
};

MonotonicState& State() {
  static MonotonicState* state = new MonotonicState();
  return *state;
}

// Increments a big-endian 80-bit number; returns false on overflow.
bool Increment(std::array<uint8_t, 10>& bytes) {
  for (int i = 9; i >= 0; --i) {
    if (++bytes[i] != 0) return true;
  }
  return false;
}

}  // namespace

std::string NewUlid(absl::Time now) {
  uint64_t ms = static_cast<uint64_t>(absl::ToUnixMillis(now)) & ((1ULL << 48) - 1);
  std::array<uint8_t, 10> random;
  {
    MonotonicState& state = State();
    absl::MutexLock lock(&state.mu);
    if (ms <= state.last_ms) {
      // Same (or earlier: the clock stepped back) millisecond: keep the
      // previous time and count up so ids stay ordered.
      ms = state.last_ms;
      random = state.last_random;
      if (!Increment(random)) {
        ++ms;
        RAND_bytes(random.data(), random.size());
      }
    } else {
      RAND_bytes(random.data(), random.size());
    }
    state.last_ms = ms;
    state.last_random = random;
  }

  std::array<uint8_t, 16> bytes;
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  std::memcpy(bytes.data() + 6, random.data(), random.size());

  // 128 bits -> 26 base32 digits: the first digit carries the top 3 bits.
  std::string out(kUlidLength, '0');
  unsigned __int128 value = 0;
  for (uint8_t b : bytes) value = (value << 8) | b;
  for (int i = kUlidLength - 1; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<int>(value & 31)];
    value >>= 5;
  }
  return out;
}

bool IsValidUlid(absl::string_view text) {
  if (text.size() != static_cast<size_t>(kUlidLength)) return false;
  if (text[0] < '0' || text[0] > '7') return false;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 128 || kDecode[u] < 0) return false;
  }
  return true;
}

absl::Time UlidTime(absl::string_view ulid) {
  uint64_t ms = 0;
  // The first 10 characters hold 50 bits, the top 2 of which are zero.
  for (int i = 0; i < 10 && i < static_cast<int>(ulid.size()); ++i) {
    unsigned char u = static_cast<unsigned char>(ulid[i]);
    ms = (ms << 5) | static_cast<uint64_t>(u < 128 && kDecode[u] >= 0 ? kDecode[u] : 0);
  }
  return absl::FromUnixMillis(static_cast<int64_t>(ms));
}

}  // namespace chatgenius
