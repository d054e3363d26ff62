-- What `chatgenius-db import-legacy` needs to copy a database of the old
-- TypeScript module (docs/IMPORT.md).
--
-- The old `files` table kept no checksum, so attachments imported from it
-- have none: sha256 may be NULL (the API shows it empty). Attachments added
-- through the API still must carry one (the service refuses them without),
-- and a present checksum is still 64 lower-case hex digits.
ALTER TABLE attachments ALTER COLUMN sha256 DROP NOT NULL;

-- The import's resume point per source table: the last source id of the
-- last committed batch, written in the same transaction as the batch, so an
-- interrupted run continues after it and a finished one copies nothing
-- twice.
CREATE TABLE legacy_import_progress (
  source_table  text PRIMARY KEY,
  last_id       text NOT NULL,
  rows_read     bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Old direct channels whose members match one already imported: the
-- channel their messages, members and read markers went to.
CREATE TABLE legacy_import_merged_channels (
  legacy_id   text PRIMARY KEY,
  channel_id  ulid NOT NULL REFERENCES channels (id)
);
