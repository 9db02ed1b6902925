/*-------------------------------------------------------------------------
 * request.c
 *	  The one request path every operation goes through: build the URL from
 *	  signicat.base_url, attach the access token and account, send, refresh
 *	  the token once on 401, and turn non-2xx answers into SQL errors.  Also
 *	  the JSON parsing of answers, which must never crash on what a server
 *	  sends: malformed, truncated or non-UTF-8 bodies are clean errors.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "signicat.h"

/* Every error raised during a call names the operation (never its values). */
static void
call_error_context(void *arg)
{
	const SignicatCall *call = (const SignicatCall *) arg;

	errcontext("Signicat operation %s (%s %s)", call->opid, call->method,
			   call->path_template);
}

/*
 * Expand a path template: every {name} is replaced by value_of(name), escaped
 * as one path segment (dots included), so no value can change the path.
 */
char *
signicat_expand_path(const char *template,
					 const char *(*value_of) (const char *name, void *arg), void *arg)
{
	StringInfoData path;

	initStringInfo(&path);
	for (const char *p = template; *p; p++)
	{
		const char *end;

		if (*p != '{' || (end = strchr(p, '}')) == NULL)
		{
			appendStringInfoChar(&path, *p);
			continue;
		}
		appendStringInfoString(&path,
							   signicat_url_escape(value_of(pnstrdup(p + 1, end - p - 1), arg), true));
		p = end;
	}
	return path.data;
}

/* Append name=value to a query string, both escaped. */
void
signicat_append_query(StringInfo query, const char *name, const char *value)
{
	appendStringInfo(query, "%s%s=%s", query->len ? "&" : "",
					 signicat_url_escape(name, false),
					 signicat_url_escape(value, false));
}

void
signicat_execute(const SignicatCall *call, SignicatHttpResponse *resp)
{
	ErrorContextCallback errcb;
	SignicatHttpRequest req;
	const char *base = signicat_base_url ? signicat_base_url : "";
	int			baselen = strlen(base);
	char	   *url;

	errcb.callback = call_error_context;
	errcb.arg = (void *) call;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	while (baselen > 0 && base[baselen - 1] == '/')
		baselen--;
	url = psprintf("%.*s%s%s%s", baselen, base, call->path,
				   call->query && call->query[0] ? "?" : "",
				   call->query ? call->query : "");

	memset(&req, 0, sizeof(req));
	req.method = call->method;
	req.url = url;
	req.body = call->body;
	req.body_len = call->body_len;
	req.content_type = call->content_type;
	req.parts = call->parts;
	req.nparts = call->nparts;
	req.accept = call->accept ? call->accept : "application/json";
	req.account_id = signicat_account_id;

	for (int attempt = 0;; attempt++)
	{
		uint64		generation;
		char	   *token = signicat_get_token(&generation);

		req.bearer = token;
		memset(resp, 0, sizeof(*resp));
		PG_TRY();
		{
			signicat_http_perform(&req, resp);
		}
		PG_FINALLY();
		{
			explicit_bzero(token, strlen(token));
		}
		PG_END_TRY();
		pfree(token);

		/* a token revoked or expired early: fetch a new one, once */
		if (resp->status == 401 && attempt == 0)
		{
			signicat_invalidate_token(generation);
			ereport(DEBUG1,
					(errmsg_internal("signicat: access token refused, fetching a new one")));
			continue;
		}
		break;
	}

	if (resp->status < 200 || resp->status > 299)
		signicat_report_http_error(call, resp);

	error_context_stack = errcb.previous;
}

/*
 * Parse a UTF-8 JSON text into jsonb, or return NULL if it is not valid.
 * Validating first means jsonb_in never raises on what the server sent.
 */
Jsonb *
signicat_try_parse_json(const char *data, size_t len)
{
	char	   *text;
	JsonLexContext *lex;

	/* also refuses NUL bytes, so the text below ends where the body does */
	if (len == 0 || len >= MaxAllocSize ||
		!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
		return NULL;
	text = pg_any_to_server(data, (int) len, PG_UTF8);
	lex = makeJsonLexContextCstringLen(text, strlen(text), GetDatabaseEncoding(), true);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return NULL;
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
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
