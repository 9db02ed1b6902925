/*-------------------------------------------------------------------------
 * worker.c
 *	  The background worker that follows pending verifications.
 *
 * One worker per database: those of signicat.worker_databases at start-up,
 * and those switched on with signicat.start_worker() (remembered in the
 * database's signicat.worker_switch; the launcher starts them again at every
 * server start).  It works in steps (worker_step):
 *	 1. when its queue is empty, one transaction claims a bounded batch of due
 *		items of signicat.watch (FOR UPDATE SKIP LOCKED) by giving them a lease
 *		(claimed_until); items whose last poll failed come only as many as
 *		their share of the connections allows;
 *	 2. outside any transaction, queued polls start as connections free up
 *		(poller.c), each with signicat.poll_timeout, and the answers are
 *		collected as they come: a hanging request holds its connection and
 *		nothing else;
 *	 3. one transaction records the answers that came (when the batch is all
 *		back, or the first answer has waited RECORD_DELAY_MS): for a changed
 *		status it updates the item, appends one status_history row and sends
 *		NOTIFY signicat_status (only the watch id, the history row's seq and
 *		whether it is final: anyone who can connect may LISTEN, so what the
 *		change was is read from the tables, where grants apply), all in one
 *		statement guarded by the old status, so a crash at any point neither
 *		loses nor duplicates a transition (the item is simply polled again);
 *		unchanged items and failures get their next poll time with backoff
 *		(Retry-After honoured; 404 and 410 mean gone: wire.c's status table).
 * Queued requests (signicat.queue, queue.c) go through the same poller:
 * claimed oldest first, at most what can start at once within their share
 * of the connections (half while polls wait), marked 'sending' in a
 * transaction that commits before they leave, started ahead of polls, and
 * recorded with the answers of the round; a SIGTERM while some are in
 * flight waits for them (DRAIN_MS).
 * A missing schema means "nothing to do yet"; an error in a step is logged,
 * the work in hand is given up (its items are polled again when their
 * leases run out) and the worker carries on; SIGHUP reloads settings, SIGTERM ends it, and
 * the postmaster restarts it a second after a crash.
 *
 * Whose code runs here: the worker connects as the bootstrap superuser (the
 * only role sure to exist before CREATE EXTENSION), but every transaction
 * runs as signicat.worker_role (the extension's signicat_worker, which may
 * only read and write signicat.watch and status_history, and send
 * signicat.queue) in a security-restricted operation, the way PostgreSQL
 * runs maintenance code as a table's owner; and its search_path is
 * pg_catalog, pg_temp, fixed, so no operator, function or type of
 * anybody's schema is ever resolved by its statements.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/table.h"
#include "access/xact.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/syncrep.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "signicat.h"

#define SIGNICAT_MAX_WORKERS 16

char	   *signicat_worker_databases = NULL;
char	   *signicat_worker_role = NULL;
int			signicat_poll_interval_ms = 5000;
int			signicat_poll_max_interval_ms = 300000;
int			signicat_poll_batch_size = 1000;
int			signicat_poll_connections = 8;
int			signicat_poll_timeout_ms = 5000;
int			signicat_worker_naptime_ms = 1000;
int			signicat_watch_max_age_s = 7 * 24 * 3600;
int			signicat_history_retention_s = 90 * 24 * 3600;

typedef struct WorkerSlot
{
	Oid			dboid;
	pid_t		pid;
	Latch	   *latch;
	bool		stop_requested;
	TimestampTz started_at;
	TimestampTz last_round_at;
	int64		rounds;
	int64		polled;
	int64		changes;
	int64		errors;
	int32		last_due;
	volatile int in_flight;
	double		last_rate;
} WorkerSlot;

typedef struct WorkerShared
{
	slock_t		mutex;
	WorkerSlot	slots[SIGNICAT_MAX_WORKERS];
	/* databases a worker is connecting to: still here at its next start, it failed */
	char		connecting[SIGNICAT_MAX_WORKERS][NAMEDATALEN];
} WorkerShared;

static WorkerShared *worker_shared = NULL;
static WorkerSlot *my_slot = NULL;

/*
 * Stopping (SIGTERM, or signicat.stop_worker()) while queued requests are
 * on their way: nothing new starts, those waiting for a connection go back
 * to the queue, and those in flight are waited for (at most DRAIN_MS) and
 * recorded, so that a restart leaves no request 'unknown' that had its
 * answer in time.
 */
static volatile sig_atomic_t stop_after_sends = false;
static volatile sig_atomic_t claiming_sends = false;	/* rows may be 'sending', not counted yet */
static TimestampTz drain_deadline = 0;
#define DRAIN_MS 5000

/* one claimed item */
typedef struct WatchItem
{
	int64		id;
	const SignicatWatchKind *kind;
	char	   *item_id;
	char	   *dossier_id;
	char	   *account_id;
	char	   *status;
	int			unchanged_polls;
	int			errors;
} WatchItem;

/* ---------- shared memory ---------- */

Size
signicat_worker_shmem_size(void)
{
	return MAXALIGN(sizeof(WorkerShared));
}

void
signicat_worker_shmem_startup(void)
{
	bool		found;

	worker_shared = ShmemInitStruct("signicat workers", sizeof(WorkerShared), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(WorkerShared));
		SpinLockInit(&worker_shared->mutex);
	}
}

static void
require_shared(void)
{
	if (worker_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the signicat worker needs shared_preload_libraries = 'signicat'")));
}

/* The live slot of a database, or NULL; caller holds the mutex. */
static WorkerSlot *
slot_of(Oid dboid)
{
	for (int i = 0; i < SIGNICAT_MAX_WORKERS; i++)
	{
		WorkerSlot *s = &worker_shared->slots[i];

		if (s->pid != 0 && s->dboid == dboid)
			return s;
	}
	return NULL;
}

/* Does a worker run for this database? */
static bool
worker_running(Oid dboid)
{
	bool		running;

	SpinLockAcquire(&worker_shared->mutex);
	running = slot_of(dboid) != NULL;
	SpinLockRelease(&worker_shared->mutex);
	return running;
}

/*
 * After starting a worker for a database: wait (at most tries x 10 ms) until
 * it runs as the database's worker, or has stopped (it gave way to one, or
 * looked and found itself not switched on).  True if a worker runs.
 */
static bool
wait_for_worker(BackgroundWorkerHandle *handle, Oid dboid, int tries)
{
	for (int i = 0; i < tries; i++)
	{
		pid_t		current;

		if (worker_running(dboid))
			return true;
		if (GetBackgroundWorkerPid(handle, &current) == BGWH_STOPPED)
			return worker_running(dboid);
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000);
	}
	return worker_running(dboid);
}

static void
release_slot(int code, Datum arg)
{
	SpinLockAcquire(&worker_shared->mutex);
	if (my_slot && my_slot->pid == MyProcPid)
	{
		my_slot->pid = 0;
		my_slot->latch = NULL;
	}
	SpinLockRelease(&worker_shared->mutex);
	my_slot = NULL;
}

/* Take a slot for this database; false if another worker has one. */
static bool
claim_slot(void)
{
	WorkerSlot *slot = NULL;

	SpinLockAcquire(&worker_shared->mutex);
	if (slot_of(MyDatabaseId) == NULL)
	{
		for (int i = 0; i < SIGNICAT_MAX_WORKERS && slot == NULL; i++)
		{
			if (worker_shared->slots[i].pid == 0)
				slot = &worker_shared->slots[i];
		}
		if (slot)
		{
			memset(slot, 0, sizeof(WorkerSlot));
			slot->dboid = MyDatabaseId;
			slot->pid = MyProcPid;
			slot->latch = MyLatch;
			slot->started_at = GetCurrentTimestamp();
		}
	}
	SpinLockRelease(&worker_shared->mutex);
	my_slot = slot;
	return slot != NULL;
}

/*
 * Note that a worker is connecting to a database; false if the note of the
 * previous attempt is still there (that attempt failed: a FATAL leaves it).
 */
static bool
begin_connecting(const char *dbname)
{
	int			free_slot = -1;

	SpinLockAcquire(&worker_shared->mutex);
	for (int i = 0; i < SIGNICAT_MAX_WORKERS; i++)
	{
		if (strcmp(worker_shared->connecting[i], dbname) == 0)
		{
			SpinLockRelease(&worker_shared->mutex);
			return false;
		}
		if (free_slot < 0 && worker_shared->connecting[i][0] == '\0')
			free_slot = i;
	}
	if (free_slot >= 0)
		strlcpy(worker_shared->connecting[free_slot], dbname, NAMEDATALEN);
	SpinLockRelease(&worker_shared->mutex);
	return true;
}

