-- worker_queue: signicat.enqueue and the after-commit queue.  A queued call is
-- checked at once and sent by the worker only after its transaction commits;
-- each outcome is recorded once (result, or the error as a call raises it) and
-- announced on signicat_queue; a POST is never sent twice; each role sees
-- only what it queued.
SELECT t.reset();
DELETE FROM signicat.watch;
ALTER SYSTEM SET signicat.poll_interval = '100ms';
ALTER SYSTEM SET signicat.poll_max_interval = '400ms';
ALTER SYSTEM SET signicat.worker_naptime = '50ms';
ALTER SYSTEM SET signicat.timeout = '2s';
ALTER SYSTEM SET signicat.queue_max_attempts = 3;
SELECT pg_reload_conf();

CREATE ROLE q_reader IN ROLE signicat_reader;
CREATE ROLE q_operator IN ROLE signicat_operator;
CREATE ROLE q_other IN ROLE signicat_operator;
CREATE ROLE q_admin IN ROLE signicat_admin;
CREATE ROLE q_nobody;
GRANT USAGE ON SCHEMA t TO q_reader, q_operator, q_other, q_admin, q_nobody;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA t TO q_reader, q_operator, q_other, q_admin, q_nobody;

-- ---- checked at once, nothing sent ----
SET ROLE q_nobody;
SELECT t.err($$SELECT signicat.enqueue('assure_create_dossier')$$) AS no_grant;
SET ROLE q_reader;
-- a reader may queue what readers may call, not an operator's create
SELECT t.err($$SELECT signicat.enqueue('assure_create_dossier')$$) AS reader_create;
SELECT t.err($$SELECT signicat.enqueue('assure_get_matching_configuration', '{"nope": 1}')$$) AS unknown_argument;
SELECT t.err($$SELECT signicat.enqueue('assure_list_document_types')$$) AS returns_rows;
-- nobody writes the table but through enqueue (which checks the grant)
SELECT t.err($$INSERT INTO signicat.queue (operation, arguments) VALUES ('assure_delete_all_dossiers', '{}')$$) AS direct_insert;
SET ROLE q_operator;
SELECT t.err($$SELECT signicat.enqueue('assure_get_process', '{"dossier_id": "not-a-uuid", "process_id": "00000000-0000-0000-0000-000000000001"}')$$) AS bad_uuid;
SELECT t.err($$SELECT signicat.enqueue('assure_get_process', '{"dossier_id": "00000000-0000-0000-0000-000000000001"}')$$) AS missing_argument;
SELECT t.err($$SELECT signicat.enqueue('assure_set_process_images', '{}')$$) AS upload;
SELECT t.err($$SELECT signicat.enqueue('no_such_operation')$$) AS unknown_operation;
SELECT t.err($$SELECT signicat.enqueue(NULL)$$) AS no_operation;
SELECT t.err($$SELECT signicat.enqueue('assure_create_dossier', '[1]')$$) AS not_an_object;
RESET ROLE;
SELECT count(*) AS queued FROM signicat.queue;

-- ---- a rollback sends nothing; a commit sends once ----
SELECT signicat.start_worker() IS NOT NULL AS started;
SELECT dblink_connect('listener', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('listener', 'LISTEN signicat_queue');
SET ROLE q_operator;
BEGIN;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue rolled back"}') > 0 AS queued;
ROLLBACK;
SET signicat.account_id = 'queue-account';
BEGIN;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue committed"}') AS q_dossier \gset
-- not visible to the worker before the commit
SELECT pg_sleep(0.3);
SELECT state FROM signicat.queue WHERE id = :q_dossier;
COMMIT;
RESET signicat.account_id;
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.queue WHERE id = %s$$, :q_dossier)) AS done;
SELECT state, method, attempts, http_status, result ? 'dossierId' AS has_dossier, sqlstate, message,
       enqueued_by, account_id, finished_at >= enqueued_at AS timed
FROM signicat.queue WHERE id = :q_dossier;
RESET ROLE;
SELECT count(*) FILTER (WHERE r->'body'->>'externalReference' = 'queue committed') AS sent_committed,
       count(*) FILTER (WHERE r->'body'->>'externalReference' = 'queue rolled back') AS sent_rolled_back,
       max(r->'headers'->>'signicat-accountid') FILTER (WHERE r->'body'->>'externalReference' = 'queue committed') AS account
FROM t.requests('assure_create_dossier') r;
-- the worker announced it after the commit that recorded it: id and state only
SELECT t.wait_until($$SELECT count(*) > 0 FROM dblink_get_notify('listener') n
                      WHERE n.notify_name = 'signicat_queue'
                        AND (n.extra::jsonb->>'state') = 'done'$$) AS notified;

