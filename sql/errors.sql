-- errors: every class of Signicat problem details maps to its SQLSTATE, with
-- the title as message, the detail as detail, HTTP status and traceId as
-- context; transport failures and bad bodies are clear errors; the backend
-- stays usable after each.
SELECT t.reset();
-- one answer, one error: retries are tested in retries.sql
SET signicat.max_retries = 0;
SELECT (signicat.assure_create_dossier('errors')->>'dossierId') AS d \gset

-- one statement, its error in full: SQLSTATE, message, detail, hint, context
CREATE FUNCTION t.err_full(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; msg text; detail text; hint text; ctx text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                            hint = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    RETURN t.mask(format(E'%s: %s\n  detail: %s\n  hint: %s\n  context: %s', state, msg, detail, hint,
                         replace(regexp_replace(ctx, E'\nPL/pgSQL function.*$', ''), E'\n', ' / ')));
END $$;

CREATE FUNCTION t.problem(status int, extra jsonb DEFAULT '{}') RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM t.fault(jsonb_build_object('operation', 'assure_get_dossier', 'status', status,
        'problem', jsonb_build_object('title', 'Title ' || status, 'detail', 'Detail of ' || status,
                                      'traceId', 'trace-' || status) || extra));
    RETURN t.err_full(format('SELECT signicat.assure_get_dossier(%L)', current_setting('t.dossier')));
END $$;
SELECT set_config('t.dossier', :'d', false) IS NOT NULL AS ok;

SELECT status, t.problem(status) FROM unnest(ARRAY[400, 403, 404, 405, 409, 410, 413, 422, 500, 502, 503, 504]) status;
-- 429 with Retry-After: the hint says when
SELECT t.problem(429, '{}') AS no_retry_after;
SELECT t.fault(jsonb_build_object('operation', 'assure_get_dossier', 'status', 429, 'retry_after', '7', 'problem', jsonb_build_object('traceId', 'trace-429-retry')));
SELECT t.err_full(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS with_retry_after;
-- validation errors name the field
SELECT t.fault('{"operation": "assure_get_dossier", "status": 400, "problem": {"title": "One or more validation errors occurred.", "traceId": "trace-v", "errors": {"startCreationDate": ["The startCreationDate field is required."], "limit": ["Must be 1..2000", "Must be a number"]}}}');
SELECT t.err_full(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS validation;
-- MobileID's problem code: the account is missing
SELECT t.problem(400, '{"code": "account_id_missing", "title": "An Account ID must be specified for this request"}') AS account_missing;
-- a problem without JSON: an HTML page from a proxy is not echoed
SELECT t.fault('{"operation": "assure_get_dossier", "status": 502, "body": "<html><body>Bad gateway</body></html>", "content_type": "text/html"}');
SELECT t.err_full(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS html_502;
-- malformed problem JSON does not hide the status
SELECT t.fault('{"operation": "assure_get_dossier", "status": 500, "body": "{\"title\": ", "content_type": "application/problem+json"}');
SELECT t.err_full(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS broken_problem;

-- bodies that are not what was expected
SELECT t.fault('{"operation": "assure_get_dossier", "malformed_json": true}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS malformed;
SELECT t.fault('{"operation": "assure_get_dossier", "truncated_json": true}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS truncated;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "<html>hello</html>", "content_type": "text/html"}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS html_200;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "\"just a string\"", "content_type": "application/json"}');
SELECT signicat.assure_get_dossier(:'d') AS scalar_json;
SELECT t.fault('{"operation": "assure_list_dossiers", "status": 200, "body": "{\"not\": \"a list\"}", "content_type": "application/json"}');
SELECT t.err('SELECT count(*) FROM signicat.assure_list_dossiers()') AS not_a_list;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "{\"a\": \"\\u00e6\\u00f8\\u00e5 \u00e6\u00f8\u00e5\"}", "content_type": "application/json"}');
SELECT signicat.assure_get_dossier(:'d') AS unicode;

-- the connection dropped without an answer (twice: libcurl itself sends a
-- request again, once, when a reused connection closes before answering), or
-- mid-body
SELECT t.fault('{"operation": "assure_get_dossier", "drop": true, "count": 2}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS dropped;
SELECT t.fault('{"operation": "assure_get_dossier", "drop_mid_body": true}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS dropped_mid_body;

-- an answer over signicat.max_response_size
SET signicat.max_response_size = '64kB';
SELECT t.fault('{"operation": "assure_get_dossier", "oversized_bytes": 200000}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS oversized;
RESET signicat.max_response_size;

-- nobody listening
SET signicat.base_url = 'http://127.0.0.1:1';
SELECT regexp_replace(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')), ' after \d+ ms', '') AS refused;
RESET signicat.base_url;
-- a port that never completes the TCP handshake: the connect timeout
SELECT t.mock('POST', 'blackhole')->>'port' AS blackhole_port \gset
SELECT set_config('signicat.base_url', 'http://127.0.0.1:' || :'blackhole_port', false) IS NOT NULL AS set;
SET signicat.connect_timeout = '300ms';
-- (libcurl words the detail in more than one way: only its gist is shown)
SELECT split_part(e, ' | ', 1) AS connect_timeout, e ~* 'connect' AS detail_says_connect
FROM (SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS e) r;
RESET signicat.connect_timeout;
RESET signicat.base_url;
-- plain http:// to a host that is not a loopback address: refused before anything is sent,
-- for the API and for the token endpoint alike (the token and the secret would be in clear text)
SET signicat.base_url = 'http://does-not-exist.invalid';
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS http_refused;
SELECT t.err('SELECT signicat.assure_list_dossiers()') AS http_refused_for_lists;
RESET signicat.base_url;
SET signicat.token_url = 'http://[2001:db8::1]:8080/auth/open/connect/token';
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS token_url_refused;
RESET signicat.token_url;
-- loopback in every spelling is fine: localhost, 127.x, [::1] (what tests use)
-- (signicat.max_retries is 0 for this whole file)
SET signicat.base_url = 'http://LOCALHOST:1';
SELECT split_part(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')), ':', 1) AS localhost_tried;
SET signicat.base_url = 'http://user@127.9.9.9:1';
SELECT split_part(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')), ':', 1) AS loopback_net_tried;
SET signicat.base_url = 'http://[::1]:1';
SELECT split_part(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')), ':', 1) AS ipv6_loopback_tried;
-- a superuser may allow it explicitly: then a host that does not resolve is tried
SET signicat.allow_insecure_http = on;
SET signicat.base_url = 'http://does-not-exist.invalid';
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS dns_failure;
RESET signicat.base_url;
RESET signicat.allow_insecure_http;
-- a slow drip: within signicat.timeout it is just slow, past it an error
SELECT t.fault('{"operation": "assure_get_dossier", "drip_ms": 2}');
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS slow_drip;
SET signicat.timeout = '300ms';
SELECT t.fault('{"operation": "assure_get_dossier", "drip_ms": 100}');
SELECT regexp_replace(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')), '\d+ milliseconds with \d+', 'N milliseconds with N') AS drip_past_timeout;
RESET signicat.timeout;
-- only http and https
SELECT t.err($$SET signicat.base_url = 'file:///etc/passwd'$$) AS file_url;

-- after all of that the same backend still works
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS still_works;