static void
end_connecting(const char *dbname)
{
	SpinLockAcquire(&worker_shared->mutex);
	for (int i = 0; i < SIGNICAT_MAX_WORKERS; i++)
	{
		if (strcmp(worker_shared->connecting[i], dbname) == 0)
			worker_shared->connecting[i][0] = '\0';
	}
	SpinLockRelease(&worker_shared->mutex);
}

/* ---------- registration ---------- */

/* main_arg of a worker that runs only if its database's switch is on */
#define WORKER_IF_SWITCHED_ON 1

static void register_launcher(void);

static void
fill_worker(BackgroundWorker *w, const char *dbname)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	w->bgw_restart_time = 1;
	snprintf(w->bgw_library_name, BGW_MAXLEN, "signicat");
	snprintf(w->bgw_function_name, BGW_MAXLEN, "signicat_worker_main");
	snprintf(w->bgw_name, BGW_MAXLEN, "signicat worker for database %s", dbname);
	snprintf(w->bgw_type, BGW_MAXLEN, "signicat worker");
	strlcpy(w->bgw_extra, dbname, BGW_EXTRALEN);
}

/* At start-up: one worker per database named in signicat.worker_databases. */
void
signicat_register_workers(void)
{
	char	   *raw = pstrdup(signicat_worker_databases ? signicat_worker_databases : "");
	List	   *names = NIL;
	ListCell   *lc;

	if (!SplitGUCList(raw, ',', &names))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in signicat.worker_databases")));
	if (list_length(names) > SIGNICAT_MAX_WORKERS)
		ereport(FATAL,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("signicat.worker_databases names more than %d databases",
						SIGNICAT_MAX_WORKERS)));
	foreach(lc, names)
	{
		BackgroundWorker w;

		fill_worker(&w, (char *) lfirst(lc));
		RegisterBackgroundWorker(&w);
	}
	register_launcher();
}

/* ---------- the launcher: workers switched on come back after a restart ---------- */

/*
 * At server start, one launcher connects to no database, lists those that
 * accept connections, and starts for each (but those of
 * signicat.worker_databases, which have their own) a worker that runs only
 * if the database's signicat.worker_switch is on: it looks and exits
 * otherwise.  One at a time, so that the workers' slots are never
 * exhausted by the looking.  Then the launcher exits.
 */
void
signicat_launcher_main(Datum arg)
{
	List	   *names = NIL;
	List	   *oids = NIL;
	List	   *static_dbs = NIL;
	char	   *raw = pstrdup(signicat_worker_databases ? signicat_worker_databases : "");
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	ListCell   *ln;
	ListCell   *lo;
	int			started = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	(void) SplitGUCList(raw, ',', &static_dbs);

	StartTransactionCommand();
	(void) GetTransactionSnapshot();	/* as autovacuum's launcher does, for the catalog scan */
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;
		bool		listed = false;

		if (!db->datallowconn || db->datistemplate)
			continue;
		foreach(ln, static_dbs)
			listed = listed || strcmp((char *) lfirst(ln), NameStr(db->datname)) == 0;
		if (listed)
			continue;
		old = MemoryContextSwitchTo(TopMemoryContext);
		names = lappend(names, pstrdup(NameStr(db->datname)));
		oids = lappend_oid(oids, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	forboth(ln, names, lo, oids)
	{
		BackgroundWorkerHandle *handle;
		pid_t		pid;

		if (!signicat_launch_worker((char *) lfirst(ln), true, &handle, true))
		{
			ereport(LOG,
					(errmsg("signicat launcher: no background worker slot for database \"%s\"",
							(char *) lfirst(ln)),
					 errhint("Raise max_worker_processes.")));
			continue;
		}
		if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED &&
			wait_for_worker(handle, lfirst_oid(lo), 3000))
			started++;
	}
	ereport(LOG,
			(errmsg("signicat launcher: %d of %d databases have their worker switched on",
					started, list_length(names))));
	proc_exit(0);
}

/* Register the launcher (at server start, with the library preloaded). */
static void
register_launcher(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "signicat");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "signicat_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "signicat launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "signicat launcher");
	RegisterBackgroundWorker(&w);
}

/*
 * Is this database's switch on?  Run by a worker that the launcher started:
 * false (and it exits) where the extension, its role or the switch is not
 * there.
 */
static bool
switched_on(void)
{
	bool		on = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (OidIsValid(get_role_oid(signicat_worker_role, true)))
	{
		bool		isnull;

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_execute("SELECT pg_catalog.to_regclass('signicat.worker_switch') IS NOT NULL",
						true, 1) == SPI_OK_SELECT &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
			SPI_execute("SELECT enabled FROM signicat.worker_switch", true, 1) == SPI_OK_SELECT &&
			SPI_processed == 1)
			on = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		PopActiveSnapshot();
		SPI_finish();
	}
	CommitTransactionCommand();
	return on;
}

/* Record in this database whether its worker is switched on (start_worker, stop_worker). */
static void
set_switch(bool on)
{
	Oid			types[1] = {BOOLOID};
	Datum		values[1];

	values[0] = BoolGetDatum(on);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO signicat.worker_switch AS s (id, enabled, changed_at) "
							  "VALUES (true, $1, pg_catalog.now()) "
							  "ON CONFLICT (id) DO UPDATE SET enabled = EXCLUDED.enabled, "
							  "changed_at = EXCLUDED.changed_at",
							  1, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the signicat worker's switch");
	SPI_finish();
}

/* ---------- one round ---------- */

typedef struct Plans
{
	SPIPlanPtr	claim;
	SPIPlanPtr	changed;
	SPIPlanPtr	unchanged;
	SPIPlanPtr	failed;
	SPIPlanPtr	gone;
	SPIPlanPtr	expire;
	SPIPlanPtr	retention;
} Plans;

static Plans plans;
static TimestampTz last_housekeeping = 0;

/* A statement of the worker, prepared and kept for its whole life. */
SPIPlanPtr
signicat_worker_keep_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL)
		elog(ERROR, "signicat worker: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	return p;
}

static void
forget_plans(void)
{
	SPIPlanPtr *all = (SPIPlanPtr *) &plans;

	signicat_queue_forget_plans();
	for (int i = 0; i < (int) (sizeof(Plans) / sizeof(SPIPlanPtr)); i++)
	{
		if (all[i])
			SPI_freeplan(all[i]);
		all[i] = NULL;
	}
}