-- ---- a create is enrolled like a synchronous one, with the queuing session's account ----
SET ROLE q_operator;
SELECT (result->>'dossierId') AS d1 FROM signicat.queue WHERE id = :q_dossier \gset
SET signicat.account_id = 'queue-account';
SELECT signicat.enqueue('assure_create_process', format('{"dossier_id": "%s", "provider": "onfido", "document_type": "passport"}', :'d1')::jsonb) AS q_process \gset
RESET signicat.account_id;
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.queue WHERE id = %s$$, :q_process)) AS done;
RESET ROLE;
SELECT w.kind, w.account_id, w.dossier_id::text = :'d1' AS same_dossier
FROM signicat.queue q JOIN signicat.watch w ON w.item_id = (q.result->>'processId')::uuid
WHERE q.id = :q_process;
-- with signicat.auto_watch off when queued, it is not
SET ROLE q_operator;
SET signicat.auto_watch = off;
SELECT signicat.enqueue('assure_create_process', format('{"dossier_id": "%s", "provider": "onfido"}', :'d1')::jsonb) AS q_unwatched \gset
RESET signicat.auto_watch;
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.queue WHERE id = %s$$, :q_unwatched)) AS done;
RESET ROLE;
SELECT count(*) AS enrolled FROM signicat.queue q JOIN signicat.watch w ON w.item_id = (q.result->>'processId')::uuid
WHERE q.id = :q_unwatched;

-- ---- errors are values, as a call raises them ----
SET ROLE q_operator;
SELECT signicat.enqueue('assure_get_dossier', '{"dossier_id": "00000000-0000-0000-0000-000000000009"}') AS q_404 \gset
SELECT t.wait_until(format($$SELECT state = 'failed' FROM signicat.queue WHERE id = %s$$, :q_404)) AS failed;
SELECT state, attempts, http_status, sqlstate, message IS NOT NULL AS has_message FROM signicat.queue WHERE id = :q_404;
RESET ROLE;

-- a GET answered 503 once is sent again (with backoff) ...
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "count": 1}');
SET ROLE q_operator;
SELECT signicat.enqueue('assure_get_dossier', format('{"dossier_id": "%s"}', :'d1')::jsonb) AS q_get503 \gset
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.queue WHERE id = %s$$, :q_get503)) AS done;
SELECT state, attempts, http_status, sqlstate AS last_error_cleared FROM signicat.queue WHERE id = :q_get503;
RESET ROLE;
-- ... a POST answered 503 is not: a gateway's answer, it may have been done (unknown) ...
SELECT t.fault('{"operation": "assure_create_dossier", "status": 503, "count": 1}');
SET ROLE q_operator;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue 503"}') AS q_post503 \gset
SELECT t.wait_until(format($$SELECT state = 'unknown' FROM signicat.queue WHERE id = %s$$, :q_post503)) AS unknown;
SELECT state, attempts, http_status, sqlstate FROM signicat.queue WHERE id = :q_post503;
-- ... and a POST answered 400 is failed: Signicat refused it
RESET ROLE;
SELECT t.fault('{"operation": "assure_create_dossier", "status": 400, "count": 1}');
SET ROLE q_operator;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue 400"}') AS q_post400 \gset
SELECT t.wait_until(format($$SELECT state = 'failed' FROM signicat.queue WHERE id = %s$$, :q_post400)) AS failed;
SELECT state, attempts, http_status, sqlstate FROM signicat.queue WHERE id = :q_post400;
RESET ROLE;
-- ... but a POST answered 429 is (refused before anything was done), after Retry-After
SELECT t.fault('{"operation": "assure_create_dossier", "status": 429, "retry_after": "1", "count": 1}');
SET ROLE q_operator;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue 429"}') AS q_post429 \gset
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.queue WHERE id = %s$$, :q_post429)) AS done;
SELECT state, attempts, last_attempt_at - enqueued_at >= interval '1 second' AS waited FROM signicat.queue WHERE id = :q_post429;
RESET ROLE;
-- a POST without an answer (timeout) is unknown, never sent again; a GET is retried
SELECT t.fault('{"operation": "assure_create_dossier", "hang": true, "count": 1}');
SELECT t.fault('{"operation": "assure_get_dossier", "hang": true, "count": 1}');
SET ROLE q_operator;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue hang"}') AS q_post_hang \gset
SELECT signicat.enqueue('assure_get_dossier', format('{"dossier_id": "%s"}', :'d1')::jsonb) AS q_get_hang \gset
-- a request being sent cannot be deleted (its outcome would have nowhere to go)
SELECT t.wait_until(format($$SELECT state = 'sending' FROM signicat.queue WHERE id = %s$$, :q_post_hang)) AS sending;
SELECT t.err(format('SELECT signicat.queue_delete(%s)', :q_post_hang)) AS delete_while_sending;
SELECT t.wait_until(format($$SELECT state = 'unknown' FROM signicat.queue WHERE id = %s$$, :q_post_hang)) AS unknown;
SELECT t.wait_until(format($$SELECT state = 'done' FROM signicat.queue WHERE id = %s$$, :q_get_hang)) AS done;
SELECT id = :q_post_hang AS post, state, attempts, sqlstate, message LIKE '%may or may not have been done' AS says_so
FROM signicat.queue WHERE id IN (:q_post_hang, :q_get_hang) ORDER BY id;
RESET ROLE;
SELECT count(*) AS hang_sent FROM t.requests('assure_create_dossier') r WHERE r->'body'->>'externalReference' = 'queue hang';
-- attempts are bounded: a GET failing every time ends failed after signicat.queue_max_attempts
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "count": 5}');
SET ROLE q_operator;
SELECT signicat.enqueue('assure_get_dossier', format('{"dossier_id": "%s"}', :'d1')::jsonb) AS q_get_failing \gset
SELECT t.wait_until(format($$SELECT state = 'failed' FROM signicat.queue WHERE id = %s$$, :q_get_failing)) AS failed;
SELECT state, attempts, http_status, sqlstate FROM signicat.queue WHERE id = :q_get_failing;
RESET ROLE;
SELECT t.reset();

