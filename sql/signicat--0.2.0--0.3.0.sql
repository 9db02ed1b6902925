-- signicat--0.2.0--0.3.0.sql: update script from 0.2.0 to 0.3.0.
--
-- What changed (issue: the catalog follows Signicat as it changes, and a
-- wrong path is fixed without a release):
--   * signicat.operation_corrections: an admin corrects an operation's method
--     and path at run time; a trigger checks each correction and makes every
--     session (and the worker) read the table again;
--   * signicat.operations() shows where each operation is sent now, where the
--     catalog says, whether a public source confirms it and which, and the
--     values its parameters are known to take (no longer a limit: the library
--     sends values the catalog does not know);
--   * new operation assure_get_process_raw_result;
--   * mobileid_create_e2e_key takes the new optional algorithm;
--   * signicat.call_many: many calls of one operation at once.
-- test/t/008_upgrade.pl checks that this script and a fresh install of 0.3.0
-- give the same objects.

\echo Use "ALTER EXTENSION signicat UPDATE TO '0.3.0'" to load this file. \quit

CREATE FUNCTION signicat.assure_get_process_raw_result(dossier_id uuid, process_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_process_raw_result(uuid, uuid) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId}/raw (the provider''s own result, as Signicat sends it; NULL while the process is not completed)';

-- a new optional argument: a new signature, so the old function goes (nothing depends on it)
DROP FUNCTION signicat.mobileid_create_e2e_key(text, text);
CREATE FUNCTION signicat.mobileid_create_e2e_key(
    name text,
    description text DEFAULT NULL,
    algorithm text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_create_e2e_key(text, text, text) IS
'MobileID: POST /mobileid/admin/e2e-keys (create an end-to-end key pair; answers the public key)';

-- new result columns: the function is made again
DROP FUNCTION signicat.operations();
-- Many calls of one operation at once: one row per call, in input order
-- (the input is the list of calls; each row gives its call's arguments back).
CREATE FUNCTION signicat.call_many(operation text, calls jsonb[])
RETURNS TABLE (ordinality integer, arguments jsonb, result jsonb, http_status integer,
               sqlstate text, message text, detail text, trace_id text)
AS 'MODULE_PATHNAME', 'signicat_call_many' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.call_many(text, jsonb[]) IS
'Many calls of one operation at once (signicat.bulk_concurrency in flight): one row per call, in input order, with its result or its error; each call needs the grant of the operation''s own function';

-- Corrections of an operation's method and path, made by an admin when
-- Signicat's real path differs from the catalog's (40 paths are inferred):
-- the SQL functions, signicat.operations() and the worker send to the
-- corrected path from the next transaction on, in every session.  The
-- trigger refuses a correction that could not work or that changes what the
-- roles rely on (an unknown method, a read made a write or the reverse, a
-- path that leaves its API, other parameters than the catalog's), sets who
-- changed it when, and tells every session to read the table again; each
-- session checks the rows again when it reads them.  Kept by pg_dump.
CREATE TABLE signicat.operation_corrections (
    operation   text PRIMARY KEY,
    method      text NOT NULL,
    path        text NOT NULL,
    reason      text,
    changed_by  name NOT NULL DEFAULT CURRENT_USER,
    changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE signicat.operation_corrections IS
'Run-time corrections of an operation''s method and path (admins write, readers see); signicat.operations() shows them applied';
SELECT pg_catalog.pg_extension_config_dump('signicat.operation_corrections', '');

CREATE FUNCTION signicat._operation_corrections_changed()
RETURNS trigger AS 'MODULE_PATHNAME', 'signicat_operation_corrections_trigger' LANGUAGE C;
COMMENT ON FUNCTION signicat._operation_corrections_changed() IS
'Checks a correction of signicat.operation_corrections and makes every session read the table again';
CREATE TRIGGER operation_corrections_check
    BEFORE INSERT OR UPDATE ON signicat.operation_corrections
    FOR EACH ROW EXECUTE FUNCTION signicat._operation_corrections_changed();
CREATE TRIGGER operation_corrections_changed
    AFTER DELETE OR TRUNCATE ON signicat.operation_corrections
    FOR EACH STATEMENT EXECUTE FUNCTION signicat._operation_corrections_changed();

CREATE FUNCTION signicat.operations()
RETURNS TABLE (operation_id text, api text, method text, path text, body text, idempotent boolean,
               corrected boolean, catalog_method text, catalog_path text, mark text, source text,
               known_values jsonb)
AS 'MODULE_PATHNAME', 'signicat_operations_list' LANGUAGE C STABLE ROWS 82;
COMMENT ON FUNCTION signicat.operations() IS
'Every Signicat operation compiled into the library: where it is sent (method, path template; corrected or not), where the catalog says, whether a public source confirms it (mark, source), body kind, and the values its parameters are known to take (a value outside them is sent all the same)';

REVOKE EXECUTE ON FUNCTION
    signicat.assure_get_process_raw_result(uuid, uuid),
    signicat.mobileid_create_e2e_key(text, text, text),
    signicat._operation_corrections_changed(),
    signicat.operations(),
    signicat.call_many(text, jsonb[])
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION signicat.assure_get_process_raw_result(uuid, uuid) TO signicat_operator;
GRANT EXECUTE ON FUNCTION signicat.mobileid_create_e2e_key(text, text, text) TO signicat_admin;
GRANT EXECUTE ON FUNCTION signicat.operations(), signicat.call_many(text, jsonb[]) TO signicat_reader;
GRANT SELECT ON signicat.operation_corrections TO signicat_reader;
GRANT INSERT, UPDATE, DELETE, TRUNCATE ON signicat.operation_corrections TO signicat_admin;