static void
prepare_plans(void)
{
	Oid			claim_t[] = {INT4OID, INT8OID, INT4OID};
	Oid			changed_t[] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, BOOLOID, INT8OID, TEXTOID};
	Oid			unchanged_t[] = {INT8OID, JSONBOID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Oid			failed_t[] = {INT8OID, TEXTOID, INT8OID};
	Oid			gone_t[] = {INT8OID, TEXTOID};
	Oid			age_t[] = {INT8OID};

	if (plans.claim)
		return;
	/*
	 * The due ids are collected once (an InitPlan), not joined: a join lets
	 * statistics that say "empty" pick a nested loop that reads the whole
	 * table again for every item claimed.  Items whose last poll failed
	 * ("suspects": a hanging or failing upstream) come in a second list
	 * bounded by $3, their free share of the connections, so that they can
	 * never take every connection from the items that answer.
	 */
	plans.claim = signicat_worker_keep_plan(
		"UPDATE signicat.watch SET claimed_until = now() + $2 * interval '1 millisecond' "
		"WHERE id = ANY (ARRAY(SELECT id FROM signicat.watch "
		"                      WHERE state = 'active' AND next_poll_at <= now() "
		"                        AND (claimed_until IS NULL OR claimed_until < now()) AND errors = 0 "
		"                      ORDER BY next_poll_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
		"             || ARRAY(SELECT id FROM signicat.watch "
		"                      WHERE state = 'active' AND next_poll_at <= now() "
		"                        AND (claimed_until IS NULL OR claimed_until < now()) AND errors > 0 "
		"                      ORDER BY next_poll_at LIMIT $3 FOR UPDATE SKIP LOCKED)) "
		"RETURNING id, kind, item_id::text, dossier_id::text, account_id, status, "
		"          unchanged_polls, errors", 3, claim_t);
	/*
	 * One transition: item, history row and notification, or nothing.  The
	 * guard "still active" is written as "not finished" (the same thing, by
	 * the CHECK on state) so that the row can only be found by its primary
	 * key: with state = 'active' the planner may also use the partial index
	 * watch_due, and when its statistics say it is empty (every item was done
	 * at the last analyze) it scans that whole index for every item.
	 */
	plans.changed = signicat_worker_keep_plan(
		"WITH w AS ("
		"  UPDATE signicat.watch SET status = $2, payload = $3, "
		"    provider = coalesce($4, provider), process_type = coalesce($5, process_type), "
		"    created_at = coalesce(created_at, $6), "
		"    state = CASE WHEN $7 THEN 'done' ELSE 'active' END, "
		"    decided_at = CASE WHEN $7 THEN now() ELSE decided_at END, "
		"    polls = polls + 1, unchanged_polls = 0, errors = 0, last_polled_at = now(), "
		"    next_poll_at = now() + $8 * interval '1 millisecond', claimed_until = NULL, "
		"    last_error = NULL "
		"  WHERE id = $1 AND state <> ALL ('{done,gone,expired,dropped}') AND status IS NOT DISTINCT FROM $9 "
		"  RETURNING id, kind, item_id, dossier_id), "
		"h AS ("
		"  INSERT INTO signicat.status_history "
		"    (watch_id, seq, kind, item_id, dossier_id, old_status, new_status) "
		"  SELECT w.id, coalesce((SELECT max(s.seq) FROM signicat.status_history s "
		"                         WHERE s.watch_id = w.id), 0) + 1, "
		"         w.kind, w.item_id, w.dossier_id, $9, $2 FROM w "
		"  RETURNING watch_id, seq) "
		"SELECT pg_catalog.pg_notify('signicat_status', pg_catalog.json_build_object("
		"  'watch_id', watch_id, 'seq', seq, 'final', $7)::text) FROM h",
		9, changed_t);
	plans.unchanged = signicat_worker_keep_plan(
		"UPDATE signicat.watch SET payload = $2, polls = polls + 1, "
		"  unchanged_polls = unchanged_polls + 1, errors = 0, last_polled_at = now(), "
		"  next_poll_at = now() + $3 * interval '1 millisecond', claimed_until = NULL, "
		"  last_error = NULL, provider = coalesce(provider, $4), "
		"  process_type = coalesce(process_type, $5), created_at = coalesce(created_at, $6) "
		"WHERE id = $1", 6, unchanged_t);
	plans.failed = signicat_worker_keep_plan(
		"UPDATE signicat.watch SET errors = errors + 1, last_error = $2, last_error_at = now(), "
		"  last_polled_at = now(), next_poll_at = now() + $3 * interval '1 millisecond', "
		"  claimed_until = NULL "
		"WHERE id = $1", 3, failed_t);
	plans.gone = signicat_worker_keep_plan(
		"WITH w AS ("
		"  UPDATE signicat.watch SET state = 'gone', last_error = $2, last_error_at = now(), "
		"    last_polled_at = now(), claimed_until = NULL "
		"  WHERE id = $1 AND state <> ALL ('{done,gone,expired,dropped}') "
		"  RETURNING id) "
		"SELECT pg_catalog.pg_notify('signicat_status', pg_catalog.json_build_object("
		"  'watch_id', id, 'seq', NULL, 'final', true)::text) FROM w",
		2, gone_t);
	plans.expire = signicat_worker_keep_plan(
		"UPDATE signicat.watch SET state = 'expired', claimed_until = NULL "
		"WHERE state = 'active' AND enrolled_at < now() - $1 * interval '1 second'", 1, age_t);
	plans.retention = signicat_worker_keep_plan(
		"DELETE FROM signicat.status_history "
		"WHERE changed_at < now() - $1 * interval '1 second'", 1, age_t);
}

/* the user and security context of the worker's connection, between transactions */
static Oid	saved_userid = InvalidOid;
static int	saved_sec_context = 0;
static MemoryContext saved_cxt = NULL;	/* the caller's, given back by end_tx */
static bool role_missing_logged = false;

/*
 * Start a transaction that runs as signicat.worker_role; false (and no
 * transaction) while that role does not exist, e.g. before CREATE EXTENSION
 * made it: then there is nothing the worker may do yet.  An abort restores
 * the connection's user by itself; end_tx does it on commit.
 */
