-- catalog_changes: the catalog follows Signicat as it changes.  Values the
-- catalog does not know are sent; the operation Signicat added is there; an
-- admin corrects a wrong path at run time, every session uses it, and the
-- correction is checked.  (The worker's side is in worker.sql.)
SELECT t.reset();

-- signicat.operations(): every operation, confirmed by a public source or inferred
SELECT mark, api, count(*) FROM signicat.operations() GROUP BY 1, 2 ORDER BY 1, 2;
SELECT operation_id, method, path, mark, source LIKE '%.NET SDK%' AS from_the_sdk
FROM signicat.operations() WHERE operation_id IN ('auth_cancel_session', 'assure_get_process_raw_result');
SELECT count(*) FILTER (WHERE source = '') AS without_source, count(*) FILTER (WHERE corrected) AS corrected
FROM signicat.operations();
-- the values each parameter is known to take: documentation, not a limit
SELECT known_values->'flow' AS flow, known_values ? 'requestedLoa' AS loa
FROM signicat.operations() WHERE operation_id = 'auth_create_session';

-- a value the catalog does not know reaches Signicat as given
SELECT (signicat.assure_create_dossier('catalog changes')->>'dossierId') AS d \gset
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.err(format('SELECT signicat.assure_create_process(%L, %L)', :'d', 'futureprovider'));
SELECT t.last_request('assure_create_process')->'body'->>'provider' AS sent_provider;
SELECT t.err($$SELECT signicat.auth_create_session('redirect', '{}', requested_loa => 'very-high')$$);
SELECT t.last_request('auth_create_session')->'body'->>'requestedLoa' AS sent_loa;
-- malformed values are still refused before anything is sent
SELECT t.err($$SELECT signicat.assure_get_process('not-a-uuid', gen_random_uuid())$$);
SELECT t.err($$SELECT signicat.mobileid_get_statistics_by_date_range('2026-13-01', '2026-12-01')$$);

-- ReuseID providers named by Signicat's release note
SELECT p AS provider, (signicat.reuseid_start_onboarding('catalog-' || p, p)->>'transactionId') IS NOT NULL AS started,
       t.last_request('reuseid_start_onboarding')->'body'->>'provider' AS sent
FROM unnest(ARRAY['videoid', 'readid']) p;

-- MobileID: "add E2E key" takes an algorithm
SET signicat.account_id = 'a-sdge-catalog-1';
SELECT signicat.mobileid_add_account() IS NOT NULL AS onboarded;
SELECT signicat.mobileid_create_e2e_key('catalog key', algorithm => 'ES256')->>'algorithm' AS algorithm;
SELECT t.last_request('mobileid_create_e2e_key')->'body' AS sent;
SELECT signicat.mobileid_create_e2e_key('plain key') ? 'algorithm' AS algorithm_without_one;
RESET signicat.account_id;

-- the Authentication status WAITING_FOR_USER is shown as Signicat sends it
SELECT t.config('{"auth_waiting_status": "WAITING_FOR_USER", "auth_polls_until_final": 3}');
SET signicat.auto_watch = off;
SELECT (signicat.auth_create_session('redirect', '{}')->>'id') AS s \gset
SELECT signicat.auth_get_session(:'s')->>'status' AS first_get,
       signicat.auth_get_session(:'s')->>'status' AS second_get,
       signicat.auth_get_session(:'s')->>'status' AS third_get;
RESET signicat.auto_watch;

-- the new Assure operation: the provider's own result, as Signicat sends it
SELECT t.mock('POST', 'seed-processes', '{"count": 1, "status": "accepted", "provider": "readid"}') AS seeded \gset
SELECT (:'seeded'::jsonb)->>'dossierId' AS rd, (:'seeded'::jsonb)->'processIds'->>0 AS rp \gset
SELECT jsonb_typeof(signicat.assure_get_process_raw_result(:'rd', :'rp')) AS raw_result;
SELECT t.sent('assure_get_process_raw_result');
-- not completed yet: Signicat answers 204, the function NULL
SELECT (signicat.assure_create_process(:'d', 'onfido')->>'processId') AS pp \gset
SELECT signicat.assure_get_process_raw_result(:'d', :'pp') IS NULL AS not_completed;
SELECT t.err(format('SELECT signicat.assure_get_process_raw_result(%L, gen_random_uuid())', :'d'));

-- corrections at run time --------------------------------------------------

-- another session, whose cache is loaded before anything is corrected
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
CREATE FUNCTION t.other_finds(d text) RETURNS boolean LANGUAGE sql AS $$
    SELECT id = d FROM dblink('other', format('SELECT signicat.assure_get_dossier(%L)->>%L', d, 'dossierId')) AS r(id text)
$$;
SELECT t.other_finds(:'d') AS other_session_found;

-- Signicat moves an operation: the catalog's path answers 404
SELECT t.mock('POST', 'moves', '{"operation": "assure_get_dossier", "path": "/assure/v2/dossiers/{dossierId}"}') IS NOT NULL AS moved;
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d'));
SELECT t.err($$SELECT t.other_finds('$$ || :'d' || $$')$$) LIKE '%Not Found%' AS other_session_not_found;

-- only an admin corrects; readers see the corrections
GRANT USAGE ON SCHEMA t TO PUBLIC;
CREATE ROLE regress_corr_reader IN ROLE signicat_reader;
CREATE ROLE regress_corr_operator IN ROLE signicat_operator;
CREATE ROLE regress_corr_admin IN ROLE signicat_admin;
SET ROLE regress_corr_operator;
SELECT t.err($$INSERT INTO signicat.operation_corrections (operation, method, path)
               VALUES ('assure_get_dossier', 'GET', '/assure/v2/dossiers/{dossierId}')$$) AS operator_corrects;
RESET ROLE;

-- the one statement that corrects an operation (README)
SET ROLE regress_corr_admin;
INSERT INTO signicat.operation_corrections (operation, method, path, reason)
VALUES ('assure_get_dossier', 'GET', '/assure/v2/dossiers/{dossierId}', 'moved by Signicat')
ON CONFLICT (operation) DO UPDATE SET method = EXCLUDED.method, path = EXCLUDED.path, reason = EXCLUDED.reason;
RESET ROLE;
-- the same session uses it at once, and the request goes to the corrected path
SELECT signicat.assure_get_dossier(:'d')->>'dossierId' = :'d' AS found;
SELECT t.mask(t.last_request('assure_get_dossier')->>'raw_path') AS sent_to;
SELECT operation_id, method, path, corrected, catalog_path, mark
FROM signicat.operations() WHERE corrected;
-- so does the other session, once this committed
SELECT t.other_finds(:'d') AS other_session_found;
SET ROLE regress_corr_reader;
SELECT operation, method, path, reason, changed_by FROM signicat.operation_corrections;
SELECT t.err($$DELETE FROM signicat.operation_corrections$$) AS reader_deletes;
RESET ROLE;
-- who changed it is the trigger's to say, on an UPDATE too
UPDATE signicat.operation_corrections SET reason = 'confirmed', changed_by = 'somebody else';
SELECT changed_by = current_user AS changed_by_is_me FROM signicat.operation_corrections;
-- an error names the path that was used
SELECT regexp_replace(t.err_context(format('SELECT signicat.assure_get_dossier(%L)', gen_random_uuid())),
                      'traceId [0-9a-f]+', 'traceId <id>') AS context;

-- a rolled-back correction is never used, here or there
BEGIN;
UPDATE signicat.operation_corrections SET path = '/assure/v3/dossiers/{dossierId}';
SELECT path FROM signicat.operations() WHERE operation_id = 'assure_get_dossier';
ROLLBACK;
SELECT path FROM signicat.operations() WHERE operation_id = 'assure_get_dossier';
SELECT signicat.assure_get_dossier(:'d') IS NOT NULL AS still_found;
SELECT t.other_finds(:'d') AS other_session_found;
-- deleting the correction goes back to the catalog's path, in the other session too
DELETE FROM signicat.operation_corrections;
SELECT t.mock('DELETE', 'moves') IS NOT NULL AS moved_back;
SELECT t.other_finds(:'d') AS other_session_found;
SELECT t.mask(t.last_request('assure_get_dossier')->>'raw_path') AS sent_to;
-- and so does TRUNCATE
SELECT t.mock('POST', 'moves', '{"operation": "assure_get_dossier", "path": "/assure/v2/dossiers/{dossierId}"}') IS NOT NULL AS moved;
INSERT INTO signicat.operation_corrections (operation, method, path)
VALUES ('assure_get_dossier', 'GET', '/assure/v2/dossiers/{dossierId}');
SELECT t.other_finds(:'d') AS other_session_found;
TRUNCATE signicat.operation_corrections;
SELECT t.mock('DELETE', 'moves') IS NOT NULL AS moved_back;
SELECT t.other_finds(:'d') AS other_session_found;
SELECT dblink_disconnect('other');

-- retries follow the corrected method: a PUT is sent again after a 503, a POST is not
SELECT t.mock('POST', 'moves', '{"operation": "assure_create_dossier", "method": "PUT", "path": "/assure/dossiers"}') IS NOT NULL AS moved;
INSERT INTO signicat.operation_corrections (operation, method, path)
VALUES ('assure_create_dossier', 'PUT', '/assure/dossiers');
SELECT method, idempotent FROM signicat.operations() WHERE operation_id = 'assure_create_dossier';
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_create_dossier", "status": 503, "count": 1}');
SELECT signicat.assure_create_dossier('retried') ? 'dossierId' AS created;
SELECT r->>'method' AS method, count(*) AS sent FROM t.requests('assure_create_dossier') r GROUP BY 1;
DELETE FROM signicat.operation_corrections;
SELECT t.mock('DELETE', 'moves') IS NOT NULL AS moved_back;
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_create_dossier", "status": 503, "count": 1}');
SELECT t.err($$SELECT signicat.assure_create_dossier('not retried')$$) LIKE '%Service Unavailable%' AS failed_once;
SELECT r->>'method' AS method, count(*) AS sent FROM t.requests('assure_create_dossier') r GROUP BY 1;
SELECT t.mock('DELETE', 'faults') IS NOT NULL AS cleared;

-- a correction must be one that can work
SELECT c AS correction, t.err(format('INSERT INTO signicat.operation_corrections (operation, method, path) VALUES (%s)', c))
FROM unnest(ARRAY[
    $$'assure_get_dossier', 'get', '/assure/dossiers/{dossierId}'$$,
    $$'assure_get_dossier', 'TRACE', '/assure/dossiers/{dossierId}'$$,
    $$'assure_get_dossier', 'DELETE', '/assure/dossiers/{dossierId}'$$,
    $$'assure_delete_dossier', 'GET', '/assure/dossiers/{dossierId}'$$,
    $$'assure_create_dossier', 'DELETE', '/assure/dossiers'$$,
    $$'assure_get_dossier', 'GET', 'assure/dossiers/{dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/mobileid/admin/dossiers/{dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/assure/../admin/{dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/assure//dossiers/{dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers/{dossierId}/'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers?id={dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/assure/%2e%2e/{dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers/x{dossierId}'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers/{dossier-id}'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers/{dossierId}/{processId}'$$,
    $$'assure_get_dossier', 'GET', '/assure/dossiers/{dossierId}/{dossierId}'$$,
    $$'assure_get_dossier', NULL, '/assure/dossiers/{dossierId}'$$
]) c;
-- an UPDATE is checked the same way
INSERT INTO signicat.operation_corrections (operation, method, path)
VALUES ('mobileid_get_account', 'GET', '/mobileid/admin/account');
SELECT t.err($$UPDATE signicat.operation_corrections SET path = '/mobileid/admin/{accountId}'$$);
-- a row for an operation this build does not know is kept (a restore from a newer one), and unused
INSERT INTO signicat.operation_corrections (operation, method, path)
VALUES ('assure_from_the_future', 'GET', '/assure/future');
SELECT count(*) AS corrected FROM signicat.operations() WHERE corrected;
-- a row that came in without the trigger (here: replication role) is checked again, and not used
SET session_replication_role = replica;
UPDATE signicat.operation_corrections SET path = '/mobileid/admin/{accountId}' WHERE operation = 'mobileid_get_account';
RESET session_replication_role;
SELECT n AS corrected_in_a_new_session
FROM dblink(format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
                   split_part(current_setting('unix_socket_directories'), ',', 1)),
            'SELECT count(*) FROM signicat.operations() WHERE corrected') AS r(n bigint);
TRUNCATE signicat.operation_corrections;
SELECT count(*) AS corrected FROM signicat.operations() WHERE corrected;

DROP FUNCTION t.other_finds(text);
DROP ROLE regress_corr_reader, regress_corr_operator, regress_corr_admin;
