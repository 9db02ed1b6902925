-- stats: per-operation statistics in shared memory (signicat.stat_operations)
SELECT t.reset();
SELECT signicat.stats_reset();
SELECT count(*) AS rows_after_reset FROM signicat.stat_operations WHERE operation_id <> 'request';

SELECT (signicat.assure_create_dossier('stats')->>'dossierId') AS d \gset
SELECT count(signicat.assure_get_dossier(:'d')) AS calls FROM generate_series(1, 5);
SELECT t.fault('{"operation": "assure_get_dossier", "status": 404, "count": 1}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) IS NOT NULL AS failed;
SELECT t.fault('{"operation": "assure_get_dossier", "status": 409, "count": 1}');
SELECT t.err(format('SELECT signicat.assure_get_dossier(%L)', :'d')) IS NOT NULL AS failed;
SELECT signicat.assure_set_dossier_files(:'d', front => t.png());

SELECT operation_id, calls, errors, errors_by_class, retries,
       mean_ms > 0 AND max_ms >= mean_ms AND total_ms >= max_ms AS times_ok,
       bytes_out > 0 AS sent, bytes_in > 0 AS received, last_error_at IS NOT NULL AS has_error_time
FROM signicat.stat_operations
WHERE operation_id LIKE 'assure%' ORDER BY 1;

-- the other backend's calls count too: it is shared memory
SELECT dblink_connect('other', format('dbname=%s port=%s host=%s', current_database(),
       current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT n FROM dblink('other', format('SELECT count(signicat.assure_get_dossier(%L)) FROM generate_series(1, 3)', :'d')) AS x(n bigint);
SELECT dblink_disconnect('other');
SELECT calls FROM signicat.stat_operations WHERE operation_id = 'assure_get_dossier';

-- readers may look, only admins reset
SELECT has_function_privilege('signicat_reader', 'signicat.stats()', 'EXECUTE') AS reader_reads,
       has_function_privilege('signicat_operator', 'signicat.stats_reset()', 'EXECUTE')
       AND NOT has_function_privilege('signicat_reader', 'signicat.stats_reset()', 'EXECUTE') AS reset_for_operators;
SELECT signicat.stats_reset();
SELECT count(*) AS after_reset FROM signicat.stat_operations WHERE operation_id LIKE 'assure%';
