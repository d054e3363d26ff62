-- Benchmark dataset (bench/run.sh loads it after the server migrated the
-- database): 1,000 users, 200 public channels with 50 members each and
-- 1,000,000 messages — channel 0 ("big") 900,000 of which 27,000 are thread
-- replies, channel 1 ("small") 10,000, channels 2..199 450 each — and a
-- reaction on every 10th message. Ids are canonical ULIDs made of digits
-- (prefix 01A users, 01C channels, 01M messages + the row number), so the
-- row number orders them like time would.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO users (id, email, username, display_name)
SELECT '01A' || lpad(n::text, 23, '0'), 'u' || n || '@example.com', 'u' || n, 'User ' || n
FROM generate_series(0, 999) n;

INSERT INTO channels (id, name, type, created_by)
SELECT '01C' || lpad(n::text, 23, '0'), 'ch' || n, 'public', '01A' || lpad('0', 23, '0')
FROM generate_series(0, 199) n;

INSERT INTO channel_members (channel_id, user_id, role)
SELECT '01C' || lpad(c::text, 23, '0'), '01A' || lpad(u::text, 23, '0'),
       CASE WHEN u = 0 THEN 'owner' ELSE 'member' END
FROM generate_series(0, 199) c, generate_series(0, 49) u;

-- Big channel: rows 0..899,999; n % 100 in (1,2,3) are replies to the
-- multiple of 100 below them.
INSERT INTO messages (id, channel_id, user_id, content, thread_parent_id)
SELECT '01M' || lpad(n::text, 23, '0'), '01C' || lpad('0', 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'),
       'message ' || n || ' about the release plan and the chat service',
       CASE WHEN n % 100 BETWEEN 1 AND 3 THEN '01M' || lpad((n - n % 100)::text, 23, '0') END
FROM generate_series(0, 899999) n;

-- Small channel: rows 900,000..909,999; the rest: 450 per channel.
INSERT INTO messages (id, channel_id, user_id, content)
SELECT '01M' || lpad(n::text, 23, '0'),
       '01C' || lpad((CASE WHEN n < 910000 THEN 1 ELSE 2 + (n - 910000) / 450 END)::text, 23, '0'),
       '01A' || lpad((n % 50)::text, 23, '0'),
       'message ' || n || ' about lunch and other plans'
FROM generate_series(900000, 999099) n;

INSERT INTO reactions (message_id, user_id, emoji)
SELECT '01M' || lpad(n::text, 23, '0'), '01A' || lpad((n % 50)::text, 23, '0'), ':+1:'
FROM generate_series(0, 999099, 10) n;
COMMIT;
ANALYZE;
