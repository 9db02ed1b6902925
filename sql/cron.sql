-- cron: a real pg_cron job calls the extension on a schedule and its effect
-- shows in the tables.  pg_cron lives in database postgres (cron.database_name)
-- and runs the job here with cron.schedule_in_database.
SELECT t.reset();
DELETE FROM signicat.processes;
SELECT t.mock('POST', 'seed-processes', '{"count": 3, "status": "accepted", "provider": "onfido"}') IS NOT NULL AS seeded;

SELECT dblink_connect('cron', format('dbname=postgres port=%s host=%s', current_setting('port'),
                      split_part(current_setting('unix_socket_directories'), ',', 1)));
SELECT dblink_exec('cron', 'CREATE EXTENSION IF NOT EXISTS pg_cron');
SELECT jobid > 0 AS scheduled FROM dblink('cron', format(
    $$SELECT cron.schedule_in_database('signicat-sync', '* * * * *',
        'SELECT signicat.sync_processes(now() - interval ''1 day'')', %L)$$, current_database()))
    AS j(jobid bigint);

-- pg_cron's schedules are per minute: wait for the next one (at most 90 s)
SELECT t.wait_until('SELECT count(*) = 3 FROM signicat.processes', 90) AS synced_by_cron;
SELECT provider, status, count(*) FROM signicat.processes GROUP BY 1, 2;
SELECT t.wait_until($$SELECT EXISTS (SELECT FROM dblink('cron',
    'SELECT status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
     WHERE j.jobname = ''signicat-sync'' AND d.status = ''succeeded''') AS r(status text))$$, 30) AS run_recorded;

SELECT unscheduled FROM dblink('cron', $$SELECT cron.unschedule('signicat-sync')$$) AS u(unscheduled boolean);
SELECT dblink_disconnect('cron');
