/*-------------------------------------------------------------------------
 * json.c
 *	  The JSON of Signicat's answers, beneath everything that reads one
 *	  (the request core, errors, auth, the worker): parsing what a server
 *	  sends, which must never crash on it (malformed, truncated or non-UTF-8
 *	  bodies are clean errors, and so are characters the database cannot
 *	  store, each with its own SQLSTATE), a string member of an object, and the
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
 * jsonb_in of a UTF-8 text already checked to be UTF-8 without NUL bytes,
 * in the database encoding; NULL with *error when the conversion or jsonb_in
 * raised a data error (class 22).  Both have no side effects, so nothing
 * needs undoing.  Anything else is raised.
 */
static Jsonb *
jsonb_of_utf8(const char *json, int len, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *volatile result = NULL;

	*error = NULL;
	PG_TRY();
	{
		char	   *text = pg_any_to_server(json, len, PG_UTF8);

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
		*error = edata;
	}
	PG_END_TRY();
	return result;
}

/*
 * Decode a UTF-8 JSON text into jsonb in the database encoding.  Returns the
 * jsonb, or NULL with *outcome saying why not:
 *   SIGNICAT_JSON_MALFORMED   not UTF-8, or not JSON (jsonb_in's syntax errors)
 *   SIGNICAT_JSON_UNSTORABLE  well-formed, but holding a character the
 *                             database cannot store: one its encoding lacks
 *                             (raw, or as a \u escape), or \u0000
 * and *detail (when not NULL) what went wrong.  A UTF-8 byte order
 * mark before the text is ignored, as RFC 8259 lets a parser do.
 */
Jsonb *
signicat_json_decode(const char *data, size_t len, SignicatJsonOutcome *outcome, char **detail)
{
	size_t		bom = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	Jsonb	   *result;
	ErrorData  *error;

	*outcome = SIGNICAT_JSON_MALFORMED;
	if (detail)
		*detail = NULL;
	/* also refuses NUL bytes, so the text converted ends where the body does */
	if (len - bom == 0 || len - bom >= MaxAllocSize ||
		!pg_verify_mbstr(PG_UTF8, data + bom, (int) (len - bom), true))
	{
		if (detail)
			*detail = psprintf("%zu bytes could not be parsed as UTF-8 JSON.", len);
		return NULL;
	}
	result = jsonb_of_utf8(data + bom, (int) (len - bom), &error);
	if (result != NULL)
	{
		*outcome = SIGNICAT_JSON_OK;
		return result;
	}
	/*
	 * The parser's words say which character could not be stored; a syntax
	 * error's would quote the answer (personal data, perhaps): only its size.
	 */
	if (error->sqlerrcode == ERRCODE_UNTRANSLATABLE_CHARACTER ||
		error->sqlerrcode == ERRCODE_CHARACTER_NOT_IN_REPERTOIRE)
	{
		*outcome = SIGNICAT_JSON_UNSTORABLE;
		if (detail)
			*detail = error->detail ? psprintf("%s: %s", error->message, error->detail) :
				pstrdup(error->message);
	}
	else if (detail)
		*detail = psprintf("%zu bytes could not be parsed as UTF-8 JSON.", len);
	FreeErrorData(error);
	return NULL;
}

/* The jsonb of a JSON text, or NULL whatever kept it from being one. */
Jsonb *
signicat_try_parse_json(const char *data, size_t len)
{
	SignicatJsonOutcome outcome;

	return signicat_json_decode(data, len, &outcome, NULL);
}

/*
 * The jsonb of the `what` ("answer", "list") of operation op_id, or an
 * error: 22P05 for a character the database cannot store, 08P01 for
 * anything that is not JSON.
 */
Jsonb *
signicat_parse_json(const char *data, size_t len, const char *op_id, const char *what)
{
	SignicatJsonOutcome outcome;
	char	   *detail;
	Jsonb	   *result = signicat_json_decode(data, len, &outcome, &detail);

	if (result == NULL && outcome == SIGNICAT_JSON_UNSTORABLE)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("Signicat's %s to %s holds a character that database encoding \"%s\" cannot store",
						what, op_id, GetDatabaseEncodingName()),
				 errdetail("%s", detail)));
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat sent malformed JSON in the %s to %s", what, op_id),
				 errdetail("%s", detail)));
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