static bool
begin_tx(const char *activity)
{
	Oid			role;

	saved_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	role = get_role_oid(signicat_worker_role, true);
	if (!OidIsValid(role))
	{
		if (!role_missing_logged)
			ereport(LOG,
					(errmsg("signicat worker: role \"%s\" (signicat.worker_role) does not exist; waiting for CREATE EXTENSION signicat",
							signicat_worker_role)));
		role_missing_logged = true;
		CommitTransactionCommand();
		MemoryContextSwitchTo(saved_cxt);
		return false;
	}
	role_missing_logged = false;
	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	SetUserIdAndSecContext(role, saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	/*
	 * Stopping: what is written now (outcomes, requests given back) does
	 * not wait for a synchronous standby, which may be the reason nothing
	 * moves; lost in a failover, a row is settled as 'unknown', never sent
	 * twice.
	 */
	if ((stop_after_sends || (my_slot && my_slot->stop_requested)) &&
		synchronous_commit > SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
		(void) set_config_option("synchronous_commit", "local", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	return true;
}

static void
end_tx(void)
{
	SPI_finish();
	PopActiveSnapshot();
	SetUserIdAndSecContext(saved_userid, saved_sec_context);
	CommitTransactionCommand();
	MemoryContextSwitchTo(saved_cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* whether signicat.queue exists (before 0.4.0 it does not), as the last schema_ready saw */
static bool queue_ready = false;

/*
 * The extension may not be installed (yet): then there is nothing to do.
 * The same look says whether it has its queue (queue_ready).
 */
static bool
schema_ready(void)
{
	int			rc = SPI_execute("SELECT pg_catalog.to_regclass('signicat.watch') IS NOT NULL "
								 "AND pg_catalog.to_regclass('signicat.status_history') IS NOT NULL, "
								 "pg_catalog.to_regclass('signicat.queue') IS NOT NULL",
								 true, 1);
	bool		isnull;

	queue_ready = false;
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		return false;
	queue_ready = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
exec_plan(SPIPlanPtr plan, Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "signicat worker: statement failed: %s", SPI_result_code_string(rc));
}

/* ---------- the work in hand: claimed items, their requests and answers ---------- */

/*
 * The items of one claim share a memory context (their ids, requests and
 * answers) and the access token fetched for them; it is freed when the last
 * of them has been recorded.
 */
typedef struct Batch
{
	MemoryContext cxt;
	int			pending;		/* items not recorded yet */
	char	   *token;			/* NULL when there is none: see error */
	uint64		generation;
	char	   *error;			/* why nothing is sent for these items */
} Batch;

/* one claimed item: queued, in flight, or answered and waiting to be recorded */
typedef struct Flight
{
	SignicatPoll poll;			/* first: the poller hands back &poll */
	WatchItem	item;
	Batch	   *batch;
	const SignicatOperation *op;	/* the poll's operation */
	SignicatQueued *send;		/* a queued request (signicat.queue), not a poll */
	bool		suspect;		/* its last poll failed */
	bool		sent;			/* else batch->error is its outcome */
} Flight;

/* room for a claim of signicat.poll_batch_size items, and for those answered */
static Flight **queue = NULL;
static int	nqueue = 0;
static int	queue_next = 0;
static Flight **answered = NULL;
static int	nanswered = 0;
static TimestampTz first_answer_at = 0;
static int	room = 0;
static int	suspects_flying = 0;

/*
 * Queued requests claimed from signicat.queue (at most what can start at
 * once), waiting for a connection or in flight.  claim_token marks the
 * rows this worker is sending: rows 'sending' under another token are
 * orphans (signicat_queue_recover).
 */
static Flight *sends[SIGNICAT_POLL_MAX];
static int	nsends = 0;
static int	sends_next = 0;
static int	sends_flying = 0;
static bool sends_due = true;
static TimestampTz last_send_claim_at = 0;
static int64 claim_token = 0;
static volatile sig_atomic_t sends_pending = 0;	/* claimed and not recorded yet (read by worker_sigterm) */
static int64 sends_from = 0;	/* the next claim looks from this id on (signicat_queue_claim) */
static TimestampTz sends_from_zero_at = 0;
static bool recover_due = true; /* rows 'sending' may have been left by a worker gone */

static bool claim_due = true;
static bool schema_was_ready = false;	/* the extension was there at some claim */
static TimestampTz last_claim_at = 0;
static TimestampTz last_record_at = 0;
static List *live_batches = NIL;
static MemoryContext worker_cxt = NULL; /* the arrays above, the batches */
static MemoryContext step_cxt = NULL;	/* reset after each step */
static MemoryContext record_cxt = NULL; /* reset after each recording */

/* Answers wait at most this long to be recorded with others in one transaction. */
#define RECORD_DELAY_MS 200
/* How long one wait for answers may last before the worker looks around again. */
#define POLL_WAIT_SLICE_MS 50

static void
ensure_room(int n)
{
	if (n <= room)
		return;
	queue = queue ? repalloc(queue, sizeof(Flight *) * n) :
		MemoryContextAlloc(worker_cxt, sizeof(Flight *) * n);
	answered = answered ? repalloc(answered, sizeof(Flight *) * n) :
		MemoryContextAlloc(worker_cxt, sizeof(Flight *) * n);
	room = n;
}

/* Connections items whose last poll failed may hold. */
static int
suspect_share(void)
{
	return Max(1, signicat_poll_connections / 2);
}

static void
batch_release(Batch *b)
{
	if (b->token)
		explicit_bzero(b->token, strlen(b->token));
	MemoryContextDelete(b->cxt);
	live_batches = list_delete_ptr(live_batches, b);
	pfree(b);
}

/* A batch for n requests of one claim; its memory goes when the last is recorded. */
static Batch *
new_batch(int n)
{
	Batch	   *batch = MemoryContextAllocZero(worker_cxt, sizeof(Batch));
	MemoryContext old;

	batch->cxt = AllocSetContextCreate(worker_cxt, "signicat worker batch", ALLOCSET_DEFAULT_SIZES);
	batch->pending = n;
	old = MemoryContextSwitchTo(worker_cxt);
	live_batches = lappend(live_batches, batch);
	MemoryContextSwitchTo(old);
	return batch;
}

/* A new claim token: rows 'sending' under the old one are orphans from now on. */
static void
new_claim_token(void)
{
	do
		claim_token = (int64) pg_prng_uint64(&pg_global_prng_state);
	while (claim_token == 0);
}

/*
 * Forget the work in hand after an error: requests are given up, answers
 * not recorded; the items keep their leases and are polled again when those
 * run out, and queued requests that were being sent are settled by the
 * next claim (unknown, or queued again).
 */

static void
forget_work(void)
{
	signicat_poller_abort_all();
	while (live_batches != NIL)
		batch_release((Batch *) linitial(live_batches));
	nqueue = queue_next = nanswered = 0;
	nsends = sends_next = sends_flying = sends_pending = 0;
	claiming_sends = false;
	suspects_flying = 0;
	claim_due = sends_due = true;
	/* what was being sent may have left: the next claim treats it as an orphan */
	new_claim_token();
	recover_due = true;
	sends_from = 0;
}

/* Claim due items into the queue (one transaction); returns how many. */
static pg_noinline int
claim(void)
{
	Datum		values[3];
	int64		lease_ms = (int64) signicat_connect_timeout_ms + signicat_timeout_ms + 60000;
	Batch	   *batch;
	MemoryContext old;
	int			n;

	values[0] = Int32GetDatum(signicat_poll_batch_size);
	values[1] = Int64GetDatum(lease_ms);
	values[2] = Int32GetDatum(Max(0, suspect_share() - suspects_flying));
	exec_plan(plans.claim, values, NULL, SPI_OK_UPDATE_RETURNING);
	n = (int) SPI_processed;
	/* prepare_requests, after this transaction, sends to the corrected paths */
	signicat_corrections_refresh();
	nqueue = queue_next = 0;
	if (n == 0)
		return 0;

	ensure_room(n + signicat_poller_active() + nanswered + SIGNICAT_POLL_MAX + 1);
	batch = new_batch(n);
	old = MemoryContextSwitchTo(batch->cxt);
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Flight	   *f = palloc0(sizeof(Flight));
		WatchItem  *item = &f->item;
		char	   *v;

		item->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		item->kind = signicat_watch_kind(SPI_getvalue(tup, desc, 2));
		item->item_id = pstrdup(SPI_getvalue(tup, desc, 3));
		if ((v = SPI_getvalue(tup, desc, 4)) != NULL)
			item->dossier_id = pstrdup(v);
		if ((v = SPI_getvalue(tup, desc, 5)) != NULL)
			item->account_id = pstrdup(v);
		if ((v = SPI_getvalue(tup, desc, 6)) != NULL)
			item->status = pstrdup(v);
		item->unchanged_polls = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		item->errors = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		f->batch = batch;
		f->suspect = item->errors > 0;
		queue[nqueue++] = f;
	}
	MemoryContextSwitchTo(old);
	return n;
}

/*
 * The worker keeps its prepared statements for its whole life, and
 * PostgreSQL keeps their plans until something invalidates them.  A plan
 * made while signicat.watch or status_history was nearly empty (a fresh
 * install, or a trim job and VACUUM) reads the whole table instead of going
 * by the primary key, which is right for one page and ruinous for thousands:
 * once a burst of enrolments has filled the table again, every item of every
 * round reads it all, until autovacuum happens to analyze it (bench/run.sh,
 * figure 3, went ten times slower).  So when a table has more than doubled in
 * pages since its plans could last have been made (plus 16 pages: small is
 * cheap either way), the worker invalidates it in the relation cache, and
 * every plan that uses it, the worker's and the foreign key checks', is made
 * again for its present size at its next use.
 */
static void
replan_after_growth(void)
{
	static const char *const tables[] = {"watch", "status_history"};
	static BlockNumber planned_at[] = {InvalidBlockNumber, InvalidBlockNumber};
	Oid			schema = get_namespace_oid("signicat", true);

	for (int i = 0; i < (int) lengthof(tables); i++)
	{
		Oid			relid = OidIsValid(schema) ? get_relname_relid(tables[i], schema) : InvalidOid;
		Relation	rel;
		BlockNumber pages;

		if (!OidIsValid(relid))
			continue;
		rel = table_open(relid, AccessShareLock);
		pages = RelationGetNumberOfBlocks(rel);
		table_close(rel, AccessShareLock);

		/* plans are remade after any invalidation (VACUUM, ANALYZE), at any size */
		if (planned_at[i] == InvalidBlockNumber || pages < planned_at[i])
			planned_at[i] = pages;
		else if (pages > 2 * planned_at[i] + 16)
		{
			CacheInvalidateRelcacheByRelid(relid);
			planned_at[i] = pages;
			elog(DEBUG1, "signicat worker: signicat.%s has grown to %u pages, its plans are made again",
				 tables[i], pages);
		}
	}
}

/* Expire items that never end; trim the history to its retention. */
static void
housekeeping(void)
{
	Datum		value;
	TimestampTz now = GetCurrentTimestamp();

	if (!TimestampDifferenceExceeds(last_housekeeping, now, 60 * 1000))
		return;
	last_housekeeping = now;
	value = Int64GetDatum((int64) signicat_watch_max_age_s);
	exec_plan(plans.expire, &value, NULL, SPI_OK_UPDATE);
	if (signicat_history_retention_s > 0)
	{
		value = Int64GetDatum((int64) signicat_history_retention_s);
		exec_plan(plans.retention, &value, NULL, SPI_OK_DELETE);
	}
	if (queue_ready)
	{
		signicat_queue_trim();
		recover_due = true;
	}
}

/* Milliseconds to the next poll: exponential backoff with jitter, capped. */
static int64
backoff_ms(int steps, double factor, long retry_after_s)
{
	double		ms = signicat_poll_interval_ms * pow(factor, Min(steps, 30));

	ms = Min(ms, (double) signicat_poll_max_interval_ms);
	/* up to 10% jitter, so a burst does not stay in step */
	ms += ms * 0.1 * pg_prng_double(&pg_global_prng_state);
	/* Retry-After honoured up to a day: a date years ahead must not overflow */
	if (retry_after_s > 0)
		ms = Max(ms, Min((double) retry_after_s, 86400.0) * 1000.0);
	return (int64) ms;
}

/* The wait before a queued request is sent again (doubling, as failed polls back off). */
int64
signicat_worker_backoff_ms(int steps, long retry_after_s)
{
	return backoff_ms(steps, 2.0, retry_after_s);
}

static const char *
path_value(const char *name, void *arg)
{
	WatchItem  *item = (WatchItem *) arg;

	return strcmp(name, "dossierId") == 0 && item->dossier_id ? item->dossier_id : item->item_id;
}

/* createdAt as timestamptz, or NULL when absent or not a timestamp. */
static bool
member_timestamptz(Jsonb *obj, const char *name, Datum *result)
{
	char	   *text = signicat_json_string(obj, name);
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	if (text == NULL)
		return false;
	/* timestamptz_in has no side effects: a bad value is just left out */
	PG_TRY();
	{
		*result = DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
									  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		ok = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
	}
	PG_END_TRY();
	return ok;
}

/* Parameters $4..$6 of the result statements: provider, process type, createdAt. */
static void
describe_answer(Jsonb *answer, Datum *values, char *nulls)
{
	char	   *provider = signicat_json_string(answer, "provider");
	char	   *process_type = signicat_json_string(answer, "processType");

	if (provider)
		values[3] = CStringGetTextDatum(provider);
	else
		nulls[3] = 'n';
	if (process_type)
		values[4] = CStringGetTextDatum(process_type);
	else
		nulls[4] = 'n';
	if (!member_timestamptz(answer, "createdAt", &values[5]))
		nulls[5] = 'n';
}

typedef struct RoundCounts
{
	int			changes;
	int			errors;
} RoundCounts;

static void
record_failure(WatchItem *item, const char *message, long retry_after_s, RoundCounts *counts)
{
	Datum		values[3];

	values[0] = Int64GetDatum(item->id);
	values[1] = CStringGetTextDatum(message);
	values[2] = Int64GetDatum(backoff_ms(item->errors + 1, 2.0, retry_after_s));
	exec_plan(plans.failed, values, NULL, SPI_OK_UPDATE);
	counts->errors++;
}

/* Apply one poll's outcome to its item. */
static void
apply_result(WatchItem *item, const SignicatOperation *op, SignicatPoll *p,
			 uint64 token_generation, RoundCounts *counts)
{
	Jsonb	   *answer;
	char	   *status;
	Datum		values[9];
	char		nulls[9];
	const WireStatusRule *rule;
	SignicatJsonOutcome outcome;
	char	   *detail;

	if (!p->done)
	{
		record_failure(item, psprintf("%s: %s", p->error, p->error_detail ? p->error_detail : ""),
					   -1, counts);
		return;
	}
	rule = wire_status_rule(p->resp.status);
	if (rule && rule->gone)
	{
		values[0] = Int64GetDatum(item->id);
		values[1] = CStringGetTextDatum(signicat_http_error_text(&p->resp));
		exec_plan(plans.gone, values, NULL, SPI_OK_SELECT);
		counts->changes++;
		return;
	}
	if (p->resp.status == 401)
		signicat_invalidate_token(token_generation);
	if (rule)
	{
		record_failure(item, signicat_http_error_text(&p->resp),
					   p->resp.status == 401 ? 0 : p->resp.retry_after, counts);
		return;
	}

	answer = signicat_json_decode(p->resp.body, p->resp.body_len, &outcome, &detail);
	if (outcome == SIGNICAT_JSON_UNSTORABLE)
	{
		record_failure(item, psprintf("Signicat's answer holds a character that database encoding \"%s\" cannot store: %s",
									  GetDatabaseEncodingName(), detail), -1, counts);
		return;
	}
	answer = signicat_unwrap_envelope(op, answer);
	if (answer == NULL || !JB_ROOT_IS_OBJECT(answer) ||
		(status = signicat_json_string(answer, "status")) == NULL)
	{
		record_failure(item, "Signicat answered without a status (malformed or unexpected JSON)",
					   -1, counts);
		return;
	}

	/* both statements take the id as $1 and what the answer describes as $4..$6 */
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(item->id);
	describe_answer(answer, values, nulls);
	if (item->status == NULL || strcmp(item->status, status) != 0)
	{
		bool		final = signicat_watch_is_terminal(item->kind, status);

		values[1] = CStringGetTextDatum(status);
		values[2] = JsonbPGetDatum(answer);
		values[6] = BoolGetDatum(final);
		values[7] = Int64GetDatum(backoff_ms(0, 1.5, -1));
		if (item->status)
			values[8] = CStringGetTextDatum(item->status);
		else
			nulls[8] = 'n';
		exec_plan(plans.changed, values, nulls, SPI_OK_SELECT);
		counts->changes += SPI_processed > 0 ? 1 : 0;
	}
	else
	{
		values[1] = JsonbPGetDatum(answer);
		values[2] = Int64GetDatum(backoff_ms(item->unchanged_polls + 1, 1.5, -1));
		exec_plan(plans.unchanged, values, nulls, SPI_OK_UPDATE);
	}
}

/* Record one answered (or unsent) item. */
static void
apply_flight(Flight *f, RoundCounts *counts)
{
	if (f->send && !f->sent && drain_deadline != 0)
		signicat_queue_give_back(f->send);	/* the worker is stopping: as it was */
	else if (f->send)
		signicat_queue_record(f->send, f->sent ? &f->poll : NULL, f->batch->error,
							  f->batch->generation);
	else if (!f->sent)
		record_failure(&f->item, f->batch->error, -1, counts);
	else
		apply_result(&f->item, f->op, &f->poll, f->batch->generation, counts);
}

/*
 * Whether an error raised while an answer was applied may be that answer's
 * alone.  Not so for a cancel or shutdown (57), a lack of memory or disk
 * (53), an I/O failure (58) or an internal error (XX): those stop the step.
 */
static bool
error_is_items_own(const ErrorData *edata)
{
	int			category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);

	return category != ERRCODE_OPERATOR_INTERVENTION &&
		category != ERRCODE_INSUFFICIENT_RESOURCES &&
		category != ERRCODE_SYSTEM_ERROR &&
		category != ERRCODE_INTERNAL_ERROR;
}

/*
 * Run fn(arg, counts) in a transaction of its own.  Returns NULL once it
 * committed; when fn raised an error that may be the item's own, the
 * transaction is rolled back and the error is returned (in record_cxt).
 * Other errors go on up, the transaction still open for the step's handler.
 */
static ErrorData *
in_transaction(void (*fn) (void *, RoundCounts *), void *arg, RoundCounts *counts)
{
	ErrorData  *volatile error = NULL;

	if (!begin_tx("signicat worker: recording results"))
		elog(ERROR, "signicat worker: role \"%s\" was dropped while polling", signicat_worker_role);
	PG_TRY();
	{
		MemoryContextSwitchTo(record_cxt);
		fn(arg, counts);
		end_tx();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(record_cxt);
		edata = CopyErrorData();
		if (!error_is_items_own(edata))
			PG_RE_THROW();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(saved_cxt);
		pgstat_report_activity(STATE_IDLE, NULL);
		error = edata;
	}
	PG_END_TRY();
	return error;
}

/* in_transaction's work: all n answers, one answer, or one item's failure */
static void
apply_all(void *arg, RoundCounts *counts)
{
	int			n = *(int *) arg;

	for (int i = 0; i < n; i++)
		apply_flight(answered[i], counts);
}

static void
apply_one(void *arg, RoundCounts *counts)
{
	apply_flight((Flight *) arg, counts);
}

typedef struct FailedItem
{
	Flight	   *flight;
	const char *message;
} FailedItem;

static void
fail_one(void *arg, RoundCounts *counts)
{
	FailedItem *failed = (FailedItem *) arg;

	if (failed->flight->send)
		signicat_queue_fail(failed->flight->send, failed->flight->sent, failed->message);
	else
		record_failure(&failed->flight->item, failed->message, -1, counts);
}

/* The round's n answers in one transaction; false if one of them raised (rolled back). */
static bool
record_round(int n, RoundCounts *counts)
{
	ErrorData  *error = in_transaction(apply_all, &n, counts);

	if (error != NULL)
		ereport(LOG,
				(errmsg("signicat worker: an answer of the round could not be recorded (%s); recording the round item by item",
						error->message)));
	MemoryContextReset(record_cxt);
	return error == NULL;
}

/* Answered item i in a transaction of its own; its error, if it raises one, becomes its last_error. */
static void
record_one(int i, RoundCounts *counts)
{
	Flight	   *f = answered[i];
	ErrorData  *error = in_transaction(apply_one, f, counts);

	if (error != NULL)
	{
		FailedItem	failed;

		failed.flight = f;
		failed.message = psprintf("could not record Signicat's answer: %s (SQLSTATE %s)",
								  error->message, unpack_sql_state(error->sqlerrcode));
		if (f->send)
			ereport(LOG,
					(errmsg("signicat worker: request %lld of signicat.queue: %s",
							(long long) f->send->id, failed.message)));
		else
			ereport(LOG,
					(errmsg("signicat worker: item %lld (%s): %s", (long long) f->item.id,
							f->item.item_id, failed.message)));
		/* the failure itself cannot be recorded: the step fails, as any */
		if ((error = in_transaction(fail_one, &failed, counts)) != NULL)
			ReThrowError(error);
	}
	MemoryContextReset(record_cxt);
}

/*
 * The access token for a batch, or NULL with *error saying why (the token
 * endpoint down must not stop the worker: the items record the failure).
 */
static char *
batch_token(uint64 *generation, char **error)
{
	char	   *volatile token = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	*error = NULL;
	PG_TRY();
	{
		token = signicat_get_token(generation);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		*error = psprintf("no access token: %s%s%s", edata->message,
						  edata->detail ? ": " : "", edata->detail ? edata->detail : "");
	}
	PG_END_TRY();
	return token;
}

/* One token for a batch, or the reason there is none (which each of its requests records). */
static void
batch_get_token(Batch *batch)
{
	if (signicat_url_in_clear(signicat_base_url))
		batch->error = "signicat.base_url uses plain http:// to a host that is not a loopback address "
			"(the token would travel in clear text; see signicat.allow_insecure_http)";
	else
		batch->token = batch_token(&batch->generation, &batch->error);
}

/*
 * Give the queued items of the last claim their requests: one token for
 * all of them (or the reason there is none, which each records).
 */
static void
prepare_requests(void)
{
	Batch	   *batch;
	MemoryContext old;

	if (nqueue == 0)
		return;
	batch = queue[0]->batch;
	old = MemoryContextSwitchTo(batch->cxt);
	pgstat_report_activity(STATE_RUNNING, "signicat worker: polling");
	batch_get_token(batch);

	for (int i = 0; i < nqueue; i++)
	{
		Flight	   *f = queue[i];
		SignicatRoute route;

		f->op = signicat_find_operation(f->item.kind->poll_op);
		/* the correction loaded by the claim's transaction, if any */
		signicat_route(f->op, &route);
		f->poll.req.method = route.method;
		f->poll.req.url = signicat_api_url(signicat_expand_path(route.path, path_value, &f->item),
										   NULL);
		f->poll.req.accept = f->op->accept;
		f->poll.req.bearer = batch->token;
		f->poll.req.account_id = f->item.account_id;
	}
	MemoryContextSwitchTo(old);
}

/*
 * Claim queued requests that are due, at most max (one transaction, which
 * commits before any of them is sent), after settling those a worker left
 * 'sending'; then fetch their token and give them their requests.
 */
static void
claim_sends(int max)
{
	Batch	   *batch = new_batch(0);
	SignicatQueued **ready = NULL;
	MemoryContext old;
	int			n = 0;
	int			found = 0;
	bool		foreign = false;

	nsends = sends_next = 0;
	last_send_claim_at = GetCurrentTimestamp();
	/* from the first id again at least every naptime: retries due, late commits of lower ids */
	if (TimestampDifferenceExceeds(sends_from_zero_at, last_send_claim_at, signicat_worker_naptime_ms))
	{
		sends_from = 0;
		sends_from_zero_at = last_send_claim_at;
	}
	if (begin_tx("signicat worker: claiming queued requests"))
	{
		if (schema_ready() && queue_ready)
		{
			/* at start and after an error; and a restored database's, at housekeeping */
			if (recover_due)
				signicat_queue_recover(claim_token);
			recover_due = false;
			n = signicat_queue_claim(max, &sends_from, claim_token, batch->cxt, &ready, &found, &foreign);
			/* rows of another database (restored here): held at the next claim */
			recover_due = recover_due || foreign;
			/*
			 * The 'sending' marks of a POST or PATCH are on disk (and on
			 * synchronous standbys) before it leaves, whatever
			 * synchronous_commit says: a crash must not bring one that was
			 * sent back as 'queued'.  (A GET sent again is harmless.)
			 */
			for (int i = 0; i < n && synchronous_commit < SYNCHRONOUS_COMMIT_REMOTE_FLUSH; i++)
			{
				if (!ready[i]->call.idempotent)
					(void) set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
											 GUC_ACTION_LOCAL, true, 0, false);
			}
		}
		/* a SIGTERM from here on drains: what this commits is given back, not left 'sending' */
		claiming_sends = true;
		end_tx();
	}
	/* one that came before, not seen yet (no interrupt check since), drains too */
	if (n > 0 && ProcDiePending)
	{
		ProcDiePending = false;
		stop_after_sends = true;
	}
	/* a full claim means more may be due: claim again as soon as connections free up */
	sends_due = found >= max;
	if (found < max)
		sends_from = 0;
	if (n == 0)
	{
		claiming_sends = false;
		batch_release(batch);
		return;
	}
	batch->pending = n;
	sends_pending += n;
	claiming_sends = false;
	old = MemoryContextSwitchTo(batch->cxt);
	pgstat_report_activity(STATE_RUNNING, "signicat worker: sending queued requests");
	/*
	 * The token after the claim, not before: a look at an empty queue must
	 * not fetch one (it is the shared one, usually still valid; fetching a
	 * new one takes the time of the token endpoint, while these wait
	 * 'sending').
	 */
	batch_get_token(batch);
	for (int i = 0; i < n; i++)
	{
		Flight	   *f = palloc0(sizeof(Flight));
		SignicatQueued *q = ready[i];

		f->send = q;
		f->batch = batch;
		f->op = q->call.op;
		signicat_call_request(&q->call, &f->poll.req);
		f->poll.req.bearer = batch->token;
		/* the enqueuing session's account, not the worker's */
		f->poll.req.account_id = q->account_id;
		sends[nsends++] = f;
	}
	MemoryContextSwitchTo(old);
}

static void
add_answered(Flight *f, TimestampTz now)
{
	if (nanswered == 0)
		first_answer_at = now;
	answered[nanswered++] = f;
}

/* Connections queued requests may hold: half while polls wait for one, else all. */
static int
send_share(bool polls_waiting)
{
	return polls_waiting ? Max(1, signicat_poll_connections / 2) : signicat_poll_connections;
}

/*
 * Start waiting requests while connections are free: queued requests
 * (oldest first) within their share, then polls (suspects within theirs).
 */
static void
start_requests(TimestampTz now)
{
	long		poll_timeout_ms = Min(signicat_timeout_ms, signicat_poll_timeout_ms);

	/* (stopping: nothing new starts, what was claimed is given back by drained()) */
	while (drain_deadline == 0 && !stop_after_sends && !my_slot->stop_requested)
	{
		bool		polls_waiting = queue_next < nqueue;
		Flight	   *f;

		/* claimed within their share (claim_sends): they take any free connection */
		if (sends_next < nsends &&
			(sends[sends_next]->batch->error || signicat_poller_capacity() > 0))
		{
			f = sends[sends_next++];
			if (f->batch->error)
			{
				/* not sent: the reason is recorded, and the request queued again */
				add_answered(f, now);
				continue;
			}
			signicat_poller_start(&f->poll, f->batch->cxt, signicat_timeout_ms);
			f->sent = true;
			sends_flying++;
			continue;
		}
		if (!polls_waiting)
			break;
		f = queue[queue_next];
		if (f->batch->error)
		{
			/* nothing to send: the reason is the outcome */
			queue_next++;
			add_answered(f, now);
			continue;
		}
		if (signicat_poller_capacity() <= 0 || (f->suspect && suspects_flying >= suspect_share()))
			break;
		signicat_poller_start(&f->poll, f->batch->cxt, poll_timeout_ms);
		f->sent = true;
		suspects_flying += f->suspect ? 1 : 0;
		queue_next++;
	}
	my_slot->in_flight = signicat_poller_active();
}

/* Wait a slice for answers and move those that came to the answered list. */
static void
collect_answers(void)
{
	SignicatPoll *done[SIGNICAT_POLL_MAX];
	int			n = signicat_poller_wait(POLL_WAIT_SLICE_MS, done);
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < n; i++)
	{
		Flight	   *f = (Flight *) done[i];

		suspects_flying -= f->suspect ? 1 : 0;
		sends_flying -= f->send ? 1 : 0;
		add_answered(f, now);
	}
	my_slot->in_flight = signicat_poller_active();
}

/* Record every answer that came, in one transaction, and count them. */
static void
record_answers(void)
{
	RoundCounts counts = {0, 0};
	TimestampTz now;
	int			n = nanswered;

	for (int i = 0; i < n; i++)
	{
		Flight	   *f = answered[i];

		if (f->sent)
			signicat_stats_record_answer(signicat_stats_slot(f->op),
										 f->poll.done ? &f->poll.resp : NULL, f->poll.elapsed_us,
										 f->send ? f->send->call.body_len : 0);
	}

	if (!record_round(n, &counts))
	{
		/*
		 * One answer raised while the round was applied, and the round was
		 * rolled back: apply each answer in a transaction of its own, so that
		 * the one at fault records its error and the others their results.
		 */
		counts.changes = counts.errors = 0;
		for (int i = 0; i < n; i++)
			record_one(i, &counts);
	}

	/* recorded: the items' memory goes with the last of each batch */
	for (int i = 0; i < n; i++)
	{
		Batch	   *b = answered[i]->batch;

		sends_pending -= answered[i]->send ? 1 : 0;
		if (--b->pending == 0)
			batch_release(b);
	}
	nanswered = 0;

	now = GetCurrentTimestamp();
	{
		long		secs;
		int			usecs;

		TimestampDifference(last_record_at ? last_record_at : now, now, &secs, &usecs);
		my_slot->rounds++;
		my_slot->polled += n;
		my_slot->changes += counts.changes;
		my_slot->errors += counts.errors;
		my_slot->last_round_at = now;
		my_slot->last_rate = n / Max(secs + usecs / 1000000.0, 0.001);
	}
	last_record_at = now;
}

/*
 * One step of the worker: claim due items when the queue is empty (and
 * something may be due), start what the connections allow, wait a little for
 * answers (or, with nothing in hand, sleep until something may be due), and
 * record the answers that came once the requests of the claim are all back
 * or the first answer has waited RECORD_DELAY_MS.  A request that hangs
 * thus holds its connection and nothing else.
 */
static void
worker_step(void)
{
	TimestampTz now = GetCurrentTimestamp();

	signicat_poller_configure(signicat_poll_connections);
	ensure_room(signicat_poll_batch_size + signicat_poller_active() + nanswered + SIGNICAT_POLL_MAX + 1);

	/*
	 * Queued requests: claimed once those claimed before are all on their
	 * way, as many as may fly, and not one by one (a transaction each).
	 */
	if (sends_next >= nsends && drain_deadline == 0)
	{
		/* no more than can start at once: a request claimed waits 'sending' for nothing */
		int			free_sends = Min(send_share(queue_next < nqueue) - sends_flying,
									 signicat_poller_capacity());

		if (free_sends > 0 &&
			(free_sends >= Max(1, signicat_poll_connections / 8) || sends_flying == 0) &&
			(sends_due || TimestampDifferenceExceeds(last_send_claim_at, now, signicat_worker_naptime_ms)))
			claim_sends(free_sends);
	}

	if (queue_next >= nqueue && signicat_poller_capacity() > 0 && drain_deadline == 0 &&
		(claim_due || TimestampDifferenceExceeds(last_claim_at, now, signicat_worker_naptime_ms)))
	{
		int			n = 0;

		/* the drained queue's flights may belong to batches already freed */
		nqueue = queue_next = 0;
		last_claim_at = now;
		if (begin_tx("signicat worker: claiming due items"))
		{
			bool		ready = schema_ready();

			if (ready)
			{
				prepare_plans();
				replan_after_growth();
				housekeeping();
				n = claim();
				my_slot->last_due = n;
			}
			end_tx();
			if (ready)
				schema_was_ready = true;
			else if (schema_was_ready)
			{
				/* DROP EXTENSION committed: this database's worker is done */
				ereport(LOG,
						(errmsg("signicat worker for database \"%s\" stopped: the extension was dropped",
								MyBgworkerEntry->bgw_extra)));
				proc_exit(0);
			}
		}
		/* a full batch means more may be due: claim again as soon as there is room */
		claim_due = n >= signicat_poll_batch_size;
		prepare_requests();
	}

	start_requests(now);

	if (signicat_poller_active() > 0)
	{
		collect_answers();
		if (MyLatch->is_set)
		{
			/* something was enrolled or queued (or a reload): look again */
			ResetLatch(MyLatch);
			claim_due = sends_due = true;
		}
	}
	else if (nanswered == 0)
	{
		/* nothing in flight or to record: sleep until the next look, or until woken */
		int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   claim_due && queue_next >= nqueue ? 0 : signicat_worker_naptime_ms,
								   signicat_wait_event(SIGNICAT_WAIT_NAPTIME));

		ResetLatch(MyLatch);
		if (rc & WL_LATCH_SET)
			claim_due = sends_due = true;
	}

	if (nanswered > 0 &&
		((signicat_poller_active() == 0 && ((queue_next >= nqueue && sends_next >= nsends) || drain_deadline != 0)) ||
		 TimestampDifferenceExceeds(first_answer_at, GetCurrentTimestamp(), RECORD_DELAY_MS)))
	{
		/*
		 * The connections these answers freed take the next queued requests
		 * first: they are on the wire while the round is written (against a
		 * far upstream, recording with them idle cost a fifth of the rate).
		 */
		start_requests(GetCurrentTimestamp());
		record_answers();
	}
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* ---------- the worker process ---------- */

/* SIGTERM: die at once, unless queued requests are on their way (see stop_after_sends) */
static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	/*
	 * (A wait for a synchronous standby ends only with ProcDiePending: a
	 * standby that is down must not hold up a shutdown.)
	 */
	if ((sends_pending == 0 && !claiming_sends) ||
		(MyProc && MyProc->syncRepState == SYNC_REP_WAITING))
		die(postgres_signal_arg);
	else
	{
		stop_after_sends = true;
		SetLatch(MyLatch);
	}
	errno = save_errno;
}

