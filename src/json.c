/*-------------------------------------------------------------------------
 * json.c
 *	  The JSON of Signicat's answers, beneath everything that reads one
 *	  (the request core, errors, auth, the worker): parsing what a server
 *	  sends, which must never crash on it (malformed, truncated or non-UTF-8
 *	  bodies are clean errors), a string member of an object, and the
 *	  envelope some operations wrap their answer in.  PostgreSQL's own JSON
 *	  parser (jsonb_in) does the parsing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "signicat.h"

/*
 * Parse a UTF-8 JSON text into jsonb, or return NULL if it is not valid.
 * The text must be NUL-terminated at len.  One pass: jsonb_in's data errors
 * (class 22) mean "not valid JSON" and are caught; jsonb_in has no side
 * effects, so nothing needs undoing.  Anything else is raised.
 */
Jsonb *
signicat_try_parse_json(const char *data, size_t len)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *text;
	Jsonb	   *volatile result = NULL;

	/* also refuses NUL bytes, so the text below ends where the body does */
	if (len == 0 || len >= MaxAllocSize ||
		!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
		return NULL;
	text = pg_any_to_server(data, (int) len, PG_UTF8);
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		FreeErrorData(edata);
		result = NULL;
	}
	PG_END_TRY();
	return result;
}

Jsonb *
signicat_parse_json(const char *data, size_t len, const char *what)
{
	Jsonb	   *result = signicat_try_parse_json(data, len);

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat sent malformed JSON in the %s", what),
				 errdetail("%zu bytes could not be parsed as UTF-8 JSON.", len)));
	return result;
}

/* A string member of a JSON object, palloc'd; NULL if absent, not a string or empty. */
char *
signicat_json_string(Jsonb *obj, const char *name)
{
	JsonbValue *v;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	v = getKeyJsonValueFromContainer(&obj->root, name, strlen(name), NULL);
	if (v == NULL || v->type != jbvString || v->val.string.len == 0)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The answer without its envelope ({"data": ...}) when the operation has one. */
Jsonb *
signicat_unwrap_envelope(const SignicatOperation *op, Jsonb *answer)
{
	JsonbValue *inner;

	if (answer == NULL || op->envelope == NULL || !JB_ROOT_IS_OBJECT(answer))
		return answer;
	inner = getKeyJsonValueFromContainer(&answer->root, op->envelope,
										 strlen(op->envelope), NULL);
	return inner ? JsonbValueToJsonb(inner) : answer;
}
