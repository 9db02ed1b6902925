/*
 * bench/ceiling.c: the best any extension returning jsonb can do, measured.
 *
 * A PostgreSQL function that does the least a "GET, answer as jsonb" SQL
 * function can: the same GET as bench/raw_get.c over one reused libcurl easy
 * handle (options and headers set once, curl_easy_perform), the body into a
 * StringInfo, then jsonb_in.  No catalog, no token, no error mapping, no
 * statistics, no interrupt checks: it is not usable code, only a yardstick.
 * Calls/s of this function over calls/s of raw_get is the ratio a perfect
 * extension would reach on this machine; bench/run.sh reports it as the
 * ceiling of figure 1.
 *
 * Built by bench/run.sh against the server headers and loaded from the work
 * directory:
 *   gcc -O2 -fPIC -shared -I$(pg_config --includedir-server) -o ceiling.so ceiling.c -lcurl
 *   CREATE FUNCTION bench_ceiling_get(text) RETURNS jsonb
 *       AS '.../ceiling.so', 'bench_ceiling_get' LANGUAGE C STRICT;
 */
#include "postgres.h"

#include <curl/curl.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "raw_options.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_ceiling_get);

static CURL *easy = NULL;
static struct curl_slist *headers = NULL;
static char *current_url = NULL;
static StringInfoData body;

/* Never ereports: it must not longjmp through libcurl. */
static size_t
write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t		n = size * nmemb;

	appendBinaryStringInfo(&body, ptr, (int) n);
	return n;
}

Datum
bench_ceiling_get(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CURLcode	rc;
	long		status = 0;

	if (easy == NULL)
	{
		curl_global_init(CURL_GLOBAL_ALL);
		easy = curl_easy_init();
		headers = bench_headers();
		if (easy == NULL || headers == NULL)
			elog(ERROR, "libcurl initialization failed");
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			initStringInfo(&body);	/* kept across calls, like the handle */
			MemoryContextSwitchTo(old);
		}
		bench_set_options(easy, headers, write_body, NULL);
	}
	if (current_url == NULL || strcmp(current_url, url) != 0)
	{
		if (current_url)
			pfree(current_url);
		current_url = MemoryContextStrdup(TopMemoryContext, url);
		curl_easy_setopt(easy, CURLOPT_URL, current_url);
	}

	resetStringInfo(&body);
	rc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200)
		elog(ERROR, "GET failed: %s, HTTP %ld", curl_easy_strerror(rc), status);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(body.data)));
}
