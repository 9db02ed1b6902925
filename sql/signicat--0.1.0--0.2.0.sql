-- signicat--0.1.0--0.2.0.sql: update script from 0.1.0 to 0.2.0.
--
-- What changed (issue: no role can run code as the worker, no role reads what
-- its role should not):
--   * a role for the background worker, signicat_worker, with exactly the
--     rights it needs on signicat.watch and status_history;
--   * reads of personal data move from signicat_reader to signicat_operator;
--     readers keep statuses, statistics and reads without personal data;
--   * status_history is an audit trail: watch_drop marks the item 'dropped'
--     instead of deleting it with its history, only admins may delete; rows of
--     signicat.processes come only through sync_processes (SECURITY DEFINER);
--   * watch_add follows a dropped item again;
--   * signicat.http_status_rules() shows what each HTTP status means;
--   * signicat.worker_switch: start_worker()/stop_worker() are kept across
--     restarts (the launcher starts the workers switched on); worker_status
--     shows a database whose items wait with no worker;
--   * watch, status_history and processes are kept by pg_dump (configuration
--     tables: their rows are data that CREATE EXTENSION cannot make again).
-- test/t/008_upgrade.pl checks that this script and a fresh install of 0.2.0
-- give the same objects.

\echo Use "ALTER EXTENSION signicat UPDATE TO '0.2.0'" to load this file. \quit

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'signicat_worker') THEN
        CREATE ROLE signicat_worker NOLOGIN;
    END IF;
END
$roles$;

ALTER TABLE signicat.watch DROP CONSTRAINT watch_state_check;
ALTER TABLE signicat.watch ADD CONSTRAINT watch_state_check
    CHECK (state IN ('active', 'done', 'gone', 'expired', 'dropped'));

CREATE OR REPLACE FUNCTION signicat.watch_add(kind text, item_id uuid, dossier_id uuid DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION signicat.watch_drop(kind text, item_id uuid)
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

CREATE OR REPLACE FUNCTION signicat.sync_processes(since timestamptz DEFAULT now() - interval '1 day')
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

-- reads of personal data: from readers to operators
DO $move$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'signicat.assure_get_dossier(uuid)',
        'signicat.assure_list_dossiers()',
        'signicat.assure_get_user_data(uuid)',
        'signicat.assure_get_dossier_file(uuid, text)',
        'signicat.assure_get_process(uuid, uuid)',
        'signicat.assure_get_process_image(uuid, uuid, text)',
        'signicat.assure_list_processes(timestamptz, timestamptz, text[], text, integer)',
        'signicat.assure_get_process_external_id(uuid, uuid)',
        'signicat.assure_get_process_video(uuid, uuid)',
        'signicat.assure_download_process_result(uuid, uuid, boolean)',
        'signicat.auth_get_session(uuid)',
        'signicat.share_get_recipient(uuid, uuid)',
        'signicat.reuseid_get_onboarding(uuid)',
        'signicat.reuseid_get_step_up(uuid)',
        'signicat.mobileid_get_account(boolean)',
        'signicat.mobileid_list_apns_tokens()',
        'signicat.mobileid_get_apns_token(uuid)',
        'signicat.mobileid_get_detailed_device_statistics(text, text)',
        'signicat.mobileid_get_device_hash_statistics(bigint, boolean)',
        'signicat.mobileid_list_devices_by_device_hash(text)'
    ]::pg_catalog.regprocedure[]
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM signicat_reader', f);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO signicat_operator', f);
    END LOOP;
END
$move$;

-- tables: raw answers for operators only, changes only through the functions
REVOKE SELECT ON signicat.processes FROM signicat_reader;
REVOKE INSERT, UPDATE ON signicat.processes FROM signicat_operator;
GRANT SELECT ON signicat.processes TO signicat_operator;
GRANT DELETE ON signicat.watch, signicat.status_history TO signicat_admin;

-- the status table of the library, readable
CREATE FUNCTION signicat.http_status_rules(
    OUT low integer, OUT high integer, OUT sqlstate text, OUT error_class text,
    OUT retryable boolean, OUT gone boolean, OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'signicat_http_status_rules' LANGUAGE C IMMUTABLE;
COMMENT ON FUNCTION signicat.http_status_rules() IS
'What each HTTP status means: SQLSTATE, error class in the statistics, retried or not, gone or not, hint; the first rule whose range holds a status applies';
REVOKE EXECUTE ON FUNCTION signicat.http_status_rules() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION signicat.http_status_rules() TO signicat_reader;

-- What the extension keeps is data, not configuration it can make again:
-- pg_dump saves these tables and their sequences' positions, and pg_restore
-- puts them back after CREATE EXTENSION (every row: no filter).
SELECT pg_catalog.pg_extension_config_dump('signicat.watch', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.watch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.status_history', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.status_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('signicat.processes', '');

-- the worker's switch, kept across restarts, and the status view that shows it
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

CREATE OR REPLACE VIEW signicat.worker_status AS
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

COMMENT ON FUNCTION signicat.start_worker() IS
'Switch the background worker of the current database on (kept across restarts) and start it (NULL if one runs); returns its pid';
COMMENT ON FUNCTION signicat.stop_worker() IS
'Switch the background worker of the current database off (kept across restarts) and stop it; true if one ran';

-- the worker's role
GRANT USAGE ON SCHEMA signicat TO signicat_worker;
GRANT SELECT, UPDATE ON signicat.watch TO signicat_worker;
GRANT SELECT, INSERT, DELETE ON signicat.status_history TO signicat_worker;
GRANT USAGE ON SEQUENCE signicat.status_history_id_seq TO signicat_worker;
GRANT SELECT ON signicat.worker_switch TO signicat_reader, signicat_worker;
GRANT INSERT, UPDATE ON signicat.worker_switch TO signicat_admin;
