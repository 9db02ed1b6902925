/*-------------------------------------------------------------------------
 * poller.c
 *	  Many requests at once through libcurl's multi interface, for the
 *	  background worker.
 *
 * A pool of easy handles and one multi handle live for the whole life of
 * the worker process, so connections (and TLS sessions) stay open between
 * rounds; CURLMOPT_MAX_TOTAL_CONNECTIONS bounds the connections to the
 * upstream.  Requests are started one by one (signicat_poller_start) and
 * collected as they finish (signicat_poller_wait), so a request that hangs
 * holds one connection and nothing else: the worker records the answers
 * that came and starts other requests meanwhile.  Each request has its own
 * deadline, so one slow request never times out the others.  Transport
 * failures are recorded per request, never raised.  Waiting is done in
 * short slices with CHECK_FOR_INTERRUPTS, so SIGTERM ends the worker
 * promptly.  Whatever libcurl malloc'd for a request is released when it
 * finishes, or by signicat_poller_abort_all on the worker's error path.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "signicat.h"


static CURLM *poll_multi = NULL;
static CURL *poll_handles[SIGNICAT_POLL_MAX];
static int	poll_nhandles = 0;
static int	poll_max_connections = 0;

/* the free handles of the pool, and the requests in flight on the others */
static CURL *free_handles[SIGNICAT_POLL_MAX];
static int	nfree = 0;
static SignicatPoll *flying[SIGNICAT_POLL_MAX];
static int	nflying = 0;

/*
 * Size the pool to max_parallel connections.  Shrinking takes effect as
 * requests finish: a handle in use is never taken away.
 */
void
signicat_poller_configure(int max_parallel)
{
	max_parallel = Max(1, Min(max_parallel, SIGNICAT_POLL_MAX));
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
		/*
		 * HTTP/2 where the server offers it (over TLS): requests share a
		 * connection as streams.  (Not CURLOPT_PIPEWAIT: a request would
		 * wait for a connection whose answer hangs instead of taking a
		 * free one.)
		 */
		curl_multi_setopt(poll_multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
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
		free_handles[nfree++] = h;
	}
}

/* Requests that may start now. */
int
signicat_poller_capacity(void)
{
	return Max(0, Min(nfree, poll_max_connections - nflying));
}

int
signicat_poller_active(void)
{
	return nflying;
}

static void
finish_poll(SignicatPoll *p, CURLcode result)
{
	curl_off_t	us = 0;
	MemoryContext old = MemoryContextSwitchTo(p->transfer.cxt);	/* the answer's */

	curl_easy_getinfo(p->transfer.easy, CURLINFO_TOTAL_TIME_T, &us);
	p->elapsed_us = (uint64) us;
	p->transfer.result = result;
	if (result == CURLE_OK)
	{
		signicat_transfer_response(&p->transfer, &p->resp);
		p->done = true;
	}
	else
	{
		p->sqlstate = signicat_transfer_error(&p->transfer, &p->error, &p->error_detail);
		p->refused = signicat_transfer_refused(&p->transfer);
		p->not_sent = signicat_transfer_not_sent(&p->transfer);
	}
	/* error texts point into the transfer's buffer: keep copies */
	if (p->error)
		p->error = pstrdup(p->error);
	if (p->error_detail)
		p->error_detail = pstrdup(p->error_detail);
	MemoryContextSwitchTo(old);
}

/* Detach a request from the multi handle and give its handle back; never raises. */
static void
release_poll(SignicatPoll *p)
{
	for (int i = 0; i < nflying; i++)
	{
		if (flying[i] == p)
		{
			flying[i] = flying[--nflying];
			break;
		}
	}
	if (p->attached)
	{
		curl_multi_remove_handle(poll_multi, p->transfer.easy);
		p->attached = false;
	}
	if (p->transfer.easy)
		free_handles[nfree++] = p->transfer.easy;
	signicat_transfer_release(&p->transfer);
	p->transfer.easy = NULL;
}

/*
 * Start p->req on a free connection, its answer going to memory context
 * cxt, with at most timeout_ms for the whole request.  False when no
 * connection is free.
 */
bool
signicat_poller_start(SignicatPoll *p, MemoryContext cxt, long timeout_ms)
{
	if (signicat_poller_capacity() <= 0)
		return false;
	memset(&p->transfer, 0, sizeof(SignicatTransfer));
	p->done = false;
	p->sqlstate = 0;
	p->error = NULL;
	p->error_detail = NULL;
	p->attached = false;
	p->refused = false;
	p->not_sent = false;
	p->elapsed_us = 0;

	flying[nflying++] = p;
	PG_TRY();
	{
		signicat_transfer_setup(&p->transfer, free_handles[--nfree], &p->req, cxt);
		curl_easy_setopt(p->transfer.easy, CURLOPT_TIMEOUT_MS, timeout_ms);
		if (curl_multi_add_handle(poll_multi, p->transfer.easy) != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not start a libcurl transfer")));
		p->attached = true;
	}
	PG_CATCH();
	{
		release_poll(p);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return true;
}

/*
 * Drive the requests in flight for at most timeout_ms (returning as soon as
 * one finishes) and put the finished ones in done[] (room for
 * SIGNICAT_POLL_MAX); returns how many finished.  Each finished request has
 * its answer (p->done) or its transport failure (p->sqlstate).
 */
int
signicat_poller_wait(int timeout_ms, SignicatPoll **done)
{
	int			ndone = 0;
	int			running;
	CURLMsg    *msg;
	int			queued;

	if (nflying == 0)
		return 0;
	pgstat_report_wait_start(signicat_wait_event(SIGNICAT_WAIT_HTTP));
	if (curl_multi_perform(poll_multi, &running) == CURLM_OK && running == nflying)
		curl_multi_poll(poll_multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(poll_multi, &running);
	pgstat_report_wait_end();

	while ((msg = curl_multi_info_read(poll_multi, &queued)) != NULL)
	{
		SignicatTransfer *t = NULL;
		SignicatPoll *p;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		/* the transfer is the first member of its SignicatPoll */
		p = (SignicatPoll *) t;
		/* (should finish_poll fail, the request stays listed for signicat_poller_abort_all) */
		curl_multi_remove_handle(poll_multi, msg->easy_handle);
		p->attached = false;
		finish_poll(p, msg->data.result);
		release_poll(p);
		done[ndone++] = p;
	}
	CHECK_FOR_INTERRUPTS();
	return ndone;
}

/* Give up every request in flight (the worker's error path); never raises. */
void
signicat_poller_abort_all(void)
{
	while (nflying > 0)
		release_poll(flying[nflying - 1]);
}
