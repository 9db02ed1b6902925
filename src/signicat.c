/*-------------------------------------------------------------------------
 * signicat.c
 *	  Entry point of the signicat extension: _PG_init, which has each module
 *	  define its own signicat.* settings (XxxInit, as pgvector does), and the
 *	  shared memory hooks.
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
#include "utils/wait_event.h"

#include "signicat.h"

SIGNICAT_MODULE_MAGIC;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

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

#ifdef SIGNICAT_CUSTOM_WAIT_EVENTS
/* pg_stat_activity.wait_event names, in SignicatWaitEvent's order */
static const char *const wait_event_names[SIGNICAT_WAIT_COUNT] = {
	"SignicatHttp", "SignicatRetryDelay", "SignicatToken", "SignicatNaptime"
};
#endif
static uint32 wait_event_info[SIGNICAT_WAIT_COUNT];

/*
 * Name this process's wait events (17+; a no-op before).  Registering takes
 * a lock and may raise, so it runs where nothing is held yet: at the start
 * of a call and of a worker, never in the middle of a wait.
 */
void
signicat_wait_events_init(void)
{
#ifdef SIGNICAT_CUSTOM_WAIT_EVENTS
	for (int i = 0; i < SIGNICAT_WAIT_COUNT; i++)
		if (wait_event_info[i] == 0)
			wait_event_info[i] = WaitEventExtensionNew(wait_event_names[i]);
#endif
}

/* The wait_event_info to report for a wait: its own name, else "Extension". */
uint32
signicat_wait_event(SignicatWaitEvent which)
{
	return wait_event_info[which] != 0 ? wait_event_info[which] : PG_WAIT_EXTENSION;
}

void
_PG_init(void)
{
	/* each module defines its own settings */
	signicat_http_init();
	signicat_auth_init();
	signicat_request_init();
	signicat_watch_init();
	signicat_worker_init();
	signicat_corrections_init();
	signicat_bulk_init();
	signicat_queue_init();

	MarkGUCPrefixReserved("signicat");

	/*
	 * pg_upgrade's servers (-b) load the library only to check it: no worker
	 * may follow anything there, and no hook should see the restore (pg_cron
	 * and pg_net stop here too).  Everything below then runs as if the
	 * library were not preloaded.
	 */
	if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade)
		return;

	signicat_register_workers();
	signicat_ddl_init();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = signicat_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = signicat_shmem_startup;
}