-- ---- each role sees its own; admins all ----
SET ROLE q_other;
SELECT signicat.enqueue('assure_get_dossier', format('{"dossier_id": "%s"}', :'d1')::jsonb) AS q_other \gset
SELECT count(*) AS others_see, count(*) FILTER (WHERE enqueued_by = 'q_other') AS own FROM signicat.queue;
SET ROLE q_operator;
SELECT count(*) FILTER (WHERE enqueued_by <> 'q_operator') AS operator_sees_others FROM signicat.queue;
-- another role's request cannot be deleted, nor changed; the table itself is written by nobody
SELECT signicat.queue_delete(:q_other) AS deleted_others;
SELECT t.err(format($$UPDATE signicat.queue SET state = 'queued' WHERE id = %s$$, :q_post_hang)) AS update_own;
SELECT t.err(format($$DELETE FROM signicat.queue WHERE id = %s$$, :q_post_hang)) AS delete_directly;
SELECT t.err('LOCK TABLE signicat.queue IN EXCLUSIVE MODE') AS lock_out_the_worker;
SET ROLE q_admin;
SELECT count(DISTINCT enqueued_by) AS admin_sees FROM signicat.queue;
RESET ROLE;
-- (the mock forgot the dossier at its reset: a 404)
SELECT t.wait_until(format($$SELECT finished_at IS NOT NULL FROM signicat.queue WHERE id = %s$$, :q_other)) AS finished;
SELECT state, http_status FROM signicat.queue WHERE id = :q_other;
SET ROLE q_admin;
SELECT signicat.queue_delete(:q_other) AS admin_deleted;
RESET ROLE;

-- a queued request is cancelled by deleting it; it is never sent
SELECT signicat.stop_worker() AS stopped;
SET ROLE q_operator;
SELECT signicat.enqueue('assure_create_dossier', '{"external_reference": "queue cancelled"}') AS q_cancel \gset
SELECT signicat.queue_delete(:q_cancel) AS cancelled, signicat.queue_delete(:q_cancel) AS again;
-- the unknown ones are reconciled by their owner, then deleted
SELECT signicat.queue_delete(id) AS reconciled FROM signicat.queue WHERE state = 'unknown' ORDER BY id;
RESET ROLE;

-- a grant revoked while a request waits holds: the worker checks it again
SET ROLE q_reader;
SELECT signicat.enqueue('assure_get_matching_configuration', '{"configuration_id": "queue-revoked"}') AS q_revoked \gset
RESET ROLE;
REVOKE signicat_reader FROM q_reader;
SELECT signicat.start_worker() IS NOT NULL AS started;
SELECT t.wait_until(format($$SELECT state = 'failed' FROM signicat.queue WHERE id = %s$$, :q_revoked)) AS failed;
SELECT state, sqlstate, message FROM signicat.queue WHERE id = :q_revoked;
SELECT count(*) FILTER (WHERE r->'body'->>'externalReference' = 'queue cancelled') AS cancelled_sent
FROM t.requests('assure_create_dossier') r;
SELECT count(*) AS revoked_sent FROM t.requests() r WHERE r->>'path' LIKE '%queue-revoked%';

-- finished requests go after signicat.queue_retention (at the worker's housekeeping, at its start)
ALTER SYSTEM SET signicat.queue_retention = '1s';
SELECT pg_reload_conf();
SELECT pg_sleep(1.1);
SELECT signicat.stop_worker() AS stopped;
SELECT signicat.start_worker() IS NOT NULL AS started;
SELECT t.wait_until($$SELECT NOT EXISTS (SELECT FROM signicat.queue WHERE state IN ('done', 'failed'))$$) AS trimmed;
SELECT state, count(*) FROM signicat.queue GROUP BY 1 ORDER BY 1;

SELECT dblink_disconnect('listener');
SELECT signicat.stop_worker() AS stopped;
DELETE FROM signicat.queue;
DELETE FROM signicat.watch;
ALTER SYSTEM RESET signicat.poll_interval;
ALTER SYSTEM RESET signicat.poll_max_interval;
ALTER SYSTEM RESET signicat.worker_naptime;
ALTER SYSTEM RESET signicat.timeout;
ALTER SYSTEM RESET signicat.queue_max_attempts;
ALTER SYSTEM RESET signicat.queue_retention;
SELECT pg_reload_conf();
DROP OWNED BY q_reader, q_operator, q_other, q_admin, q_nobody;
DROP ROLE q_reader, q_operator, q_other, q_admin, q_nobody;
