-- The tables of the old TypeScript `db` module, written from what its schema
-- files are known to hold: VARCHAR(26) ULIDs; no uniqueness on memberships,
-- reactions, statuses or read markers; thread_id may point at any message;
-- soft deletes by deleted_at. The legacy import's tests (via
-- tests/support/legacy_schema.h) and bench/run.sh build source databases
-- from it.
CREATE TABLE users (
  id varchar(26) PRIMARY KEY, auth0_id varchar(128) UNIQUE NOT NULL,
  email varchar(255) UNIQUE NOT NULL, username varchar(50) NOT NULL,
  full_name varchar(100) NOT NULL, avatar_url text,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz);
CREATE TABLE channels (
  id varchar(26) PRIMARY KEY, name varchar(80) NOT NULL, topic text,
  type varchar(20) NOT NULL CHECK (type IN ('public', 'private', 'dm')),
  created_by varchar(26) REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz);
CREATE TABLE messages (
  id varchar(26) PRIMARY KEY, channel_id varchar(26) REFERENCES channels (id) ON DELETE CASCADE,
  user_id varchar(26) REFERENCES users (id), content text NOT NULL,
  thread_id varchar(26) REFERENCES messages (id), edited boolean DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz);
CREATE TABLE reactions (
  id varchar(26) PRIMARY KEY, message_id varchar(26) REFERENCES messages (id),
  user_id varchar(26) REFERENCES users (id), emoji varchar(32) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE channel_members (
  id varchar(26) PRIMARY KEY, channel_id varchar(26) REFERENCES channels (id),
  user_id varchar(26) REFERENCES users (id),
  role varchar(20) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz);
CREATE TABLE files (
  id varchar(26) PRIMARY KEY, message_id varchar(26) REFERENCES messages (id),
  user_id varchar(26) REFERENCES users (id), name varchar(255), type varchar(100), size bigint,
  url text, created_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz);
CREATE TABLE user_settings (
  id varchar(26) PRIMARY KEY, user_id varchar(26) REFERENCES users (id),
  theme varchar(10) CHECK (theme IN ('light', 'dark')), notifications jsonb,
  muted_channels varchar(26)[], offline_sync jsonb,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE user_status (
  id varchar(26) PRIMARY KEY, user_id varchar(26) REFERENCES users (id),
  presence varchar(10) CHECK (presence IN ('online', 'away', 'offline')),
  status_text varchar(100), status_emoji varchar(32), status_expiry timestamptz,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE message_reads (
  id varchar(26) PRIMARY KEY, user_id varchar(26) REFERENCES users (id),
  channel_id varchar(26) REFERENCES channels (id),
  last_read_message_id varchar(26) NOT NULL REFERENCES messages (id),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE sync_state (
  id varchar(26) PRIMARY KEY, user_id varchar(26), channel_id varchar(26),
  last_synced_at timestamptz, sync_type varchar(20), sync_status varchar(20),
  error_details jsonb, created_at timestamptz NOT NULL DEFAULT now());
