-- The benchmark dataset (bench/dataset.sql) shaped as the old TypeScript
-- module's schema (tests/support/legacy_schema.sql, loaded first), for the
-- import figure: 1,000 users, 200 channels, 10,000 memberships plus 100
-- duplicates (the old schema allowed them), 1,000,000 messages of which
-- 18,000 are replies and 9,000 replies to replies, a reaction on every 10th
-- message plus 1,000 duplicates, a file on every 100th message, a status
-- per user. Same ids as bench/dataset.sql.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO users (id, auth0_id, email, username, full_name)
SELECT '01A' || lpad(n::text, 23, '0'), 'auth0|' || n, 'u' || n || '@example.com', 'u' || n,
       'User ' || n
FROM generate_series(0, 999) n;

INSERT INTO channels (id, name, type, created_by)
SELECT '01C' || lpad(n::text, 23, '0'), 'ch' || n, 'public', '01A' || lpad('0', 23, '0')
FROM generate_series(0, 199) n;

INSERT INTO channel_members (id, channel_id, user_id, role)
SELECT '01B' || lpad((c * 100 + u)::text, 23, '0'), '01C' || lpad(c::text, 23, '0'),
       '01A' || lpad(u::text, 23, '0'), CASE WHEN u = 0 THEN 'owner' ELSE 'member' END
FROM generate_series(0, 199) c, generate_series(0, 49) u;
INSERT INTO channel_members (id, channel_id, user_id, role)  -- duplicates
SELECT '01B' || lpad((c * 100 + 50)::text, 23, '0'), '01C' || lpad(c::text, 23, '0'),
       '01A' || lpad('1', 23, '0'), 'admin'
FROM generate_series(0, 99) c;

-- Big channel: rows 0..899,999; n % 100 in (1,2) reply to the multiple of
-- 100 below them, n % 100 = 3 replies to n - 1 (a reply to a reply).
INSERT INTO messages (id, channel_id, user_id, content, thread_id)
SELECT '01M' || lpad(n::text, 23, '0'), '01C' || lpad('0', 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'),
       'message ' || n || ' about the release plan and the chat service',
       CASE WHEN n % 100 BETWEEN 1 AND 2 THEN '01M' || lpad((n - n % 100)::text, 23, '0')
            WHEN n % 100 = 3 THEN '01M' || lpad((n - 1)::text, 23, '0') END
FROM generate_series(0, 899999) n;

INSERT INTO messages (id, channel_id, user_id, content)
SELECT '01M' || lpad(n::text, 23, '0'),
       '01C' || lpad((CASE WHEN n < 910000 THEN 1 ELSE 2 + (n - 910000) / 450 END)::text, 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'),
       'message ' || n || ' about lunch and other plans'
FROM generate_series(900000, 999099) n;

INSERT INTO reactions (id, message_id, user_id, emoji)
SELECT '01R' || lpad(n::text, 23, '0'), '01M' || lpad(n::text, 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'), ':+1:'
FROM generate_series(0, 999099, 10) n;
INSERT INTO reactions (id, message_id, user_id, emoji)  -- duplicates
SELECT '01R' || lpad((n + 1)::text, 23, '0'), '01M' || lpad(n::text, 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'), ':+1:'
FROM generate_series(0, 999099, 1000) n;

INSERT INTO files (id, message_id, user_id, name, type, size, url)
SELECT '01F' || lpad(n::text, 23, '0'), '01M' || lpad(n::text, 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'), 'file' || n || '.png', 'image/png', 1000 + n,
       's3://bucket/file' || n || '.png'
FROM generate_series(4, 999099, 100) n;

INSERT INTO user_status (id, user_id, presence, status_text)
SELECT '01S' || lpad(n::text, 23, '0'), '01A' || lpad(n::text, 23, '0'), 'online', 'working'
FROM generate_series(0, 999) n;
COMMIT;
ANALYZE;
