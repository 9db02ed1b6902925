/*-------------------------------------------------------------------------
 * bulk.c
 *	  signicat.call_many(operation, arguments jsonb[]): many calls of one
 *	  operation in one statement, sent at once, one row per call in input
 *	  order.
 *
 * Against Signicat a call takes tens of milliseconds, so calls made row by
 * row add up (2,000 x 50 ms is 100 s).  Here each call is bound and checked
 * exactly as its SQL function would do it (operation.c), then up to
 * signicat.bulk_concurrency requests are in flight at once through the
 * poller (libcurl's multi interface, the worker's too), with the single
 * call's rules: one access token for all, a new one once after a 401,
 * retries of idempotent requests with backoff, Retry-After honoured, and a
 * 429 pausing the whole batch, as a polite client must.  An error of one
 * call is a value in its row (its SQLSTATE, message, detail, Signicat's
 * traceId), raised and caught exactly as the single call raises it; a
 * cancel, statement_timeout, a shutdown or lack of memory ends the
 * statement, with every transfer given up.  Calls go in windows of
 * BULK_WINDOW, whose memory is released once their rows are out, so memory
 * stays bounded however many calls there are.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "signicat.h"

/* calls bound, sent and written out together; their memory goes after each window */
#define BULK_WINDOW 1024
/* how long one wait for answers lasts at most: cancels are seen within it */
#define BULK_WAIT_SLICE_MS 10

int			signicat_bulk_concurrency = 16;

typedef struct BulkCall BulkCall;

typedef enum BulkState
{
	BULK_REFUSED,				/* not sent: the reason is the row's error */
	BULK_DUE,					/* to be sent (again) now */
	BULK_WAITING,				/* a retry, due at not_before */
	BULK_FLYING,
	BULK_FINISHED				/* an answer, or a transport failure, is final */
} BulkState;

/* What all calls of a window share while they are sent. */
typedef struct BulkBatch
{
	BulkCall   *calls;
	int			n;
	int			left;			/* calls not finished or refused */
	MemoryContext cxt;			/* the window's */
	char	   *token;			/* one access token for all */
	uint64		generation;		/* of that token */
	bool		need_token;		/* a 401 came back: a new one once nothing is in flight */
	bool		token_failed;	/* fetching a new one failed: 401s stay 401s */
	TimestampTz pause_until;	/* Signicat asked everyone to slow down */
	TimestampTz deadline;		/* statement_timeout's, or 0 */
} BulkBatch;

/* One call of the batch: what it sends, and how it went. */
struct BulkCall
{
	SignicatPoll poll;			/* first: the poller finds it back */
	SignicatBoundOperation *b;	/* the operation's SQL function */
	SignicatCall call;
	BulkState	state;
	int			retries;
	bool		refreshed;		/* got a new token after a 401 */
	uint64		token_generation;	/* of the token it was sent with */
	TimestampTz not_before;		/* of a retry */
	instr_time	started;
	long		too_far;		/* Retry-After past max_retry_wait, or -1 */
	/* the row */
	Jsonb	   *args;
	const char *dossier_id;
	Jsonb	   *result;
	long		http_status;
	char	   *sqlstate;
	char	   *message;
	char	   *detail;
	char	   *trace_id;
	/* the kind of what it created, to enrol with the window's others */
	const SignicatWatchKind *enrol;
};

/* ---------- errors of one call as values of its row ---------- */

/* Run fn(c); an error it raises becomes the row's sqlstate, message and detail. */
static bool
row_try(void (*fn) (void *c), BulkCall *c)
{
	ErrorData  *edata;

	if (signicat_try_in_subtransaction(fn, c, &edata))
		return true;
	c->sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
	c->message = edata->message;
	c->detail = edata->detail;
	return false;
}


/* A call that is not sent: the reason is its row's error. */
static void
refuse_call(BulkCall *c, const char *sqlstate, char *message)
{
	c->state = BULK_REFUSED;
	c->sqlstate = pstrdup(sqlstate);
	c->message = message;
}

/* ---------- sending: many requests at once ---------- */

