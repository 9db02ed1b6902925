/*-------------------------------------------------------------------------
 * request.c
 *	  The one request path every operation goes through: build the URL from
 *	  signicat.base_url, attach the access token and account, send, refresh
 *	  the token once on 401, retry idempotent requests on transient failures
 *	  (never past statement_timeout), count it in the statistics, and turn
 *	  non-2xx answers into SQL errors.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "signicat.h"

char	   *signicat_base_url = NULL;
char	   *signicat_account_id = NULL;
int			signicat_max_retries = 2;
int			signicat_max_retry_wait_ms = 60000;

/* A wait in seconds, readable however long: "90 s", "7200 s (2.0 h)", "2303000000 s (73.0 years)". */
static char *
duration_text(long s)
{
	if (s < 120)
		return psprintf("%ld s", s);
	if (s < 2 * 3600)
		return psprintf("%ld s (%ld min)", s, s / 60);
	if (s < 2 * 86400)
		return psprintf("%ld s (%.1f h)", s, s / 3600.0);
	if (s < 2 * 365 * 86400L)
		return psprintf("%ld s (%.0f days)", s, s / 86400.0);
	return psprintf("%ld s (%.1f years)", s, s / (365.25 * 86400.0));
}

/* Every error raised during a call names the operation (never its values). */
static void
call_error_context(void *arg)
{
	const SignicatCall *call = (const SignicatCall *) arg;

	errcontext("Signicat operation %s (%s %s)", call->opid, call->method,
			   call->path_template);
}

/*
 * Expand a path template (wire_expand_path): every {name} is replaced by
 * value_of(name), escaped as one path segment, dots included, so no value
 * can change the path.  value_of may raise errors: it runs before anything
 * is malloc'd.
 */
char *
signicat_expand_path(const char *template,
					 const char *(*value_of) (const char *name, void *arg), void *arg)
{
	const char *names[16] = {NULL};
	const char *values[16] = {NULL};
	List	   *params = signicat_path_parameters(template);
	int			n = 0;
	char	   *path;
	char	   *result;
	ListCell   *lc;

	if (list_length(params) > (int) lengthof(names))
		elog(ERROR, "invalid path template \"%s\"", template);
	foreach(lc, params)
	{
		names[n] = lfirst(lc);
		values[n] = value_of(names[n], arg);
		n++;
	}
	path = wire_expand_path(template, names, values, n);
	if (path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a value of the path \"%s\" is missing or empty", template)));
	result = pstrdup(path);
	free(path);
	return result;
}

/*
 * The {name} placeholders of a path template, in order (a List of names).
 */
List *
signicat_path_parameters(const char *template)
{
	List	   *names = NIL;

	for (const char *p = strchr(template, '{'); p; p = strchr(p + 1, '{'))
	{
		const char *end = strchr(p, '}');

		if (end == NULL)
			elog(ERROR, "invalid path template \"%s\"", template);
		names = lappend(names, pnstrdup(p + 1, end - p - 1));
	}
	return names;
}

/*
 * Why path cannot be sent as an API path, or NULL: it must start with "/",
 * have no empty, "." or ".." segment, and only characters allowed unescaped
 * in a path ("%" too, for a path given whole to signicat.request).  A
 * template (a correction) has whole segments "{name}" (letters, digits,
 * "_") instead of "%".  *hint gets advice, or NULL.
 */
