-- read_only: a create whose result would be enrolled in signicat.watch is
-- refused before anything is sent in a read-only transaction (and on a hot
-- standby, where every transaction is read-only): afterwards the remote object
-- would exist and its id be lost. Reads, and creates with auto_watch off, work.
SELECT t.reset();
SELECT (signicat.assure_create_dossier('read only')->>'dossierId') AS d \gset
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
BEGIN READ ONLY;
SELECT t.err(format($$SELECT signicat.assure_create_process(%L, 'onfido')$$, :'d')) AS create_refused;
SELECT t.err($$SELECT signicat.auth_create_session('redirect', '{nin}')$$) AS session_refused;
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS reads_work;
SET LOCAL signicat.auto_watch = off;
SELECT signicat.assure_create_process(:'d', 'onfido') ? 'processId' AS created_without_enrolment;
ROLLBACK;
-- only the create with auto_watch off reached Signicat
SELECT count(*) AS create_requests FROM t.requests('assure_create_process');
SELECT count(*) AS session_requests FROM t.requests('auth_create_session');
