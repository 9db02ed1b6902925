-- assure_lists: the process list as typed rows, every filter of the API, and
-- offset/limit paging followed to the end (never stopping at page one).
SELECT t.reset();
SELECT t.mock('POST', 'seed-processes', '{"count": 25, "status": "accepted", "provider": "onfido"}') IS NOT NULL AS seeded;
SELECT t.mock('POST', 'seed-processes', '{"count": 5, "status": "rejected", "provider": "signicatpaper"}') IS NOT NULL AS seeded;

-- 30 processes in pages of 7: five requests, every row once
SELECT count(*) AS rows, count(DISTINCT process_id) AS distinct_ids,
       count(DISTINCT dossier_id) AS dossiers
FROM signicat.assure_list_processes(now() - interval '1 day', page_size => 7);
SELECT t.mask(r->>'path') AS path, r->'query'->'offset' AS "offset", r->'query'->'limit' AS "limit"
FROM t.requests('assure_list_processes') r;

-- typed columns an analyst can group by
SELECT provider, status, count(*), pg_typeof(min(created_at)) AS created_type
FROM signicat.assure_list_processes(now() - interval '1 day')
GROUP BY provider, status ORDER BY provider;

-- filters: end date, repeated status, order; all reach the query string
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT count(*) AS rejected
FROM signicat.assure_list_processes('2020-01-01T00:00:00Z', '2999-12-31 23:59:59+00',
                                    status => ARRAY['rejected', 'failed'], "order" => 'createdAtAscending');
SELECT r->'query' AS query FROM t.last_request('assure_list_processes') r;

-- ascending order is honoured
SELECT bool_and(ok) AS ascending FROM (
    SELECT created_at >= lag(created_at, 1, '-infinity') OVER (ORDER BY ordinality) AS ok
    FROM signicat.assure_list_processes(now() - interval '1 day', "order" => 'createdAtAscending', page_size => 4)
         WITH ORDINALITY
) s;

-- the nested dossier id is a column, raw keeps the whole item
SELECT count(*) FILTER (WHERE dossier_id = (raw->'dossier'->>'dossierId')::uuid) = count(*) AS dossier_ids_match
FROM signicat.assure_list_processes(now() - interval '1 day');

-- an empty window gives no rows, not an error
SELECT count(*) AS none FROM signicat.assure_list_processes('2001-01-01', '2001-01-02');

-- a filter value outside the catalog's enum is sent: the server refuses it here
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_processes(now(), status => ARRAY['done'])$$);
SELECT count(*) AS sent, min(r->'query'->'status'->>0) AS status FROM t.requests('assure_list_processes') r;
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_processes(NULL)$$);
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_processes(now(), page_size => 0)$$);
-- the server's own validation comes back as an error naming the field
SELECT t.err($$SELECT count(*) FROM signicat.assure_list_processes(now(), "order" => 'sideways')$$);

-- the older rendering of the list, a bare JSON array, is read too
SELECT t.mock('DELETE', 'requests') IS NOT NULL AS cleared;
SELECT t.config('{"process_list_format": "bare"}');
SELECT count(*) AS bare_rows FROM signicat.assure_list_processes(now() - interval '1 day', page_size => 10);
SELECT count(*) AS bare_requests FROM t.requests('assure_list_processes')
;
