/*-------------------------------------------------------------------------
 * signicat.c
 *	  Entry point of the signicat extension: _PG_init, the signicat.* settings
 *	  and the shared memory hooks.
 *
 * Loaded through shared_preload_libraries, the access token lives in shared
 * memory and is shared by every backend; loaded on demand (CREATE EXTENSION
 * without preloading) each backend keeps its own token.
 *
 * Settings that decide where requests and credentials go (URLs, client id
 * and secret, CA file) can only be set by superusers; the secret is hidden
 * from everyone else (GUC_SUPERUSER_ONLY) and from SHOW ALL.  The route we
 * recommend for the secret is signicat.client_secret_file: a file only the
 * server can read, so the secret never passes through SQL, the settings
 * machinery or the server log (see auth.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "signicat.h"

PG_MODULE_MAGIC;

char	   *signicat_base_url = NULL;
char	   *signicat_token_url = NULL;
char	   *signicat_client_id = NULL;
char	   *signicat_client_secret = NULL;
char	   *signicat_client_secret_file = NULL;
bool		signicat_allow_insecure_http = false;
char	   *signicat_scope = NULL;
int			signicat_token_auth_method = SIGNICAT_CLIENT_SECRET_BASIC;
char	   *signicat_account_id = NULL;
int			signicat_connect_timeout_ms = 5000;
int			signicat_timeout_ms = 30000;
char	   *signicat_ca_file = NULL;
int			signicat_max_response_size = 64 * 1024 * 1024;
char	   *signicat_user_agent = NULL;

static const struct config_enum_entry token_auth_methods[] = {
	{"client_secret_basic", SIGNICAT_CLIENT_SECRET_BASIC, false},
	{"client_secret_post", SIGNICAT_CLIENT_SECRET_POST, false},
	{NULL, 0, false}
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

/* Header values must not be able to inject another header or line. */
static bool
check_header_value(char **newval, void **extra, GucSource source)
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

/*
 * The secret is refused where PostgreSQL would store it for every role to
 * read: ALTER ROLE/DATABASE ... SET (pg_db_role_setting) and CREATE FUNCTION
 * ... SET (pg_proc) are validated with PGC_S_TEST, and such a stored value
 * comes back as PGC_S_DATABASE/USER at connection.  The message never shows
 * the value (PostgreSQL's default one would).
 */
static bool
check_client_secret(char **newval, void **extra, GucSource source)
{
	if (*newval && (*newval)[0] &&
		(source == PGC_S_TEST || source == PGC_S_DATABASE || source == PGC_S_USER ||
		 source == PGC_S_DATABASE_USER))
	{
		GUC_check_errmsg("signicat.client_secret cannot be stored with a role, a database or a function");
		GUC_check_errdetail("Every role can read such settings (pg_db_role_setting, pg_proc).");
		GUC_check_errhint("Set signicat.client_secret_file to a file only the server can read.");
		return false;
	}
	return true;
}

static bool
check_url(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (strncmp(*newval, "https://", 8) != 0 && strncmp(*newval, "http://", 7) != 0)
	{
		GUC_check_errdetail("The URL must start with https:// (or http:// for a local test server).");
		return false;
	}
	return check_header_value(newval, extra, source);
}

static void
signicat_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(signicat_auth_shmem_size());
	RequestAddinShmemSpace(signicat_worker_shmem_size());
	RequestAddinShmemSpace(signicat_stats_shmem_size());
	RequestNamedLWLockTranche("signicat", 1);
}

