-- signicat--0.3.0--0.4.0.sql: update script from 0.3.0 to 0.4.0.
--
-- What changed (issue: calls that happen only if the transaction commits):
--   * signicat.queue and signicat.enqueue(): a call checked now, sent by the
--     background worker once the enqueuing transaction commits, at most once
--     for a POST or PATCH; row-level security shows each role its own;
--   * the worker role may send the queue and enrol what its creates made.
-- test/t/008_upgrade.pl checks that this script and a fresh install of 0.4.0
-- give the same objects.

\echo Use "ALTER EXTENSION signicat UPDATE TO '0.4.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- The after-commit queue: requests the worker sends once the enqueuing
-- transaction has committed (signicat.enqueue), at most once for a POST or
-- PATCH.  Each role sees and deletes only the requests it enqueued (row-level
-- security, as pg_cron protects cron.job); admins see all.  Rows are written
-- by signicat.enqueue (as the table's owner, after checking the caller's
-- grant on the operation's function), deleted by signicat.queue_delete (the
-- same way: nobody holds a table privilege that could lock the worker out),
-- and sent by the worker; finished requests go after signicat.queue_retention.
-- Kept by pg_dump; a worker sends only the requests queued in its own
-- database (origin): in a restored copy they are held as 'unknown'.
-- ---------------------------------------------------------------------------

CREATE TABLE signicat.queue (
    id              bigserial PRIMARY KEY,
    operation       text NOT NULL,          -- operation id (signicat.operations())
    arguments       jsonb NOT NULL,         -- its SQL function's arguments, by name
    enqueued_by     name NOT NULL DEFAULT CURRENT_USER,
    account_id      text,                   -- signicat.account_id of the enqueuing session
    watch           boolean NOT NULL DEFAULT true,  -- its signicat.auto_watch: enrol what is created
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'done', 'failed', 'unknown')),
    method          text,                   -- the method of the last attempt
    attempts        integer NOT NULL DEFAULT 0,
    enqueued_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_attempt_at timestamptz,
    finished_at     timestamptz,            -- done, failed or unknown
    result          jsonb,                  -- the answer (may hold personal data)
    http_status     integer,                -- of the last answer
    sqlstate        text,                   -- the error of the last attempt, as a call raises it
    message         text,
    detail          text,
    trace_id        text,                   -- Signicat's traceId of an error answer
    claimed_by      bigint,                 -- the worker sending it (state sending)
    origin          text                    -- system identifier:database oid where it was queued
);
CREATE INDEX queue_queued ON signicat.queue (id) WHERE state = 'queued';
CREATE INDEX queue_sending ON signicat.queue (id) WHERE state = 'sending';
CREATE INDEX queue_finished ON signicat.queue (finished_at) WHERE state IN ('done', 'failed');
COMMENT ON TABLE signicat.queue IS
'Requests sent by the worker after the enqueuing transaction commits (signicat.enqueue): state, attempts, result or error; each role sees its own';
SELECT pg_catalog.pg_extension_config_dump('signicat.queue', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.queue_id_seq', '');

ALTER TABLE signicat.queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY queue_own ON signicat.queue FOR SELECT TO signicat_reader
    USING (enqueued_by OPERATOR(pg_catalog.=) CURRENT_USER);
CREATE POLICY queue_admin ON signicat.queue FOR SELECT TO signicat_admin USING (true);
CREATE POLICY queue_worker ON signicat.queue TO signicat_worker USING (true) WITH CHECK (true);

CREATE FUNCTION signicat.enqueue(operation text, arguments jsonb DEFAULT '{}')
RETURNS bigint AS 'MODULE_PATHNAME', 'signicat_enqueue' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.enqueue(text, jsonb) IS
'Queue a call of an operation (arguments by name, as signicat.call_many takes them), checked now and sent by the worker once this transaction commits; returns its signicat.queue id';

CREATE FUNCTION signicat.queue_delete(id bigint)
RETURNS boolean AS 'MODULE_PATHNAME', 'signicat_queue_delete' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION signicat.queue_delete(bigint) IS
'Delete a request of signicat.queue that you queued (an admin: anyone''s): cancels it if not sent yet, forgets its outcome if finished; refused while it is being sent; false if there is no such request of yours';

REVOKE EXECUTE ON FUNCTION signicat.enqueue(text, jsonb), signicat.queue_delete(bigint) FROM PUBLIC;
-- each call is checked against the grant of the operation's own function
GRANT EXECUTE ON FUNCTION signicat.enqueue(text, jsonb), signicat.queue_delete(bigint) TO signicat_reader;
GRANT SELECT ON signicat.queue TO signicat_reader;
-- the worker sends the queue, and enrols what its creates made
GRANT SELECT, UPDATE, DELETE ON signicat.queue TO signicat_worker;
GRANT EXECUTE ON FUNCTION signicat.watch_add(text, uuid, uuid) TO signicat_worker;
