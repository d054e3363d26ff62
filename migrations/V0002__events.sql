-- The realtime event log (EventService). Each event is written in the same
-- transaction as the change it describes, so it exists exactly when the
-- change committed.
--
-- Ordering: ids come from a sequence before commit, so with concurrent
-- writers id 101 could commit before id 100, and a reader past 101 would
-- never deliver 100. Writers therefore take a transaction-level advisory
-- lock just before inserting their events, as the last step before commit
-- (server/store/event_store.cc): event ids are handed out in commit order,
-- and "every event after my cursor" is always complete.
CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        smallint NOT NULL CHECK (kind BETWEEN 1 AND 12),
  channel_id  ulid,
  -- The user the event is about (member and status events).
  user_id     ulid,
  -- Status events concern every channel the user belongs to: those
  -- channels, as of the change, for routing.
  channel_ids text[],
  -- chatgenius.db.v1.Event in proto JSON, without id and create_time: what
  -- the subscriber renders, as it was when the change committed.
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_created_at ON events (created_at);

-- Highest event id removed by retention; a resume cursor below it cannot be
-- served without a gap (OUT_OF_RANGE).
CREATE TABLE event_retention (
  singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pruned_through  bigint NOT NULL DEFAULT 0
);
INSERT INTO event_retention DEFAULT VALUES;
