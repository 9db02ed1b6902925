#!/usr/bin/env bash
#
# test/demo.sh: see the signicat extension work, end to end, against the mock Signicat server.
#
# Installs what is missing, builds and installs the extension, starts the mock and a throw-away
# PostgreSQL 15 cluster (signicat preloaded, pointed at the mock), then walks through an Assure
# identity verification from psql, echoing every step:
#   create a dossier -> create an Onfido process -> upload front/back/selfie images ->
#   start verification -> poll until 'accepted' -> fetch an image back and compare ->
#   list dossiers and processes -> what the background worker recorded -> delete the dossier.
# Ends with "demo finished OK"; everything started is stopped on exit (KEEP_WORKDIR=1 keeps logs).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=test/lib.sh
source test/lib.sh

install_cleanup_trap
ensure_packages
build_and_install
start_mock
# the background worker follows what the demo creates in database postgres
EXTRA_PG_CONF="signicat.worker_databases = 'postgres'
signicat.poll_interval = '200ms'
signicat.worker_naptime = '100ms'" start_cluster

log "running the demo workflow with psql"
# Quoted heredoc: nothing below is expanded by the shell; :'var' are psql variables.
"$PG_BINDIR/psql" -v ON_ERROR_STOP=1 -X -q <<'SQL'
\pset pager off
\set VERBOSITY default
-- Three small real PNG pictures (16x16, solid red / green / blue).
\set front_b64  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mM4ISdHEmIY1TCqYfhqAADkYgQQ6ZuA8QAAAABJRU5ErkJggg=='
\set back_b64   'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mOQW2BDEmIY1TCqYfhqAADLcvoBKl/HFgAAAABJRU5ErkJggg=='
\set selfie_b64 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mPQcDtBEmIY1TCqYfhqAAAu1jYQjdTRlgAAAABJRU5ErkJggg=='

\echo
\echo '--- 1. CREATE EXTENSION signicat'
CREATE EXTENSION IF NOT EXISTS signicat CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname = 'signicat';

\echo '--- 2. create a dossier (externalReference demo-customer-42)'
SELECT signicat.assure_create_dossier('demo-customer-42') AS dossier \gset
SELECT jsonb_pretty(:'dossier'::jsonb) AS dossier;
SELECT :'dossier'::jsonb ->> 'dossierId' AS dossier_id \gset
\echo dossier_id = :dossier_id

\echo '--- 3. create an Onfido process (documentSelfie, passport)'
SELECT signicat.assure_create_process(:'dossier_id'::uuid, 'onfido', 'documentSelfie', 'passport') AS process \gset
SELECT jsonb_pretty(:'process'::jsonb) AS process;
SELECT :'process'::jsonb ->> 'processId' AS process_id,
       :'process'::jsonb ->> 'status'    AS status \gset
\echo process_id = :process_id, status = :status

\echo '--- 4. upload front, back and selfie images (image/png)'
SELECT signicat.assure_set_process_images(:'dossier_id'::uuid, :'process_id'::uuid,
           decode(:'front_b64', 'base64'), decode(:'back_b64', 'base64'),
           decode(:'selfie_b64', 'base64'), 'image/png') \g /dev/null
SELECT length(decode(:'front_b64', 'base64'))  AS front_bytes,
       length(decode(:'back_b64', 'base64'))   AS back_bytes,
       length(decode(:'selfie_b64', 'base64')) AS selfie_bytes;

\echo '--- 5. start the verification'
SELECT jsonb_pretty(signicat.assure_start_verification(:'dossier_id'::uuid, :'process_id'::uuid)) AS started;

\echo '--- 6. poll the process until it is accepted (every 0.2 s, at most 20 tries)'
-- psql does not substitute variables inside a DO body: hand the ids over as session settings.
SELECT set_config('signicat_demo.dossier_id', :'dossier_id', false),
       set_config('signicat_demo.process_id', :'process_id', false) \g /dev/null
