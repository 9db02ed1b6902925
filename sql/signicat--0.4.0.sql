-- signicat--0.4.0.sql: install script of the signicat extension.
--
-- Every Signicat operation is one SQL function named after its operation id
-- (api/signicat-openapi.json).  They all share a few C entry points that read
-- the operation's method, path and parameters from the catalog compiled into
-- the library; argument names map to the API's fields (dossier_id ->
-- dossierId), so these declarations are the whole per-operation code.
-- Nothing here is executable by PUBLIC: see the roles at the end.
-- Every change to this script ships with an update script from the version
-- before (signicat--0.3.0--0.4.0.sql); test/t/008_upgrade.pl checks that every
-- path of updates gives the same objects as this script.

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

CREATE FUNCTION signicat.assure_get_process_raw_result(dossier_id uuid, process_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_process_raw_result(uuid, uuid) IS
'Assure: GET /assure/dossiers/{dossierId}/processes/{processId}/raw (the provider''s own result, as Signicat sends it; NULL while the process is not completed)';

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
-- Assure: watermark, redaction, document types
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.assure_watermark_image(
    watermark jsonb,
    image bytea DEFAULT NULL,
    dossier_id uuid DEFAULT NULL,
    process_id uuid DEFAULT NULL,
    image_depiction text DEFAULT NULL,
    media_type text DEFAULT NULL)
RETURNS bytea AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_watermark_image(jsonb, bytea, uuid, uuid, text, text) IS
'Assure: POST /assure/watermark (watermark {title, description, date} on an image given as bytea or stored in a dossier/process; answers the image bytes)';

CREATE FUNCTION signicat.assure_redact_images(
    document_type text,
    document_country text,
    fields_to_redact text[],
    front_image bytea DEFAULT NULL,
    back_image bytea DEFAULT NULL,
    dossier_id uuid DEFAULT NULL,
    process_id uuid DEFAULT NULL,
    redaction_level text DEFAULT NULL,
    media_type text DEFAULT NULL)
RETURNS TABLE (redacted_front_image bytea, redacted_back_image bytea, success boolean, detail text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION signicat.assure_redact_images(text, text, text[], bytea, bytea, uuid, uuid, text, text) IS
'Assure: POST /assure/redact (redact document images; the redacted images come back decoded from their dataURLs)';

CREATE FUNCTION signicat.assure_list_document_types(
    provider_name text)
RETURNS TABLE (id integer, type text, sub_type text, name text, country text, country_name text, icao text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 100;
COMMENT ON FUNCTION signicat.assure_list_document_types(text) IS
'Assure: GET /assure/{providerName}/document-types (document types a provider supports, as rows)';

-- ---------------------------------------------------------------------------
-- Assure: matching
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.assure_create_matching_configuration(
    configuration_id text,
    fields jsonb DEFAULT NULL,
    body jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_create_matching_configuration(text, jsonb, jsonb) IS
'Assure: POST /assure/matching/configurations/{configurationId} (create a matching configuration)';

CREATE FUNCTION signicat.assure_get_matching_configuration(
    configuration_id text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_matching_configuration(text) IS
'Assure: GET /assure/matching/configurations/{configurationId} (get a matching configuration)';

CREATE FUNCTION signicat.assure_update_matching_configuration(
    configuration_id text,
    fields jsonb DEFAULT NULL,
    body jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_update_matching_configuration(text, jsonb, jsonb) IS
'Assure: PUT /assure/matching/configurations/{configurationId} (replace a matching configuration)';

CREATE FUNCTION signicat.assure_delete_matching_configuration(
    configuration_id text)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_matching_configuration(text) IS
'Assure: DELETE /assure/matching/configurations/{configurationId} (delete a matching configuration)';

CREATE FUNCTION signicat.assure_list_matching_configurations()
RETURNS TABLE (id text, created_at timestamptz, updated_at timestamptz, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 20;
COMMENT ON FUNCTION signicat.assure_list_matching_configurations() IS
'Assure: GET /assure/matching/configurations (matching configurations, as rows)';

CREATE FUNCTION signicat.assure_perform_matching(
    dossier_id uuid,
    source jsonb,
    target jsonb,
    configuration_id text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_perform_matching(uuid, jsonb, jsonb, text) IS
'Assure: POST /assure/dossiers/{dossierId}/match (compare user data and process results field by field)';

-- ---------------------------------------------------------------------------
-- Assure: capture
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.assure_create_capture_configuration(
    configuration_id text,
    body jsonb)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_create_capture_configuration(text, jsonb) IS
'Assure: POST /assure/capture/configurations/{configurationId} (create a capture configuration: the uiProfile as jsonb)';

CREATE FUNCTION signicat.assure_get_capture_configuration(
    configuration_id text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_get_capture_configuration(text) IS
'Assure: GET /assure/capture/configurations/{configurationId} (get a capture configuration)';

CREATE FUNCTION signicat.assure_update_capture_configuration(
    configuration_id text,
    body jsonb)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_update_capture_configuration(text, jsonb) IS
'Assure: PUT /assure/capture/configurations/{configurationId} (replace a capture configuration; NULL when Signicat answers 204)';

CREATE FUNCTION signicat.assure_delete_capture_configuration(
    configuration_id text)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_delete_capture_configuration(text) IS
'Assure: DELETE /assure/capture/configurations/{configurationId} (delete a capture configuration)';

CREATE FUNCTION signicat.assure_list_capture_configurations()
RETURNS TABLE (id text, created_at timestamptz, updated_at timestamptz, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 20;
COMMENT ON FUNCTION signicat.assure_list_capture_configurations() IS
'Assure: GET /assure/capture/configurations (capture configurations, as rows)';

CREATE FUNCTION signicat.assure_start_capture_flow(
    dossier_id uuid,
    providers jsonb,
    sdk text,
    redirect_url text,
    capture_parameters jsonb DEFAULT NULL,
    request_domain text DEFAULT NULL,
    event_tags text[] DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.assure_start_capture_flow(uuid, jsonb, text, text, jsonb, text, text[]) IS
'Assure: POST /assure/dossiers/{dossierId}/capture (start the hosted capture flow; answers the URL to send the end-user to)';

-- ---------------------------------------------------------------------------
-- Authentication REST API
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.auth_create_session(
    flow text,
    requested_attributes text[],
    allowed_providers text[] DEFAULT NULL,
    callback_urls jsonb DEFAULT NULL,
    prefilled_input jsonb DEFAULT NULL,
    additional_parameters jsonb DEFAULT NULL,
    requested_loa text DEFAULT NULL,
    tags text[] DEFAULT NULL,
    return_url text DEFAULT NULL,
    embedded_parent_domains text[] DEFAULT NULL,
    language text DEFAULT NULL,
    theme_id text DEFAULT NULL,
    external_reference text DEFAULT NULL,
    usage_reference text DEFAULT NULL,
    session_lifetime integer DEFAULT NULL,
    request_domain text DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    body jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.auth_create_session(text, text[], text[], jsonb, jsonb, jsonb, text, text[], text, text[], text, text, text, text, integer, text, timestamptz, jsonb) IS
'Authentication: POST /auth/rest/sessions (create an authentication session)';

CREATE FUNCTION signicat.auth_get_session(
    session_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.auth_get_session(uuid) IS
'Authentication: GET /auth/rest/sessions/{sessionId} (session status; subject once SUCCESS)';

CREATE FUNCTION signicat.auth_cancel_session(
    session_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.auth_cancel_session(uuid) IS
'Authentication: POST /auth/rest/sessions/{sessionId}/cancel (cancel a session)';

-- ---------------------------------------------------------------------------
-- Secure Share
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.share_create_share(
    contact_details jsonb,
    title text DEFAULT NULL,
    description text DEFAULT NULL,
    external_reference text DEFAULT NULL,
    usage_reference text DEFAULT NULL,
    recipients jsonb DEFAULT NULL,
    tags text[] DEFAULT NULL,
    expires timestamptz DEFAULT NULL,
    request_domain text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_create_share(jsonb, text, text, text, text, jsonb, text[], timestamptz, text) IS
'Secure Share: POST /secure-share/shares (create a share)';

CREATE FUNCTION signicat.share_upload_files(
    share_id uuid,
    files bytea[],
    file_names text[],
    media_types text[] DEFAULT NULL)
RETURNS TABLE (id uuid, name text, status text, size bigint, message text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION signicat.share_upload_files(uuid, bytea[], text[], text[]) IS
'Secure Share: POST /secure-share/shares/{shareId}/files (upload files as multipart/form-data; one row per file with its status: Success, VirusFound or Failed)';

CREATE FUNCTION signicat.share_remove_file(
    share_id uuid,
    file_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_remove_file(uuid, uuid) IS
'Secure Share: DELETE /secure-share/shares/{shareId}/files/{fileId} (remove a file)';

CREATE FUNCTION signicat.share_create_recipient(
    share_id uuid,
    authentication jsonb,
    email text DEFAULT NULL,
    mobile text DEFAULT NULL,
    first_name text DEFAULT NULL,
    last_name text DEFAULT NULL,
    file_restrictions uuid[] DEFAULT NULL,
    notification jsonb DEFAULT NULL,
    external_reference text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_create_recipient(uuid, jsonb, text, text, text, text, uuid[], jsonb, text) IS
'Secure Share: POST /secure-share/shares/{shareId}/recipients (add a recipient)';

CREATE FUNCTION signicat.share_get_recipient(
    share_id uuid,
    recipient_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_get_recipient(uuid, uuid) IS
'Secure Share: GET /secure-share/shares/{shareId}/recipients/{recipientId} (get a recipient)';

CREATE FUNCTION signicat.share_update_recipient(
    share_id uuid,
    recipient_id uuid,
    email text DEFAULT NULL,
    mobile text DEFAULT NULL,
    first_name text DEFAULT NULL,
    last_name text DEFAULT NULL,
    file_restrictions uuid[] DEFAULT NULL,
    authentication jsonb DEFAULT NULL,
    notification jsonb DEFAULT NULL,
    external_reference text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_update_recipient(uuid, uuid, text, text, text, text, uuid[], jsonb, jsonb, text) IS
'Secure Share: PATCH /secure-share/shares/{shareId}/recipients/{recipientId} (partial update: NULL arguments are left unchanged)';

CREATE FUNCTION signicat.share_remove_recipient(
    share_id uuid,
    recipient_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_remove_recipient(uuid, uuid) IS
'Secure Share: DELETE /secure-share/shares/{shareId}/recipients/{recipientId} (remove a recipient)';

CREATE FUNCTION signicat.share_send_reminder(
    share_id uuid,
    recipient_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.share_send_reminder(uuid, uuid) IS
'Secure Share: POST /secure-share/shares/{shareId}/recipients/{recipientId}/reminder (remind a recipient)';

-- ---------------------------------------------------------------------------
-- ReuseID (answers are returned without their {"data": ...} envelope)
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.reuseid_start_onboarding(
    external_ref text DEFAULT NULL,
    provider text DEFAULT NULL,
    videoid_provider_options jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.reuseid_start_onboarding(text, text, jsonb) IS
'ReuseID: POST /reuseid/onboarding (start an onboarding transaction; the data envelope is unwrapped)';

CREATE FUNCTION signicat.reuseid_get_onboarding(
    transaction_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.reuseid_get_onboarding(uuid) IS
'ReuseID: GET /reuseid/onboarding/{transactionId} (onboarding status; the data envelope is unwrapped)';

CREATE FUNCTION signicat.reuseid_start_step_up(
    user_id uuid,
    device_id text,
    provider text DEFAULT NULL,
    videoid_provider_options jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.reuseid_start_step_up(uuid, text, text, jsonb) IS
'ReuseID: POST /reuseid/step-up (start a step-up transaction; the data envelope is unwrapped)';

CREATE FUNCTION signicat.reuseid_get_step_up(
    transaction_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.reuseid_get_step_up(uuid) IS
'ReuseID: GET /reuseid/step-up/{transactionId} (step-up status; the data envelope is unwrapped)';

-- ---------------------------------------------------------------------------
-- MobileID Admin (the account: signicat.account_id, or the access token)
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.mobileid_get_account(
    statistics boolean DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_account(boolean) IS
'MobileID: GET /mobileid/admin/accounts (the account, with statistics unless statistics => false)';

CREATE FUNCTION signicat.mobileid_add_account(
    onboarding_type text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_add_account(text) IS
'MobileID: POST /mobileid/admin/accounts (onboard the account to MobileID)';

CREATE FUNCTION signicat.mobileid_update_account(
    state text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_update_account(text) IS
'MobileID: PATCH /mobileid/admin/accounts (enable or disable the account)';

CREATE FUNCTION signicat.mobileid_list_apns_tokens()
RETURNS TABLE (id uuid, name text, description text, key_id text, team_id text, created timestamptz, sha256_fingerprint text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 20;
COMMENT ON FUNCTION signicat.mobileid_list_apns_tokens() IS
'MobileID: GET /mobileid/admin/apns-tokens (APNs tokens of the organisation, as rows)';

CREATE FUNCTION signicat.mobileid_add_apns_token(
    name text,
    private_key text,
    key_id text,
    team_id text,
    description text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_add_apns_token(text, text, text, text, text) IS
'MobileID: POST /mobileid/admin/apns-tokens (add an APNs token; privateKey is Base64 and never returned)';

CREATE FUNCTION signicat.mobileid_get_apns_token(
    apns_token_id uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_apns_token(uuid) IS
'MobileID: GET /mobileid/admin/apns-tokens/{apnsTokenId} (get an APNs token)';

CREATE FUNCTION signicat.mobileid_delete_apns_token(
    apns_token_id uuid)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_delete_apns_token(uuid) IS
'MobileID: DELETE /mobileid/admin/apns-tokens/{apnsTokenId} (delete an APNs token)';

CREATE FUNCTION signicat.mobileid_get_application_config()
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_application_config() IS
'MobileID: GET /mobileid/admin/application-config (the application configuration)';

CREATE FUNCTION signicat.mobileid_get_application_config_state()
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_application_config_state() IS
'MobileID: GET /mobileid/admin/application-config/state (application configuration state)';

CREATE FUNCTION signicat.mobileid_update_application_config_state(
    state text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_update_application_config_state(text) IS
'MobileID: PUT /mobileid/admin/application-config/state (enable or disable the application configuration)';

CREATE FUNCTION signicat.mobileid_get_application_config_apns_uuid()
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_application_config_apns_uuid() IS
'MobileID: GET /mobileid/admin/application-config/apns-uuid (the APNs token the app pushes with)';

CREATE FUNCTION signicat.mobileid_update_application_config_apns_uuid(
    apns_uuid uuid)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_update_application_config_apns_uuid(uuid) IS
'MobileID: PUT /mobileid/admin/application-config/apns-uuid (choose the APNs token the app pushes with)';

CREATE FUNCTION signicat.mobileid_get_application_config_properties()
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_application_config_properties() IS
'MobileID: GET /mobileid/admin/application-config/properties (application configuration properties)';

CREATE FUNCTION signicat.mobileid_update_application_config_properties(
    body jsonb)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_update_application_config_properties(jsonb) IS
'MobileID: PATCH /mobileid/admin/application-config/properties (partial update of properties given as jsonb; answers all of them)';

CREATE FUNCTION signicat.mobileid_list_signing_certificates(
    state text DEFAULT NULL)
RETURNS TABLE (state text, activated_at timestamptz, deactivated_at timestamptz, sha256_fingerprint text, certificate text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION signicat.mobileid_list_signing_certificates(text) IS
'MobileID: GET /mobileid/admin/signing-certificates (signing certificates, optionally of one state, as rows)';

CREATE FUNCTION signicat.mobileid_list_e2e_keys(
    state text DEFAULT NULL)
RETURNS TABLE (id text, name text, description text, state text, created timestamptz, created_by text, sha256_fingerprint text, public_key text, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 20;
COMMENT ON FUNCTION signicat.mobileid_list_e2e_keys(text) IS
'MobileID: GET /mobileid/admin/e2e-keys (end-to-end keys, optionally of one state, as rows)';

CREATE FUNCTION signicat.mobileid_create_e2e_key(
    name text,
    description text DEFAULT NULL,
    algorithm text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_create_e2e_key(text, text, text) IS
'MobileID: POST /mobileid/admin/e2e-keys (create an end-to-end key pair; answers the public key)';

CREATE FUNCTION signicat.mobileid_get_e2e_key(
    e2e_key_id text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_e2e_key(text) IS
'MobileID: GET /mobileid/admin/e2e-keys/{e2eKeyId} (get an end-to-end key)';

CREATE FUNCTION signicat.mobileid_update_e2e_key_state(
    e2e_key_id text,
    state text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_update_e2e_key_state(text, text) IS
'MobileID: PUT /mobileid/admin/e2e-keys/{e2eKeyId}/state (enable or disable an end-to-end key)';

CREATE FUNCTION signicat.mobileid_delete_e2e_key(
    e2e_key_id text)
RETURNS void AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_delete_e2e_key(text) IS
'MobileID: DELETE /mobileid/admin/e2e-keys/{e2eKeyId} (delete an end-to-end key)';

CREATE FUNCTION signicat.mobileid_get_risk_indicators()
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_risk_indicators() IS
'MobileID: GET /mobileid/admin/risk-indicators (risk indicator configuration)';

CREATE FUNCTION signicat.mobileid_update_risk_indicators(
    risk_indicators_configuration jsonb)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_update_risk_indicators(jsonb) IS
'MobileID: PATCH /mobileid/admin/risk-indicators (update risk indicators; null deletes a property)';

CREATE FUNCTION signicat.mobileid_lock_devices_by_device_hash(
    device_hash text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_lock_devices_by_device_hash(text) IS
'MobileID: POST /mobileid/admin/statistics/device-hashes/lock (lock every device with this hash; answers lockedDevices)';

CREATE FUNCTION signicat.mobileid_get_statistics_by_days(
    nr_of_days integer)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_statistics_by_days(integer) IS
'MobileID: GET /mobileid/admin/statistics/days (user and device totals over the last nr_of_days days)';

CREATE FUNCTION signicat.mobileid_get_statistics_by_date_range(
    from_date date,
    to_date date)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_statistics_by_date_range(date, date) IS
'MobileID: GET /mobileid/admin/statistics/date-range (user and device totals between two dates)';

CREATE FUNCTION signicat.mobileid_get_detailed_device_statistics(
    type text,
    platform text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_detailed_device_statistics(text, text) IS
'MobileID: GET /mobileid/admin/statistics/devices/detailed (device buckets by type and platform)';

CREATE FUNCTION signicat.mobileid_get_device_hash_statistics(
    allowed_nr_of_users_with_same_device_hash bigint DEFAULT NULL,
    detailed boolean DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'signicat_operation' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.mobileid_get_device_hash_statistics(bigint, boolean) IS
'MobileID: GET /mobileid/admin/statistics/device-hashes (device hashes shared by more users than allowed)';

CREATE FUNCTION signicat.mobileid_list_devices_by_device_hash(
    device_hash text)
RETURNS TABLE (user_id uuid, devices jsonb, raw jsonb)
AS 'MODULE_PATHNAME', 'signicat_list_operation' LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION signicat.mobileid_list_devices_by_device_hash(text) IS
'MobileID: GET /mobileid/admin/statistics/device-hashes/devices (devices of one hash, one row per user)';

-- ---------------------------------------------------------------------------
-- The catalog itself
-- ---------------------------------------------------------------------------

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

-- ---------------------------------------------------------------------------
-- Status tracking: what the background worker follows, and what it saw
-- ---------------------------------------------------------------------------

CREATE TABLE signicat.watch (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('assure_process', 'auth_session',
                                                  'reuseid_onboarding', 'reuseid_step_up')),
    item_id         uuid NOT NULL,          -- process, session or transaction id
    dossier_id      uuid,                   -- the dossier of an Assure process
    account_id      text,                   -- signicat.account_id at enrolment, sent when polling
    status          text,                   -- the last status seen (NULL before the first poll)
    state           text NOT NULL DEFAULT 'active'
                    CHECK (state IN ('active', 'done', 'gone', 'expired', 'dropped')),
    provider        text,
    process_type    text,
    payload         jsonb,                  -- the last answer (may hold personal data)
    enrolled_at     timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz,            -- createdAt of the answer
    decided_at      timestamptz,            -- when a final status was seen
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,            -- lease of the worker polling it
    polls           integer NOT NULL DEFAULT 0,
    unchanged_polls integer NOT NULL DEFAULT 0,
    errors          integer NOT NULL DEFAULT 0,  -- consecutive failed polls
    last_polled_at  timestamptz,
    last_error      text,
    last_error_at   timestamptz,
    UNIQUE (kind, item_id),
    CHECK ((kind = 'assure_process') = (dossier_id IS NOT NULL))
)
-- Every poll updates its row twice; room on each page lets the claim (claimed_until, not indexed)
-- be a HOT update, with no new index entries.
WITH (fillfactor = 70);
CREATE INDEX watch_due ON signicat.watch (next_poll_at) WHERE state = 'active';
COMMENT ON TABLE signicat.watch IS
'Processes, sessions and onboardings the background worker follows until a final status';

CREATE TABLE signicat.status_history (
    id          bigserial PRIMARY KEY,
    watch_id    bigint NOT NULL REFERENCES signicat.watch (id) ON DELETE CASCADE,
    seq         integer NOT NULL,           -- 1, 2, ... per item
    kind        text NOT NULL,
    item_id     uuid NOT NULL,
    dossier_id  uuid,
    old_status  text,
    new_status  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (watch_id, seq)
);
CREATE INDEX status_history_changed_at ON signicat.status_history (changed_at);
COMMENT ON TABLE signicat.status_history IS
'One row per status change the worker saw, exactly once; kept for signicat.history_retention';

CREATE FUNCTION signicat._wake_worker() RETURNS void
AS 'MODULE_PATHNAME', 'signicat_wake_worker' LANGUAGE C VOLATILE;

CREATE FUNCTION signicat.watch_add(kind text, item_id uuid, dossier_id uuid DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wid bigint;
BEGIN
    -- an item dropped earlier is followed again
    INSERT INTO signicat.watch AS w (kind, item_id, dossier_id, account_id)
    VALUES (kind, item_id, dossier_id, nullif(current_setting('signicat.account_id', true), ''))
    ON CONFLICT ON CONSTRAINT watch_kind_item_id_key DO UPDATE
        SET state = 'active', next_poll_at = now(), claimed_until = NULL
        WHERE w.state = 'dropped'
    RETURNING id INTO wid;
    IF wid IS NULL THEN
        SELECT w.id INTO wid FROM signicat.watch w WHERE w.kind = watch_add.kind AND w.item_id = watch_add.item_id;
    END IF;
    PERFORM signicat._wake_worker();
    RETURN wid;
END
$$;
COMMENT ON FUNCTION signicat.watch_add(text, uuid, uuid) IS
'Follow an item (assure_process with its dossier_id, auth_session, reuseid_onboarding, reuseid_step_up); returns its signicat.watch id';

CREATE FUNCTION signicat.watch_drop(kind text, item_id uuid)
RETURNS boolean LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- the row and its history stay: status_history is an audit trail, deleted
    -- only by retention (signicat.history_retention) or by an admin
    WITH d AS (UPDATE signicat.watch w SET state = 'dropped', claimed_until = NULL
               WHERE w.kind = $1 AND w.item_id = $2 AND w.state = 'active' RETURNING 1)
    SELECT count(*) > 0 FROM d
$$;
COMMENT ON FUNCTION signicat.watch_drop(text, uuid) IS
'Stop following an item (state dropped; its history is kept); true if it was followed';

CREATE FUNCTION signicat.start_worker() RETURNS integer
AS 'MODULE_PATHNAME', 'signicat_start_worker' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.start_worker() IS
'Switch the background worker of the current database on (kept across restarts) and start it (NULL if one runs); returns its pid';

CREATE FUNCTION signicat.stop_worker() RETURNS boolean
AS 'MODULE_PATHNAME', 'signicat_stop_worker' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.stop_worker() IS
'Switch the background worker of the current database off (kept across restarts) and stop it; true if one ran';

CREATE FUNCTION signicat.worker_counters(
    OUT pid integer, OUT database text, OUT started_at timestamptz, OUT last_round_at timestamptz,
    OUT rounds bigint, OUT last_batch integer, OUT in_flight integer, OUT polled bigint,
    OUT errors bigint, OUT polls_per_second double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'signicat_worker_status' LANGUAGE C VOLATILE;

-- Whether this database's worker is switched on: signicat.start_worker() and
-- stop_worker() set it, and at every server start the launcher starts the
-- worker of each database where it is on (one row, kept by pg_dump).
CREATE TABLE signicat.worker_switch (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    enabled     boolean NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE signicat.worker_switch IS
'Whether the background worker of this database is switched on (start_worker/stop_worker); kept across restarts';
SELECT pg_catalog.pg_extension_config_dump('signicat.worker_switch', '');

CREATE VIEW signicat.worker_status AS
SELECT c.pid, d.database, c.started_at, c.last_round_at,
       (SELECT count(*) FROM signicat.watch w
        WHERE w.state = 'active' AND w.next_poll_at <= now()) AS items_due,
       (SELECT count(*) FROM signicat.watch w WHERE w.state = 'active') AS items_active,
       c.in_flight, c.last_batch, c.rounds, c.polled, c.errors,
       round(c.polls_per_second::numeric, 1) AS polls_per_second,
       coalesce((SELECT s.enabled FROM signicat.worker_switch s), false) AS switched_on
FROM (SELECT current_database()::text COLLATE "default" AS database) d
LEFT JOIN signicat.worker_counters() c ON c.database = d.database
-- a database with items to follow shows, worker or not (pid NULL: nobody follows them)
WHERE c.pid IS NOT NULL OR EXISTS (SELECT FROM signicat.watch w WHERE w.state = 'active');
COMMENT ON VIEW signicat.worker_status IS
'The background worker of this database: last round, items due and active, in flight, polled, errors, rate, switched on; a row with pid NULL when items wait and no worker runs';

-- Assure processes as the API lists them, for reporting on verifications
-- that were not created through SQL (filled by signicat.sync_processes).
CREATE TABLE signicat.processes (
    process_id   uuid PRIMARY KEY,
    dossier_id   uuid,
    provider     text,
    process_type text,
    status       text,
    created_at   timestamptz,
    updated_at   timestamptz,
    external_id  text,
    raw          jsonb,
    synced_at    timestamptz NOT NULL DEFAULT now()
);

-- What the extension keeps is data, not configuration it can make again:
-- pg_dump saves these tables and their sequences' positions, and pg_restore
-- puts them back after CREATE EXTENSION (every row: no filter).
SELECT pg_catalog.pg_extension_config_dump('signicat.watch', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.watch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.status_history', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.status_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.processes', '');

CREATE FUNCTION signicat.sync_processes(since timestamptz DEFAULT now() - interval '1 day')
RETURNS bigint LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH changed AS (
        INSERT INTO signicat.processes AS p
            (process_id, dossier_id, provider, process_type, status, created_at, updated_at,
             external_id, raw)
        SELECT l.process_id, l.dossier_id, l.provider, l.process_type, l.status, l.created_at,
               l.updated_at, l.external_id, l.raw
        FROM signicat.assure_list_processes(since, page_size => 500) l
        ON CONFLICT (process_id) DO UPDATE
            SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
                provider = EXCLUDED.provider, process_type = EXCLUDED.process_type,
                external_id = EXCLUDED.external_id, raw = EXCLUDED.raw, synced_at = now()
            WHERE p.status IS DISTINCT FROM EXCLUDED.status
               OR p.updated_at IS DISTINCT FROM EXCLUDED.updated_at
        RETURNING 1)
    SELECT count(*) FROM changed
$$;
COMMENT ON FUNCTION signicat.sync_processes(timestamptz) IS
'Upsert every Assure process created since a time (all pages) into signicat.processes; returns the rows inserted or changed';

-- ---------------------------------------------------------------------------
-- Views for analysts
-- ---------------------------------------------------------------------------

CREATE VIEW signicat.verifications AS
SELECT w.kind, w.item_id, w.dossier_id, w.provider, w.process_type, w.status, w.state,
       coalesce(w.created_at, w.enrolled_at) AS created_at, w.decided_at,
       w.decided_at - coalesce(w.created_at, w.enrolled_at) AS time_to_decision,
       w.last_polled_at, w.last_error, 'watch'::text AS source
FROM signicat.watch w
UNION ALL
SELECT 'assure_process', p.process_id, p.dossier_id, p.provider, p.process_type, p.status,
       CASE WHEN p.status IN ('accepted', 'rejected', 'inconclusive', 'failed', 'canceled')
            THEN 'done' ELSE 'active' END,
       p.created_at,
       CASE WHEN p.status IN ('accepted', 'rejected', 'inconclusive', 'failed', 'canceled')
            THEN p.updated_at END,
       CASE WHEN p.status IN ('accepted', 'rejected', 'inconclusive', 'failed', 'canceled')
            THEN p.updated_at - p.created_at END,
       p.synced_at, NULL, 'sync'
FROM signicat.processes p
WHERE NOT EXISTS (SELECT FROM signicat.watch w
                  WHERE w.kind = 'assure_process' AND w.item_id = p.process_id);
COMMENT ON VIEW signicat.verifications IS
'Current status of every verification: followed ones (watch) and synced Assure processes';

CREATE VIEW signicat.daily_status_counts AS
SELECT created_at::date AS day, kind, coalesce(provider, '') AS provider, status, count(*) AS verifications
FROM signicat.verifications
GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW signicat.daily_status_counts IS
'Verifications per day of creation, kind, provider and current status';

CREATE VIEW signicat.decision_times AS
SELECT kind, coalesce(provider, '') AS provider, count(*) AS decided,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_decision) AS p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY time_to_decision) AS p90,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY time_to_decision) AS p99,
       max(time_to_decision) AS slowest
FROM signicat.verifications
WHERE time_to_decision IS NOT NULL
GROUP BY 1, 2;
COMMENT ON VIEW signicat.decision_times IS
'Time from creation to a final status, percentiles per kind and provider';

CREATE FUNCTION signicat.stuck(older_than interval DEFAULT '1 hour')
RETURNS SETOF signicat.verifications LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM signicat.verifications v
    WHERE v.state = 'active' AND v.created_at < now() - older_than
    ORDER BY v.created_at
$$;
COMMENT ON FUNCTION signicat.stuck(interval) IS
'Verifications still not final longer than older_than after creation';

-- ---------------------------------------------------------------------------
-- Statistics (shared memory, like pg_stat_statements)
-- ---------------------------------------------------------------------------

CREATE FUNCTION signicat.stats(
    OUT operation_id text, OUT calls bigint, OUT errors bigint, OUT errors_by_class jsonb,
    OUT retries bigint, OUT total_ms double precision, OUT mean_ms double precision,
    OUT max_ms double precision, OUT bytes_out bigint, OUT bytes_in bigint,
    OUT last_error_at timestamptz, OUT stats_since timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'signicat_stats' LANGUAGE C VOLATILE;

CREATE VIEW signicat.stat_operations AS SELECT * FROM signicat.stats();
COMMENT ON VIEW signicat.stat_operations IS
'Calls per Signicat operation since the last reset: errors by class, retries, time, bytes';

CREATE FUNCTION signicat.stats_reset() RETURNS void
AS 'MODULE_PATHNAME', 'signicat_stats_reset' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION signicat.stats_reset() IS 'Reset signicat.stat_operations';

CREATE FUNCTION signicat.http_status_rules(
    OUT low integer, OUT high integer, OUT sqlstate text, OUT error_class text,
    OUT retryable boolean, OUT gone boolean, OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'signicat_http_status_rules' LANGUAGE C IMMUTABLE;
COMMENT ON FUNCTION signicat.http_status_rules() IS
'What each HTTP status means: SQLSTATE, error class in the statistics, retried or not, gone or not, hint; the first rule whose range holds a status applies';

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; three roles for people, each including the
-- one before, and one for the background worker.
--   signicat_reader    statuses and statistics: the analyst views, the
--                      history, the worker's and the operations' counters, and
--                      the API reads that hold no personal data (configuration,
--                      document types, MobileID statistics and keys)
--   signicat_operator  + every read of personal data (dossiers, processes,
--                      images, sessions, recipients, onboardings, MobileID
--                      accounts and devices), create, update and delete of
--                      single objects, enrolment in signicat.watch
--   signicat_admin     + destructive bulk operations, configuration changes,
--                      signicat.request(), the worker, deleting history,
--                      corrections of operations' paths
--   signicat_worker    what the background worker runs as: reads and writes
--                      signicat.watch and status_history, sends signicat.queue
--                      (and enrols what its creates made), nothing else
-- Every role may queue the calls its grants allow (signicat.enqueue) and sees
-- only the requests it queued; admins see all.
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
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'signicat_worker') THEN
        CREATE ROLE signicat_worker NOLOGIN;
    END IF;
END
$roles$;

GRANT signicat_reader TO signicat_operator;
GRANT signicat_operator TO signicat_admin;

REVOKE ALL ON SCHEMA signicat FROM PUBLIC;
GRANT USAGE ON SCHEMA signicat TO signicat_reader, signicat_worker;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA signicat FROM PUBLIC;

-- reads of personal data: operators
GRANT EXECUTE ON FUNCTION
    signicat.assure_get_dossier(uuid),
    signicat.assure_list_dossiers(),
    signicat.assure_get_user_data(uuid),
    signicat.assure_get_dossier_file(uuid, text),
    signicat.assure_get_process(uuid, uuid),
    signicat.assure_get_process_raw_result(uuid, uuid),
    signicat.assure_get_process_image(uuid, uuid, text),
    signicat.assure_list_processes(timestamptz, timestamptz, text[], text, integer),
    signicat.assure_get_process_external_id(uuid, uuid),
    signicat.assure_get_process_video(uuid, uuid),
    signicat.assure_download_process_result(uuid, uuid, boolean),
    signicat.auth_get_session(uuid),
    signicat.share_get_recipient(uuid, uuid),
    signicat.reuseid_get_onboarding(uuid),
    signicat.reuseid_get_step_up(uuid),
    signicat.mobileid_get_account(boolean),
    signicat.mobileid_list_apns_tokens(),
    signicat.mobileid_get_apns_token(uuid),
    signicat.mobileid_get_detailed_device_statistics(text, text),
    signicat.mobileid_get_device_hash_statistics(bigint, boolean),
    signicat.mobileid_list_devices_by_device_hash(text)
TO signicat_operator;

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

-- reads without personal data: readers
GRANT EXECUTE ON FUNCTION
    signicat.assure_list_document_types(text),
    signicat.assure_get_matching_configuration(text),
    signicat.assure_list_matching_configurations(),
    signicat.assure_get_capture_configuration(text),
    signicat.assure_list_capture_configurations(),
    signicat.mobileid_get_application_config(),
    signicat.mobileid_get_application_config_state(),
    signicat.mobileid_get_application_config_apns_uuid(),
    signicat.mobileid_get_application_config_properties(),
    signicat.mobileid_list_signing_certificates(text),
    signicat.mobileid_list_e2e_keys(text),
    signicat.mobileid_get_e2e_key(text),
    signicat.mobileid_get_risk_indicators(),
    signicat.mobileid_get_statistics_by_days(integer),
    signicat.mobileid_get_statistics_by_date_range(date, date),
    signicat.operations(),
    signicat.call_many(text, jsonb[])
TO signicat_reader;

GRANT EXECUTE ON FUNCTION
    signicat.assure_watermark_image(jsonb, bytea, uuid, uuid, text, text),
    signicat.assure_redact_images(text, text, text[], bytea, bytea, uuid, uuid, text, text),
    signicat.assure_perform_matching(uuid, jsonb, jsonb, text),
    signicat.assure_start_capture_flow(uuid, jsonb, text, text, jsonb, text, text[]),
    signicat.auth_create_session(text, text[], text[], jsonb, jsonb, jsonb, text, text[], text, text[], text, text, text, text, integer, text, timestamptz, jsonb),
    signicat.auth_cancel_session(uuid),
    signicat.share_create_share(jsonb, text, text, text, text, jsonb, text[], timestamptz, text),
    signicat.share_upload_files(uuid, bytea[], text[], text[]),
    signicat.share_remove_file(uuid, uuid),
    signicat.share_create_recipient(uuid, jsonb, text, text, text, text, uuid[], jsonb, text),
    signicat.share_update_recipient(uuid, uuid, text, text, text, text, uuid[], jsonb, jsonb, text),
    signicat.share_remove_recipient(uuid, uuid),
    signicat.share_send_reminder(uuid, uuid),
    signicat.reuseid_start_onboarding(text, text, jsonb),
    signicat.reuseid_start_step_up(uuid, text, text, jsonb)
TO signicat_operator;

GRANT EXECUTE ON FUNCTION
    signicat.assure_create_matching_configuration(text, jsonb, jsonb),
    signicat.assure_update_matching_configuration(text, jsonb, jsonb),
    signicat.assure_delete_matching_configuration(text),
    signicat.assure_create_capture_configuration(text, jsonb),
    signicat.assure_update_capture_configuration(text, jsonb),
    signicat.assure_delete_capture_configuration(text),
    signicat.mobileid_add_account(text),
    signicat.mobileid_update_account(text),
    signicat.mobileid_add_apns_token(text, text, text, text, text),
    signicat.mobileid_delete_apns_token(uuid),
    signicat.mobileid_update_application_config_state(text),
    signicat.mobileid_update_application_config_apns_uuid(uuid),
    signicat.mobileid_update_application_config_properties(jsonb),
    signicat.mobileid_create_e2e_key(text, text, text),
    signicat.mobileid_update_e2e_key_state(text, text),
    signicat.mobileid_delete_e2e_key(text),
    signicat.mobileid_update_risk_indicators(jsonb),
    signicat.mobileid_lock_devices_by_device_hash(text)
TO signicat_admin;

-- status tracking: readers see the views, the history and the counters (no
-- payloads, no raw answers); operators enrol and sync, through the functions
-- only; admins manage the worker and may delete history; the worker role
-- reads and writes what it follows
GRANT SELECT ON signicat.verifications, signicat.daily_status_counts, signicat.decision_times,
                signicat.worker_status, signicat.status_history
TO signicat_reader;
GRANT EXECUTE ON FUNCTION signicat.stuck(interval), signicat.worker_counters() TO signicat_reader;
GRANT SELECT ON signicat.watch, signicat.processes TO signicat_operator;
GRANT EXECUTE ON FUNCTION signicat.watch_add(text, uuid, uuid), signicat.watch_drop(text, uuid),
                          signicat.sync_processes(timestamptz)
TO signicat_operator;
GRANT EXECUTE ON FUNCTION signicat.start_worker(), signicat.stop_worker() TO signicat_admin;
GRANT DELETE ON signicat.watch, signicat.status_history TO signicat_admin;
GRANT SELECT ON signicat.stat_operations TO signicat_reader;
GRANT EXECUTE ON FUNCTION signicat.stats(), signicat.http_status_rules() TO signicat_reader;
GRANT EXECUTE ON FUNCTION signicat.stats_reset() TO signicat_operator;
GRANT SELECT, UPDATE ON signicat.watch TO signicat_worker;
GRANT SELECT ON signicat.worker_switch TO signicat_reader, signicat_worker;
GRANT INSERT, UPDATE ON signicat.worker_switch TO signicat_admin;
GRANT SELECT ON signicat.operation_corrections TO signicat_reader;
GRANT INSERT, UPDATE, DELETE, TRUNCATE ON signicat.operation_corrections TO signicat_admin;
GRANT SELECT, INSERT, DELETE ON signicat.status_history TO signicat_worker;
GRANT USAGE ON SEQUENCE signicat.status_history_id_seq TO signicat_worker;

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