/*
 * Stopping: true once the queued requests in hand are recorded (or
 * DRAIN_MS has passed); until then nothing new starts, and those not
 * started yet are given back to the queue as not sent.
 */
static bool
drained(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (drain_deadline == 0)
	{
		drain_deadline = TimestampTzPlusMilliseconds(now, DRAIN_MS);
		while (sends_next < nsends)
		{
			Flight	   *f = sends[sends_next++];

			f->batch->error = "the worker stopped before sending it";
			add_answered(f, now);
		}
	}
	return sends_pending == 0 || now >= drain_deadline;
}

void
signicat_worker_main(Datum arg)
{
	char		dbname[BGW_EXTRALEN];

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();

	/*
	 * A worker whose last attempt to connect to this database failed (it was
	 * dropped, or renamed) stays away instead of failing every second: one
	 * line says so, signicat.start_worker() in the database brings it back.
	 */
	if (!begin_connecting(dbname))
	{
		ereport(LOG,
				(errmsg("signicat worker for database \"%s\" not started: its last attempt to connect failed", dbname),
				 errhint("If the database exists, run SELECT signicat.start_worker() in it.")));
		end_connecting(dbname);
		proc_exit(0);
	}
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	end_connecting(dbname);
	pgstat_report_appname("signicat worker");
	signicat_wait_events_init();

	/*
	 * Nothing the worker runs resolves a name through a search_path that
	 * anybody else could put a schema on (the database's or role's settings
	 * included): PGC_S_OVERRIDE wins over all of them.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	/* started by the launcher: only where signicat.start_worker() switched it on */
	if (DatumGetInt32(MyBgworkerEntry->bgw_main_arg) == WORKER_IF_SWITCHED_ON && !switched_on())
	{
		elog(DEBUG1, "signicat worker for database \"%s\": not switched on", dbname);
		proc_exit(0);
	}

	if (!claim_slot())
	{
		ereport(LOG,
				(errmsg("signicat worker for database \"%s\" not started: one is running already",
						dbname)));
		proc_exit(0);
	}
	before_shmem_exit(release_slot, (Datum) 0);
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "signicat worker",
									   ALLOCSET_DEFAULT_SIZES);
	record_cxt = AllocSetContextCreate(TopMemoryContext, "signicat worker recording",
									   ALLOCSET_DEFAULT_SIZES);
	step_cxt = AllocSetContextCreate(TopMemoryContext, "signicat worker step",
									 ALLOCSET_DEFAULT_SIZES);
	ereport(LOG, (errmsg("signicat worker started for database \"%s\"", dbname)));
	new_claim_token();

	/* this is the only worker of the database: leases of a crashed one are void */
	if (begin_tx("signicat worker: starting"))
	{
		if (schema_ready())
			SPI_execute("UPDATE signicat.watch SET claimed_until = NULL "
						"WHERE claimed_until IS NOT NULL", false, 0);
		end_tx();
	}

	for (;;)
	{
		MemoryContext cxt = CurrentMemoryContext;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if ((my_slot->stop_requested || stop_after_sends) && drained())
		{
			if (stop_after_sends)
				ereport(FATAL,
						(errcode(ERRCODE_ADMIN_SHUTDOWN),
						 errmsg("terminating background worker \"%s\" due to administrator command",
								MyBgworkerEntry->bgw_type)));
			ereport(LOG, (errmsg("signicat worker for database \"%s\" stopped on request", dbname)));
			proc_exit(0);
		}

		PG_TRY();
		{
			MemoryContextSwitchTo(step_cxt);
			worker_step();
			MemoryContextSwitchTo(cxt);
			MemoryContextReset(step_cxt);
		}
		PG_CATCH();
		{
			/* log it and carry on: one bad step must not stop the worker */
			MemoryContextSwitchTo(cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			forget_work();
			forget_plans();
			MemoryContextReset(record_cxt);
			MemoryContextReset(step_cxt);
			my_slot->in_flight = 0;
			pgstat_report_activity(STATE_IDLE, NULL);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Max(signicat_worker_naptime_ms, 1000), signicat_wait_event(SIGNICAT_WAIT_NAPTIME));
			ResetLatch(MyLatch);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
	}
}

