/*-------------------------------------------------------------------------
 * queue.c
 *	  The after-commit queue: signicat.enqueue(), and what the worker does
 *	  with signicat.queue (claim, outcome, recovery, retention).
 *
 * signicat.enqueue(operation, arguments) checks the call exactly as its SQL
 * function would (the caller's grant on that function, every argument),
 * sends nothing, and inserts a row in signicat.queue in the caller's
 * transaction: a rollback means it never existed, and the commit wakes the
 * worker.  The row is inserted as the table's owner, so that nobody needs
 * INSERT on the table (which would let a role queue a call its grants do
 * not allow); enqueued_by is the caller, whom row-level security shows the
 * row to.
 *
 * The worker sends queued requests through its poller, beside its polls
 * (worker.c).  Delivery, exactly:
 *	 - a claim marks the requests 'sending' with the worker's claim token and
 *	   commits before any of them leaves;
 *	 - an outcome is recorded in one statement guarded by state 'sending', with
 *	   NOTIFY signicat_queue (id and state only: anyone may LISTEN) sent at
 *	   its commit;
 *	 - a request found 'sending' under another token (the worker died, or
 *	   gave up its work after an error, or the database was restored) may have
 *	   left: a POST or PATCH becomes 'unknown' and is never sent again by
 *	   itself; a GET, PUT or DELETE is queued again;
 *	 - a request that certainly did not reach Signicat (no connection, no
 *	   token, 401, 429) is queued again whatever its method; one that may
 *	   have (a timeout, a connection lost) is retried only if idempotent, as
 *	   the single call's rule says, and is otherwise 'unknown';
 *	 - retries back off as the worker's polls do (Retry-After honoured), at
 *	   most signicat.queue_max_attempts attempts in all.
 * A create that succeeds is enrolled in signicat.watch with the enqueuing
 * session's signicat.account_id and signicat.auto_watch.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "signicat.h"

int			signicat_queue_retention_s = 24 * 3600;
int			signicat_queue_max_attempts = 10;

/* the worker's statements, prepared at first use (the table may come later, with an update) */
static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr mark_plan = NULL;
static SPIPlanPtr outcome_plan = NULL;
static SPIPlanPtr recover_plan = NULL;
static SPIPlanPtr hold_plan = NULL;
static SPIPlanPtr giveback_plan = NULL;
static SPIPlanPtr trim_plan = NULL;

static Oid	queue_relid(void);

/*
 * Where a request was queued: the cluster's system identifier, the
 * database's oid and the oid of signicat.queue itself (made anew by a
 * restore, even into the same database).  A worker sends only the requests
 * of its own: rows that came back with a dump restored (elsewhere, or here
 * over the table the dump was taken from) are held as 'unknown', never sent
 * again by a copy.
 */
static char *
queue_origin(void)
{
	return psprintf(UINT64_FORMAT ":%u:%u", GetSystemIdentifier(), MyDatabaseId, queue_relid());
}

/* ---------- signicat.enqueue ---------- */

/* The oid of signicat.queue, or an error saying the extension needs its update. */
static Oid
queue_relid(void)
{
	Oid			schema = get_namespace_oid("signicat", false);
	Oid			relid = get_relname_relid("queue", schema);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("signicat.enqueue: table signicat.queue does not exist"),
				 errhint("ALTER EXTENSION signicat UPDATE makes it.")));
	return relid;
}

static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

PG_FUNCTION_INFO_V1(signicat_enqueue);