char *
signicat_path_problem(const char *path, bool template, const char **hint)
{
	const char *seg;

	*hint = NULL;
	if (path[0] != '/')
		return pstrdup("must start with \"/\"");
	for (seg = path + 1;; seg = strchr(seg, '/') + 1)
	{
		size_t		len = strcspn(seg, "/");

		if (len == 0 || (len == 1 && seg[0] == '.') ||
			(len == 2 && seg[0] == '.' && seg[1] == '.'))
		{
			/* (a raw path may end with "/"; a template is one of Signicat's paths, which never do) */
			if (!(len == 0 && seg[0] == '\0' && !template))
				return pstrdup("must not contain empty, \".\" or \"..\" segments");
		}
		if (template && len >= 3 && seg[0] == '{' && seg[len - 1] == '}')
		{
			for (size_t i = 1; i < len - 1; i++)
				if (!(isalnum((unsigned char) seg[i]) || seg[i] == '_'))
					return psprintf("has a parameter name that is not letters, digits and \"_\": \"%.*s\"",
									(int) len, seg);
		}
		else
		{
			for (size_t i = 0; i < len; i++)
				if (!(isalnum((unsigned char) seg[i]) || strchr("-._~!$&'()*+,;=:@", seg[i]) ||
					  (!template && seg[i] == '%')))
				{
					*hint = template ? "A parameter is a whole segment: /{name}/."
						: "Escape values in the path, and give query parameters in the query argument.";
					return psprintf("contains a character that is not allowed: \"%c\"", seg[i]);
				}
		}
		if (seg[len] == '\0')
			break;
	}
	return NULL;
}

/* Refuse a path signicat_path_problem finds fault with; what names it. */
void
signicat_check_path(const char *path, bool template, const char *what)
{
	const char *hint;
	char	   *problem = signicat_path_problem(path, template, &hint);

	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s", what, problem),
				 hint ? errhint("%s", hint) : 0));
}

/* Whether method is one of those Signicat's APIs use. */
bool
signicat_method_known(const char *method)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

	for (size_t i = 0; i < lengthof(methods); i++)
		if (strcmp(methods[i], method) == 0)
			return true;
	return false;
}

/* Refuse an HTTP method other than those Signicat's APIs use. */
void
signicat_check_method(const char *method, const char *what)
{
	if (!signicat_method_known(method))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be GET, POST, PUT, PATCH or DELETE, not \"%s\"", what, method)));
}

/*
 * The URL of an API path (expanded and escaped) and query: signicat.base_url
 * without its trailing slashes, the path, "?" and the query when there is
 * one.  The SQL path and the worker both build their URLs here.
 */
char *
signicat_api_url(const char *path, const char *query)
{
	const char *base = signicat_base_url ? signicat_base_url : "";
	int			baselen = strlen(base);

	while (baselen > 0 && base[baselen - 1] == '/')
		baselen--;
	return psprintf("%.*s%s%s%s", baselen, base, path,
					query && query[0] ? "?" : "", query ? query : "");
}

/* Append name=value to a query string, both escaped. */
void
signicat_append_query(StringInfo query, const char *name, const char *value)
{
	appendStringInfo(query, "%s%s=%s", query->len ? "&" : "",
					 signicat_url_escape(name, false),
					 signicat_url_escape(value, false));
}

/* Is this HTTP status worth another try of an idempotent request? (wire.c's table) */
static bool
retryable_status(long status)
{
	const WireStatusRule *rule = wire_status_rule(status);

	return rule && rule->retryable;
}

/*
 * Is a try that ended so worth another (retries left aside)?  An answer:
 * if the request is idempotent and the status retryable.  No answer: if
 * it was not refused (too large), and is idempotent or never reached the
 * server.
 */
bool
signicat_try_again(bool answered, long status, bool refused, bool not_sent, bool idempotent)
{
	if (answered)
		return idempotent && retryable_status(status);
	return !refused && (idempotent || not_sent);
}

/* how often a wait before a retry looks whether the client is still there */
#define RETRY_WAIT_SLICE_MS 1000

/*
 * Retry-After asks for a wait longer than signicat.max_retry_wait (a rate
 * limit for the day, a maintenance window, a date years ahead): that wait is
 * not waited.  53400 at once, saying when Signicat will take the call.
 */
void
signicat_report_retry_too_far(const SignicatCall *call, const SignicatHttpResponse *resp, long retry_after_s)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("Signicat asks to retry %s only after %s, longer than signicat.max_retry_wait (%d ms)",
					call->opid, duration_text(retry_after_s), signicat_max_retry_wait_ms),
			 errdetail("%s", signicat_http_error_text(resp)),
			 errhint("Call again later, or raise signicat.max_retry_wait to wait in the call.")));
}