static void
signicat_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	signicat_auth_shmem_startup();
	signicat_worker_shmem_startup();
	signicat_stats_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	DefineCustomStringVariable("signicat.base_url",
							   "Base URL of the Signicat API; paths carry the API prefix (/assure, ...).",
							   NULL, &signicat_base_url, "https://api.signicat.com",
							   PGC_SUSET, 0, check_url, NULL, NULL);
	DefineCustomStringVariable("signicat.token_url",
							   "OAuth 2.0 token endpoint.",
							   NULL, &signicat_token_url,
							   "https://api.signicat.com/auth/open/connect/token",
							   PGC_SUSET, 0, check_url, NULL, NULL);
	DefineCustomStringVariable("signicat.client_id",
							   "OAuth 2.0 client id of the Signicat API client.",
							   NULL, &signicat_client_id, "",
							   PGC_SUSET, 0, check_header_value, NULL, NULL);
	DefineCustomStringVariable("signicat.client_secret",
							   "OAuth 2.0 client secret of the Signicat API client.",
							   "Only superusers can see or set it.",
							   &signicat_client_secret, "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_client_secret, NULL, NULL);
	DefineCustomStringVariable("signicat.client_secret_file",
							   "File holding the OAuth 2.0 client secret (recommended over signicat.client_secret).",
							   "Read when a token is fetched; must be readable by the server only, like ssl_key_file.",
							   &signicat_client_secret_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomBoolVariable("signicat.allow_insecure_http",
							 "Allow plain http:// URLs to hosts other than loopback addresses (INSECURE).",
							 "The access token and the client secret then cross the network in clear text.",
							 &signicat_allow_insecure_http, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.worker_role",
							   "Role the background worker runs its statements as.",
							   "Needs only the grants of the extension's role signicat_worker.",
							   &signicat_worker_role, "signicat_worker",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.scope",
							   "OAuth 2.0 scope requested with the token.",
							   NULL, &signicat_scope, "signicat-api",
							   PGC_SUSET, 0, check_header_value, NULL, NULL);
	DefineCustomEnumVariable("signicat.token_auth_method",
							 "How the client authenticates at the token endpoint.",
							 NULL, &signicat_token_auth_method, SIGNICAT_CLIENT_SECRET_BASIC,
							 token_auth_methods, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.account_id",
							   "Signicat account to act on, sent as the Signicat-AccountId header when set.",
							   "Can be set per session or per transaction (SET LOCAL).",
							   &signicat_account_id, "",
							   PGC_USERSET, 0, check_header_value, NULL, NULL);
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
							   PGC_USERSET, 0, check_header_value, NULL, NULL);

	DefineCustomIntVariable("signicat.max_retries",
							"Retries of an idempotent request after a lost connection, a timeout, 429, 502, 503 or 504.",
							"Never past statement_timeout; POST requests are retried only when they cannot have reached Signicat.",
							&signicat_max_retries, 2, 0, 10,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("signicat.auto_watch",
							 "Follow processes, sessions and onboardings created through SQL in signicat.watch.",
							 NULL, &signicat_auto_watch, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.worker_databases",
							   "Databases in which a background worker follows signicat.watch (comma-separated).",
							   "Each must exist. signicat.start_worker() starts one later in the current database.",
							   &signicat_worker_databases, "",
							   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_interval",
							"Time between polls of an item whose status just changed.",
							"Polls of items that stay unchanged back off by 1.5x up to signicat.poll_max_interval.",
							&signicat_poll_interval_ms, 5000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_max_interval",
							"Longest time between two polls of an item (also the cap of error backoff).",
							NULL, &signicat_poll_max_interval_ms, 300000, 10, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_batch_size",
							"Most items the worker claims in one round.",
							NULL, &signicat_poll_batch_size, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_connections",
							"Most requests (and connections) the worker has open at once.",
							NULL, &signicat_poll_connections, 8, 1, 256,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.poll_timeout",
							"Time allowed for one poll of the worker (signicat.timeout if that is shorter).",
							"A status answer is small: a poll that takes longer is given up, its item backs off, and its connection serves others.",
							&signicat_poll_timeout_ms, 5000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.worker_naptime",
							"How long the worker sleeps when nothing is due.",
							NULL, &signicat_worker_naptime_ms, 1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.watch_max_age",
							"Items still not final this long after enrolment are marked expired.",
							NULL, &signicat_watch_max_age_s, 7 * 24 * 3600, 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("signicat.history_retention",
							"How long status_history rows are kept; 0 keeps them forever.",
							NULL, &signicat_history_retention_s, 90 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	MarkGUCPrefixReserved("signicat");

	if (!process_shared_preload_libraries_in_progress)
		return;

	signicat_register_workers();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = signicat_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = signicat_shmem_startup;
}
