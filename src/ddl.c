/*-------------------------------------------------------------------------
 * ddl.c
 *	  What DDL does to the background workers.
 *
 * A running worker holds a connection to its database, so DROP DATABASE
 * would fail with "being accessed by other users", and WITH (FORCE) would
 * kill a worker that then tries to come back.  With the library preloaded,
 * this ProcessUtility hook stops the worker of the database being dropped
 * first (from any database: the worker is found in shared memory), and
 * starts it again if the DROP then fails.  DROP EXTENSION needs nothing
 * here: the worker notices at its next claim that the extension is gone,
 * once the DROP has committed, and stops (worker.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "nodes/parsenodes.h"
#include "postmaster/bgworker.h"
#include "tcop/utility.h"

#include "signicat.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

static void
signicat_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						 ProcessUtilityContext context, ParamListInfo params,
						 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	char	   *volatile stopped = NULL;

	if (IsA(parsetree, DropdbStmt))
	{
		DropdbStmt *stmt = (DropdbStmt *) parsetree;
		Oid			db = get_database_oid(stmt->dbname, true);

		/* only for who may drop it: nobody else can make the worker stop this way */
		if (OidIsValid(db) && object_ownercheck(DatabaseRelationId, db, GetUserId()) && signicat_stop_worker_of(db))
		{
			stopped = pstrdup(stmt->dbname);
			ereport(NOTICE,
					(errmsg("stopped the signicat worker of database \"%s\"", stopped)));
		}
	}

	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
								 queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		/* the database is still there: so is its worker (registering never raises) */
		BackgroundWorkerHandle *handle;

		if (stopped)
			(void) signicat_launch_worker(stopped, false, &handle, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

void
signicat_ddl_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = signicat_process_utility;
}
