-- Schema v1: the whole ChatGenius model.
--
-- Fixes the old TypeScript module's schema (see docs/SCHEMA.md):
-- membership and reactions are unique, thread parents and read markers are
-- pinned to their channel by composite foreign keys, and every text column
-- has a length limit enforced by the database.

-- A ULID: 26 characters of Crockford base32, the first at most '7' (48-bit
-- time). Collation "C" makes ORDER BY id byte order, i.e. time order.
CREATE DOMAIN ulid AS text COLLATE "C"
  CHECK (VALUE ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$');

CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE users (
  id            ulid PRIMARY KEY,
  email         text NOT NULL
                CHECK (char_length(email) BETWEEN 3 AND 254
                       AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  username      text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,79}$'),
  display_name  text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 80),
  full_name     text NOT NULL DEFAULT '' CHECK (char_length(full_name) <= 200),
  avatar_url    text NOT NULL DEFAULT '' CHECK (char_length(avatar_url) <= 2048),
  is_bot        boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);
-- Unique among live users only, so a deleted user's name can be reused.
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_username_key ON users (username) WHERE deleted_at IS NULL;
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE user_status (
  user_id            ulid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  presence           text NOT NULL DEFAULT 'offline'
                     CHECK (presence IN ('online', 'away', 'offline')),
  status_text        text NOT NULL DEFAULT '' CHECK (char_length(status_text) <= 100),
  status_emoji       text NOT NULL DEFAULT '' CHECK (octet_length(status_emoji) <= 64),
  status_expires_at  timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE channels (
  id           ulid PRIMARY KEY,
  -- NULL exactly for direct channels.
  name         text CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,79}$'),
  description  text NOT NULL DEFAULT '' CHECK (char_length(description) <= 250),
  type         text NOT NULL CHECK (type IN ('public', 'private', 'dm')),
  -- Direct channels: the sorted member ids joined by ','; one channel per set.
  dm_key       text,
  created_by   ulid NOT NULL REFERENCES users (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  archived_at  timestamptz,
  archived_by  ulid REFERENCES users (id),
  deleted_at   timestamptz,
  CHECK ((type = 'dm') = (name IS NULL)),
  CHECK ((type = 'dm') = (dm_key IS NOT NULL)),
  CHECK ((archived_at IS NULL) = (archived_by IS NULL))
);
CREATE UNIQUE INDEX channels_name_key ON channels (name)
  WHERE deleted_at IS NULL AND name IS NOT NULL;
CREATE UNIQUE INDEX channels_dm_key ON channels (dm_key) WHERE dm_key IS NOT NULL;
-- Browsing public channels by name (keyset on (name, id)).
CREATE INDEX channels_public_by_name ON channels (name, id)
  WHERE type = 'public' AND deleted_at IS NULL;
CREATE TRIGGER channels_updated_at BEFORE UPDATE ON channels
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE messages (
  id                ulid PRIMARY KEY,
  channel_id        ulid NOT NULL REFERENCES channels (id),
  user_id           ulid NOT NULL REFERENCES users (id),
  content           text NOT NULL CHECK (char_length(content) <= 40000),
  thread_parent_id  ulid,
  -- Idempotency key chosen by the client, unique per author.
  client_msg_id     text CHECK (char_length(client_msg_id) BETWEEN 1 AND 64),
  created_at        timestamptz NOT NULL DEFAULT now(),
  edited_at         timestamptz,
  deleted_at        timestamptz,
  search_vector     tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  -- Target of the composite foreign keys below; also the keyset index for
  -- everything listed per channel.
  UNIQUE (channel_id, id),
  -- A reply's parent is in the same channel.
  FOREIGN KEY (channel_id, thread_parent_id) REFERENCES messages (channel_id, id),
  CHECK (thread_parent_id IS NULL OR thread_parent_id <> id),
  -- Only tombstones may be empty.
  CHECK (deleted_at IS NOT NULL OR char_length(content) >= 1)
);
CREATE UNIQUE INDEX messages_client_msg_id_key ON messages (user_id, client_msg_id)
  WHERE client_msg_id IS NOT NULL;
-- A channel's top-level messages, newest first.
CREATE INDEX messages_channel_top_level ON messages (channel_id, id)
  WHERE thread_parent_id IS NULL;
-- A thread's replies in order.
CREATE INDEX messages_thread ON messages (thread_parent_id, id)
  WHERE thread_parent_id IS NOT NULL;
CREATE INDEX messages_search ON messages USING gin (search_vector);

CREATE TABLE channel_members (
  channel_id            ulid NOT NULL REFERENCES channels (id),
  user_id               ulid NOT NULL REFERENCES users (id),
  role                  text NOT NULL DEFAULT 'member'
                        CHECK (role IN ('owner', 'admin', 'member')),
  joined_at             timestamptz NOT NULL DEFAULT now(),
  last_read_message_id  ulid,
  PRIMARY KEY (channel_id, user_id),
  -- The read marker points into the same channel.
  FOREIGN KEY (channel_id, last_read_message_id) REFERENCES messages (channel_id, id)
);
-- "Channels of a user".
CREATE INDEX channel_members_by_user ON channel_members (user_id, channel_id);

CREATE TABLE reactions (
  message_id  ulid NOT NULL REFERENCES messages (id),
  user_id     ulid NOT NULL REFERENCES users (id),
  emoji       text NOT NULL CHECK (octet_length(emoji) BETWEEN 1 AND 64),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX reactions_by_user ON reactions (user_id);

CREATE TABLE attachments (
  id            ulid PRIMARY KEY,
  message_id    ulid NOT NULL,
  channel_id    ulid NOT NULL,
  uploader_id   ulid NOT NULL REFERENCES users (id),
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
  content_type  text NOT NULL
                CHECK (content_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'
                       AND char_length(content_type) <= 255),
  size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
  storage_url   text NOT NULL CHECK (char_length(storage_url) BETWEEN 1 AND 2048),
  sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (channel_id, message_id) REFERENCES messages (channel_id, id)
);
CREATE INDEX attachments_by_message ON attachments (message_id, id);
CREATE INDEX attachments_by_channel ON attachments (channel_id, id);
