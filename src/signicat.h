/*-------------------------------------------------------------------------
 * signicat.h
 *	  Private declarations shared by the signicat extension's C files.
 *
 * Layers, top to bottom: operation.c (SQL-callable entry points bound to
 * catalog entries) -> request.c (URL, auth, 401 refresh, answer mapping) ->
 * auth.c (OAuth2 client-credentials token shared through shared memory) ->
 * http.c (libcurl transport).  errors.c maps Signicat answers to SQLSTATEs,
 * catalog.c/catalog_data.c describe every operation as data, signicat.c owns
 * _PG_init, the GUCs and the shared memory hooks.
 *-------------------------------------------------------------------------
 */
#ifndef SIGNICAT_H
#define SIGNICAT_H

#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "compat.h"
#include "wire.h"

/* ---------- signicat.c: wait events ---------- */

/* What a signicat process waits for, as pg_stat_activity shows it (17+). */
typedef enum SignicatWaitEvent
{
	SIGNICAT_WAIT_HTTP,			/* an answer from Signicat */
	SIGNICAT_WAIT_RETRY_DELAY,	/* the pause before a retry */
	SIGNICAT_WAIT_TOKEN,		/* another backend fetching the access token */
	SIGNICAT_WAIT_NAPTIME,		/* the worker, between rounds */
	SIGNICAT_WAIT_COUNT
} SignicatWaitEvent;

extern void signicat_wait_events_init(void);
extern uint32 signicat_wait_event(SignicatWaitEvent which);

/* ---------- catalog.c / catalog_data.c ---------- */

typedef enum SignicatParamIn
{
	SIGNICAT_IN_PATH,
	SIGNICAT_IN_QUERY,
	SIGNICAT_IN_BODY,
	SIGNICAT_IN_HEADER
} SignicatParamIn;

typedef enum SignicatBodyKind
{
	SIGNICAT_BODY_NONE,
	SIGNICAT_BODY_JSON,
	SIGNICAT_BODY_MULTIPART
} SignicatBodyKind;

typedef struct SignicatParam
{
	const char *name;			/* wire name, e.g. "dossierId" */
	SignicatParamIn in;
	bool		required;
	const char *const *allowed; /* NULL-terminated known values, or NULL (not a limit) */
} SignicatParam;

/* a 2xx status in SignicatOperation.empty_answers */
#define SIGNICAT_EMPTY(status) ((uint32) 1 << ((status) - 200))

typedef struct SignicatOperation
{
	const char *id;				/* operation id = SQL function name */
	const char *api;			/* assure, auth, share, reuseid, mobileid */
	const char *method;
	const char *path;			/* template with {param} placeholders */
	SignicatBodyKind body;
	bool		body_required;
	bool		idempotent;
	const char *accept;			/* Accept header */
	const char *envelope;		/* member wrapping every answer, or NULL */
	const char *list_member;	/* array member holding list items, or NULL */
	bool		returns_list;	/* answers a list (else one object) */
	bool		paged;			/* offset/limit paging */
	uint32		empty_answers;	/* SIGNICAT_EMPTY(s): status s is documented without a body */
	bool		confirmed;		/* method and path shown by a public source (else inferred) */
	const char *source;			/* where they come from, or why they are inferred */
	int			nparams;
	const SignicatParam *params;
} SignicatOperation;

extern const SignicatOperation signicat_operations[];
extern const int signicat_noperations;

extern const SignicatOperation *signicat_find_operation(const char *id);
extern const SignicatParam *signicat_find_param(const SignicatOperation *op,
												const char *name);

/* ---------- corrections.c: run-time corrections of method and path ---------- */

/*
 * Where an operation is sent: the catalog's method and path, or the
 * correction an admin made in signicat.operation_corrections.  The strings
 * are the catalog's own or palloc'd in the caller's memory context.
 */
typedef struct SignicatRoute
{
	const char *method;
	const char *path;			/* template with {param} placeholders */
	bool		idempotent;		/* GET, PUT, DELETE: retried after a failure */
	bool		corrected;
} SignicatRoute;

extern void signicat_corrections_init(void);
extern void signicat_corrections_refresh(void);

extern void signicat_route(const SignicatOperation *op, SignicatRoute *route);

/* ---------- settings: each defined by its module's XxxInit (http.c, auth.c, request.c) ---------- */

typedef enum SignicatTokenAuthMethod
{
	SIGNICAT_CLIENT_SECRET_BASIC,
	SIGNICAT_CLIENT_SECRET_POST
} SignicatTokenAuthMethod;

