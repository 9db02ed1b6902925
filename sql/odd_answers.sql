-- odd_answers: answers real HTTP servers send that an operation does not
-- document, each with its own clear error (or, where the standard allows it,
-- accepted): characters the database cannot store, a byte order mark, empty
-- bodies, a Retry-After far ahead, oversized headers, redirects.
SELECT t.reset();
SET signicat.max_retries = 0;
SELECT (signicat.assure_create_dossier('odd')->>'dossierId') AS d \gset

-- 1. a character no text can hold (\u0000): 22P05, naming the operation, not "malformed"
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "{\"name\": \"a\\u0000b\"}"}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS nul_escape;
-- (malformed JSON stays 08P01, with the operation's name)
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "{\"name\": \"\\u12\"}"}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS bad_escape;
-- in a list too
SELECT t.fault('{"operation": "assure_list_dossiers", "status": 200, "body": "[{\"id\": \"\\u0000\"}]"}');
SELECT t.err('SELECT count(*) FROM signicat.assure_list_dossiers()') AS nul_in_list;

-- 2. a UTF-8 byte order mark before the JSON is ignored (RFC 8259, 8.1)
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "\ufeff{\"externalReference\": \"with a BOM\"}"}');
SELECT signicat.assure_get_dossier(:'d') AS bom;
-- (only before the text: one inside a string is a character like any other)
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200, "body": "{\"externalReference\": \"\ufeffx\"}"}');
SELECT length(signicat.assure_get_dossier(:'d')->>'externalReference') AS bom_inside;

-- 3. an empty 200 is not "nothing" where the operation documents JSON: 08P01
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS empty_200;
SELECT t.fault('{"operation": "assure_list_dossiers", "status": 200}');
SELECT t.err('SELECT count(*) FROM signicat.assure_list_dossiers()') AS empty_200_list;
SELECT t.fault('{"operation": "assure_get_process", "status": 200}');
SELECT t.err(format('SELECT signicat.assure_get_process(%L, %L)', :'d', :'d')) AS empty_200_process;
-- where the operation documents an empty answer (204), it is NULL or no rows
SELECT t.fault('{"operation": "assure_list_document_types", "status": 204}');
SELECT count(*) AS documented_204_rows FROM signicat.assure_list_document_types('onfido');
SELECT t.fault('{"operation": "assure_download_process_result", "status": 204}');
SELECT signicat.assure_download_process_result(:'d', :'d') IS NULL AS documented_204_null;
-- a 200 the operation documents without content, or any 2xx of signicat.request: nothing
SELECT t.fault('{"operation": "assure_get_dossier", "status": 200}');
SELECT signicat.request('GET', '/assure/dossiers/' || :'d') IS NULL AS request_empty_200;

-- 4. Retry-After far ahead is not waited: 53400 at once, saying when
SET signicat.max_retries = 2;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 429, "retry_after": "Wed, 21 Oct 2099 07:28:00 GMT"}');
SELECT clock_timestamp() AS before, max((r->>'seq')::int) AS seq0 FROM t.requests() r \gset
SELECT regexp_replace(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')),
                      'after \d+ s \([0-9.]+ years\)', 'after N s (about 73 years)') AS retry_in_2099 \gset
SELECT regexp_replace(:'retry_in_2099', 'traceId [0-9a-f]+', 'traceId <id>') AS retry_in_2099;
-- (the bound is far from both outcomes: at once, against 73 years)
SELECT clock_timestamp() - :'before'::timestamptz < interval '30 seconds' AS at_once;
SELECT count(*) AS sent_once FROM t.requests('assure_get_dossier') r WHERE (r->>'seq')::int > :seq0;
-- the same with a statement_timeout: the bound still decides, readably
SET statement_timeout = '20s';
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "retry_after": "7200"}');
SELECT regexp_replace(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')),
                      'traceId [0-9a-f]+', 'traceId <id>') AS retry_in_2h;
RESET statement_timeout;
-- a short one within signicat.max_retry_wait is waited, and the retry answers
SET signicat.max_retry_wait = '3s';
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "retry_after": "1"}');
SELECT signicat.assure_get_dossier(:'d') ->> 'externalReference' AS retried_after_1s;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "retry_after": "4"}');
SELECT regexp_replace(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')),
                      'traceId [0-9a-f]+', 'traceId <id>') AS over_max_retry_wait;
RESET signicat.max_retry_wait;
SET signicat.max_retries = 0;

-- 5. headers beyond 64 kB (ours) or beyond libcurl's 100 kB: 08P01 naming the cause, sent once
SET signicat.max_retries = 2;
SELECT max((r->>'seq')::int) AS seq0 FROM t.requests() r \gset
SELECT t.fault('{"operation": "assure_get_dossier", "header_bytes": 70000}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS headers_70kB;
SELECT t.fault('{"operation": "assure_get_dossier", "header_bytes": 120000}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS headers_120kB;
SELECT count(*) AS sent FROM t.requests('assure_get_dossier') r WHERE (r->>'seq')::int > :seq0;
-- headers of a normal size are read
SELECT t.fault('{"operation": "assure_get_dossier", "header_bytes": 8000}');
SELECT signicat.assure_get_dossier(:'d') ->> 'externalReference' AS headers_8kB;
SET signicat.max_retries = 0;

-- 6. redirects are not followed (see the README's error table)
SELECT t.fault('{"operation": "assure_get_dossier", "status": 301, "body": ""}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS moved_301;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 307}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS redirect_307;

SELECT t.mock('DELETE', 'faults') IS NOT NULL AS cleared;
RESET signicat.max_retries;
