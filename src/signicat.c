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
 * from everyone else (GUC_SUPERUSER_ONLY) and from SHOW ALL.
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
	RequestNamedLWLockTranche("signicat", 1);
}

static void
signicat_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	signicat_auth_shmem_startup();
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
							   NULL, NULL, NULL);
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

	MarkGUCPrefixReserved("signicat");

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = signicat_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = signicat_shmem_startup;
}
