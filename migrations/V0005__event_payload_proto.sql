-- Events are stored as the serialized chatgenius.db.v1.Event (binary
-- protobuf, without id and create_time) instead of proto JSON: writers
-- printed JSON and PostgreSQL parsed it into jsonb, then the hub printed it
-- back to text and parsed it again — a quarter of the server's CPU in the
-- write benchmark. Rows written before this migration keep their JSON
-- payload and are still read; new rows have payload_proto only. (To look
-- at recent events from psql, decode with protoc --decode, or subscribe
-- with grpcurl.)
ALTER TABLE events ADD COLUMN payload_proto bytea;
ALTER TABLE events ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE events ADD CONSTRAINT events_payload_present
  CHECK (payload IS NOT NULL OR payload_proto IS NOT NULL);