/* Give the call's request its URL, headers and the batch's token; start it. */
static void
start_call(BulkBatch *batch, BulkCall *c)
{
	SignicatHttpRequest *req = &c->poll.req;

	/* (the answer before a retry is not needed any more) */
	if (c->poll.resp.body)
		pfree(c->poll.resp.body);
	memset(&c->poll.resp, 0, sizeof(c->poll.resp));
	signicat_call_request(&c->call, req);
	req->bearer = batch->token;
	c->token_generation = batch->generation;
	if (c->retries == 0 && !c->refreshed)
		INSTR_TIME_SET_CURRENT(c->started);
	if (!signicat_poller_start(&c->poll, batch->cxt, signicat_timeout_ms))
		elog(ERROR, "signicat: no free connection for a call of the batch");
	c->state = BULK_FLYING;
}

/* The call is over: counted once, as the single call is. */
static void
finish_call(BulkBatch *batch, BulkCall *c)
{
	instr_time	elapsed;
	bool		answered = c->poll.done;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, c->started);
	signicat_stats_record_answer(signicat_stats_slot(c->call.op), answered ? &c->poll.resp : NULL,
								 INSTR_TIME_GET_MICROSEC(elapsed), c->call.body_len);
	c->state = BULK_FINISHED;
	batch->left--;
	/* the answer at its size: the transfer's buffer (8 kB at least) serves the next request */
	if (answered && c->poll.resp.body)
	{
		char	   *exact = MemoryContextAlloc(GetMemoryChunkContext(c->poll.resp.body),
											   c->poll.resp.body_len + 1);

		memcpy(exact, c->poll.resp.body, c->poll.resp.body_len + 1);
		pfree(c->poll.resp.body);
		c->poll.resp.body = exact;
	}
}

/*
 * Every call not sent yet is not sent at all: Signicat asked to wait
 * longer than may be waited (signicat.max_retry_wait, or past the
 * statement's statement_timeout, where the whole result would go).
 */
static void
refuse_unsent(BulkBatch *batch, const char *why)
{
	for (int i = 0; i < batch->n; i++)
	{
		BulkCall   *c = &batch->calls[i];

		if (c->state == BULK_DUE && c->retries == 0 && !c->refreshed)
		{
			refuse_call(c, "53400", psprintf("%s was not sent: %s", c->call.opid, why));
			batch->left--;
		}
	}
}

/*
 * What becomes of a call whose request came back, by request.c's rules for
 * a single call: sent again (with a new token after a 401; after a
 * transient failure if idempotent, with backoff and Retry-After), or
 * finished.  A 429 pauses the whole batch for as long as Signicat asks.  A
 * wait that would run past statement_timeout is not waited: the call
 * finishes with its answer, as a single call does.
 */
static void
after_answer(BulkBatch *batch, BulkCall *c, TimestampTz now)
{
	bool		answered = c->poll.done;
	long		status = answered ? c->poll.resp.status : 0;
	long		retry_after = answered ? c->poll.resp.retry_after : -1;
	TimestampTz not_before;

	if (answered && status == 401 && !c->refreshed && !batch->token_failed)
	{
		c->refreshed = true;
		signicat_stats_retry(signicat_stats_slot(c->call.op));
		/* sent with a token already replaced: just again; else a new one first */
		if (c->token_generation == batch->generation)
			batch->need_token = true;
		c->state = BULK_DUE;
		return;
	}
	if (!signicat_try_again(answered, status, c->poll.refused, c->poll.not_sent, c->call.idempotent) ||
		c->retries >= signicat_max_retries)
	{
		if (status == 429)
		{
			if (retry_after > signicat_max_retry_wait_ms / 1000)
				refuse_unsent(batch, psprintf("Signicat asks to retry only after %ld s, longer than signicat.max_retry_wait",
											  retry_after));
			else
				batch->pause_until = Max(batch->pause_until,
										 TimestampTzPlusMilliseconds(now, Max(retry_after, 1) * 1000));
		}
		finish_call(batch, c);
		return;
	}
	if (retry_after > 0 && retry_after > signicat_max_retry_wait_ms / 1000)
	{
		/* not waited: the row says when Signicat takes it (53400) */
		c->too_far = retry_after;
		if (status == 429)
			refuse_unsent(batch, psprintf("Signicat asks to retry only after %ld s, longer than signicat.max_retry_wait",
										  retry_after));
		finish_call(batch, c);
		return;
	}
	not_before = TimestampTzPlusMilliseconds(now, signicat_retry_delay_ms(c->retries + 1, retry_after));
	if (batch->deadline != 0 && not_before >= batch->deadline)
	{
		finish_call(batch, c);
		return;
	}
	c->retries++;
	c->not_before = not_before;
	c->state = BULK_WAITING;
	if (status == 429)
		batch->pause_until = Max(batch->pause_until, not_before);
	signicat_stats_retry(signicat_stats_slot(c->call.op));
}