/* ---------- SQL-callable ---------- */

PG_FUNCTION_INFO_V1(signicat_start_worker);

/* signicat.start_worker(): a worker for the current database, if none runs. */
Datum
signicat_start_worker(PG_FUNCTION_ARGS)
{
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	require_shared();
	set_switch(true);
	if (worker_running(MyDatabaseId))
		PG_RETURN_NULL();

	if (!signicat_launch_worker(get_database_name(MyDatabaseId), false, &handle, true))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not register a signicat worker"),
				 errhint("Raise max_worker_processes.")));
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a signicat worker")));

	/* return once it runs as the database's worker (or gave way to one) */
	(void) wait_for_worker(handle, MyDatabaseId, 1000);
	PG_RETURN_INT32(pid);
}

/*
 * Stop the worker of a database and wait until it is gone (so that a DROP
 * DATABASE right after works); false if none ran.  It is not restarted.
 */
bool
signicat_stop_worker_of(Oid dboid)
{
	WorkerSlot *slot;
	Latch	   *latch = NULL;

	if (worker_shared == NULL)
		return false;
	SpinLockAcquire(&worker_shared->mutex);
	slot = slot_of(dboid);
	if (slot)
	{
		slot->stop_requested = true;
		latch = slot->latch;
	}
	SpinLockRelease(&worker_shared->mutex);
	if (slot == NULL)
		return false;
	if (latch)
		SetLatch(latch);

	for (int i = 0; i < 3000; i++)
	{
		if (!worker_running(dboid))
			return true;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the signicat worker did not stop within 30 seconds")));
	return false;
}

/*
 * Start a worker for a database by name (it gives way if one runs); false if
 * it could not be registered.  if_switched_on: it runs only if the database's
 * switch is on (the launcher's look).
 */
bool
signicat_launch_worker(const char *dbname, bool if_switched_on,
					   BackgroundWorkerHandle **handle, bool notify_me)
{
	BackgroundWorker w;

	/* asked for by name: a failed attempt to connect earlier does not keep it away */
	end_connecting(dbname);
	fill_worker(&w, dbname);
	if (if_switched_on)
		w.bgw_main_arg = Int32GetDatum(WORKER_IF_SWITCHED_ON);
	if (notify_me)
		w.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&w, handle);
}

