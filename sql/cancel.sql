-- cancel: statement_timeout and signicat.timeout end a request that hangs,
-- promptly, and the backend stays usable.
SELECT t.reset();
SELECT (signicat.assure_create_dossier('cancel')->>'dossierId') AS d \gset

-- statement_timeout of 1 s against a server that never answers: about 1 s (the upper
-- bound only catches a call that waits for signicat.timeout, 30 s, or forever)
SELECT t.fault('{"operation": "assure_get_dossier", "hang": true}');
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS at;
SET statement_timeout = '1s';
SELECT signicat.assure_get_dossier(:'d');
RESET statement_timeout;
SELECT extract(epoch FROM clock_timestamp() - at) BETWEEN 0.9 AND 10 AS ended_in_about_one_second FROM started;

-- the next call in the same session works
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS next_call;

-- signicat.timeout ends it with its own error
SELECT t.fault('{"operation": "assure_get_dossier", "hang": true}');
SET signicat.timeout = '500ms';
SET signicat.max_retries = 0;
UPDATE started SET at = clock_timestamp();
SELECT regexp_replace(t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')), '\d+ milliseconds', 'N milliseconds') AS timed_out;
SELECT extract(epoch FROM clock_timestamp() - at) BETWEEN 0.4 AND 10 AS ended_in_about_half_a_second FROM started;
RESET signicat.timeout;
RESET signicat.max_retries;

-- a slow but finishing answer within the limits is fine
SELECT t.fault('{"operation": "assure_get_dossier", "delay_ms": 300}');
SELECT signicat.assure_get_dossier(:'d')->>'externalReference' AS slow_call;
SELECT t.mock('POST', 'reset') IS NOT NULL AS reset;