CREATE TEMP TABLE demo_polls (try int, status text, seen_at timestamptz);
DO $$
DECLARE
    d uuid := current_setting('signicat_demo.dossier_id')::uuid;
    p uuid := current_setting('signicat_demo.process_id')::uuid;
    st text;
BEGIN
    FOR try IN 1..20 LOOP
        st := signicat.assure_get_process(d, p) ->> 'status';
        INSERT INTO demo_polls VALUES (try, st, clock_timestamp());
        EXIT WHEN st = 'accepted';
        IF st IN ('rejected', 'failed', 'cancelled', 'canceled', 'expired') THEN
            RAISE EXCEPTION 'process ended as %, expected accepted', st;
        END IF;
        PERFORM pg_sleep(0.2);
    END LOOP;
    IF st IS DISTINCT FROM 'accepted' THEN
        RAISE EXCEPTION 'process still % after 20 polls', st;
    END IF;
END
$$;
SELECT try, status, to_char(seen_at, 'HH24:MI:SS.MS') AS seen_at FROM demo_polls ORDER BY try;
SELECT signicat.assure_get_process(:'dossier_id'::uuid, :'process_id'::uuid) ->> 'status' AS final_status;

\echo '--- 7. fetch the front image back and compare it with the upload'
SELECT length(img)                              AS front_bytes_fetched,
       img = decode(:'front_b64', 'base64')     AS same_as_uploaded,
       encode(substr(img, 2, 3), 'escape')      AS magic
  FROM signicat.assure_get_process_image(:'dossier_id'::uuid, :'process_id'::uuid, 'front') AS img;
DO $$
BEGIN
    IF signicat.assure_get_process_image(current_setting('signicat_demo.dossier_id')::uuid,
                                         current_setting('signicat_demo.process_id')::uuid, 'front')
       IS DISTINCT FROM decode('iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mM4ISdHEmIY1TCqYfhqAADkYgQQ6ZuA8QAAAABJRU5ErkJggg==', 'base64')
    THEN
        RAISE EXCEPTION 'the fetched front image differs from the uploaded one';
    END IF;
END
$$;

\echo '--- 8. list dossiers'
SELECT dossier_id, external_reference, created_at
  FROM signicat.assure_list_dossiers()
 ORDER BY created_at;

\echo '--- 9. list processes created in the last hour'
SELECT process_id, dossier_id, provider, process_type, status, created_at
  FROM signicat.assure_list_processes(now() - interval '1 hour')
 ORDER BY created_at;
SELECT status, count(*) AS processes
  FROM signicat.assure_list_processes(now() - interval '1 hour')
 GROUP BY status ORDER BY status;

\echo '--- 10. meanwhile the background worker followed the process and recorded each change'
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN EXISTS (SELECT FROM signicat.watch WHERE state = 'done');
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT kind, provider, status, state, time_to_decision FROM signicat.verifications;
SELECT seq, old_status, new_status FROM signicat.status_history ORDER BY seq;
SELECT operation_id, calls, errors, round(mean_ms::numeric, 2) AS mean_ms
  FROM signicat.stat_operations ORDER BY calls DESC LIMIT 5;

\echo '--- 11. delete the dossier'
SELECT signicat.assure_delete_dossier(:'dossier_id'::uuid) \g /dev/null
SELECT count(*) AS still_listed
  FROM signicat.assure_list_dossiers()
 WHERE dossier_id = :'dossier_id'::uuid;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM signicat.assure_list_dossiers()
                WHERE dossier_id = current_setting('signicat_demo.dossier_id')::uuid) THEN
        RAISE EXCEPTION 'dossier % is still listed after delete', current_setting('signicat_demo.dossier_id');
    END IF;
END
$$;
\echo 'dossier deleted; it is no longer listed. Remaining dossiers:'
SELECT count(*) AS dossiers_left FROM signicat.assure_list_dossiers();
SQL

echo "demo finished OK"
