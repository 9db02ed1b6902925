-- privileges: nothing for PUBLIC; reader < operator < admin; readers see
-- statuses and statistics but no personal data; tables change only through
-- the extension's functions, history is deleted only by admins; secrets and
-- connection settings are for superusers only.
SELECT t.reset();
GRANT USAGE ON SCHEMA t TO PUBLIC;

SELECT count(*) AS functions,
       count(*) FILTER (WHERE has_function_privilege('public', p.oid, 'EXECUTE')) AS public_executable
FROM pg_proc p WHERE p.pronamespace = 'signicat'::regnamespace;
SELECT has_schema_privilege('public', 'signicat', 'USAGE') AS public_schema_usage;

-- every function is granted to exactly one of the three roles
SELECT r.rolname, count(*) AS functions
FROM pg_proc p
CROSS JOIN LATERAL aclexplode(p.proacl) a
JOIN pg_roles r ON r.oid = a.grantee
WHERE p.pronamespace = 'signicat'::regnamespace AND a.privilege_type = 'EXECUTE'
  AND r.rolname LIKE 'signicat\_%'
GROUP BY r.rolname ORDER BY r.rolname;

CREATE ROLE regress_signicat_nobody;
CREATE ROLE regress_signicat_reader IN ROLE signicat_reader;
CREATE ROLE regress_signicat_operator IN ROLE signicat_operator;
CREATE ROLE regress_signicat_admin IN ROLE signicat_admin;
SELECT (signicat.assure_create_dossier('privileges')->>'dossierId') AS d \gset

SET ROLE regress_signicat_nobody;
SELECT t.err('SELECT count(*) FROM signicat.assure_list_dossiers()') AS nobody_list;
RESET ROLE;

SELECT (signicat.auth_create_session('redirect', '{nin}')->>'id') AS s \gset
SET ROLE regress_signicat_reader;
-- no personal data: dossiers, processes, verified identities, recipients ...
SELECT t.err('SELECT count(*) FROM signicat.assure_list_dossiers()') AS reader_list_dossiers;
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS reader_get_dossier;
SELECT t.err(format('SELECT signicat.auth_get_session(%L) -> %L', :'s', 'subject')) AS reader_get_identity;
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_processes(now() - interval '1 day')$$) AS reader_list_processes;
SELECT t.err('SELECT count(*) FROM signicat.processes') AS reader_raw_answers;
SELECT t.err('SELECT count(*) FROM signicat.watch') AS reader_payloads;
-- ... but statuses and statistics
SELECT count(*) >= 0 AS reader_views FROM signicat.verifications;
SELECT count(*) >= 0 AS reader_history FROM signicat.status_history;
SELECT count(*) >= 0 AS reader_stats FROM signicat.stat_operations;
SELECT has_function_privilege('signicat.assure_list_document_types(text)', 'EXECUTE') AS reader_document_types;
SELECT t.err($$SELECT signicat.assure_create_dossier('x')$$) AS reader_create;
SELECT t.err(format('SELECT signicat.assure_delete_dossier(%L)', :'d')) AS reader_delete;
SELECT t.err($$SELECT signicat.request('GET', '/assure/dossiers')$$) AS reader_request;
-- settings: the secret is hidden, connection settings cannot be changed
-- (the wording of core's message changed in 16: the SQLSTATE and the role it names are checked)
SELECT left(e, 6) AS show_secret, e LIKE '%pg_read_all_settings%' AS names_the_role
  FROM t.err('SHOW signicat.client_secret') e;
SELECT count(*) AS secret_rows FROM pg_settings WHERE name = 'signicat.client_secret';
SELECT left(e, 6) AS current_setting_secret, e LIKE '%pg_read_all_settings%' AS names_the_role
  FROM t.err($$SELECT current_setting('signicat.client_secret')$$) e;
SELECT t.err($$SET signicat.base_url = 'http://127.0.0.1:9'$$) AS set_base_url;
SELECT t.err($$SET signicat.token_url = 'http://127.0.0.1:9'$$) AS set_token_url;
SELECT t.err($$SET signicat.client_id = 'someone-else'$$) AS set_client_id;
SELECT t.err($$SET signicat.ca_file = '/tmp/ca.pem'$$) AS set_ca_file;
SELECT t.err($$SET signicat.account_id = 'acct-1'$$) AS set_account_id;
SELECT setting FROM pg_settings WHERE name = 'signicat.client_id';
RESET ROLE;

SET ROLE regress_signicat_operator;
SELECT signicat.assure_create_dossier('by operator')->>'externalReference' AS operator_create;
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS operator_get;
SELECT signicat.auth_get_session(:'s') IS NOT NULL AS operator_get_session;
-- the tables change only through the functions; history is an audit trail
SELECT t.err($$INSERT INTO signicat.processes (process_id, status) VALUES (gen_random_uuid(), 'accepted')$$) AS operator_insert_processes;
SELECT t.err($$UPDATE signicat.processes SET status = 'accepted'$$) AS operator_update_processes;
SELECT t.err('DELETE FROM signicat.status_history') AS operator_delete_history;
SELECT t.err($$UPDATE signicat.watch SET status = 'accepted'$$) AS operator_update_watch;
SELECT t.err('DELETE FROM signicat.watch') AS operator_delete_watch;
SELECT t.err('SELECT signicat.assure_delete_all_dossiers(true)') AS operator_delete_all;
SELECT t.err($$SELECT signicat.request('GET', '/assure/dossiers')$$) AS operator_request;
SELECT signicat.assure_delete_dossier(:'d') AS operator_delete;
RESET ROLE;

SET ROLE regress_signicat_admin;
SELECT signicat.request('GET', '/assure/dossiers') IS NOT NULL AS admin_request;
SELECT t.err($$INSERT INTO signicat.processes (process_id, status) VALUES (gen_random_uuid(), 'accepted')$$) AS admin_insert_processes;
-- admins may delete history (what retention does)
DELETE FROM signicat.status_history WHERE changed_at < now() - interval '10 years';
SELECT signicat.assure_delete_all_dossiers(true) AS admin_delete_all;
RESET ROLE;

-- the secret is never stored where every role can read it, not even by a superuser
SELECT t.err($$ALTER ROLE regress_signicat_nobody SET signicat.client_secret = 'not-the-secret'$$) AS role_setting;
SELECT t.err($$ALTER DATABASE postgres SET signicat.client_secret = 'not-the-secret'$$) AS database_setting;
SELECT t.err($$CREATE FUNCTION t.leak() RETURNS int LANGUAGE sql SET signicat.client_secret = 'not-the-secret' AS 'SELECT 1'$$) AS function_setting;

-- superusers see the secret is set (tests never print it)
SELECT current_setting('signicat.client_secret') <> '' AS secret_is_set;
SELECT count(*) AS in_show_all FROM pg_settings WHERE name = 'signicat.client_secret';

DROP ROLE regress_signicat_nobody, regress_signicat_reader, regress_signicat_operator, regress_signicat_admin;
