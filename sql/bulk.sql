-- bulk: signicat.call_many runs many calls of one operation at once and
-- returns one row per call, in input order; an error of one call is a value
-- in its row, invalid arguments are found before anything is sent, and the
-- single call's rules (grants, retries, token, enrolment) hold.
SELECT t.reset();
SELECT array_agg(signicat.assure_create_dossier('bulk ' || i)->>'dossierId' ORDER BY i) AS ds
FROM generate_series(1, 3) i \gset
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;

-- three reads and five calls that go wrong, each in its own row
SELECT ordinality, arguments ? 'dossier_id' AS has_id, result->>'dossierId' = arguments->>'dossier_id' AS found,
       http_status, sqlstate, t.mask(message) AS message, t.mask(detail) AS detail, trace_id ~ '^[0-9a-f]{32}$' AS trace_id
FROM signicat.call_many('assure_get_dossier', ARRAY[
    jsonb_build_object('dossier_id', (:'ds'::text[])[1]),
    '{"dossier_id": "not-a-uuid"}',
    jsonb_build_object('dossier_id', (:'ds'::text[])[2]),
    '{}',
    '{"dossier_id": "8b8a7c61-0000-4000-8000-000000000000"}',
    '{"dossier": "8b8a7c61-0000-4000-8000-000000000000"}',
    '[1, 2]',
    jsonb_build_object('dossier_id', (:'ds'::text[])[3])
]::jsonb[]);
-- only the four well-formed calls were sent
SELECT count(*) AS sent FROM t.requests('assure_get_dossier');

-- an empty batch, or none
SELECT count(*) AS rows FROM signicat.call_many('assure_get_dossier', '{}'::jsonb[]);
SELECT count(*) AS rows FROM signicat.call_many('assure_get_dossier', NULL);
-- operations that answer rows or bytes are called row by row; unknown ones are named
SELECT t.err($$SELECT count(*) FROM signicat.call_many('assure_list_dossiers', ARRAY['{}'::jsonb])$$);
SELECT t.err($$SELECT count(*) FROM signicat.call_many('assure_get_dossier_file', ARRAY['{}'::jsonb])$$);
SELECT t.err($$SELECT count(*) FROM signicat.call_many('assure_set_dossier_files', ARRAY['{}'::jsonb])$$);
-- a NULL element is a row of its own; the array has one dimension
SELECT ordinality, arguments, sqlstate, message FROM signicat.call_many('assure_get_dossier', ARRAY[NULL]::jsonb[]);
SELECT t.err($$SELECT count(*) FROM signicat.call_many('assure_get_dossier', ARRAY[['{}'::jsonb]])$$);
SELECT t.err($$SELECT count(*) FROM signicat.call_many('assure_no_such_thing', ARRAY['{}'::jsonb])$$);
SELECT t.err($$SELECT count(*) FROM signicat.call_many(NULL, ARRAY['{}'::jsonb])$$);

-- the calls are in flight together: 8 answers that each take 1 s come back in well under 8 s
SET signicat.bulk_concurrency = 8;
SELECT t.fault('{"operation": "assure_get_dossier", "delay_ms": 1000, "count": 8}');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE result IS NOT NULL) AS answered
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', (:'ds'::text[])[1 + i % 3])) FROM generate_series(1, 8) i));
SELECT clock_timestamp() - :'t0'::timestamptz < interval '4 seconds' AS concurrent;
-- and never more than signicat.bulk_concurrency at once: 6 answers of 300 ms, 2 at a time, take 3 turns
SET signicat.bulk_concurrency = 2;
SELECT t.fault('{"operation": "assure_get_dossier", "delay_ms": 300, "count": 6}');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE result IS NOT NULL) AS answered
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', (:'ds'::text[])[1 + i % 3])) FROM generate_series(1, 6) i));
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '850 ms' AS two_at_a_time;
RESET signicat.bulk_concurrency;

-- a transient failure is retried for an idempotent call, as for a single call
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "count": 2}');
SELECT count(*) FILTER (WHERE result IS NOT NULL) AS answered, count(sqlstate) AS errors
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
SELECT count(*) AS sent FROM t.requests('assure_get_dossier');
-- a create is never sent twice: its 503 is the row's error
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_create_dossier", "status": 503, "count": 1}');
SET signicat.bulk_concurrency = 1;
SELECT ordinality, result ? 'dossierId' AS created, http_status, sqlstate
FROM signicat.call_many('assure_create_dossier', ARRAY['{"external_reference": "a"}', '{"external_reference": "b"}']::jsonb[])
ORDER BY ordinality;
RESET signicat.bulk_concurrency;
SELECT count(*) AS sent FROM t.requests('assure_create_dossier');

