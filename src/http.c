/*-------------------------------------------------------------------------
 * http.c
 *	  The libcurl transport.
 *
 * A transfer (SignicatTransfer) is one request on one easy handle: its
 * options and headers are set up here, the same way for the synchronous SQL
 * path and for the background worker's concurrent polls, and its outcome is
 * classified here too.  The synchronous path uses one easy handle per
 * backend, reused so that connections stay alive and TLS sessions are
 * resumed, driven through a multi handle in short slices so that query
 * cancel, statement_timeout and backend termination interrupt a request
 * within a few milliseconds.
 *
 * Everything libcurl allocates with malloc (header lists, multipart bodies)
 * is released by signicat_transfer_release, which callers run in
 * PG_FINALLY, so an ereport or an interrupt never leaks it.  Response bodies
 * are palloc'd; the write callback never ereports (it must not longjmp
 * through libcurl), it flags the problem and makes libcurl stop instead.
 *
 * Credentials never travel in clear text: plain http:// is for loopback test
 * servers only, unless a superuser says otherwise (signicat_url_in_clear).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "signicat.h"

bool		signicat_allow_insecure_http = false;
int			signicat_connect_timeout_ms = 5000;
int			signicat_timeout_ms = 30000;
char	   *signicat_ca_file = NULL;
int			signicat_max_response_size = 64 * 1024 * 1024;
char	   *signicat_user_agent = NULL;

/* How long one wait may last before interrupts are checked again. */
#define SIGNICAT_WAIT_SLICE_MS 10

static CURL *signicat_easy = NULL;
static CURLM *signicat_multi = NULL;

static void
signicat_http_cleanup(int code, Datum arg)
{
	if (signicat_easy)
		curl_easy_cleanup(signicat_easy);
	if (signicat_multi)
		curl_multi_cleanup(signicat_multi);
	signicat_easy = NULL;
	signicat_multi = NULL;
}

/* curl_global_init, once per process. */
void
signicat_curl_init(void)
{
	static bool initialized = false;

	if (initialized)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	initialized = true;
	on_proc_exit(signicat_http_cleanup, (Datum) 0);
}

