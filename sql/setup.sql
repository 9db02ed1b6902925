-- setup: install the extension and the helpers the other tests use to drive
-- the mock Signicat server (its /__mock control routes, reached through
-- signicat.request so that the tests need nothing but SQL).
--
-- The suite needs a server that preloads signicat (and pg_cron, in database
-- postgres, for the cron test) and points signicat.* at the mock: test/lib.sh's
-- start_cluster sets one up (test/run.sh does it all). This says what is missing.
SELECT CASE
    WHEN current_setting('shared_preload_libraries') !~ 'signicat'
        THEN 'needs shared_preload_libraries = ''signicat,pg_cron'''
    WHEN current_setting('signicat.base_url', true) !~ '^http://127\.0\.0\.1:'
        THEN 'needs signicat.base_url (and token_url, client_id, client_secret) pointing at test/mock on 127.0.0.1'
    ELSE 'ok' END AS prerequisites;
CREATE EXTENSION signicat;
SELECT extname, extversion FROM pg_extension WHERE extname = 'signicat';
CREATE EXTENSION dblink;

CREATE SCHEMA t;

-- call a control route of the mock
CREATE FUNCTION t.mock(method text, path text, body jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$ SELECT signicat.request(method, '/__mock/' || path, body) $$;

CREATE FUNCTION t.reset() RETURNS void LANGUAGE sql AS $$ SELECT t.mock('POST', 'reset') $$;
CREATE FUNCTION t.fault(f jsonb) RETURNS void LANGUAGE sql AS $$ SELECT t.mock('POST', 'faults', f) $$;
CREATE FUNCTION t.config(c jsonb) RETURNS void LANGUAGE sql AS $$ SELECT t.mock('POST', 'config', c) $$;
CREATE FUNCTION t.tokens_issued() RETURNS int LANGUAGE sql
AS $$ SELECT (t.mock('GET', 'tokens')->>'issued')::int $$;

-- requests the mock received (oldest first), optionally for one operation
CREATE FUNCTION t.requests(op text DEFAULT NULL) RETURNS SETOF jsonb LANGUAGE sql AS $$
    SELECT r FROM jsonb_array_elements(t.mock('GET', 'requests')) AS r
    WHERE op IS NULL OR r->>'operation' = op
    ORDER BY (r->>'seq')::int
$$;
CREATE FUNCTION t.last_request(op text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$
    SELECT r FROM t.requests(op) AS r ORDER BY (r->>'seq')::int DESC LIMIT 1
$$;
-- method, path and body of the last request, with generated ids masked
CREATE FUNCTION t.mask(s text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(s, '[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}', '<uuid>', 'g')
$$;
CREATE FUNCTION t.sent(op text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT t.mask(format('%s %s%s %s', r->>'method', r->>'path',
                  CASE WHEN r->'query' = '{}' OR r->'query' IS NULL THEN ''
                       ELSE ' ' || (r->'query')::text END,
                  coalesce(nullif(r->'body', 'null')::text, '-')))
    FROM t.last_request(op) AS r
$$;

-- run a statement, return its error as "SQLSTATE: message | detail"
CREATE FUNCTION t.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN t.mask(format('%s: %s%s', state, msg, CASE WHEN detail <> '' THEN ' | ' || detail ELSE '' END));
END $$;
-- the context lines of a statement's error (HTTP status, traceId, operation)
CREATE FUNCTION t.err_context(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    ctx text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
    RETURN t.mask(regexp_replace(ctx, E'\nPL/pgSQL function.*$', ''));
END $$;

-- a tiny PNG and a tiny JPEG header, for uploads
CREATE FUNCTION t.png(n int DEFAULT 1) RETURNS bytea LANGUAGE sql AS $$
    SELECT decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')
           || int4send(n)
$$;
CREATE FUNCTION t.jpeg() RETURNS bytea LANGUAGE sql AS $$
    SELECT '\xffd8ffe000104a46494600'::bytea
$$;

SELECT t.reset();
SELECT count(*) AS requests_after_reset FROM t.requests();

-- wait (at most 30 s) until a query answers true
CREATE FUNCTION t.wait_until(condition text, seconds int DEFAULT 30) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1 .. seconds * 20 LOOP
        PERFORM pg_stat_clear_snapshot();  -- pg_stat_activity is cached per transaction
        EXECUTE condition INTO ok;
        IF ok THEN RETURN true; END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END $$;