extern char *signicat_base_url;
extern char *signicat_token_url;
extern char *signicat_client_id;
extern char *signicat_client_secret;
extern char *signicat_client_secret_file;
extern bool signicat_allow_insecure_http;
extern char *signicat_scope;
extern int	signicat_token_auth_method;
extern char *signicat_account_id;
extern int	signicat_max_retries;
extern int	signicat_max_retry_wait_ms;
extern int	signicat_connect_timeout_ms;
extern int	signicat_timeout_ms;
extern char *signicat_ca_file;
extern int	signicat_max_response_size;
extern char *signicat_user_agent;

/* each module defines its own settings (called by _PG_init) */
extern void signicat_http_init(void);
extern void signicat_auth_init(void);
extern void signicat_request_init(void);
extern void signicat_watch_init(void);
extern void signicat_worker_init(void);
extern bool signicat_check_header_value(char **newval, void **extra, GucSource source);
extern bool signicat_check_url(char **newval, void **extra, GucSource source);

/* ---------- http.c: transport ---------- */

/* One part of a multipart/form-data upload. */
typedef struct SignicatMimePart
{
	const char *name;			/* form field name */
	const char *filename;
	const char *content_type;
	const char *data;
	size_t		len;
} SignicatMimePart;

typedef struct SignicatHttpRequest
{
	const char *method;
	const char *url;
	const char *body;			/* NULL: no body */
	size_t		body_len;
	const char *content_type;	/* of the body */
	const SignicatMimePart *parts;	/* multipart/form-data instead of body */
	int			nparts;
	const char *accept;
	const char *bearer;			/* access token, or NULL */
	const char *account_id;		/* Signicat-AccountId header, or NULL */
	bool		fresh_connection;	/* no reused connection: libcurl would send
									 * the request again on one that died */
	const char *basic_user;		/* HTTP Basic credentials (token request) */
	const char *basic_password;
} SignicatHttpRequest;

typedef struct SignicatHttpResponse
{
	long		status;
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		body_len;
	char	   *content_type;	/* palloc'd, or NULL */
	long		retry_after;	/* seconds, -1 when absent */
} SignicatHttpResponse;

/* One request on one easy handle (see http.c). */
typedef struct SignicatTransfer
{
	CURL	   *easy;
	struct curl_slist *headers; /* malloc'd by libcurl */
	curl_mime  *mime;			/* malloc'd by libcurl */
	MemoryContext cxt;			/* where the answer goes */
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		max;
	bool		too_large;
	bool		out_of_memory;
	size_t		header_bytes;	/* of the answer's header lines so far */
	bool		headers_done;	/* the blank line that ends them came */
	bool		headers_too_large;
	CURLcode	result;
	char		errbuf[CURL_ERROR_SIZE];
} SignicatTransfer;

extern void signicat_curl_init(void);
extern void signicat_transfer_setup(SignicatTransfer *t, CURL *easy,
									const SignicatHttpRequest *req, MemoryContext cxt);
extern void signicat_transfer_release(SignicatTransfer *t);
extern void signicat_transfer_response(SignicatTransfer *t, SignicatHttpResponse *resp);
extern bool signicat_transfer_refused(const SignicatTransfer *t);
extern bool signicat_transfer_not_sent(const SignicatTransfer *t);
extern int	signicat_transfer_error(const SignicatTransfer *t, const char **message,
									const char **detail);
/* A request that got no answer (see signicat_http_send). */
typedef struct SignicatTransportError
{
	int			sqlstate;
	const char *message;
	const char *detail;
	bool		timed_out;
	bool		not_sent;		/* failed before the request could reach the server */
	bool		refused;		/* an answer came that we refuse (too large): not sent again */
} SignicatTransportError;

extern bool signicat_http_send(const SignicatHttpRequest *req, SignicatHttpResponse *resp,
							   SignicatTransportError *err);
pg_noreturn extern void signicat_report_transport_error(const SignicatTransportError *e);
extern void signicat_http_perform(const SignicatHttpRequest *req,
								  SignicatHttpResponse *resp);
extern char *signicat_url_escape(const char *s, bool escape_dots);
extern bool signicat_url_in_clear(const char *url);
extern bool signicat_client_gone(void);
pg_noreturn extern void signicat_client_lost(void);
extern void signicat_require_secure_url(const char *url, const char *setting);

/* ---------- poller.c: concurrent requests for the worker ---------- */

typedef struct SignicatPoll
{
	SignicatTransfer transfer;	/* first: found back through CURLINFO_PRIVATE */
	SignicatHttpRequest req;	/* filled by the caller */
	SignicatHttpResponse resp;	/* the answer, when done */
	bool		done;			/* an answer came (any HTTP status) */
	bool		attached;
	uint64		elapsed_us;
	int			sqlstate;		/* else the transport failure */
	const char *error;
	const char *error_detail;
	bool		refused;		/* an answer we refuse (too large): not sent again */
	bool		not_sent;		/* failed to connect: it never reached the server */
} SignicatPoll;