/* signicat.enqueue(operation text, arguments jsonb) RETURNS bigint */
Datum
signicat_enqueue(PG_FUNCTION_ARGS)
{
	char	   *operation;
	Jsonb	   *args;
	SignicatBoundOperation *b;
	SignicatCall call;
	const char *dossier_id;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	Oid			types[6] = {TEXTOID, JSONBOID, NAMEOID, TEXTOID, BOOLOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	volatile int64 id = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("signicat.enqueue: operation is required")));
	operation = text_to_cstring(PG_GETARG_TEXT_PP(0));
	args = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);

	/* the caller's grant on the operation's own function, and its arguments, as a call would check them */
	b = signicat_bind_json_operation("signicat.enqueue", operation, GetUserId(), "directly");
	signicat_prepare_from_json(b, args, &call, &dossier_id);

	values[0] = CStringGetTextDatum(operation);
	values[1] = JsonbPGetDatum(args);
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	if (signicat_account_id && signicat_account_id[0])
		values[3] = CStringGetTextDatum(signicat_account_id);
	else
		nulls[3] = 'n';
	values[4] = BoolGetDatum(signicat_auto_watch);
	values[5] = CStringGetTextDatum(queue_origin());

	/* inserted as the table's owner: the caller needs no INSERT on it */
	owner = relation_owner(queue_relid());
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		bool		isnull;

		SPI_connect();
		if (SPI_execute_with_args("INSERT INTO signicat.queue "
								  "(operation, arguments, enqueued_by, account_id, watch, origin) "
								  "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
								  6, types, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING ||
			SPI_processed != 1)
			elog(ERROR, "signicat.enqueue: could not insert into signicat.queue");
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();

	/* the worker looks when the row is visible */
	signicat_wake_worker_at_commit();
	PG_RETURN_INT64(id);
}

PG_FUNCTION_INFO_V1(signicat_queue_delete);

/*
 * signicat.queue_delete(id bigint) RETURNS boolean: the caller's request
 * (an admin's: anyone's) deleted, unless it is being sent; false if there
 * is none.  As enqueue, it deletes as the table's owner: nobody needs
 * DELETE on the table, a privilege that would also let any role LOCK it
 * and stop the worker.  Nothing in the statement resolves through the
 * caller's search_path.
 */