static void
ensure_handles(void)
{
	signicat_curl_init();
	if (signicat_multi == NULL)
	{
		signicat_multi = curl_multi_init();
		if (signicat_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl multi handle")));
	}
	if (signicat_easy == NULL)
	{
		signicat_easy = curl_easy_init();
		if (signicat_easy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
	}
}

/*
 * The most header bytes an answer may carry: well below libcurl's own limit
 * (100 kB, past which it fails as "Out of memory"), far above what Signicat
 * sends.
 */
#define SIGNICAT_MAX_HEADER_BYTES (64 * 1024)

/* libcurl header callback: count the header bytes, never ereport. */
static size_t
count_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	SignicatTransfer *t = (SignicatTransfer *) userdata;
	size_t		n = size * nmemb;

	/* a status line starts a header block (after a 100 Continue, another) */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		t->headers_done = false;
	else if (n <= 2 && (ptr[0] == '\r' || ptr[0] == '\n'))
		t->headers_done = true;
	t->header_bytes += n;
	if (t->header_bytes > SIGNICAT_MAX_HEADER_BYTES)
	{
		t->headers_too_large = true;
		return 0;
	}
	return n;
}

/* libcurl write callback: append to a palloc'd buffer, never ereport. */
static size_t
write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	SignicatTransfer *t = (SignicatTransfer *) userdata;
	size_t		n = size * nmemb;

	if (n > t->max || t->len > t->max - n)
	{
		t->too_large = true;
		return 0;
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		newcap = Max(t->cap * 2, Max(t->len + n + 1, 8192));
		char	   *p;

		p = MemoryContextAllocExtended(t->cxt, newcap,
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (p == NULL)
		{
			t->out_of_memory = true;
			return 0;
		}
		if (t->data)
		{
			memcpy(p, t->data, t->len);
			pfree(t->data);
		}
		t->data = p;
		t->cap = newcap;
	}
	memcpy(t->data + t->len, ptr, n);
	t->len += n;
	t->data[t->len] = '\0';
	return n;
}

static struct curl_slist *
append_header(struct curl_slist *list, const char *header)
{
	struct curl_slist *l = curl_slist_append(list, header);

	if (l == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory building request headers")));
	return l;
}

#define SETOPT(opt, val) \
	do { \
		CURLcode rc_ = curl_easy_setopt(t->easy, (opt), (val)); \
		if (rc_ != CURLE_OK) \
			ereport(ERROR, \
					(errcode(ERRCODE_SYSTEM_ERROR), \
					 errmsg("could not set libcurl option %s: %s", \
							#opt, curl_easy_strerror(rc_)))); \
	} while (0)

/*
 * Set up easy handle `easy` for one request.  The caller must run
 * signicat_transfer_release afterwards on every path (PG_FINALLY): the
 * header list and multipart body set up here are malloc'd by libcurl.
 * Response bytes go to memory context `cxt`.
 */
void
signicat_transfer_setup(SignicatTransfer *t, CURL *easy, const SignicatHttpRequest *req,
						MemoryContext cxt)
{
	memset(t, 0, sizeof(*t));
	t->easy = easy;
	t->cxt = cxt;
	t->max = (size_t) signicat_max_response_size;

	/* keeps live connections, the DNS cache and TLS sessions */
	curl_easy_reset(easy);

	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_PATH_AS_IS, 1L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (signicat_ca_file && signicat_ca_file[0])
		SETOPT(CURLOPT_CAINFO, signicat_ca_file);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long) signicat_connect_timeout_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, (long) signicat_timeout_ms);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) signicat_max_response_size);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	if (req->fresh_connection)
		SETOPT(CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, write_body);
	SETOPT(CURLOPT_WRITEDATA, t);
	SETOPT(CURLOPT_HEADERFUNCTION, count_header);
	SETOPT(CURLOPT_HEADERDATA, t);
	SETOPT(CURLOPT_PRIVATE, t);
	if (signicat_user_agent && signicat_user_agent[0])
		SETOPT(CURLOPT_USERAGENT, signicat_user_agent);

	if (strcmp(req->method, "GET") == 0)
		SETOPT(CURLOPT_HTTPGET, 1L);
	else if (req->nparts > 0)
	{
		/* multipart/form-data; libcurl copies the data and sets the boundary */
		t->mime = curl_mime_init(easy);
		if (t->mime == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory building a multipart body")));
		for (int i = 0; i < req->nparts; i++)
		{
			const SignicatMimePart *p = &req->parts[i];
			curl_mimepart *part = curl_mime_addpart(t->mime);

			if (part == NULL ||
				curl_mime_name(part, p->name) != CURLE_OK ||
				(p->filename && curl_mime_filename(part, p->filename) != CURLE_OK) ||
				(p->content_type && curl_mime_type(part, p->content_type) != CURLE_OK) ||
				curl_mime_data(part, p->data, p->len) != CURLE_OK)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory building a multipart body")));
		}
		if (strcmp(req->method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
		SETOPT(CURLOPT_MIMEPOST, t->mime);
	}
	else
	{
		if (strcmp(req->method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "POST") == 0)
		{
			SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (req->body ? req->body_len : 0));
			SETOPT(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}

	if (req->basic_user)
	{
		SETOPT(CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, req->basic_user);
		SETOPT(CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
	}

	/* all headers are built per call; a previous call leaves nothing */
	if (req->accept)
		t->headers = append_header(t->headers, psprintf("Accept: %s", req->accept));
	if (req->body)
		t->headers = append_header(t->headers, psprintf("Content-Type: %s",
														req->content_type ? req->content_type : "application/json"));
	else if (strcmp(req->method, "GET") != 0 && req->nparts == 0)
		t->headers = append_header(t->headers, "Content-Type:");
	if (req->bearer)
	{
		char	   *auth = psprintf("Authorization: Bearer %s", req->bearer);

		t->headers = append_header(t->headers, auth);
		explicit_bzero(auth, strlen(auth));
		pfree(auth);
	}
	if (req->account_id && req->account_id[0])
		t->headers = append_header(t->headers, psprintf("Signicat-AccountId: %s", req->account_id));
	/* no 100-continue round trip before large uploads */
	t->headers = append_header(t->headers, "Expect:");
	SETOPT(CURLOPT_HTTPHEADER, t->headers);
}

/*
 * Free what libcurl malloc'd for the transfer and drop the handle's pointers
 * into memory that is about to be freed.  Never raises an error.
 */
void
signicat_transfer_release(SignicatTransfer *t)
{
	if (t->easy)
	{
		curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(t->easy, CURLOPT_MIMEPOST, NULL);
		curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, NULL);
		curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, NULL);
		curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
	}
	curl_slist_free_all(t->headers);
	curl_mime_free(t->mime);
	t->headers = NULL;
	t->mime = NULL;
}

/* The answer of a finished transfer (any HTTP status). */
void
signicat_transfer_response(SignicatTransfer *t, SignicatHttpResponse *resp)
{
	char	   *ct = NULL;
	curl_off_t	retry_after = -1;

	memset(resp, 0, sizeof(*resp));
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
	curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after);
	resp->content_type = ct ? MemoryContextStrdup(t->cxt, ct) : NULL;
	resp->retry_after = retry_after > 0 ? (long) retry_after : -1;
	if (t->data == NULL)
		t->data = MemoryContextAllocZero(t->cxt, 1);
	resp->body = t->data;
	resp->body_len = t->len;
}

/*
 * libcurl refused a header line longer than its own limit before our header
 * callback saw it: the transfer failed with the headers begun and not ended,
 * as "out of memory" (CURLE_TOO_LARGE from 8.6 on; see compat.h).
 */
static bool
curl_header_overflow(const SignicatTransfer *t)
{
	return SIGNICAT_CURLE_TOO_LARGE(t->result) && t->header_bytes > 0 && !t->headers_done;
}

/* Whether a failed transfer failed to connect: then the request never reached the server. */
bool
signicat_transfer_not_sent(const SignicatTransfer *t)
{
	return t->result == CURLE_COULDNT_CONNECT ||
		t->result == CURLE_COULDNT_RESOLVE_HOST ||
		t->result == CURLE_COULDNT_RESOLVE_PROXY;
}

/* Whether a failed transfer failed on an answer we refuse (sending again gets the same). */
bool
signicat_transfer_refused(const SignicatTransfer *t)
{
	return t->too_large || t->headers_too_large || curl_header_overflow(t) ||
		t->result == CURLE_FILESIZE_EXCEEDED;
}

/*
 * Classify a failed transfer: its SQLSTATE, a message and a detail (never
 * the URL's query).  The worker records these; the SQL path raises them.
 */
int
signicat_transfer_error(const SignicatTransfer *t, const char **message, const char **detail)
{
	*detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result);

	if (t->too_large || t->result == CURLE_FILESIZE_EXCEEDED)
	{
		*message = "Signicat response exceeds signicat.max_response_size";
		return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	}
	if (t->headers_too_large)
	{
		*message = "Signicat's answer has too many header bytes";
		*detail = psprintf("Its header lines exceed %d bytes; the answer was not read.",
						   SIGNICAT_MAX_HEADER_BYTES);
		return ERRCODE_PROTOCOL_VIOLATION;
	}
	if (curl_header_overflow(t))
	{
		*message = "Signicat's answer has too many header bytes";
		*detail = "One of its header lines exceeds what libcurl reads (100 kB); the answer was not read.";
		return ERRCODE_PROTOCOL_VIOLATION;
	}
	if (t->out_of_memory)
	{
		*message = "out of memory reading the Signicat response";
		return ERRCODE_OUT_OF_MEMORY;
	}
	switch (t->result)
	{
		case CURLE_OPERATION_TIMEDOUT:
			/* not 57014: that is the statement's own cancel, see README */
			*message = "Signicat request timed out";
			return ERRCODE_CONNECTION_FAILURE;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			*message = "could not connect to Signicat";
			return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
			*message = "could not establish a TLS connection to Signicat";
			return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			*message = "invalid Signicat URL";
			return ERRCODE_INVALID_PARAMETER_VALUE;
		default:
			*message = "connection to Signicat failed";
			return ERRCODE_CONNECTION_FAILURE;
	}
}

/* Raise a transport failure described by signicat_http_send. */
void
signicat_report_transport_error(const SignicatTransportError *e)
{
	ereport(ERROR,
			(errcode(e->sqlstate),
			 e->sqlstate == ERRCODE_PROGRAM_LIMIT_EXCEEDED ?
			 errmsg("%s (%d bytes)", e->message, signicat_max_response_size) :
			 errmsg("%s", e->message),
			 e->sqlstate == ERRCODE_PROGRAM_LIMIT_EXCEEDED ? 0 : errdetail("%s", e->detail),
			 e->timed_out ?
			 errhint("The limits are signicat.connect_timeout (%d ms) and signicat.timeout (%d ms).",
					 signicat_connect_timeout_ms, signicat_timeout_ms) :
			 e->sqlstate == ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION &&
			 strstr(e->message, "TLS") ?
			 errhint("Check signicat.ca_file if the server uses a private certificate authority.") :
			 e->sqlstate == ERRCODE_INVALID_PARAMETER_VALUE ?
			 errhint("signicat.base_url and signicat.token_url must be http or https URLs.") : 0));
}

/*
 * Whether this backend's client has gone (a closed connection; never for a
 * background worker).  One poll() of the client socket, as core's
 * client_connection_check_interval does.
 */
bool
signicat_client_gone(void)
{
	uint32		wait_event = *my_wait_event_info;
	bool		gone;

	if (MyProcPort == NULL)
		return false;
	gone = !pq_check_connection();
	/* its zero-timeout wait reports no wait event: ours again */
	if (wait_event != 0)
		pgstat_report_wait_start(wait_event);
	return gone;
}

/*
 * End the statement because the client has gone, the way core does: its
 * interrupt handler raises FATAL "connection to client lost" and sends
 * nothing more to the closed socket.
 */
void
signicat_client_lost(void)
{
	ClientConnectionLost = true;
	InterruptPending = true;
	CHECK_FOR_INTERRUPTS();
	/* interrupts held off: end it here, as ProcessInterrupts would */
	whereToSendOutput = DestNone;
	ereport(FATAL,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("connection to client lost")));
}

/*
 * Send one HTTP request and read the whole answer.  Returns true with the
 * answer (any HTTP status), or false with *err describing a transport
 * failure (no answer).  Interrupts (cancel, statement_timeout) raise.
 */
bool
signicat_http_send(const SignicatHttpRequest *req, SignicatHttpResponse *resp,
				   SignicatTransportError *err)
{
	SignicatTransfer t;
	volatile bool attached = false;

	ensure_handles();
	memset(&t, 0, sizeof(t));
	memset(err, 0, sizeof(*err));

	PG_TRY();
	{
		CURLMsg    *msg;
		int			running = 1;
		int			pending;

		signicat_transfer_setup(&t, signicat_easy, req, CurrentMemoryContext);
		if (curl_multi_add_handle(signicat_multi, signicat_easy) != CURLM_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not start a libcurl transfer")));
		attached = true;

		pgstat_report_wait_start(signicat_wait_event(SIGNICAT_WAIT_HTTP));
		for (;;)
		{
			CURLMcode	mc = curl_multi_perform(signicat_multi, &running);

			if (mc != CURLM_OK)
				ereport(ERROR,
						(errcode(ERRCODE_SYSTEM_ERROR),
						 errmsg("libcurl transfer failed: %s", curl_multi_strerror(mc))));
			if (running == 0)
				break;
			mc = curl_multi_poll(signicat_multi, NULL, 0, SIGNICAT_WAIT_SLICE_MS, NULL);
			if (mc != CURLM_OK)
				ereport(ERROR,
						(errcode(ERRCODE_SYSTEM_ERROR),
						 errmsg("libcurl wait failed: %s", curl_multi_strerror(mc))));
			CHECK_FOR_INTERRUPTS();
			/* nobody is left to read the answer: end the wait now */
			if (signicat_client_gone())
				signicat_client_lost();
		}
		pgstat_report_wait_end();

		t.result = CURLE_OK;
		while ((msg = curl_multi_info_read(signicat_multi, &pending)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == signicat_easy)
				t.result = msg->data.result;
		}
		curl_multi_remove_handle(signicat_multi, signicat_easy);
		attached = false;

		if (t.result != CURLE_OK)
		{
			const char *detail;

			err->sqlstate = signicat_transfer_error(&t, &err->message, &detail);
			err->detail = pstrdup(detail);
			err->timed_out = t.result == CURLE_OPERATION_TIMEDOUT;
			err->not_sent = signicat_transfer_not_sent(&t);
			/* the same request would get the same answer */
			err->refused = signicat_transfer_refused(&t);
		}
		else
			signicat_transfer_response(&t, resp);
	}
	PG_FINALLY();
	{
		pgstat_report_wait_end();
		if (attached)
			curl_multi_remove_handle(signicat_multi, signicat_easy);
		signicat_transfer_release(&t);
	}
	PG_END_TRY();
	return err->sqlstate == 0;
}

/* signicat_http_send, raising transport failures. */
void
signicat_http_perform(const SignicatHttpRequest *req, SignicatHttpResponse *resp)
{
	SignicatTransportError err;

	if (!signicat_http_send(req, resp, &err))
		signicat_report_transport_error(&err);
}

/*
 * Percent-encode a value for a URL path segment or query component (see
 * wire_escape): "/", "?", "#" and "%" in an id can never change the path,
 * and with escape_dots "." and ".." are plain data, not dot segments.
 */
char *
signicat_url_escape(const char *s, bool escape_dots)
{
	char	   *escaped = wire_escape(s, strlen(s), escape_dots);
	char	   *result;

	if (escaped == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory escaping a URL component")));
	result = pstrdup(escaped);
	free(escaped);
	return result;
}

/*
 * Would this URL send credentials in clear text?  True for http:// to any
 * host but a loopback address (127.0.0.0/8, ::1, localhost), unless a
 * superuser set signicat.allow_insecure_http.  libcurl's own URL parser
 * finds the host (user info, ports and IPv6 brackets included); what it
 * cannot parse but starts with http:// counts as clear text.
 */
bool
signicat_url_in_clear(const char *url)
{
	CURLU	   *u;
	char	   *host = NULL;
	bool		loopback = false;

	if (url == NULL || pg_strncasecmp(url, "http://", 7) != 0 || signicat_allow_insecure_http)
		return false;
	u = curl_url();
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host)
	{
		const char *h = host;
		size_t		len = strlen(host);
		char		bare[64];
		unsigned char addr[16];

		/* an IPv6 literal comes back in brackets */
		if (len >= 2 && h[0] == '[' && h[len - 1] == ']' && len - 2 < sizeof(bare))
		{
			memcpy(bare, h + 1, len - 2);
			bare[len - 2] = '\0';
			h = bare;
		}
		if (pg_strcasecmp(h, "localhost") == 0)
			loopback = true;
		else if (inet_pton(AF_INET, h, addr) == 1)
			loopback = addr[0] == 127;
		else if (inet_pton(AF_INET6, h, addr) == 1)
			loopback = memcmp(addr, &in6addr_loopback, sizeof(struct in6_addr)) == 0;
	}
	if (host)
		curl_free(host);
	if (u)
		curl_url_cleanup(u);
	return !loopback;
}

/*
 * ERROR unless the URL of a setting is safe for credentials (see above).
 * The last URL found safe is remembered (by its text: a setting's string
 * may be freed and its address reused), so that a call costs a strcmp, not
 * a parse.
 */
void
signicat_require_secure_url(const char *url, const char *setting)
{
	static char safe_url[1024] = "";
	static bool safe_valid = false;

	if (safe_valid && url && strcmp(url, safe_url) == 0)
		return;
	if (!signicat_url_in_clear(url))
	{
		/* (only a URL that needs no allow_insecure_http: that setting can change) */
		if (url && strlen(url) < sizeof(safe_url) &&
			(pg_strncasecmp(url, "http://", 7) != 0 || !signicat_allow_insecure_http))
		{
			strlcpy(safe_url, url, sizeof(safe_url));
			safe_valid = true;
		}
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s uses plain http:// to a host that is not a loopback address", setting),
			 errdetail("The access token and the client secret would cross the network in clear text."),
			 errhint("Use https://, or for a test server elsewhere a superuser sets signicat.allow_insecure_http = on.")));
}

/* Header values must not be able to inject another header or line. */
bool
signicat_check_header_value(char **newval, void **extra, GucSource source)
{
	for (const char *p = *newval; p && *p; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
		{
			GUC_check_errdetail("Control characters are not allowed.");
			return false;
		}
	}
	return true;
}

bool
signicat_check_url(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (strncmp(*newval, "https://", 8) != 0 && strncmp(*newval, "http://", 7) != 0)
	{
		GUC_check_errdetail("The URL must start with https:// (or http:// for a local test server).");
		return false;
	}
	return signicat_check_header_value(newval, extra, source);
}

/* The transport's settings. */
void
signicat_http_init(void)
{
	DefineCustomBoolVariable("signicat.allow_insecure_http",
							 "Allow plain http:// URLs to hosts other than loopback addresses (INSECURE).",
							 "The access token and the client secret then cross the network in clear text.",
							 &signicat_allow_insecure_http, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.connect_timeout",
							"Time allowed to connect to Signicat.",
							NULL, &signicat_connect_timeout_ms, 5000, 1, 600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.timeout",
							"Time allowed for a whole request to Signicat.",
							NULL, &signicat_timeout_ms, 30000, 1, 3600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.ca_file",
							   "File of CA certificates to verify Signicat's TLS certificate; empty uses the system's.",
							   NULL, &signicat_ca_file, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.max_response_size",
							"Largest answer accepted from Signicat.",
							NULL, &signicat_max_response_size, 64 * 1024 * 1024, 1024,
							MaxAllocSize - VARHDRSZ - 1,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.user_agent",
							   "User-Agent header sent to Signicat.",
							   NULL, &signicat_user_agent, "signicat-postgresql/" SIGNICAT_VERSION,
							   PGC_USERSET, 0, signicat_check_header_value, NULL, NULL);
}