-- a 429 slows the whole batch down for as long as Signicat asks (here without retries: the
-- pause alone keeps the next call back)
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SET signicat.bulk_concurrency = 1;
SET signicat.max_retries = 0;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 429, "retry_after": "1", "count": 1}');
SELECT ordinality, http_status, sqlstate
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
SELECT gap >= 0.9 AS paused
FROM (SELECT (r->>'received_at')::float8 - lag((r->>'received_at')::float8) OVER (ORDER BY (r->>'seq')::int) AS gap,
             (r->>'seq')::int AS seq
      FROM t.requests('assure_get_dossier') r) g
ORDER BY seq OFFSET 1 LIMIT 1;
RESET signicat.max_retries;
-- a Retry-After past signicat.max_retry_wait: that call is 53400, and the calls not sent yet
-- are not sent at all
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 429, "retry_after": "3600", "count": 1}');
SELECT ordinality, http_status, sqlstate, t.mask(message) AS message
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
SELECT count(*) AS sent FROM t.requests('assure_get_dossier');
RESET signicat.bulk_concurrency;

-- one new token after a 401, for the whole batch
SELECT t.mock('POST', 'revoke-tokens') IS NOT NULL AS revoked;
SELECT t.tokens_issued() AS tokens_before \gset
SELECT count(*) FILTER (WHERE result IS NOT NULL) AS answered
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
SELECT t.tokens_issued() - :tokens_before AS new_tokens;
-- a new token that cannot be had: the calls keep their 401s, nothing else is lost
SELECT t.mock('POST', 'revoke-tokens') IS NOT NULL AS revoked;
SELECT t.fault('{"operation": "token", "status": 503, "count": 1}');
SET signicat.max_retries = 0;
SELECT ordinality, http_status, sqlstate
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
RESET signicat.max_retries;

-- what a create makes is followed, as after a single call
SELECT count(*) FILTER (WHERE result ? 'processId') AS created
FROM signicat.call_many('assure_create_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', d, 'provider', 'onfido', 'document_type', 'passport'))
     FROM unnest(:'ds'::text[]) d));
SELECT count(*) AS enrolled FROM signicat.watch w
WHERE w.dossier_id = ANY (:'ds'::uuid[]) AND w.state = 'active';
-- creates whose enrolment fails keep their results: the row says why they are not followed
SELECT dblink_connect('locker', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('locker', 'BEGIN; LOCK signicat.watch IN ACCESS EXCLUSIVE MODE');
SET lock_timeout = '300ms';
SELECT ordinality, result ? 'processId' AS created, sqlstate, message
FROM signicat.call_many('assure_create_process',
    (SELECT array_agg(jsonb_build_object('dossier_id', d, 'provider', 'onfido')) FROM unnest(:'ds'::text[]) d));
RESET lock_timeout;
SELECT dblink_exec('locker', 'ROLLBACK');
SELECT dblink_disconnect('locker');
-- and refused in a read-only transaction before anything is sent
BEGIN READ ONLY;
SELECT t.err(format($$SELECT count(*) FROM signicat.call_many('assure_create_process', ARRAY['{"dossier_id": "%s", "provider": "onfido"}'::jsonb])$$, (:'ds'::text[])[1]));
ROLLBACK;

-- statement_timeout ends the whole batch; the next one works
SELECT t.fault('{"operation": "assure_get_dossier", "delay_ms": 5000, "count": 4}');
SET statement_timeout = '500ms';
\set VERBOSITY terse
SELECT count(*) FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
\set VERBOSITY default
RESET statement_timeout;
SELECT t.mock('DELETE', 'faults') IS NOT NULL AS cleared;
SELECT count(*) FILTER (WHERE result IS NOT NULL) AS answered
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));

-- grants follow the operation's own function
GRANT USAGE ON SCHEMA t TO PUBLIC;
CREATE ROLE regress_bulk_reader IN ROLE signicat_reader;
SET ROLE regress_bulk_reader;
SELECT t.err(format($$SELECT count(*) FROM signicat.call_many('assure_get_dossier', ARRAY['{"dossier_id": "%s"}'::jsonb])$$, (:'ds'::text[])[1]));
RESET ROLE;
DROP ROLE regress_bulk_reader;

-- more calls than a window: every row, in order
SELECT count(*) AS rows, min(ordinality), max(ordinality),
       bool_and(result->>'dossierId' = arguments->>'dossier_id') AS each_its_own,
       bool_and(arguments->>'dossier_id' = (:'ds'::text[])[1 + ordinality % 3]) AS in_order
FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', (:'ds'::text[])[1 + i % 3]) ORDER BY i)
     FROM generate_series(1, 1100) i));

-- the statistics count each call once, and each retry
SELECT calls AS calls_before, retries AS retries_before
FROM signicat.stat_operations WHERE operation_id = 'assure_get_dossier' \gset
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "count": 1}');
SELECT count(*) FROM signicat.call_many('assure_get_dossier',
    (SELECT array_agg(jsonb_build_object('dossier_id', d)) FROM unnest(:'ds'::text[]) d));
SELECT calls - :calls_before AS calls, retries - :retries_before AS retries
FROM signicat.stat_operations WHERE operation_id = 'assure_get_dossier';