Datum
signicat_queue_delete(PG_FUNCTION_ARGS)
{
	Oid			admin = get_role_oid("signicat_admin", true);
	Oid			types[3] = {INT8OID, NAMEOID, BOOLOID};
	Datum		values[3];
	Oid			save_userid;
	int			save_sec;
	volatile bool found = false;
	volatile bool sending = false;

	values[0] = PG_GETARG_DATUM(0);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	values[2] = BoolGetDatum(OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(relation_owner(queue_relid()), save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		bool		isnull;

		SPI_connect();
		/* the row locked first: a claim in progress is waited for, and its 'sending' seen */
		if (SPI_execute_with_args("SELECT q.state OPERATOR(pg_catalog.=) 'sending' FROM signicat.queue q "
								  "WHERE q.id OPERATOR(pg_catalog.=) $1 "
								  "  AND ($3 OR q.enqueued_by OPERATOR(pg_catalog.=) $2) FOR UPDATE",
								  3, types, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "signicat.queue_delete: could not read signicat.queue");
		found = SPI_processed == 1;
		if (found)
			sending = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (found && !sending &&
			SPI_execute_with_args("DELETE FROM signicat.queue q WHERE q.id OPERATOR(pg_catalog.=) $1",
								  1, types, values, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "signicat.queue_delete: could not delete from signicat.queue");
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	if (sending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("signicat.queue_delete: request %lld is being sent", (long long) PG_GETARG_INT64(0)),
				 errhint("Delete it once its outcome is recorded.")));
	PG_RETURN_BOOL(found);
}

/* ---------- the worker's side (called in its transactions, SPI connected) ---------- */

void
signicat_queue_forget_plans(void)
{
	SPIPlanPtr *all[] = {&claim_plan, &mark_plan, &outcome_plan, &recover_plan, &hold_plan,
	&giveback_plan, &trim_plan};

	for (int i = 0; i < (int) lengthof(all); i++)
	{
		if (*all[i])
			SPI_freeplan(*all[i]);
		*all[i] = NULL;
	}
}

static void
prepare_plans(void)
{
	Oid			claim_t[] = {INT4OID, INT8OID};
	Oid			mark_t[] = {INT8ARRAYOID, INT8OID, TEXTARRAYOID};
	Oid			outcome_t[] = {INT8OID, TEXTOID, JSONBOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Oid			recover_t[] = {INT8OID, INT4OID, FLOAT8OID, FLOAT8OID};
	Oid			hold_t[] = {TEXTOID};
	Oid			giveback_t[] = {INT8OID};
	Oid			trim_t[] = {INT8OID};

	if (claim_plan)
		return;
	claim_plan = signicat_worker_keep_plan(
		"SELECT id, operation, arguments, enqueued_by::text, account_id, watch, attempts, origin "
		"FROM signicat.queue WHERE state = 'queued' AND id >= $2 AND next_attempt_at <= pg_catalog.now() "
		"ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", 2, claim_t);
	mark_plan = signicat_worker_keep_plan(
		"UPDATE signicat.queue q SET state = 'sending', claimed_by = $2, "
		"  last_attempt_at = pg_catalog.now(), method = u.m "
		"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) AS u(i, m) WHERE q.id = u.i",
		3, mark_t);

	/*
	 * One outcome: a final state (done, failed, unknown) with its NOTIFY, or
	 * queued again for $9 ms; only while the row is still being sent.
	 */
	outcome_plan = signicat_worker_keep_plan(
		"WITH q AS ("
		"  UPDATE signicat.queue SET state = $2, attempts = attempts + 1, result = $3, "
		"    http_status = $4, sqlstate = $5, message = $6, detail = $7, trace_id = $8, "
		"    next_attempt_at = pg_catalog.now() + $9 * interval '1 millisecond', "
		"    finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE pg_catalog.now() END, "
		"    claimed_by = NULL "
		"  WHERE id = $1 AND state = 'sending' RETURNING id, state) "
		"SELECT pg_catalog.pg_notify('signicat_queue', pg_catalog.json_build_object("
		"  'id', q.id, 'state', q.state)::text) FROM q WHERE q.state <> 'queued'",
		9, outcome_t);

	/*
	 * Requests left 'sending' by a worker that is gone (or by this one
	 * before an error made it give its work up): they may have left.  A
	 * GET, PUT or DELETE is queued again with backoff, within
	 * queue_max_attempts ($2): one whose answer crashes the worker must
	 * not crash it forever.
	 */
	recover_plan = signicat_worker_keep_plan(
		"WITH r AS ("
		"  UPDATE signicat.queue SET "
		"    state = CASE WHEN method IS NULL OR method <> ALL ('{GET,PUT,DELETE}') THEN 'unknown' "
		"                 WHEN attempts + 1 < $2 THEN 'queued' ELSE 'failed' END, "
		"    attempts = attempts + 1, claimed_by = NULL, "
		"    next_attempt_at = pg_catalog.now() + LEAST($3 * pg_catalog.power(2, LEAST(attempts, 30)), $4) "
		"                      * interval '1 millisecond', "
		"    finished_at = CASE WHEN method = ANY ('{GET,PUT,DELETE}') AND attempts + 1 < $2 THEN NULL "
		"                       ELSE pg_catalog.now() END, "
		"    sqlstate = NULL, http_status = NULL, trace_id = NULL, detail = NULL, "
		"    message = 'the worker stopped while this request was being sent: it may or may not have reached Signicat' "
		"  WHERE state = 'sending' AND claimed_by IS DISTINCT FROM $1 RETURNING id, state) "
		"SELECT r.state, pg_catalog.pg_notify('signicat_queue', pg_catalog.json_build_object("
		"  'id', r.id, 'state', r.state)::text) FROM r WHERE r.state <> 'queued'",
		4, recover_t);
	/* requests queued in another database (a dump restored here): never sent by this one */
	hold_plan = signicat_worker_keep_plan(
		"WITH h AS ("
		"  UPDATE signicat.queue SET state = 'unknown', claimed_by = NULL, finished_at = pg_catalog.now(), "
		"    sqlstate = NULL, http_status = NULL, trace_id = NULL, detail = NULL, "
		"    message = 'queued in another database (this one was restored from a copy): not sent here; "
		"check whether it is still wanted, then queue it again' "
		"  WHERE (state = 'queued' OR state = 'sending') AND origin IS DISTINCT FROM $1 RETURNING id, state) "
		"SELECT pg_catalog.pg_notify('signicat_queue', pg_catalog.json_build_object("
		"  'id', h.id, 'state', h.state)::text) FROM h",
		1, hold_t);
	/* claimed but not sent (the worker is stopping): back in the queue as it was */
	giveback_plan = signicat_worker_keep_plan(
		"UPDATE signicat.queue SET state = 'queued', claimed_by = NULL "
		"WHERE id = $1 AND state = 'sending'", 1, giveback_t);
	trim_plan = signicat_worker_keep_plan(
		"DELETE FROM signicat.queue WHERE state = ANY ('{done,failed}') "
		"AND finished_at < pg_catalog.now() - $1 * interval '1 second'", 1, trim_t);
}

/* Requests 'sending' under another claim token than this worker's: unknown, or queued again. */
void
signicat_queue_recover(int64 claim_token)
{
	Datum		values[4];
	Datum		origin = CStringGetTextDatum(queue_origin());
	int			rc;
	uint64		unknown = 0;

	prepare_plans();
	if (SPI_execute_plan(hold_plan, &origin, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "signicat worker: could not hold the requests of another database");
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("signicat worker: %llu requests of signicat.queue were queued in another database (restored from a copy): held as \"unknown\", not sent",
						(unsigned long long) SPI_processed)));
	values[0] = Int64GetDatum(claim_token);
	values[1] = Int32GetDatum(signicat_queue_max_attempts);
	values[2] = Float8GetDatum((double) signicat_poll_interval_ms);
	values[3] = Float8GetDatum((double) signicat_poll_max_interval_ms);
	rc = SPI_execute_plan(recover_plan, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "signicat worker: could not recover the queue: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *state = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		unknown += strcmp(state, "unknown") == 0 ? 1 : 0;
	}
	if (unknown > 0)
		ereport(LOG,
				(errmsg_plural("signicat worker: %llu request of signicat.queue was being sent when the worker stopped: \"unknown\" now, never sent again by itself",
							   "signicat worker: %llu requests of signicat.queue were being sent when the worker stopped: \"unknown\" now, never sent again by themselves",
							   (unsigned long) unknown, (unsigned long long) unknown),
				 errhint("See the README on reconciling them.")));
}

/* Delete finished requests older than signicat.queue_retention. */
void
signicat_queue_trim(void)
{
	Datum		value = Int64GetDatum((int64) signicat_queue_retention_s);

	if (signicat_queue_retention_s <= 0)
		return;
	prepare_plans();
	if (SPI_execute_plan(trim_plan, &value, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "signicat worker: could not trim signicat.queue");
}

/* one claimed row, before it is bound */
typedef struct ClaimedRow
{
	SignicatQueued *q;
	const char *operation;
	Jsonb	   *args;
	const char *enqueued_by;
} ClaimedRow;

/* operations bound in this claim (a few at most) */
typedef struct BoundCache
{
	const char *operation;
	Oid			role;
	SignicatBoundOperation *b;
} BoundCache;

static List *bound_cache = NIL;

/* Bind and check a claimed row's call as its SQL function would, for the role that queued it. */
static void
prepare_row(void *arg)
{
	ClaimedRow *r = (ClaimedRow *) arg;
	SignicatQueued *q = r->q;
	Oid			role = get_role_oid(r->enqueued_by, true);
	ListCell   *lc;

	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("signicat queue: role \"%s\", which queued this request, does not exist any more",
						r->enqueued_by)));
	q->b = NULL;
	foreach(lc, bound_cache)
	{
		BoundCache *c = (BoundCache *) lfirst(lc);

		if (c->role == role && strcmp(c->operation, r->operation) == 0)
			q->b = c->b;
	}
	if (q->b == NULL)
	{
		BoundCache *c = palloc(sizeof(BoundCache));

		/* the grant is checked again: a revoke holds for what is still queued */
		q->b = signicat_bind_json_operation("signicat queue", r->operation, role, "directly");
		c->operation = r->operation;
		c->role = role;
		c->b = q->b;
		bound_cache = lappend(bound_cache, c);
	}
	signicat_prepare_from_json(q->b, r->args, &q->call, &q->dossier_id);
}

/*
 * Claim at most max queued requests that are due, oldest first from id
 * *from on, and mark them 'sending' under claim_token; the caller commits
 * before sending.  Rows queued in another database (restored here) are
 * left alone and *foreign set: signicat_queue_recover holds them.  (Not a
 * condition of the statement: the planner, unable to tell how many rows
 * it keeps, then sorted the whole queue for every claim.)  *from becomes the id after the last one claimed: each
 * claim of a burst starts where the last ended, and not at the index
 * entries of every request claimed before, dead until a vacuum, which made
 * each claim slower than the last (the caller starts from 0 again now and
 * then, for requests queued again or committed late with lower ids).
 * Each is bound and checked again; one that no longer can be (its role
 * dropped, its grant revoked, its operation gone) is recorded 'failed' at
 * once and left out.  Returns how many are to be sent, in *out (allocated
 * in cxt with everything they need until recorded).
 */
int
signicat_queue_claim(int max, int64 *from, int64 claim_token, MemoryContext cxt,
					 SignicatQueued ***out, int *found, bool *foreign)
{
	Datum		claim_values[2] = {Int32GetDatum(max), Int64GetDatum(*from)};
	char	   *origin = queue_origin();
	int			nrows;
	MemoryContext old;
	ClaimedRow *rows;
	SignicatQueued **ready;
	Datum	   *ids;
	Datum	   *methods;
	Datum		values[3];
	int			n;
	int			nready = 0;

	prepare_plans();
	if (SPI_execute_plan(claim_plan, claim_values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "signicat worker: could not claim queued requests");
	nrows = (int) SPI_processed;
	*out = NULL;
	*found = nrows;
	*foreign = false;
	if (nrows == 0)
		return 0;

	old = MemoryContextSwitchTo(cxt);
	rows = palloc0(sizeof(ClaimedRow) * nrows);
	ids = palloc(sizeof(Datum) * nrows);
	methods = palloc(sizeof(Datum) * nrows);
	ready = palloc(sizeof(SignicatQueued *) * nrows);
	n = 0;
	for (int r = 0; r < nrows; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		SignicatQueued *q;
		char	   *v;
		int			i;

		*from = Max(*from, DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) + 1);
		v = SPI_getvalue(tup, desc, 8);
		if (v == NULL || strcmp(v, origin) != 0)
		{
			*foreign = true;
			continue;
		}
		i = n++;
		q = palloc0(sizeof(SignicatQueued));
		q->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		rows[i].q = q;
		rows[i].operation = SPI_getvalue(tup, desc, 2);
		rows[i].args = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 3, &isnull));
		rows[i].enqueued_by = SPI_getvalue(tup, desc, 4);
		if ((v = SPI_getvalue(tup, desc, 5)) != NULL)
			q->account_id = v;
		q->watch = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		q->attempts = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
	}
	if (n == 0)
	{
		MemoryContextSwitchTo(old);
		return 0;
	}

	/* sent to the corrected paths, as a call made now would be */
	signicat_corrections_refresh();
	bound_cache = NIL;
	for (int i = 0; i < n; i++)
	{
		SignicatQueued *q = rows[i].q;

		if (!signicat_try_in_subtransaction(prepare_row, &rows[i], &q->refused))
			q->call.method = NULL;
		ids[i] = Int64GetDatum(q->id);
		methods[i] = q->call.method ? CStringGetTextDatum(q->call.method) : (Datum) 0;
	}
	bound_cache = NIL;

	{
		int			dims[1] = {n};
		int			lbs[1] = {1};
		bool	   *nomethod = palloc(sizeof(bool) * n);

		for (int i = 0; i < n; i++)
			nomethod[i] = rows[i].q->call.method == NULL;
		values[0] = PointerGetDatum(construct_md_array(ids, NULL, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[1] = Int64GetDatum(claim_token);
		values[2] = PointerGetDatum(construct_md_array(methods, nomethod, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	}
	MemoryContextSwitchTo(old);
	if (SPI_execute_plan(mark_plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "signicat worker: could not mark queued requests as being sent");

	for (int i = 0; i < n; i++)
	{
		SignicatQueued *q = rows[i].q;

		if (q->refused)
			signicat_queue_record(q, NULL, NULL, 0);
		else
			ready[nready++] = q;
	}
	*out = ready;
	return nready;
}

/* ---------- outcomes ---------- */

typedef struct Outcome
{
	SignicatQueued *q;
	const SignicatPoll *poll;
	Jsonb	   *result;
	const SignicatWatchKind *enrol;
	char	   *trace_id;
	ErrorData  *error;
} Outcome;

/* The answer as the call's result, or its error raised as the single call raises it. */
static void
decode_answer(void *arg)
{
	Outcome    *o = (Outcome *) arg;

	o->result = signicat_poll_result(o->q->b, &o->q->call, o->poll, -1, &o->trace_id, &o->enrol);
}

/* Enrol what a create made, with the enqueuing session's account and auto_watch. */
static void
enrol_created(void *arg)
{
	Outcome    *o = (Outcome *) arg;

	(void) set_config_option("signicat.account_id", o->q->account_id ? o->q->account_id : "",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("signicat.auto_watch", "on",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	signicat_watch_enroll(o->enrol, o->result, o->q->dossier_id);
}

/* Write one outcome: final (with its NOTIFY), or queued again after retry_ms. */
static void
write_outcome(SignicatQueued *q, const char *state, Jsonb *result, long http_status,
			  const ErrorData *error, const char *message, const char *trace_id, int64 retry_ms)
{
	Datum		values[9];
	char		nulls[9];
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(q->id);
	values[1] = CStringGetTextDatum(state);
	if (result)
		values[2] = JsonbPGetDatum(result);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum((int32) http_status);
	nulls[3] = http_status == 0 ? 'n' : ' ';
	if (error)
		values[4] = CStringGetTextDatum(unpack_sql_state(error->sqlerrcode));
	else
		nulls[4] = 'n';
	if (message || (error && error->message))
		values[5] = CStringGetTextDatum(message ? message : error->message);
	else
		nulls[5] = 'n';
	if (error && error->detail)
		values[6] = CStringGetTextDatum(error->detail);
	else
		nulls[6] = 'n';
	if (trace_id)
		values[7] = CStringGetTextDatum(trace_id);
	else
		nulls[7] = 'n';
	values[8] = Int64GetDatum(retry_ms);
	rc = SPI_execute_plan(outcome_plan, values, nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "signicat worker: could not record a queued request's outcome: %s",
			 SPI_result_code_string(rc));
}

/*
 * Record the outcome of a claimed request, in the worker's recording
 * transaction: poll is its finished request, or NULL when it was not sent
 * (not_sent says why: no token; or q->refused, it could not be bound).
 * token_generation: of the token it was sent with (a 401 drops it).
 */
void
signicat_queue_record(SignicatQueued *q, const SignicatPoll *poll, const char *not_sent,
					  uint64 token_generation)
{
	Outcome		o = {q, poll, NULL, NULL, NULL, NULL};
	int			attempt = q->attempts + 1;
	bool		again;
	long		status = poll && poll->done ? poll->resp.status : 0;
	long		retry_after = poll && poll->done ? poll->resp.retry_after : -1;

	prepare_plans();
	if (q->refused)
	{
		write_outcome(q, "failed", NULL, 0, q->refused, NULL, NULL, 0);
		return;
	}
	if (poll == NULL)
	{
		/* never left: queued again whatever the method */
		if (attempt >= signicat_queue_max_attempts)
			write_outcome(q, "failed", NULL, 0, NULL, not_sent, NULL, 0);
		else
			write_outcome(q, "queued", NULL, 0, NULL, not_sent, NULL,
						  signicat_worker_backoff_ms(attempt - 1, -1));
		return;
	}

	/* the result, or the error the single call would raise (its SQLSTATE, traceId) */
	(void) signicat_try_in_subtransaction(decode_answer, &o, &o.error);

	if (!poll->done)
	{
		if (poll->not_sent)
			again = true;		/* it never reached Signicat: any method */
		else if (!q->call.idempotent)
		{
			/* a timeout, a lost connection, an answer too large to read: it may have been done */
			write_outcome(q, "unknown", NULL, 0, o.error,
						  psprintf("%s: no answer that could be read, so it may or may not have been done",
								   o.error->message), NULL, 0);
			return;
		}
		else
			again = !poll->refused;
	}
	else if (status == 401 || status == 408 || status == 429)
	{
		/*
		 * Refused before anything was done (a token refused, a request not
		 * received whole, a rate limit: RFC 9110, RFC 6585): sent again
		 * whatever the method, a 401 with a new token.
		 */
		if (status == 401)
			signicat_invalidate_token(token_generation);
		again = true;
	}
	else if (q->call.idempotent)
		again = signicat_try_again(true, status, false, false, true);
	else if (signicat_try_again(true, status, false, false, true))
	{
		/* 502, 503, 504 to a POST: a gateway's answer, Signicat may have done it */
		write_outcome(q, "unknown", NULL, status, o.error,
					  psprintf("%s: a gateway's answer, so it may or may not have been done",
							   o.error->message), o.trace_id, 0);
		return;
	}
	else
		again = false;

	if (o.error == NULL)
	{
		const char *message = NULL;

		/* a create's result is kept even if it cannot be followed; the row says why */
		if (o.enrol && o.result && q->watch)
		{
			ErrorData  *enrol_error = NULL;

			if (!signicat_try_in_subtransaction(enrol_created, &o, &enrol_error))
			{
				message = psprintf("created, but not enrolled in signicat.watch: %s", enrol_error->message);
				o.error = enrol_error;
			}
		}
		write_outcome(q, "done", o.result, status, o.error, message, NULL, 0);
	}
	else if (again && attempt < signicat_queue_max_attempts)
		write_outcome(q, "queued", NULL, status, o.error, NULL, o.trace_id,
					  signicat_worker_backoff_ms(attempt - 1, retry_after));
	else if (status >= 200 && status <= 299 && !q->call.idempotent)
	{
		/* done, but what it made cannot be told: to be reconciled like a lost answer */
		write_outcome(q, "unknown", NULL, status, o.error,
					  psprintf("Signicat did it, but its answer cannot be read: %s", o.error->message),
					  NULL, 0);
	}
	else
		write_outcome(q, "failed", NULL, status, o.error, NULL, o.trace_id, 0);
}

/*
 * Its outcome could not be recorded (the recording raised): a request that
 * may have changed something becomes 'unknown', others 'failed'.
 */
void
signicat_queue_fail(SignicatQueued *q, bool sent, const char *message)
{
	prepare_plans();
	write_outcome(q, sent && !q->call.idempotent ? "unknown" : "failed", NULL, 0, NULL, message, NULL, 0);
}

/* A claimed request that was not sent (the worker is stopping): queued again, as it was. */
void
signicat_queue_give_back(SignicatQueued *q)
{
	Datum		value = Int64GetDatum(q->id);

	prepare_plans();
	if (SPI_execute_plan(giveback_plan, &value, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "signicat worker: could not give a queued request back");
}

/* signicat.queue_retention, signicat.queue_max_attempts */
void
signicat_queue_init(void)
{
	DefineCustomIntVariable("signicat.queue_retention",
							"How long finished requests of signicat.queue (done, failed) are kept; 0 keeps them.",
							"Their arguments and answers may hold personal data. Requests in state unknown are kept until deleted.",
							&signicat_queue_retention_s, 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.queue_max_attempts",
							"Most attempts the worker makes to send a queued request.",
							"Attempts back off as the worker's polls do (signicat.poll_interval doubling up to signicat.poll_max_interval).",
							&signicat_queue_max_attempts, 10, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}