/* the most requests the poller has in flight */
#define SIGNICAT_POLL_MAX 256

extern void signicat_poller_configure(int max_parallel);
extern int	signicat_poller_capacity(void);
extern int	signicat_poller_active(void);
extern bool signicat_poller_start(SignicatPoll *p, MemoryContext cxt, long timeout_ms);
extern int	signicat_poller_wait(int timeout_ms, SignicatPoll **done);
extern void signicat_poller_abort_all(void);

/* ---------- watch.c: what the worker follows ---------- */

typedef struct SignicatWatchKind
{
	const char *kind;			/* signicat.watch.kind */
	const char *create_op;		/* creates one (automatic enrolment) */
	const char *poll_op;		/* reads its status */
	const char *id_member;		/* its id in the create answer */
	const char *const *terminal;	/* statuses that end the following */
} SignicatWatchKind;

extern bool signicat_auto_watch;
extern const SignicatWatchKind *signicat_watch_kind(const char *kind);
extern const SignicatWatchKind *signicat_watch_kind_for_create(const char *opid);
extern bool signicat_watch_is_terminal(const SignicatWatchKind *kind, const char *status);
extern void signicat_watch_check_writable(const char *opid);
extern void signicat_watch_enroll(const SignicatWatchKind *kind, Jsonb *answer,
								  const char *dossier_id);

/* one created item, for signicat_watch_enroll_many */
typedef struct SignicatEnrolment
{
	Jsonb	   *answer;
	const char *dossier_id;
} SignicatEnrolment;

extern void signicat_watch_enroll_many(const SignicatWatchKind *kind,
									   const SignicatEnrolment *items, int n);

/* ---------- worker.c: the background worker ---------- */

extern char *signicat_worker_databases;
extern char *signicat_worker_role;
extern int	signicat_poll_interval_ms;
extern int	signicat_poll_max_interval_ms;
extern int	signicat_poll_batch_size;
extern int	signicat_poll_connections;
extern int	signicat_poll_timeout_ms;
extern int	signicat_worker_naptime_ms;
extern int	signicat_watch_max_age_s;
extern int	signicat_history_retention_s;

extern Size signicat_worker_shmem_size(void);
extern void signicat_worker_shmem_startup(void);
extern void signicat_register_workers(void);
extern PGDLLEXPORT void signicat_worker_main(Datum arg);
extern PGDLLEXPORT void signicat_launcher_main(Datum arg);
extern bool signicat_stop_worker_of(Oid dboid);
extern void signicat_ddl_init(void);
struct BackgroundWorkerHandle;
extern bool signicat_launch_worker(const char *dbname, bool if_switched_on,
								   struct BackgroundWorkerHandle **handle, bool notify_me);

extern int64 signicat_worker_backoff_ms(int steps, long retry_after_s);
struct _SPI_plan;
extern struct _SPI_plan *signicat_worker_keep_plan(const char *sql, int nargs, Oid *types);
extern void signicat_wake_worker_at_commit(void);

/* ---------- auth.c: access token ---------- */

extern Size signicat_auth_shmem_size(void);
extern void signicat_auth_shmem_startup(void);
extern char *signicat_get_token(uint64 *generation);
extern void signicat_invalidate_token(uint64 generation);

/* ---------- json.c: the JSON of answers ---------- */

typedef enum SignicatJsonOutcome
{
	SIGNICAT_JSON_OK,
	SIGNICAT_JSON_MALFORMED,	/* not UTF-8 JSON */
	SIGNICAT_JSON_UNSTORABLE	/* JSON, with a character the database cannot store */
} SignicatJsonOutcome;

extern Jsonb *signicat_json_decode(const char *data, size_t len, SignicatJsonOutcome *outcome,
								   char **detail);
extern Jsonb *signicat_parse_json(const char *data, size_t len, const char *op_id, const char *what);
extern Jsonb *signicat_try_parse_json(const char *data, size_t len);
extern char *signicat_json_string(Jsonb *obj, const char *name);
extern Jsonb *signicat_unwrap_envelope(const SignicatOperation *op, Jsonb *answer);

/* ---------- request.c: one request path for every operation ---------- */

typedef struct SignicatCall
{
	const SignicatOperation *op;	/* the catalog entry, or NULL for signicat.request */
	const char *opid;			/* operation id, or "request" */
	const char *method;
	const char *path_template;	/* for messages: never holds values */
	const char *path;			/* expanded, escaped */
	const char *query;			/* "a=b&c=d" (escaped) or NULL */
	const char *body;
	size_t		body_len;
	const char *content_type;
	const SignicatMimePart *parts;
	int			nparts;
	const char *accept;
	bool		idempotent;		/* may be sent again after it may have arrived */
} SignicatCall;

