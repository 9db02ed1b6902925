/*
 * bench/raw_options.h: the floor's libcurl set-up, shared by bench/raw_get.c
 * (the raw GET loop) and bench/ceiling.c (the same GET plus jsonb_in in a
 * backend), so that the two make exactly the same request: the extension's
 * headers and User-Agent, no redirects, keep-alive.  Options are set once;
 * only the URL and the body buffer are the caller's.
 */
#ifndef BENCH_RAW_OPTIONS_H
#define BENCH_RAW_OPTIONS_H

#include <curl/curl.h>

#define BENCH_USER_AGENT "signicat-postgresql/0.1.0"

/* The extension's request headers; NULL if libcurl is out of memory. */
static struct curl_slist *
bench_headers(void)
{
	struct curl_slist *h = NULL;
	const char *const lines[] = {"Accept: application/json",
		"Authorization: Bearer bench-token", "Expect:"};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
	{
		struct curl_slist *more = curl_slist_append(h, lines[i]);

		if (more == NULL)
		{
			curl_slist_free_all(h);
			return NULL;
		}
		h = more;
	}
	return h;
}

static void
bench_set_options(CURL *easy, struct curl_slist *headers, curl_write_callback write_body,
				  void *write_data)
{
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, BENCH_USER_AGENT);
	curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, write_data);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
}

#endif							/* BENCH_RAW_OPTIONS_H */