/*
 * Wait before retry `attempt` (1, 2, ...): exponential backoff with full
 * jitter from 200 ms, at least what Retry-After asks.  Returns false when
 * the wait would run past statement_timeout: then the error is reported
 * instead.  The wait ends early for a cancel and when the client has gone
 * (core's "connection to client lost", as client_connection_check_interval
 * would say).
 */
long
signicat_retry_delay_ms(int attempt, long retry_after_s)
{
	double		cap = 200.0 * pow(2.0, attempt - 1);
	long		delay_ms = (long) (cap * pg_prng_double(&pg_global_prng_state));

	if (retry_after_s > 0)
		delay_ms = Max(delay_ms, retry_after_s * 1000);
	return delay_ms;
}

static bool
wait_before_retry(int attempt, long retry_after_s)
{
	long		delay_ms = signicat_retry_delay_ms(attempt, retry_after_s);

	if (StatementTimeout > 0)
	{
		TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentStatementStartTimestamp(),
														   StatementTimeout);

		if (TimestampDifferenceExceeds(GetCurrentTimestamp(), deadline, (int) Min(delay_ms, INT_MAX)) == false)
			return false;
	}
	/* in slices of at most a second, to look at the client in between */
	while (delay_ms > 0)
	{
		TimestampTz start = GetCurrentTimestamp();

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(delay_ms, RETRY_WAIT_SLICE_MS),
						 signicat_wait_event(SIGNICAT_WAIT_RETRY_DELAY));
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (signicat_client_gone())
			signicat_client_lost();
		delay_ms -= TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
	}
	return true;
}

/* One try with the current token; the token copy is wiped afterwards. */
static bool
send_once(SignicatHttpRequest *req, SignicatHttpResponse *resp, SignicatTransportError *err,
		  uint64 *generation)
{
	char	   *token = signicat_get_token(generation);
	volatile bool answered = false;

	req->bearer = token;
	memset(resp, 0, sizeof(*resp));
	PG_TRY();
	{
		answered = signicat_http_send(req, resp, err);
	}
	PG_FINALLY();
	{
		explicit_bzero(token, strlen(token));
		req->bearer = NULL;
	}
	PG_END_TRY();
	pfree(token);
	return answered;
}

/*
 * Send the request with a fresh-enough token, answer in *resp.  A 401 gets
 * one new token and one more try (the request was refused, not processed).
 * Idempotent requests are sent again, up to signicat.max_retries times, after
 * a failure to connect or a lost connection, a timeout, or a status the
 * table in wire.c calls retryable (408, 429, 502, 503, 504); others only when
 * they cannot have reached the server.  Returns false
 * with *err for a transport failure that is final.  A retry that Retry-After
 * would put past signicat.max_retry_wait is not made: *too_far says how long
 * it asked for (else -1).
 */
static bool
send_with_retries(const SignicatCall *call, SignicatHttpRequest *req,
				  SignicatHttpResponse *resp, SignicatTransportError *err, int slot,
				  long *too_far)
{
	bool		refreshed = false;
	int			retries = 0;

	*too_far = -1;

	for (;;)
	{
		uint64		generation;
		bool		answered = send_once(req, resp, err, &generation);
		long		retry_after = -1;
		const char *why;

		/* a token revoked or expired early: fetch a new one, once */
		if (answered && resp->status == 401 && !refreshed)
		{
			refreshed = true;
			signicat_invalidate_token(generation);
			signicat_stats_retry(slot);
			ereport(DEBUG1,
					(errmsg_internal("signicat: access token refused for %s, fetching a new one",
									 call->opid)));
			continue;
		}

		if (!signicat_try_again(answered, answered ? resp->status : 0, err->refused, err->not_sent,
								call->idempotent))
			return answered;
		if (answered)
		{
			why = psprintf("HTTP %ld", resp->status);
			retry_after = resp->retry_after;
		}
		else
			why = err->message;

		if (retries >= signicat_max_retries)
			return answered;
		if (retry_after > 0 && retry_after > signicat_max_retry_wait_ms / 1000)
		{
			/* not waited: the caller counts the answer, then reports 53400 */
			*too_far = retry_after;
			return answered;
		}
		if (!wait_before_retry(retries + 1, retry_after))
			return answered;
		retries++;
		signicat_stats_retry(slot);
		ereport(DEBUG1,
				(errmsg_internal("signicat: %s %s failed (%s), retry %d of %d",
								 call->method, call->path_template, why, retries,
								 signicat_max_retries)));
	}
}