typedef struct TokenFetch
{
	uint64	   *generation;
	char	   *token;
} TokenFetch;

static void
fetch_token(void *arg)
{
	TokenFetch *f = (TokenFetch *) arg;

	f->token = signicat_get_token(f->generation);
}

/*
 * An access token for the batch, replacing (and wiping) the one it had.
 * A failure is not raised, where the answers already in would go with the
 * statement: the calls keep their 401s (or, for the first token, are not
 * sent, with the reason in their rows).
 */
static bool
renew_token(BulkBatch *batch)
{
	TokenFetch	f = {&batch->generation, NULL};
	ErrorData  *edata;

	if (batch->token)
	{
		signicat_invalidate_token(batch->generation);
		explicit_bzero(batch->token, strlen(batch->token));
		batch->token = NULL;
	}
	if (!signicat_try_in_subtransaction(fetch_token, &f, &edata))
	{
		batch->token_failed = true;
		for (int i = 0; i < batch->n; i++)
		{
			BulkCall   *c = &batch->calls[i];

			/* a retry waiting for its time would go without a token: its last answer is its row */
			if (c->state == BULK_WAITING)
				finish_call(batch, c);
			if (c->state != BULK_DUE)
				continue;
			if (c->refreshed)
				finish_call(batch, c);	/* its 401 is its row */
			else
			{
				refuse_call(c, unpack_sql_state(edata->sqlerrcode), edata->message);
				c->detail = edata->detail;
				batch->left--;
			}
		}
		return false;
	}
	batch->token = f.token;
	return true;
}

/* Milliseconds from now to t (at least 1), at most limit. */
static long
ms_until(TimestampTz now, TimestampTz t, long limit)
{
	return Max(1, Min(limit, (long) ((t - now) / 1000) + 1));
}

/*
 * Drive the window's calls until each is finished or refused, at most
 * signicat.bulk_concurrency at once, oldest first.  A new token is fetched
 * when nothing is in flight (fetching it holds the poller, whose requests'
 * timeouts would run meanwhile).
 */
static void
drive_calls(BulkBatch *batch)
{
	if (!renew_token(batch))
		return;
	while (batch->left > 0)
	{
		TimestampTz now = GetCurrentTimestamp();
		SignicatPoll *done[SIGNICAT_POLL_MAX];
		int			ndone;
		long		wait_ms = BULK_WAIT_SLICE_MS;

		if (batch->need_token && signicat_poller_active() == 0)
		{
			batch->need_token = false;
			if (!renew_token(batch))
				continue;
		}
		if (batch->deadline != 0 && batch->pause_until >= batch->deadline)
			refuse_unsent(batch, "Signicat asks to slow down until after statement_timeout");
		for (int i = 0; i < batch->n && !batch->need_token && signicat_poller_capacity() > 0; i++)
		{
			BulkCall   *c = &batch->calls[i];

			if (c->state == BULK_WAITING && c->not_before <= now)
				c->state = BULK_DUE;
			if (c->state == BULK_WAITING)
				wait_ms = ms_until(now, c->not_before, wait_ms);
			else if (c->state == BULK_DUE && now >= batch->pause_until)
				start_call(batch, c);
		}
		if (batch->pause_until > now)
			wait_ms = ms_until(now, batch->pause_until, wait_ms);

		if (signicat_poller_active() == 0)
		{
			/* nothing in flight: retries (or a pause) wait for their time */
			if (batch->left > 0 && !batch->need_token)
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 wait_ms, signicat_wait_event(SIGNICAT_WAIT_RETRY_DELAY));
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		else
		{
			ndone = signicat_poller_wait((int) wait_ms, done);
			now = GetCurrentTimestamp();
			for (int d = 0; d < ndone; d++)
				after_answer(batch, (BulkCall *) done[d], now);
		}
		if (signicat_client_gone())
			signicat_client_lost();
	}
}

