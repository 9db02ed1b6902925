-- retries: idempotent requests are sent again after transient failures, with
-- backoff, honouring Retry-After, never past statement_timeout; creates are
-- not sent twice; each retry is visible at DEBUG1, without secrets or bodies.
SELECT t.reset();
SELECT (signicat.assure_create_dossier('retries')->>'dossierId') AS d \gset
SELECT signicat.stats_reset();

-- a 503, then an answer: the caller sees the answer
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "count": 1}');
SET client_min_messages = debug1;
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS after_one_retry;
RESET client_min_messages;
SELECT count(*) AS requests FROM t.requests('assure_get_dossier');

-- lost connections and timeouts are retried too
SELECT t.fault('[{"operation": "assure_get_dossier", "drop": true, "count": 2},
                 {"operation": "assure_get_dossier", "status": 502, "count": 1}]');
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS after_failures;
SET signicat.timeout = '300ms';
SELECT t.fault('{"operation": "assure_get_dossier", "hang": true, "count": 1}');
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS after_a_timeout;
RESET signicat.timeout;

-- at most signicat.max_retries retries, then the last error
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 503, "count": 5, "problem": {"traceId": "trace-503"}}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS gave_up;
SELECT count(*) AS requests FROM t.requests('assure_get_dossier');
SET signicat.max_retries = 0;
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS no_retries;
RESET signicat.max_retries;
SELECT t.mock('DELETE', 'faults') IS NOT NULL AS cleared;

-- Retry-After is honoured
SELECT t.fault('{"operation": "assure_get_dossier", "status": 429, "retry_after": "1", "count": 1}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS at;
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS after_retry_after;
SELECT extract(epoch FROM clock_timestamp() - at) >= 1 AS waited_as_told FROM started;
-- but never past statement_timeout: a Retry-After beyond it is the error at once (a call
-- that waited would end at the 5 s statement_timeout)
SELECT t.fault('{"operation": "assure_get_dossier", "status": 429, "retry_after": "30", "count": 1, "problem": {"traceId": "trace-429"}}');
UPDATE started SET at = clock_timestamp();
SET statement_timeout = '5s';
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) AS not_past_statement_timeout;
RESET statement_timeout;
SELECT extract(epoch FROM clock_timestamp() - at) < 4 AS at_once FROM started;

-- creates are not sent twice after the request may have arrived
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.fault('{"operation": "assure_create_dossier", "status": 503, "count": 1, "problem": {"traceId": "trace-post"}}');
SELECT t.err($$SELECT signicat.assure_create_dossier('once')$$) AS post_503;
SELECT count(*) AS create_requests FROM t.requests('assure_create_dossier');
SELECT t.fault('{"operation": "assure_create_dossier", "drop": true, "count": 1}');
SELECT t.err($$SELECT signicat.assure_create_dossier('once')$$) AS post_dropped;
SELECT count(*) AS create_requests FROM t.requests('assure_create_dossier');
-- but when nothing listens, nothing can have arrived: retried
SET signicat.base_url = 'http://127.0.0.1:1';
SET client_min_messages = debug1;
SELECT regexp_replace(t.err($$SELECT signicat.assure_create_dossier('once')$$), ' after \d+ ms', '') AS refused;
RESET client_min_messages;
RESET signicat.base_url;

-- the statistics count the retries
SELECT operation_id, calls, errors, retries > 0 AS retried
FROM signicat.stat_operations WHERE operation_id IN ('assure_get_dossier', 'assure_create_dossier')
ORDER BY 1;
