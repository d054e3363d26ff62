-- Event positions: the order in which subscribers see events, stamped
-- after commit by one sequencer per database (server/realtime/
-- event_sequencer.h) instead of by a global lock every writer took before
-- commit. Writers insert their events and commit; the sequencer appends
-- (seq, event_id) rows here in short serial transactions, so "every event
-- with seq > cursor" is complete as soon as a seq is visible, and a slow or
-- stalled writer delays only its own events.
--
-- Cursors (Event.id, after_event_id, chatgenius-start-after) are seq from
-- this version on. The events already in the log keep their ids as their
-- positions (ids were handed out in commit order until now), so a cursor
-- stored before the upgrade resumes exactly where it was.
CREATE TABLE event_positions (
  seq       bigint PRIMARY KEY,
  event_id  bigint NOT NULL UNIQUE REFERENCES events (id) ON DELETE CASCADE
);
INSERT INTO event_positions (seq, event_id) SELECT id, id FROM events;

-- The sequencer's state: stamped_below, the watermark (every event id
-- below it is stamped or was never committed, so a round looks only at ids
-- from here; kept about once a second, so a new leader starts near where
-- the last one was), and last_seq, the highest position retention has
-- seen before deleting (positions continue past it when the newest events
-- are pruned too).
CREATE TABLE event_sequencer (
  singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  stamped_below  bigint NOT NULL,
  last_seq       bigint NOT NULL
);
INSERT INTO event_sequencer (stamped_below, last_seq)
  SELECT coalesce(max(id), 0) + 1, coalesce(max(id), 0) FROM events;

-- Retention's marker is a position from now on (the same numbers so far).
COMMENT ON COLUMN event_retention.pruned_through IS 'highest event position removed by retention';