/*
 * Send every call of the window that is due; on return each has its final
 * answer (c->poll.done), transport failure, or reason not to be sent.
 * Whatever ends the statement meanwhile (a cancel, statement_timeout) gives
 * every transfer up.
 */
static void
send_calls(BulkCall *calls, int n, MemoryContext cxt)
{
	BulkBatch  *batch = palloc0(sizeof(BulkBatch));

	batch->calls = calls;
	batch->n = n;
	batch->cxt = cxt;
	for (int i = 0; i < n; i++)
		batch->left += calls[i].state == BULK_DUE ? 1 : 0;
	if (batch->left == 0)
		return;
	if (StatementTimeout > 0)
		batch->deadline = TimestampTzPlusMilliseconds(GetCurrentStatementStartTimestamp(),
													  StatementTimeout);

	signicat_require_secure_url(signicat_base_url, "signicat.base_url");
	signicat_wait_events_init();
	signicat_poller_configure(signicat_bulk_concurrency);
	PG_TRY();
	{
		drive_calls(batch);
	}
	PG_FINALLY();
	{
		signicat_poller_abort_all();
		if (batch->token)
			explicit_bzero(batch->token, strlen(batch->token));
	}
	PG_END_TRY();
}

/* ---------- the rows ---------- */

/* Bind and check one call's arguments, as its SQL function would (operation.c). */
static void
prepare_one(void *arg)
{
	BulkCall   *c = (BulkCall *) arg;

	signicat_prepare_from_json(c->b, c->args, &c->call, &c->dossier_id);
}

/* The result of a call whose request came back, or its error raised (and caught) as a single call raises it. */
static void
answer_one(void *arg)
{
	BulkCall   *c = (BulkCall *) arg;

	c->http_status = c->poll.done ? c->poll.resp.status : 0;
	c->result = signicat_poll_result(c->b, &c->call, &c->poll, c->too_far, &c->trace_id, &c->enrol);
}

/*
 * Enrol in signicat.watch what the window's creates made, in one statement
 * and one subtransaction (a subtransaction per create would take an xid and
 * a lock each).  Should it fail, the creates keep their results, and their
 * rows say why they are not followed.
 */
typedef struct Enrolment
{
	const SignicatWatchKind *kind;
	SignicatEnrolment *items;
	int			n;
} Enrolment;

static void
enrol(void *arg)
{
	Enrolment  *e = (Enrolment *) arg;

	signicat_watch_enroll_many(e->kind, e->items, e->n);
}

static void
enrol_window(BulkCall *calls, int n)
{
	Enrolment	e = {NULL, palloc0(sizeof(SignicatEnrolment) * n), 0};
	ErrorData  *edata;

	for (int i = 0; i < n; i++)
	{
		if (calls[i].enrol == NULL || calls[i].result == NULL)
			continue;
		e.kind = calls[i].enrol;
		e.items[e.n].answer = calls[i].result;
		e.items[e.n].dossier_id = calls[i].dossier_id;
		e.n++;
	}
	if (e.n == 0 || signicat_try_in_subtransaction(enrol, &e, &edata))
		return;
	for (int i = 0; i < n; i++)
	{
		BulkCall   *c = &calls[i];

		if (c->enrol == NULL || c->result == NULL)
			continue;
		c->sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
		c->message = psprintf("created, but not enrolled in signicat.watch: %s", edata->message);
		c->detail = edata->detail;
	}
}

