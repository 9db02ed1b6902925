-- coverage: every operation of the catalog is an SQL function, documented
-- with its HTTP operation, granted to exactly one role, and bound correctly.

-- catalog operations without a function: none
SELECT count(*) AS operations, count(*) FILTER (WHERE p.oid IS NULL) AS without_function
FROM signicat.operations() o
LEFT JOIN pg_proc p ON p.proname = o.operation_id AND p.pronamespace = 'signicat'::regnamespace;
SELECT o.operation_id AS missing FROM signicat.operations() o
WHERE NOT EXISTS (SELECT FROM pg_proc p WHERE p.proname = o.operation_id
                  AND p.pronamespace = 'signicat'::regnamespace);
-- operations per API
SELECT api, count(*) FROM signicat.operations() GROUP BY api ORDER BY api;

-- functions that are neither an operation nor a known helper: none
SELECT p.proname AS unexpected FROM pg_proc p
WHERE p.pronamespace = 'signicat'::regnamespace
  AND p.proname NOT IN (SELECT operation_id FROM signicat.operations())
  AND p.proname NOT IN ('request', 'operations', 'watch_add', 'watch_drop', 'start_worker',
                        'stop_worker', 'worker_counters', 'sync_processes', 'stuck', '_wake_worker',
                        'stats', 'stats_reset', 'http_status_rules', '_operation_corrections_changed',
                        'call_many', 'enqueue', 'queue_delete')
ORDER BY 1;

-- every operation's comment names its method and path
SELECT o.operation_id AS undocumented FROM signicat.operations() o
JOIN pg_proc p ON p.proname = o.operation_id AND p.pronamespace = 'signicat'::regnamespace
WHERE coalesce(obj_description(p.oid, 'pg_proc'), '') NOT LIKE '%' || o.catalog_method || ' ' || o.catalog_path || '%'
ORDER BY 1;

-- every function is executable by exactly one of the three roles (directly);
-- internal ones (_name) by none
SELECT p.proname AS wrongly_granted FROM pg_proc p
WHERE p.pronamespace = 'signicat'::regnamespace AND p.proname NOT LIKE '\_%'
  AND (SELECT count(*) FROM aclexplode(p.proacl) a JOIN pg_roles r ON r.oid = a.grantee
       WHERE a.privilege_type = 'EXECUTE' AND r.rolname IN ('signicat_reader', 'signicat_operator', 'signicat_admin')) <> 1
ORDER BY 1;
-- everything a reader may run is a GET; the GETs readers may not run are
-- exactly the reads of personal data (README, Privileges), for operators
SELECT o.operation_id AS reader_can_write FROM signicat.operations() o
JOIN pg_proc p ON p.proname = o.operation_id AND p.pronamespace = 'signicat'::regnamespace
WHERE has_function_privilege('signicat_reader', p.oid, 'EXECUTE') AND o.method <> 'GET';
SELECT o.operation_id AS personal_data_reads FROM signicat.operations() o
JOIN pg_proc p ON p.proname = o.operation_id AND p.pronamespace = 'signicat'::regnamespace
WHERE NOT has_function_privilege('signicat_reader', p.oid, 'EXECUTE') AND o.method = 'GET'
  AND has_function_privilege('signicat_operator', p.oid, 'EXECUTE')
ORDER BY 1;

-- uuid path parameters are typed uuid wherever the API says uuid
SELECT o.operation_id, a.name AS text_id FROM signicat.operations() o
JOIN pg_proc p ON p.proname = o.operation_id AND p.pronamespace = 'signicat'::regnamespace
CROSS JOIN LATERAL unnest(p.proargnames[1:p.pronargs], p.proargtypes::oid[]) AS a(name, type)
WHERE a.name IN ('dossier_id', 'process_id', 'share_id', 'recipient_id', 'file_id', 'session_id',
                 'transaction_id', 'apns_token_id') AND a.type <> 'uuid'::regtype
ORDER BY 1;
