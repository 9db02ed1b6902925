-- signicat--0.1.0.sql: install script of the signicat extension.
--
-- Every Signicat operation is one SQL function named after its operation id
-- (api/signicat-openapi.json).  They all share a few C entry points that read
-- the operation's method, path and parameters from the catalog compiled into
-- the library; argument names map to the API's fields (dossier_id ->
-- dossierId), so these declarations are the whole per-operation code.
-- Nothing here is executable by PUBLIC: see the roles at the end.

\echo Use "CREATE EXTENSION signicat" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Generic escape hatch
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.request(method text, path text, body jsonb DEFAULT NULL,
                                 query jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'signicat_request'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.request(text, text, jsonb, jsonb) IS
'Any Signicat endpoint (path below signicat.base_url, e.g. /assure/dossiers) through the same authentication and error handling; answers JSON';

-- ---------------------------------------------------------------------------
-- Assure: dossiers
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.assure_create_dossier(external_reference text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_create_dossier(text) IS
'Assure: POST /assure/dossiers (create dossier)';

CREATE FUNCTION signicat.assure_get_dossier(dossier_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_dossier(uuid) IS
'Assure: GET /assure/dossiers/{dossierId} (get dossier with its processes)';

CREATE FUNCTION signicat.assure_list_dossiers()
RETURNS TABLE (dossier_id uuid, external_reference text, created_at timestamptz,
               updated_at timestamptz, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 100;
COMMENT ON FUNCTION signicat.assure_list_dossiers() IS
'Assure: GET /assure/dossiers (the last 100 dossiers, as rows)';

CREATE FUNCTION signicat.assure_delete_dossier(dossier_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_dossier(uuid) IS
'Assure: DELETE /assure/dossiers/{dossierId} (delete dossier)';

CREATE FUNCTION signicat.assure_delete_all_dossiers(confirm boolean)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_all_dossiers(boolean) IS
'Assure: DELETE /assure/dossiers/all (delete every dossier of the client; needs confirm => true)';

-- user data

CREATE FUNCTION signicat.assure_get_user_data(dossier_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_user_data(uuid) IS
'Assure: GET /assure/dossiers/{dossierId}/userdata (get user data)';

CREATE FUNCTION signicat.assure_set_user_data(dossier_id uuid, user_data jsonb)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_set_user_data(uuid, jsonb) IS
'Assure: POST /assure/dossiers/{dossierId}/userdata (set user data; fails if it exists)';

CREATE FUNCTION signicat.assure_update_user_data(dossier_id uuid, user_data jsonb)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_update_user_data(uuid, jsonb) IS
'Assure: PUT /assure/dossiers/{dossierId}/userdata (merge user data; "" deletes a field)';

CREATE FUNCTION signicat.assure_delete_user_data(dossier_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_user_data(uuid) IS
'Assure: DELETE /assure/dossiers/{dossierId}/userdata (delete user data)';

-- dossier files

CREATE FUNCTION signicat.assure_set_dossier_files(dossier_id uuid, front bytea DEFAULT NULL,
                                                  back bytea DEFAULT NULL,
                                                  selfie bytea DEFAULT NULL,
                                                  process_id uuid DEFAULT NULL,
                                                  media_type text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_set_dossier_files(uuid, bytea, bytea, bytea, uuid, text) IS
'Assure: POST /assure/dossiers/{dossierId}/files (images as dataURLs, or copy them from process_id)';

CREATE FUNCTION signicat.assure_get_dossier_file(dossier_id uuid, depiction text)
RETURNS bytea AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_dossier_file(uuid, text) IS
'Assure: GET /assure/dossiers/{dossierId}/files?depiction= (front|back|selfie image bytes)';

CREATE FUNCTION signicat.assure_delete_dossier_files(dossier_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_dossier_files(uuid) IS
'Assure: DELETE /assure/dossiers/{dossierId}/files (delete dossier files)';

-- ---------------------------------------------------------------------------
-- Assure: processes
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.assure_create_process(dossier_id uuid, provider text,
                                               process_type text DEFAULT NULL,
                                               document_type text DEFAULT NULL,
                                               document_country text DEFAULT NULL,
                                               process_parameters jsonb DEFAULT NULL,
                                               redact text[] DEFAULT NULL,
                                               redaction_level text DEFAULT NULL,
                                               event_tags text[] DEFAULT NULL,
                                               document_id integer DEFAULT NULL,
                                               body jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_create_process(uuid, text, text, text, text, jsonb, text[], text, text[], integer, jsonb) IS
'Assure: POST /assure/dossiers/{dossierId}/processes (create a verification process; body for further fields)';

CREATE FUNCTION signicat.assure_get_process(dossier_id uuid, process_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_process(uuid, uuid) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId} (process status and result)';

CREATE FUNCTION signicat.assure_delete_process(dossier_id uuid, process_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_process(uuid, uuid) IS
'Assure: DELETE /assure/dossiers/{dossierId}/processes/{processId} (delete process)';

CREATE FUNCTION signicat.assure_set_process_images(dossier_id uuid, process_id uuid,
                                                   front bytea DEFAULT NULL,
                                                   back bytea DEFAULT NULL,
                                                   selfie bytea DEFAULT NULL,
                                                   media_type text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_set_process_images(uuid, uuid, bytea, bytea, bytea, text) IS
'Assure: POST /assure/dossiers/{dossierId}/processes/{processId}/images (images sent as dataURLs)';

CREATE FUNCTION signicat.assure_get_process_image(dossier_id uuid, process_id uuid, depiction text)
RETURNS bytea AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_process_image(uuid, uuid, text) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId}/images?depiction= (front|back|selfie|portrait image bytes)';

CREATE FUNCTION signicat.assure_start_verification(dossier_id uuid, process_id uuid,
                                                   document_ids text[] DEFAULT NULL,
                                                   facetec_enrollment jsonb DEFAULT NULL,
                                                   image_depiction text DEFAULT NULL,
                                                   r_authority_id text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_start_verification(uuid, uuid, text[], jsonb, text, text) IS
'Assure: POST /assure/dossiers/{dossierId}/processes/{processId} (start verification; NULL when Signicat answers 204)';

CREATE FUNCTION signicat.assure_fail_process(dossier_id uuid, process_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_fail_process(uuid, uuid) IS
'Assure: POST /assure/dossiers/{dossierId}/processes/{processId}/fail (only from pending)';

CREATE FUNCTION signicat.assure_list_processes(start_creation_date timestamptz,
                                               end_creation_date timestamptz DEFAULT NULL,
                                               status text[] DEFAULT NULL,
                                               "order" text DEFAULT NULL,
                                               page_size integer DEFAULT 100)
RETURNS TABLE (process_id uuid, dossier_id uuid, provider text, process_type text,
               status text, created_at timestamptz, updated_at timestamptz,
               external_id text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 1000;
COMMENT ON FUNCTION signicat.assure_list_processes(timestamptz, timestamptz, text[], text, integer) IS
'Assure: GET /assure/processes (every page, page_size rows per request, as rows)';

CREATE FUNCTION signicat.assure_get_process_external_id(dossier_id uuid, process_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_process_external_id(uuid, uuid) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId}/external-id (provider side id)';

CREATE FUNCTION signicat.assure_get_process_video(dossier_id uuid, process_id uuid)
RETURNS bytea AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_process_video(uuid, uuid) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId}/video (video bytes)';

CREATE FUNCTION signicat.assure_download_process_result(dossier_id uuid, process_id uuid,
                                                        include_timestamps boolean DEFAULT NULL)
RETURNS bytea AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_download_process_result(uuid, uuid, boolean) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId}/download (full result zip; NULL while not ready)';

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; three roles, each including the one before.
--   signicat_reader    read operations (get, list)
--   signicat_operator  + create, update, delete of single objects
--   signicat_admin     + destructive bulk operations and signicat.request()
-- Roles are cluster-wide: they are created once and survive DROP EXTENSION.
-- ---------------------------------------------------------------------------

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'signicat_reader') THEN
        CREATE ROLE signicat_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'signicat_operator') THEN
        CREATE ROLE signicat_operator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'signicat_admin') THEN
        CREATE ROLE signicat_admin NOLOGIN;
    END IF;
END
$roles$;

GRANT signicat_reader TO signicat_operator;
GRANT signicat_operator TO signicat_admin;

REVOKE ALL ON SCHEMA signicat FROM PUBLIC;
GRANT USAGE ON SCHEMA signicat TO signicat_reader;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA signicat FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    signicat.assure_get_dossier(uuid),
    signicat.assure_list_dossiers(),
    signicat.assure_get_user_data(uuid),
    signicat.assure_get_dossier_file(uuid, text),
    signicat.assure_get_process(uuid, uuid),
    signicat.assure_get_process_image(uuid, uuid, text),
    signicat.assure_list_processes(timestamptz, timestamptz, text[], text, integer),
    signicat.assure_get_process_external_id(uuid, uuid),
    signicat.assure_get_process_video(uuid, uuid),
    signicat.assure_download_process_result(uuid, uuid, boolean)
TO signicat_reader;

GRANT EXECUTE ON FUNCTION
    signicat.assure_create_dossier(text),
    signicat.assure_delete_dossier(uuid),
    signicat.assure_set_user_data(uuid, jsonb),
    signicat.assure_update_user_data(uuid, jsonb),
    signicat.assure_delete_user_data(uuid),
    signicat.assure_set_dossier_files(uuid, bytea, bytea, bytea, uuid, text),
    signicat.assure_delete_dossier_files(uuid),
    signicat.assure_create_process(uuid, text, text, text, text, jsonb, text[], text, text[], integer, jsonb),
    signicat.assure_delete_process(uuid, uuid),
    signicat.assure_set_process_images(uuid, uuid, bytea, bytea, bytea, text),
    signicat.assure_start_verification(uuid, uuid, text[], jsonb, text, text),
    signicat.assure_fail_process(uuid, uuid)
TO signicat_operator;

GRANT EXECUTE ON FUNCTION
    signicat.assure_delete_all_dossiers(boolean),
    signicat.request(text, text, jsonb, jsonb)
TO signicat_admin;
