-- memory: failing calls of every kind leave nothing behind in the backend
-- (libcurl's header lists and bodies are freed on error paths too).
SELECT t.reset();
SET signicat.max_retries = 0;
SELECT (signicat.assure_create_dossier('memory')->>'dossierId') AS d \gset

CREATE FUNCTION t.rss_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+) kB'))[1]::bigint
$$;
-- n calls that fail in turn: 404, 503, dropped connection, malformed JSON, oversized
CREATE FUNCTION t.failing_calls(d uuid, n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    failures int := 0;
BEGIN
    PERFORM t.fault(jsonb_build_array(
        jsonb_build_object('operation', 'assure_get_dossier', 'status', 404, 'count', -1)));
    FOR i IN 1 .. n LOOP
        BEGIN
            PERFORM signicat.assure_get_dossier(d);
        EXCEPTION WHEN OTHERS THEN
            failures := failures + 1;
        END;
    END LOOP;
    PERFORM t.mock('DELETE', 'faults');
    RETURN failures;
END $$;

SELECT t.failing_calls(:'d', 200) AS warm_up;
SELECT t.rss_kb() AS before_kb \gset
SELECT t.failing_calls(:'d', 5000) AS failed;
SELECT t.rss_kb() - :before_kb < 512 AS grew_less_than_512kb;

-- the same for transport failures and bad bodies
SELECT t.rss_kb() AS before_kb \gset
DO $$
DECLARE
    d uuid := (SELECT (signicat.assure_create_dossier('memory 2')->>'dossierId')::uuid);
BEGIN
    FOR i IN 1 .. 1500 LOOP
        PERFORM t.fault(CASE i % 3
            WHEN 0 THEN '{"operation": "assure_get_dossier", "drop": true, "count": 2}'::jsonb
            WHEN 1 THEN '{"operation": "assure_get_dossier", "malformed_json": true}'::jsonb
            ELSE '{"operation": "assure_get_dossier", "status": 503, "body": "<html>busy</html>", "content_type": "text/html"}'::jsonb
        END);
        BEGIN
            PERFORM signicat.assure_get_dossier(d);
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
    END LOOP;
END $$;
SELECT t.rss_kb() - :before_kb < 512 AS grew_less_than_512kb;
RESET signicat.max_retries;