PG_FUNCTION_INFO_V1(signicat_stop_worker);

/* signicat.stop_worker(): stop this database's worker and switch it off (kept across restarts). */
Datum
signicat_stop_worker(PG_FUNCTION_ARGS)
{
	require_shared();
	set_switch(false);
	PG_RETURN_BOOL(signicat_stop_worker_of(MyDatabaseId));
}

/* whether this transaction enrolled something: the worker is woken when it commits */
static bool wake_at_commit = false;

/* Set the latch of this database's worker, if one runs; never raises. */
static void
wake_worker(void)
{
	Latch	   *latch = NULL;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	{
		WorkerSlot *slot = slot_of(MyDatabaseId);

		if (slot)
			latch = slot->latch;
	}
	SpinLockRelease(&worker_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * At commit, the enrolled rows are visible: wake the worker then.  Woken at
 * enrolment, it looked before the commit, found nothing due and slept a
 * whole signicat.worker_naptime.
 */
static void
wake_at_commit_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				wake_worker();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* (a prepared transaction's rows are found at the next look) */
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/* Wake this database's worker when this transaction commits (it enrolled or queued something). */
void
signicat_wake_worker_at_commit(void)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(wake_at_commit_callback, NULL);
		registered = true;
	}
	wake_at_commit = true;
}

PG_FUNCTION_INFO_V1(signicat_wake_worker);

/* signicat._wake_worker(), which signicat.watch_add calls. */
Datum
signicat_wake_worker(PG_FUNCTION_ARGS)
{
	signicat_wake_worker_at_commit();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(signicat_worker_status);

/* signicat.worker_status(): every running worker and its counters. */
Datum
signicat_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WorkerSlot	copy[SIGNICAT_MAX_WORKERS];

	InitMaterializedSRF(fcinfo, 0);
	if (worker_shared == NULL)
		return (Datum) 0;
	SpinLockAcquire(&worker_shared->mutex);
	memcpy(copy, worker_shared->slots, sizeof(copy));
	SpinLockRelease(&worker_shared->mutex);

	for (int i = 0; i < SIGNICAT_MAX_WORKERS; i++)
	{
		WorkerSlot *s = &copy[i];
		Datum		values[10];
		bool		nulls[10] = {false};
		char	   *dbname;

		if (s->pid == 0)
			continue;
		dbname = get_database_name(s->dboid);
		values[0] = Int32GetDatum(s->pid);
		if (dbname)
			values[1] = CStringGetTextDatum(dbname);
		else
			nulls[1] = true;
		values[2] = TimestampTzGetDatum(s->started_at);
		values[3] = TimestampTzGetDatum(s->last_round_at);
		nulls[3] = s->last_round_at == 0;
		values[4] = Int64GetDatum(s->rounds);
		values[5] = Int32GetDatum(s->last_due);
		values[6] = Int32GetDatum(s->in_flight);
		values[7] = Int64GetDatum(s->polled);
		values[8] = Int64GetDatum(s->errors);
		values[9] = Float8GetDatum(s->last_rate);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* The worker's settings. */
void
signicat_worker_init(void)
{
	DefineCustomStringVariable("signicat.worker_role",
							   "Role the background worker runs its statements as.",
							   "Needs only the grants of the extension's role signicat_worker.",
							   &signicat_worker_role, "signicat_worker",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.worker_databases",
							   "Databases in which a background worker follows signicat.watch (comma-separated).",
							   "Each must exist. signicat.start_worker() starts one later in the current database.",
							   &signicat_worker_databases, "",
							   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_interval",
							"Time between polls of an item whose status just changed.",
							"Polls of items that stay unchanged back off by 1.5x up to signicat.poll_max_interval.",
							&signicat_poll_interval_ms, 5000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_max_interval",
							"Longest time between two polls of an item (also the cap of error backoff).",
							NULL, &signicat_poll_max_interval_ms, 300000, 10, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_batch_size",
							"Most items the worker claims in one round.",
							NULL, &signicat_poll_batch_size, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_connections",
							"Most requests (and connections) the worker has open at once.",
							NULL, &signicat_poll_connections, 8, 1, 256,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_timeout",
							"Time allowed for one poll of the worker (signicat.timeout if that is shorter).",
							"A status answer is small: a poll that takes longer is given up, its item backs off, and its connection serves others.",
							&signicat_poll_timeout_ms, 5000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.worker_naptime",
							"How long the worker sleeps when nothing is due.",
							NULL, &signicat_worker_naptime_ms, 1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.watch_max_age",
							"Items still not final this long after enrolment are marked expired.",
							NULL, &signicat_watch_max_age_s, 7 * 24 * 3600, 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.history_retention",
							"How long status_history rows are kept; 0 keeps them forever.",
							NULL, &signicat_history_retention_s, 90 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}
