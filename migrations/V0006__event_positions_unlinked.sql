-- Positions no longer reference events with a foreign key. The key made
-- every stamped position check its event and take a row lock on it (FOR
-- KEY SHARE: one more write to each event row and its WAL — 11% of the
-- sequencer's CPU), and made retention delete positions one trigger call
-- at a time. Retention (EventStore::Prune) now deletes an event and its
-- position in one statement, and only events that already have one, so it
-- can never race the sequencer stamping them.
ALTER TABLE event_positions DROP CONSTRAINT event_positions_event_id_fkey;