extern void signicat_execute(const SignicatCall *call, SignicatHttpResponse *resp);
extern char *signicat_api_url(const char *path, const char *query);
extern List *signicat_path_parameters(const char *template);
extern char *signicat_path_problem(const char *path, bool template, const char **hint);
extern void signicat_check_path(const char *path, bool template, const char *what);
extern bool signicat_method_known(const char *method);
extern void signicat_check_method(const char *method, const char *what);
extern void signicat_append_query(StringInfo query, const char *name, const char *value);
extern char *signicat_expand_path(const char *template,
								  const char *(*value_of) (const char *name, void *arg),
								  void *arg);
extern void signicat_call_request(const SignicatCall *call, SignicatHttpRequest *req);
extern bool signicat_try_again(bool answered, long status, bool refused, bool not_sent,
							   bool idempotent);
extern long signicat_retry_delay_ms(int attempt, long retry_after_s);
pg_noreturn extern void signicat_report_retry_too_far(const SignicatCall *call,
													  const SignicatHttpResponse *resp,
													  long retry_after_s);

/* ---------- operation.c: SQL functions bound to operations ---------- */

typedef struct BoundOperation SignicatBoundOperation;

extern SignicatBoundOperation *signicat_bind_function(Oid funcoid);
extern void signicat_prepare_from_json(SignicatBoundOperation *b, Jsonb *args,
									   SignicatCall *call, const char **dossier_id);
extern Jsonb *signicat_bulk_answer(SignicatBoundOperation *b, const SignicatHttpResponse *resp,
								   const struct SignicatWatchKind **enrol);
extern Jsonb *signicat_poll_result(SignicatBoundOperation *b, const SignicatCall *call,
								   const SignicatPoll *poll, long too_far, char **trace_id,
								   const struct SignicatWatchKind **enrol);
extern SignicatBoundOperation *signicat_bind_json_operation(const char *caller, const char *operation,
															Oid role, const char *instead);

/* ---------- queue.c: the after-commit queue ---------- */

/* one claimed request of signicat.queue, ready to be sent by the worker */
typedef struct SignicatQueued
{
	int64		id;
	SignicatBoundOperation *b;	/* its operation's SQL function */
	SignicatCall call;
	const char *dossier_id;		/* of a process created, for its enrolment */
	char	   *account_id;		/* signicat.account_id of the enqueuing session, or NULL */
	bool		watch;			/* its signicat.auto_watch */
	int			attempts;		/* made before this one */
	ErrorData  *refused;		/* it could not be bound again: its outcome */
} SignicatQueued;

extern int	signicat_queue_retention_s;
extern int	signicat_queue_max_attempts;
extern void signicat_queue_init(void);
extern void signicat_queue_forget_plans(void);
extern void signicat_queue_recover(int64 claim_token);
extern void signicat_queue_trim(void);
extern int	signicat_queue_claim(int max, int64 *from, int64 claim_token, MemoryContext cxt,
								 SignicatQueued ***out, int *found, bool *foreign);
extern void signicat_queue_record(SignicatQueued *q, const SignicatPoll *poll,
								  const char *not_sent, uint64 token_generation);
extern void signicat_queue_fail(SignicatQueued *q, bool sent, const char *message);
extern void signicat_queue_give_back(SignicatQueued *q);

/* ---------- bulk.c: signicat.call_many ---------- */

extern int	signicat_bulk_concurrency;
extern void signicat_bulk_init(void);

/* ---------- stats.c: per-operation statistics ---------- */

/* (SignicatErrorClass: wire.h, beside the status table that picks it) */

extern Size signicat_stats_shmem_size(void);
extern void signicat_stats_shmem_startup(void);
extern int	signicat_stats_slot(const SignicatOperation *op);
extern int	signicat_stats_token_slot(void);
extern int	signicat_error_class(long status);
extern const char *signicat_error_class_name(int error_class);
extern void signicat_stats_record(int slot, int error_class, uint64 elapsed_us,
								  uint64 bytes_out, uint64 bytes_in);
extern void signicat_stats_record_answer(int slot, const SignicatHttpResponse *resp,
										 uint64 elapsed_us, uint64 bytes_out);
extern void signicat_stats_retry(int slot);

/* ---------- errors.c: answers to SQLSTATEs ---------- */

extern int	signicat_sqlstate_for_status(long status);
extern char *signicat_http_error_text(const SignicatHttpResponse *resp);
extern char *signicat_trace_id(const SignicatHttpResponse *resp);
pg_noreturn extern void signicat_report_http_error(const SignicatCall *call,
												   const SignicatHttpResponse *resp);
extern bool signicat_try_in_subtransaction(void (*fn) (void *arg), void *arg, ErrorData **error);

#endif							/* SIGNICAT_H */