/* The HTTP request of a call, without its token (the single call's and call_many's). */
void
signicat_call_request(const SignicatCall *call, SignicatHttpRequest *req)
{
	memset(req, 0, sizeof(*req));
	req->method = call->method;
	req->url = signicat_api_url(call->path, call->query);
	req->body = call->body;
	req->body_len = call->body_len;
	req->content_type = call->content_type;
	req->parts = call->parts;
	req->nparts = call->nparts;
	req->accept = call->accept ? call->accept : "application/json";
	req->account_id = signicat_account_id;
	/* libcurl silently resends a request whose reused connection died: not a create */
	req->fresh_connection = !call->idempotent;
}

void
signicat_execute(const SignicatCall *call, SignicatHttpResponse *resp)
{
	ErrorContextCallback errcb;
	SignicatHttpRequest req;
	SignicatTransportError err;
	int			slot = signicat_stats_slot(call->op);
	instr_time	start;
	instr_time	elapsed;
	bool		answered;
	long		too_far;

	errcb.callback = call_error_context;
	errcb.arg = (void *) call;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	signicat_require_secure_url(signicat_base_url, "signicat.base_url");
	signicat_wait_events_init();
	signicat_call_request(call, &req);

	INSTR_TIME_SET_CURRENT(start);
	PG_TRY();
	{
		answered = send_with_retries(call, &req, resp, &err, slot, &too_far);
	}
	PG_CATCH();
	{
		/* a cancel, or no token */
		INSTR_TIME_SET_CURRENT(elapsed);
		INSTR_TIME_SUBTRACT(elapsed, start);
		signicat_stats_record_answer(slot, NULL, INSTR_TIME_GET_MICROSEC(elapsed), call->body_len);
		PG_RE_THROW();
	}
	PG_END_TRY();
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	signicat_stats_record_answer(slot, answered ? resp : NULL, INSTR_TIME_GET_MICROSEC(elapsed),
								 call->body_len);

	if (!answered)
		signicat_report_transport_error(&err);
	if (too_far > 0)
		signicat_report_retry_too_far(call, resp, too_far);
	if (resp->status < 200 || resp->status > 299)
		signicat_report_http_error(call, resp);

	error_context_stack = errcb.previous;
}

/* Where requests go, for which account, and how often they are tried. */
void
signicat_request_init(void)
{
	DefineCustomStringVariable("signicat.base_url",
							   "Base URL of the Signicat API; paths carry the API prefix (/assure, ...).",
							   NULL, &signicat_base_url, "https://api.signicat.com",
							   PGC_SUSET, 0, signicat_check_url, NULL, NULL);
	DefineCustomStringVariable("signicat.account_id",
							   "Signicat account to act on, sent as the Signicat-AccountId header when set.",
							   "Can be set per session or per transaction (SET LOCAL).",
							   &signicat_account_id, "",
							   PGC_USERSET, 0, signicat_check_header_value, NULL, NULL);
	DefineCustomIntVariable("signicat.max_retry_wait",
							"The longest wait before a retry that Retry-After may ask for.",
							"A longer one is not waited: the call fails at once (53400).",
							&signicat_max_retry_wait_ms, 60000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.max_retries",
							"Retries of an idempotent request after a lost connection, a timeout, 408, 429, 502, 503 or 504.",
							"Never past statement_timeout; POST requests are retried only when they cannot have reached Signicat.",
							&signicat_max_retries, 2, 0, 10,
							PGC_USERSET, 0, NULL, NULL, NULL);
}
