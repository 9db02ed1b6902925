/*-------------------------------------------------------------------------
 * poller.c
 *	  Many requests at once through libcurl's multi interface, for the
 *	  background worker.
 *
 * A pool of easy handles and one multi handle live for the whole life of
 * the worker process, so connections (and TLS sessions) stay open between
 * rounds; CURLMOPT_MAX_TOTAL_CONNECTIONS bounds the connections to the
 * upstream.  Each request has its own deadline (signicat.timeout), so one
 * slow request never times out the others.  Transport failures are recorded
 * per request, never raised, so one failing item never stalls the rest.
 * Waiting is done in short slices with CHECK_FOR_INTERRUPTS, so SIGTERM
 * ends the worker promptly; whatever libcurl malloc'd is released on every
 * path.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "utils/wait_event.h"

#include "signicat.h"

#define POLL_WAIT_SLICE_MS 50
#define POLL_MAX_HANDLES 256

static CURLM *poll_multi = NULL;
static CURL *poll_handles[POLL_MAX_HANDLES];
static int	poll_nhandles = 0;
static int	poll_max_connections = 0;

static void
ensure_pool(int max_parallel)
{
	signicat_curl_init();
	if (poll_multi == NULL)
	{
		poll_multi = curl_multi_init();
		if (poll_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl multi handle")));
	}
	if (poll_max_connections != max_parallel)
	{
		curl_multi_setopt(poll_multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) max_parallel);
		curl_multi_setopt(poll_multi, CURLMOPT_MAXCONNECTS, (long) max_parallel);
		poll_max_connections = max_parallel;
	}
	while (poll_nhandles < max_parallel)
	{
		CURL	   *h = curl_easy_init();

		if (h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		poll_handles[poll_nhandles++] = h;
	}
}

static void
finish_poll(SignicatPoll *p, CURLcode result)
{
	curl_off_t	us = 0;

	curl_easy_getinfo(p->transfer.easy, CURLINFO_TOTAL_TIME_T, &us);
	p->elapsed_us = (uint64) us;
	p->transfer.result = result;
	if (result == CURLE_OK)
	{
		signicat_transfer_response(&p->transfer, &p->resp);
		p->done = true;
	}
	else
		p->sqlstate = signicat_transfer_error(&p->transfer, &p->error, &p->error_detail);
	/* error texts point into the transfer's buffer: keep copies */
	if (p->error_detail)
		p->error_detail = pstrdup(p->error_detail);
}

/*
 * Send every request of polls[0..n) with at most max_parallel in flight,
 * and collect each answer (p->done) or transport failure (p->sqlstate).
 * *in_flight, when given, is kept up to date for the worker's statistics.
 */
void
signicat_poll_many(SignicatPoll *polls, int n, int max_parallel, volatile int *in_flight)
{
	CURL	   *free_handles[POLL_MAX_HANDLES];
	int			nfree;
	int			next = 0;
	volatile int active = 0;

	max_parallel = Max(1, Min(max_parallel, POLL_MAX_HANDLES));
	ensure_pool(max_parallel);
	nfree = max_parallel;
	memcpy(free_handles, poll_handles, sizeof(CURL *) * nfree);
	for (int i = 0; i < n; i++)
	{
		memset(&polls[i].transfer, 0, sizeof(SignicatTransfer));
		polls[i].done = false;
		polls[i].sqlstate = 0;
		polls[i].error = NULL;
		polls[i].error_detail = NULL;
		polls[i].attached = false;
	}

	PG_TRY();
	{
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		while (next < n || active > 0)
		{
			CURLMsg    *msg;
			int			queued;
			int			running;

			while (active < max_parallel && next < n)
			{
				SignicatPoll *p = &polls[next++];

				signicat_transfer_setup(&p->transfer, free_handles[--nfree], &p->req,
										CurrentMemoryContext);
				if (curl_multi_add_handle(poll_multi, p->transfer.easy) != CURLM_OK)
					ereport(ERROR,
							(errcode(ERRCODE_SYSTEM_ERROR),
							 errmsg("could not start a libcurl transfer")));
				p->attached = true;
				active++;
			}
			if (in_flight)
				*in_flight = active;

			if (curl_multi_perform(poll_multi, &running) != CURLM_OK)
				ereport(ERROR,
						(errcode(ERRCODE_SYSTEM_ERROR),
						 errmsg("libcurl transfer failed")));
			while ((msg = curl_multi_info_read(poll_multi, &queued)) != NULL)
			{
				SignicatTransfer *t = NULL;
				SignicatPoll *p;

				if (msg->msg != CURLMSG_DONE)
					continue;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
				/* the transfer is the first member of its SignicatPoll */
				p = (SignicatPoll *) t;
				curl_multi_remove_handle(poll_multi, msg->easy_handle);
				p->attached = false;
				finish_poll(p, msg->data.result);
				free_handles[nfree++] = p->transfer.easy;
				signicat_transfer_release(&p->transfer);
				active--;
			}
			/*
			 * Every free handle was just given a request, so there is nothing
			 * to do but wait for a socket (curl_multi_poll returns at once
			 * when one is ready; a zero timeout here would spin).
			 */
			if (active > 0)
				curl_multi_poll(poll_multi, NULL, 0, POLL_WAIT_SLICE_MS, NULL);
			CHECK_FOR_INTERRUPTS();
		}
		pgstat_report_wait_end();
	}
	PG_FINALLY();
	{
		pgstat_report_wait_end();
		for (int i = 0; i < n; i++)
		{
			if (polls[i].attached)
			{
				curl_multi_remove_handle(poll_multi, polls[i].transfer.easy);
				polls[i].attached = false;
			}
			signicat_transfer_release(&polls[i].transfer);
		}
		if (in_flight)
			*in_flight = 0;
	}
	PG_END_TRY();
}
