-- worker: the background worker follows processes, sessions and onboardings
-- to their final status, records every change once, notifies listeners, and
-- backs off on errors; the analyst views read what it recorded.
SELECT t.reset();
-- earlier tests enrolled what they created (and synced, cron); start from empty tables
DELETE FROM signicat.watch;
DELETE FROM signicat.processes;
ALTER SYSTEM SET signicat.poll_interval = '100ms';
ALTER SYSTEM SET signicat.poll_max_interval = '1s';
ALTER SYSTEM SET signicat.worker_naptime = '50ms';
SELECT pg_reload_conf();

-- the worker of this database: started once, visible in pg_stat_activity
SELECT signicat.start_worker() IS NOT NULL AS started;
SELECT signicat.start_worker() IS NULL AS already_running;
SELECT t.wait_until($$SELECT count(*) = 1 FROM pg_stat_activity
                      WHERE backend_type = 'signicat worker' AND datname = current_database()$$) AS in_pg_stat_activity;

-- a listener on another connection
SELECT dblink_connect('listener', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('listener', 'LISTEN signicat_status');

-- creating through SQL enrols automatically
SELECT (signicat.assure_create_dossier('worker accepted')->>'dossierId') AS d1 \gset
SELECT (signicat.assure_create_process(:'d1', 'onfido', document_type => 'passport')->>'processId') AS p_pending \gset
SELECT kind, state FROM signicat.watch WHERE item_id = :'p_pending';
SELECT id AS w_pending FROM signicat.watch WHERE item_id = :'p_pending' \gset
-- dropping stops following it; the row and its history stay (an audit trail)
SELECT signicat.watch_drop('assure_process', :'p_pending') AS dropped;
SELECT signicat.watch_drop('assure_process', :'p_pending') AS dropped_again;
SELECT state AS after_drop FROM signicat.watch WHERE item_id = :'p_pending';
-- enrolling it again follows it again, under the same id
SELECT signicat.watch_add('assure_process', :'p_pending', :'d1') = :w_pending AS same_item;
SELECT state AS after_add FROM signicat.watch WHERE item_id = :'p_pending';
SELECT signicat.watch_drop('assure_process', :'p_pending') AS dropped;
-- only an admin deletes an item with its history
DELETE FROM signicat.watch WHERE item_id = :'p_pending';

-- items with a known path: enrolled after their verification started
SET signicat.auto_watch = off;
SELECT signicat.assure_delete_process(:'d1', :'p_pending');
SELECT (signicat.assure_create_process(:'d1', 'onfido', document_type => 'passport')->>'processId') AS p1 \gset
SELECT count(*) AS not_enrolled FROM signicat.watch WHERE item_id = :'p1';
SELECT signicat.assure_set_process_images(:'d1', :'p1', front => t.png());
SELECT signicat.assure_start_verification(:'d1', :'p1') IS NOT NULL AS started;
SELECT (signicat.assure_create_dossier('worker mock-final=rejected')->>'dossierId') AS d2 \gset
SELECT (signicat.assure_create_process(:'d2', 'signicatpaper', document_country => 'NLD', document_type => 'passport')->>'processId') AS p2 \gset
SELECT signicat.assure_set_process_images(:'d2', :'p2', front => t.png());
SELECT signicat.assure_start_verification(:'d2', :'p2') IS NOT NULL AS started;
SELECT signicat.watch_add('assure_process', :'p1', :'d1') > 0 AS enrolled,
       signicat.watch_add('assure_process', :'p2', :'d2') > 0 AS enrolled;
SELECT signicat.watch_add('assure_process', :'p1', :'d1') = signicat.watch_add('assure_process', :'p1', :'d1') AS idempotent;
RESET signicat.auto_watch;

-- sessions and onboardings to each final status (auto-enrolled)
SELECT signicat.auth_create_session('redirect', '{nin}') IS NOT NULL AS success;
SELECT signicat.auth_create_session('redirect', '{}', external_reference => 'mock-final=ERROR') IS NOT NULL AS error;
SELECT signicat.auth_create_session('redirect', '{}', external_reference => 'mock-final=ABORT') IS NOT NULL AS abort;
SELECT signicat.auth_cancel_session((signicat.auth_create_session('redirect', '{}')->>'id')::uuid)->>'status' AS cancelled;
SELECT (signicat.reuseid_start_onboarding(external_ref => 'worker')->>'userId') AS user_id \gset
SELECT signicat.reuseid_start_onboarding(external_ref => 'mock-final=Failed') IS NOT NULL AS failed;
SELECT signicat.reuseid_start_step_up(:'user_id', 'device-1') IS NOT NULL AS step_up;
-- a process deleted behind the worker's back is gone (404)
SET signicat.auto_watch = off;
SELECT (signicat.assure_create_process(:'d1', 'onfido')->>'processId') AS p_gone \gset
SELECT signicat.request('DELETE', format('/assure/dossiers/%s/processes/%s', :'d1', :'p_gone')) IS NULL AS deleted;
SELECT signicat.watch_add('assure_process', :'p_gone', :'d1') > 0 AS enrolled;
RESET signicat.auto_watch;

SELECT t.wait_until($$SELECT count(*) = 0 FROM signicat.watch WHERE state = 'active'$$) AS all_final;
SELECT kind, status, state, count(*) FROM signicat.watch GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS FIRST;

-- every change once: transitions of the two Assure processes
SELECT w.dossier_id = :'d1' AS first_dossier,
       string_agg(coalesce(h.old_status, '-') || ' > ' || h.new_status, ', ' ORDER BY h.seq) AS transitions
FROM signicat.watch w JOIN signicat.status_history h ON h.watch_id = w.id
WHERE w.item_id IN (:'p1', :'p2') GROUP BY w.id, w.dossier_id ORDER BY 1 DESC;
-- and for every item: seq 1..n, each change starts where the last ended, the
-- last one is the current status, no status twice
SELECT count(*) AS items,
       count(*) FILTER (WHERE chain_ok) AS consistent_histories
FROM (
    SELECT w.id,
           bool_and(h.seq = h.rn) AND bool_and(h.old_status IS NOT DISTINCT FROM h.prev)
           AND max(h.new_status) FILTER (WHERE h.seq = h.n) IS NOT DISTINCT FROM w.status
           AND count(*) = count(DISTINCT h.new_status) AS chain_ok
    FROM signicat.watch w
    JOIN (SELECT *, row_number() OVER (PARTITION BY watch_id ORDER BY seq) AS rn,
                 lag(new_status) OVER (PARTITION BY watch_id ORDER BY seq) AS prev,
                 count(*) OVER (PARTITION BY watch_id) AS n
          FROM signicat.status_history) h ON h.watch_id = w.id
    GROUP BY w.id, w.status
) per_item;
SELECT decided_at IS NOT NULL AS decided, last_error LIKE 'HTTP 404%' AS gone_404
FROM signicat.watch WHERE item_id = :'p_gone';

-- NOTIFY signicat_status: one per change (and one for the gone item); the
-- payload names the watch id and the history row, nothing a role without
-- grants may not see
CREATE TEMP TABLE notes AS SELECT extra::jsonb AS n FROM dblink_get_notify('listener');
-- (the item dropped at the start may have been polled once: not counted)
SELECT count(*) = (SELECT count(*) + 1 FROM signicat.status_history) AS one_per_change
FROM notes WHERE (n->>'watch_id')::bigint <> :w_pending;
SELECT count(*) = (SELECT count(*) FROM signicat.status_history) AS each_names_its_history_row
FROM notes JOIN signicat.status_history h
  ON h.watch_id = (n->>'watch_id')::bigint AND h.seq = (n->>'seq')::integer;
SELECT h.kind, h.old_status, h.new_status, n->>'final' AS final
FROM notes JOIN signicat.status_history h
  ON h.watch_id = (n->>'watch_id')::bigint AND h.seq = (n->>'seq')::integer
WHERE h.item_id = :'p2' ORDER BY h.seq;
SELECT w.state, n->>'seq' AS seq, n->>'final' AS final
FROM notes JOIN signicat.watch w ON w.id = (n->>'watch_id')::bigint
WHERE w.item_id = :'p_gone';
SELECT DISTINCT (SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(n) k) AS fields
FROM notes ORDER BY 1;

-- the analyst views
SELECT kind, provider, status, state, source, time_to_decision IS NOT NULL AS decided
FROM signicat.verifications ORDER BY 1, 3 NULLS FIRST, 2;
SELECT kind, provider, status, verifications FROM signicat.daily_status_counts
WHERE day = current_date ORDER BY 1, 2, 3 NULLS FIRST;
SELECT kind, provider, decided, p50 <= p90 AND p90 <= p99 AS ordered FROM signicat.decision_times ORDER BY 1, 2;
SELECT items_active, items_due, rounds > 0 AS has_rounds, polled > 0 AS has_polled, pid > 0 AS has_pid
FROM signicat.worker_status;

-- a process that stays pending: followed, not final, stuck after a while
SELECT (signicat.assure_create_process(:'d1', 'onfido')->>'processId') AS p_stuck \gset
SELECT t.wait_until(format($$SELECT polls >= 2 FROM signicat.watch WHERE item_id = %L$$, :'p_stuck')) AS polled_twice;
SELECT status, state, unchanged_polls >= 1 AS backing_off FROM signicat.watch WHERE item_id = :'p_stuck';
SELECT count(*) AS stuck_for_an_hour FROM signicat.stuck('1 hour');
SELECT status, kind FROM signicat.stuck('0 seconds');

-- a failing upstream: errors are counted, the item waits as told, then recovers
SELECT t.fault('{"operation": "assure_get_process", "status": 429, "retry_after": "2", "count": 1, "problem": {"traceId": "trace-429"}}');
SELECT t.wait_until(format($$SELECT errors = 1 FROM signicat.watch WHERE item_id = %L$$, :'p_stuck')) AS got_429;
SELECT last_error, next_poll_at - last_polled_at >= interval '2 seconds' AS waits_retry_after
FROM signicat.watch WHERE item_id = :'p_stuck';
SELECT t.wait_until(format($$SELECT errors = 0 FROM signicat.watch WHERE item_id = %L$$, :'p_stuck')) AS recovered;
SELECT t.fault('{"operation": "assure_get_process", "status": 500, "count": 1, "problem": {"title": "Oops", "traceId": "trace-w"}}');
SELECT t.wait_until(format($$SELECT errors = 1 FROM signicat.watch WHERE item_id = %L$$, :'p_stuck')) AS got_500;
SELECT last_error FROM signicat.watch WHERE item_id = :'p_stuck';
-- the fault matrix, polled by the worker: each failure is recorded on the
-- item, which backs off and recovers when the upstream does
ALTER SYSTEM SET signicat.timeout = '1s';
ALTER SYSTEM SET signicat.max_response_size = '64kB';
SELECT pg_reload_conf();
-- a worker started now has read them (no hoping that a reload has reached the running one)
SELECT signicat.stop_worker() AS stopped, signicat.start_worker() IS NOT NULL AS started;
CREATE FUNCTION t.worker_fault(item uuid, spec jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    recorded text;
BEGIN
    PERFORM t.wait_until(format($q$SELECT errors = 0 FROM signicat.watch WHERE item_id = %L$q$, item));
    PERFORM t.fault('{"operation": "assure_get_process", "count": 1}'::jsonb || spec);
    IF NOT t.wait_until(format($q$SELECT errors = 1 FROM signicat.watch WHERE item_id = %L$q$, item)) THEN
        RETURN 'no error recorded';
    END IF;
    SELECT last_error INTO recorded FROM signicat.watch WHERE item_id = item;
    PERFORM t.mock('DELETE', 'faults');
    IF NOT t.wait_until(format($q$SELECT errors = 0 FROM signicat.watch WHERE item_id = %L$q$, item)) THEN
        RETURN 'did not recover: ' || recorded;
    END IF;
    -- (libcurl words a dropped connection differently depending on its retries)
    RETURN regexp_replace(regexp_replace(regexp_replace(recorded, ' \(traceId [0-9a-f]+\)', ''),
                          '\d+ milliseconds', 'N milliseconds'),
                          'Empty reply from server|Connection died, tried \d+ times before giving up',
                          'closed without an answer');
END $$;
SELECT f->>'name' AS fault, t.worker_fault(:'p_stuck', f - 'name') AS recorded
FROM jsonb_array_elements('[
    {"name": "hang past the timeout", "hang": true},
    {"name": "reset mid-body", "drop_mid_body": true},
    {"name": "connection dropped (libcurl resends a GET up to 5 times itself)", "drop": true, "count": 6},
    {"name": "truncated JSON", "truncated_json": true},
    {"name": "malformed JSON", "malformed_json": true},
    {"name": "not JSON with 200", "status": 200, "body": "<html>hi</html>", "content_type": "text/html"},
    {"name": "HTML error page with 502", "status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"},
    {"name": "429 without Retry-After", "status": 429},
    {"name": "500", "status": 500},
    {"name": "401", "status": 401},
    {"name": "oversized body", "oversized_bytes": 200000},
    {"name": "headers over 64 kB", "header_bytes": 70000},
    {"name": "empty 200", "status": 200},
    {"name": "\\u0000 in the answer", "status": 200, "body": "{\"status\": \"processing\", \"name\": \"a\\u0000b\"}"}
]'::jsonb) f;
ALTER SYSTEM RESET signicat.timeout;
ALTER SYSTEM RESET signicat.max_response_size;
SELECT pg_reload_conf();
SELECT signicat.watch_drop('assure_process', :'p_stuck');

-- a status the catalog does not know is not final: the item stays followed
SELECT t.config('{"auth_waiting_status": "AWAITING_SECOND_FACTOR", "auth_polls_until_final": 1000}');
SELECT (signicat.auth_create_session('redirect', '{}')->>'id') AS s_new \gset
SELECT t.wait_until(format($$SELECT status = 'AWAITING_SECOND_FACTOR' FROM signicat.watch WHERE item_id = %L$$, :'s_new')) AS invented_status_seen;
SELECT t.wait_until(format($$SELECT polls >= 3 FROM signicat.watch WHERE item_id = %L$$, :'s_new')) AS polled_again;
SELECT state, status, decided_at IS NULL AS undecided FROM signicat.watch WHERE item_id = :'s_new';
-- ... to the status that ends it
SELECT t.config('{"auth_polls_until_final": 1}');
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.watch WHERE item_id = %L$$, :'s_new')) AS done;
SELECT string_agg(coalesce(old_status, '-') || '>' || new_status, ', ' ORDER BY seq) AS history
FROM signicat.status_history WHERE item_id = :'s_new';
SELECT t.config('{"auth_waiting_status": "WAITING_FOR_USER", "auth_polls_until_final": 3}');
SELECT (signicat.auth_create_session('redirect', '{}')->>'id') AS s_wait \gset
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.watch WHERE item_id = %L$$, :'s_wait')) AS done;
SELECT string_agg(coalesce(old_status, '-') || '>' || new_status, ', ' ORDER BY seq) AS history
FROM signicat.status_history WHERE item_id = :'s_wait';

