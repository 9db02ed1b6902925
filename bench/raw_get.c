/*
 * bench/raw_get.c: the floor for the signicat per-call benchmark.
 *
 * Sends the same GET N times over one reused libcurl easy handle (one
 * keep-alive connection) with the headers the extension sends
 * (Authorization: Bearer bench-token, Accept: application/json, its
 * User-Agent), reads each whole answer into memory and prints the rate.
 *
 *   gcc -O2 -o raw_get bench/raw_get.c -lcurl
 *   raw_get [--mode easy|ext] URL N
 *
 * --mode easy (default): options and headers set once, curl_easy_perform per
 *     call.  This is the floor the extension is compared against.
 * --mode ext: what the extension's libcurl layer does per call (src/http.c):
 *     curl_easy_reset, every option and the header list again, and the
 *     transfer driven through a multi handle with curl_multi_poll in 10 ms
 *     slices.  Only for diagnosis: it separates libcurl usage cost from the
 *     cost of PostgreSQL (executor, JSON parsing, jsonb).
 *
 * A warm-up of 100 calls (the connection) is not timed.  Output, on stdout:
 *   rate <calls per second>
 *   cpu_us <CPU time (user + system) of this process per call, microseconds>
 * details on stderr.
 * Exit status 1 if any call fails or does not answer 200 with a body.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "raw_options.h"

#define WARMUP 100

typedef struct Buffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buffer;

static size_t
write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Buffer	   *b = (Buffer *) userdata;
	size_t		n = size * nmemb;

	if (b->len + n + 1 > b->cap)
	{
		size_t		newcap = b->cap ? b->cap * 2 : 8192;
		char	   *p;

		while (newcap < b->len + n + 1)
			newcap *= 2;
		p = realloc(b->data, newcap);
		if (p == NULL)
			return 0;
		b->data = p;
		b->cap = newcap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * The extension's per-call option set (src/http.c signicat_transfer_setup):
 * after a reset, the floor's options and what the extension adds to them.
 */
static void
set_options_ext(CURL *easy, const char *url, Buffer *body, struct curl_slist *headers,
				char *errbuf)
{
	curl_easy_reset(easy);
	bench_set_options(easy, headers, write_body, body);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) 64 * 1024 * 1024);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
}

static int
check(CURL *easy, CURLcode rc, const Buffer *body, long i)
{
	long		status = 0;

	if (rc != CURLE_OK)
	{
		fprintf(stderr, "raw_get: call %ld failed: %s\n", i, curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || body->len == 0)
	{
		fprintf(stderr, "raw_get: call %ld answered HTTP %ld with %zu bytes\n", i, status, body->len);
		return 0;
	}
	return 1;
}

/* One call the way the extension makes it: fresh options, multi handle, 10 ms poll slices. */
static CURLcode
perform_ext(CURLM *multi, CURL *easy, const char *url, Buffer *body, char *errbuf)
{
	struct curl_slist *headers = bench_headers();
	CURLMsg    *msg;
	CURLcode	result = CURLE_OK;
	int			running = 1;
	int			pending;

	set_options_ext(easy, url, body, headers, errbuf);
	curl_multi_add_handle(multi, easy);
	for (;;)
	{
		if (curl_multi_perform(multi, &running) != CURLM_OK)
		{
			result = CURLE_RECV_ERROR;
			break;
		}
		if (running == 0)
			break;
		curl_multi_poll(multi, NULL, 0, 10, NULL);
	}
	while ((msg = curl_multi_info_read(multi, &pending)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
			result = msg->data.result;
	curl_multi_remove_handle(multi, easy);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	return result;
}

int
main(int argc, char **argv)
{
	const char *mode = "easy";
	const char *url;
	long		n;
	int			argi = 1;
	CURL	   *easy;
	CURLM	   *multi = NULL;
	struct curl_slist *headers = NULL;
	Buffer		body = {NULL, 0, 0};
	char		errbuf[CURL_ERROR_SIZE];
	size_t		bytes = 0;
	double		t0, t1, c0, c1;

	if (argc >= 3 && strcmp(argv[1], "--mode") == 0)
	{
		mode = argv[2];
		argi = 3;
	}
	if (argc - argi != 2 || (strcmp(mode, "easy") != 0 && strcmp(mode, "ext") != 0))
	{
		fprintf(stderr, "usage: %s [--mode easy|ext] URL N\n", argv[0]);
		return 2;
	}
	url = argv[argi];
	n = atol(argv[argi + 1]);
	if (n <= 0)
	{
		fprintf(stderr, "raw_get: N must be positive\n");
		return 2;
	}

	curl_global_init(CURL_GLOBAL_ALL);
	easy = curl_easy_init();
	if (easy == NULL)
		return 1;
	if (strcmp(mode, "easy") == 0)
	{
		headers = bench_headers();
		if (headers == NULL)
			return 1;
		bench_set_options(easy, headers, write_body, &body);
		curl_easy_setopt(easy, CURLOPT_URL, url);
	}
	else
		multi = curl_multi_init();

	t0 = c0 = 0;
	for (long i = 0; i < WARMUP + n; i++)
	{
		CURLcode	rc;

		if (i == WARMUP)
		{
			bytes = 0;
			c0 = cpu_seconds();
			t0 = now_seconds();
		}
		body.len = 0;
		if (multi)
			rc = perform_ext(multi, easy, url, &body, errbuf);
		else
			rc = curl_easy_perform(easy);
		if (!check(easy, rc, &body, i))
			return 1;
		bytes += body.len;
	}
	t1 = now_seconds();
	c1 = cpu_seconds();

	fprintf(stderr, "raw_get: mode %s, %ld calls, %zu bytes, %.3f s\n", mode, n, bytes, t1 - t0);
	printf("rate %.1f\n", n / (t1 - t0));
	printf("cpu_us %.2f\n", (c1 - c0) * 1e6 / n);

	if (multi)
		curl_multi_cleanup(multi);
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	free(body.data);
	curl_global_cleanup();
	return 0;
}
