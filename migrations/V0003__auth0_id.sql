-- The end user's identity at the identity provider. ChatGenius used
-- Auth0: a verified end-user token's `sub` (e.g. "auth0|5f7c...") names
-- the user (END_USER_JWT_* settings), and the legacy importer keeps the
-- old module's auth0_id. Optional, unique among users that have one.
ALTER TABLE users ADD COLUMN auth0_id text
  CHECK (auth0_id IS NULL OR (length(auth0_id) BETWEEN 1 AND 255 AND auth0_id !~ '[[:cntrl:]]'));
CREATE UNIQUE INDEX users_auth0_id_key ON users (auth0_id) WHERE auth0_id IS NOT NULL;