-- a corrected path is where the worker polls (Signicat moved it; an admin corrected it)
SELECT t.mock('POST', 'moves', '{"operation": "auth_get_session", "path": "/auth/rest/v2/sessions/{id}"}') IS NOT NULL AS moved;
INSERT INTO signicat.operation_corrections (operation, method, path)
VALUES ('auth_get_session', 'GET', '/auth/rest/v2/sessions/{sessionId}');
SELECT (signicat.auth_create_session('redirect', '{}')->>'id') AS s_moved \gset
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.watch WHERE item_id = %L$$, :'s_moved')) AS done;
SELECT state, status, errors FROM signicat.watch WHERE item_id = :'s_moved';
SELECT DISTINCT t.mask(r->>'raw_path') AS worker_polled FROM t.requests('auth_get_session') r
WHERE r->>'path' LIKE '%' || :'s_moved';
DELETE FROM signicat.operation_corrections;
SELECT t.mock('DELETE', 'moves') IS NOT NULL AS moved_back;
SELECT t.config('{"auth_waiting_status": "", "auth_polls_until_final": 2}');

-- sync: the process list of the API into signicat.processes, all pages
SELECT t.mock('POST', 'seed-processes', '{"count": 7, "status": "accepted", "provider": "readid"}') IS NOT NULL AS seeded;
SELECT signicat.sync_processes(now() - interval '1 hour') AS synced;
SELECT signicat.sync_processes(now() - interval '1 hour') AS synced_again;
SELECT provider, status, count(*) FROM signicat.processes GROUP BY 1, 2 ORDER BY 1, 2;
SELECT source, count(*) FROM signicat.verifications GROUP BY 1 ORDER BY 1;

SELECT dblink_disconnect('listener');
SELECT signicat.stop_worker() AS stopped;
SELECT count(*) AS workers FROM pg_stat_activity WHERE backend_type = 'signicat worker' AND datname = current_database();
ALTER SYSTEM RESET signicat.poll_interval;
ALTER SYSTEM RESET signicat.poll_max_interval;
ALTER SYSTEM RESET signicat.worker_naptime;
SELECT pg_reload_conf();
