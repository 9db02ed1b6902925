-- status_rules: one table says what each HTTP status means (wire.c); walk it
-- against the mock: for a status of each rule, the SQLSTATE raised, the error
-- class the statistics count, and whether an idempotent request is sent again
-- are what the table says.
SELECT t.reset();
SELECT (signicat.assure_create_dossier('status rules')->>'dossierId') AS d \gset

-- the table itself (the README's Errors section shows the same)
SELECT low, high, sqlstate, error_class, retryable, gone, hint IS NOT NULL AS has_hint
FROM signicat.http_status_rules();

-- walk(status, dossier): the GET of a dossier answered with that status
--   raised:   the SQLSTATE with no retries (the status answers twice: a 401 gets a new token first)
--   counted:  the error classes the statistics counted for it
--   requests: how many requests one call made when one retry is allowed and the status answers once
CREATE FUNCTION t.walk(status int, dossier uuid, OUT raised text, OUT counted text, OUT requests bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM signicat.stats_reset();
    PERFORM set_config('signicat.max_retries', '0', true);
    PERFORM t.fault(jsonb_build_object('operation', 'assure_get_dossier', 'status', status, 'count', 2));
    raised := split_part(t.err(format('SELECT signicat.assure_get_dossier(%L)', dossier)), ':', 1);
    SELECT string_agg(k, ',' ORDER BY k) INTO counted
    FROM signicat.stat_operations, jsonb_object_keys(errors_by_class) k
    WHERE operation_id = 'assure_get_dossier';
    PERFORM t.mock('DELETE', 'faults');
    PERFORM t.mock('DELETE', 'requests');
    PERFORM set_config('signicat.max_retries', '1', true);
    PERFORM t.fault(jsonb_build_object('operation', 'assure_get_dossier', 'status', status, 'count', 1));
    PERFORM t.err(format('SELECT signicat.assure_get_dossier(%L)', dossier));
    SELECT count(*) INTO requests FROM t.requests('assure_get_dossier');
    PERFORM t.mock('DELETE', 'faults');
END $$;

-- one status per rule: the rule's own, or one inside its range
SELECT r.low, r.high, s.status, w.raised = r.sqlstate AS sqlstate_as_told,
       w.counted = r.error_class AS counted_as_told,
       -- a 401 is sent once more with a new token, whatever the table says
       (w.requests = 2) = (r.retryable OR s.status = 401) AS retried_as_told
FROM signicat.http_status_rules() r
CROSS JOIN LATERAL (SELECT CASE WHEN r.low = r.high THEN r.low
                                WHEN r.low = 400 THEN 418
                                WHEN r.low = 502 THEN 503
                                WHEN r.low = 500 THEN 500
                                ELSE 302 END AS status) s
CROSS JOIN LATERAL t.walk(s.status, :'d') w;
SELECT t.mock('POST', 'reset') IS NOT NULL AS reset;
