/*-------------------------------------------------------------------------
 * errors.c
 *	  Map Signicat's answers to SQL errors.
 *
 * Every non-2xx answer becomes ereport(ERROR) with an SQLSTATE chosen by the
 * HTTP status (the table is in the README), the problem's title as message,
 * its detail (and field-level validation errors) as detail, and the HTTP
 * status plus Signicat traceId as context, so callers can tell a bad request
 * from an outage and support can find the request at Signicat.  A body that
 * is not problem JSON (an HTML error page from a proxy) is described by size
 * and type only: it is never echoed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "signicat.h"

/* The SQLSTATE of an error answer's HTTP status (the table in wire.c; README). */
int
signicat_sqlstate_for_status(long status)
{
	const char *s = wire_sqlstate_for_status(status);

	return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

/*
 * The problem-details object of an error answer, or NULL.  A malformed one
 * must not hide the HTTP status, so it is parsed without raising errors.
 */
static Jsonb *
parse_problem(const SignicatHttpResponse *resp)
{
	Jsonb	   *problem;

	if (!wire_is_json_media_type(resp->content_type) || resp->body_len == 0)
		return NULL;
	problem = signicat_try_parse_json(resp->body, resp->body_len);
	return problem && JB_ROOT_IS_OBJECT(problem) ? problem : NULL;
}

/* Append one "field: message" line unless the detail already says it. */
static void
flush_line(StringInfo detail, StringInfo line)
{
	if (line->len > 0 && strstr(detail->data, line->data) == NULL)
		appendStringInfo(detail, "%s%s", detail->len ? "\n" : "", line->data);
	resetStringInfo(line);
}

/*
 * ASP.NET-style validation problems carry {"errors": {"field": ["msg"]}};
 * append them to the detail so the message names the field.
 */
static void
append_validation_errors(StringInfo detail, Jsonb *problem)
{
	JsonbValue *errors;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			level = 0;
	StringInfoData line;

	if (problem == NULL)
		return;
	initStringInfo(&line);
	errors = getKeyJsonValueFromContainer(&problem->root, "errors", strlen("errors"), NULL);
	if (errors == NULL || errors->type != jbvBinary)
		return;

	it = JsonbIteratorInit(errors->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			level++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			level--;
		else if (tok == WJB_KEY && level == 1)
		{
			flush_line(detail, &line);
			appendStringInfo(&line, "%.*s:", v.val.string.len, v.val.string.val);
		}
		else if ((tok == WJB_ELEM || tok == WJB_VALUE) && v.type == jbvString)
			appendStringInfo(&line, " %.*s", v.val.string.len, v.val.string.val);
	}
	flush_line(detail, &line);
}

/* The traceId of a problem answer, or NULL. */
char *
signicat_trace_id(const SignicatHttpResponse *resp)
{
	return signicat_json_string(parse_problem(resp), "traceId");
}

/* Raise the error for a non-2xx answer. */
void
signicat_report_http_error(const SignicatCall *call, const SignicatHttpResponse *resp)
{
	Jsonb	   *problem = parse_problem(resp);
	char	   *title;
	char	   *trace_id;
	char	   *code;
	StringInfoData detail;
	const WireStatusRule *rule = wire_status_rule(resp->status);
	int			sqlstate = signicat_sqlstate_for_status(resp->status);
	const char *hint = NULL;

	title = signicat_json_string(problem, "title");
	trace_id = signicat_json_string(problem, "traceId");
	code = signicat_json_string(problem, "code");

	initStringInfo(&detail);
	{
		char	   *d = signicat_json_string(problem, "detail");

		if (d)
			appendStringInfoString(&detail, d);
	}
	append_validation_errors(&detail, problem);
	if (problem == NULL && resp->body_len > 0)
		appendStringInfo(&detail, "The answer was %zu bytes of %s, not problem details.",
						 resp->body_len, resp->content_type ? resp->content_type : "unknown type");

	if (code && strcmp(code, "account_id_missing") == 0)
		sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;

	/* the hint: the problem's own case first, then Retry-After, then the status's */
	if (code && strcmp(code, "account_id_missing") == 0)
		hint = "Set signicat.account_id (for example SET LOCAL signicat.account_id = '...') to choose the Signicat account.";
	else if (resp->retry_after >= 0)
		hint = psprintf("Signicat asks to retry after %ld seconds.", resp->retry_after);
	else if (rule && rule->hint)
		hint = rule->hint;

	ereport(ERROR,
			(errcode(sqlstate),
			 title ? errmsg("%s", title) :
			 errmsg("Signicat answered HTTP %ld", resp->status),
			 detail.len ? errdetail("%s", detail.data) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errcontext("HTTP %ld from Signicat%s%s%s%s", resp->status,
						code ? ", problem code " : "", code ? code : "",
						trace_id ? ", traceId " : "", trace_id ? trace_id : "")));
	pg_unreachable();
}

/* One line describing a non-2xx answer, for the worker's last_error. */
char *
signicat_http_error_text(const SignicatHttpResponse *resp)
{
	Jsonb	   *problem = parse_problem(resp);
	char	   *title;
	char	   *trace_id;

	title = signicat_json_string(problem, "title");
	trace_id = signicat_json_string(problem, "traceId");
	return psprintf("HTTP %ld%s%s%s%s%s", resp->status,
					title ? ": " : "", title ? title : "",
					trace_id ? " (traceId " : "", trace_id ? trace_id : "",
					trace_id ? ")" : "");
}

PG_FUNCTION_INFO_V1(signicat_http_status_rules);

/*
 * signicat.http_status_rules(): the table of wire.c, one row per rule, so
 * that documentation and tests read what the code decides.
 */
Datum
signicat_http_status_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < wire_nstatus_rules; i++)
	{
		const WireStatusRule *r = &wire_status_rules[i];
		Datum		values[7];
		bool		nulls[7] = {false};

		/* the catch-all rule covers what no HTTP status is: show it as 100..599 */
		values[0] = Int32GetDatum((int32) Max(r->low, 100));
		values[1] = Int32GetDatum((int32) Min(r->high, 599));
		values[2] = CStringGetTextDatum(r->sqlstate);
		values[3] = CStringGetTextDatum(signicat_error_class_name(r->error_class));
		values[4] = BoolGetDatum(r->retryable);
		values[5] = BoolGetDatum(r->gone);
		if (r->hint)
			values[6] = CStringGetTextDatum(r->hint);
		else
			nulls[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---------- errors of one call as values ---------- */

/*
 * Errors that are the statement's, not one call's: a cancel or
 * statement_timeout, a shutdown, lack of memory or disk, an internal error.
 */
static bool
error_ends_statement(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_INTERNAL_ERROR ||
		sqlerrcode == ERRCODE_OUT_OF_MEMORY || sqlerrcode == ERRCODE_DISK_FULL;
}

/*
 * Run fn(arg) in a subtransaction, its allocations in the caller's memory
 * context.  False when it raised an error that is its own (*error gets it);
 * the statement's own errors are raised on.
 */
bool
signicat_try_in_subtransaction(void (*fn) (void *arg), void *arg, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (error_ends_statement(edata->sqlerrcode))
			ReThrowError(edata);
		*error = edata;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}