static void
put_row(ReturnSetInfo *rsinfo, int ordinality, BulkCall *c)
{
	Datum		values[8];
	bool		nulls[8] = {false};

	values[0] = Int32GetDatum(ordinality);
	values[1] = c->args ? JsonbPGetDatum(c->args) : (Datum) 0;
	nulls[1] = c->args == NULL;
	values[2] = c->result ? JsonbPGetDatum(c->result) : (Datum) 0;
	nulls[2] = c->result == NULL;
	values[3] = Int32GetDatum((int32) c->http_status);
	nulls[3] = c->http_status == 0;
	values[4] = c->sqlstate ? CStringGetTextDatum(c->sqlstate) : (Datum) 0;
	nulls[4] = c->sqlstate == NULL;
	values[5] = c->message ? CStringGetTextDatum(c->message) : (Datum) 0;
	nulls[5] = c->message == NULL;
	values[6] = c->detail ? CStringGetTextDatum(c->detail) : (Datum) 0;
	nulls[6] = c->detail == NULL;
	values[7] = c->trace_id ? CStringGetTextDatum(c->trace_id) : (Datum) 0;
	nulls[7] = c->trace_id == NULL;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(signicat_call_many);

/*
 * signicat.call_many(operation text, calls jsonb[]) RETURNS TABLE
 * (ordinality int, arguments jsonb, result jsonb, http_status int,
 * sqlstate text, message text, detail text, trace_id text).
 */
Datum
signicat_call_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *operation;
	ArrayType  *array;
	Datum	   *elems;
	bool	   *elemnulls;
	int			n;
	SignicatBoundOperation *b;
	MemoryContext window_cxt;
	MemoryContext parse_cxt;
	MemoryContext old;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("signicat.call_many: operation is required")));
	operation = text_to_cstring(PG_GETARG_TEXT_PP(0));
	b = signicat_bind_json_operation("signicat.call_many", operation, GetUserId(), "row by row");

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(1))
		return (Datum) 0;
	array = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("signicat.call_many: calls must be a one-dimensional array")));
	deconstruct_array(array, JSONBOID, -1, false, TYPALIGN_INT, &elems, &elemnulls, &n);

	/* a create whose result would be enrolled must be able to write: before anything is sent */
	signicat_watch_check_writable(operation);

	window_cxt = AllocSetContextCreate(CurrentMemoryContext, "signicat call_many window",
									   ALLOCSET_DEFAULT_SIZES);
	/* (not a child of the window's: a reset deletes its children) */
	parse_cxt = AllocSetContextCreate(CurrentMemoryContext, "signicat call_many answer",
									  ALLOCSET_DEFAULT_SIZES);
	for (int start = 0; start < n; start += BULK_WINDOW)
	{
		int			count = Min(BULK_WINDOW, n - start);
		BulkCall   *calls;

		MemoryContextReset(window_cxt);
		old = MemoryContextSwitchTo(window_cxt);
		calls = palloc0(sizeof(BulkCall) * count);
		for (int i = 0; i < count; i++)
		{
			BulkCall   *c = &calls[i];

			CHECK_FOR_INTERRUPTS();
			c->b = b;
			c->too_far = -1;
			c->args = elemnulls[start + i] ? NULL : DatumGetJsonbP(elems[start + i]);
			c->state = row_try(prepare_one, c) ? BULK_DUE : BULK_REFUSED;
		}
		send_calls(calls, count, window_cxt);
		for (int i = 0; i < count; i++)
		{
			BulkCall   *c = &calls[i];

			CHECK_FOR_INTERRUPTS();
			if (c->state != BULK_FINISHED)
				continue;
			/* parsing's garbage goes; the result is kept until the row is out */
			MemoryContextSwitchTo(parse_cxt);
			(void) row_try(answer_one, c);
			MemoryContextSwitchTo(window_cxt);
			if (c->result)
				c->result = DatumGetJsonbP(datumCopy(JsonbPGetDatum(c->result), false, -1));
			if (c->sqlstate)
			{
				c->sqlstate = pstrdup(c->sqlstate);
				c->message = c->message ? pstrdup(c->message) : NULL;
				c->detail = c->detail ? pstrdup(c->detail) : NULL;
			}
			if (c->trace_id)
				c->trace_id = pstrdup(c->trace_id);
			MemoryContextReset(parse_cxt);
			if (c->poll.resp.body)
				pfree(c->poll.resp.body);
			c->poll.resp.body = NULL;
		}
		enrol_window(calls, count);
		for (int i = 0; i < count; i++)
			put_row(rsinfo, start + i + 1, &calls[i]);
		MemoryContextSwitchTo(old);
	}
	MemoryContextDelete(parse_cxt);
	MemoryContextDelete(window_cxt);
	return (Datum) 0;
}

/* signicat.bulk_concurrency */
void
signicat_bulk_init(void)
{
	DefineCustomIntVariable("signicat.bulk_concurrency",
							"Most requests signicat.call_many has in flight at once (and connections it opens).",
							"With HTTP/2, requests share connections where the server allows it.",
							&signicat_bulk_concurrency, 16, 1, 256,
							PGC_USERSET, 0, NULL, NULL, NULL);
}
