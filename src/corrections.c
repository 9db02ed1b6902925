/*-------------------------------------------------------------------------
 * corrections.c
 *	  Run-time corrections of an operation's method and path: the table
 *	  signicat.operation_corrections, its validating trigger, and the cache
 *	  every caller reads (the SQL functions, signicat.operations() and the
 *	  worker) through signicat_route().
 *
 * Signicat changes paths more often than DBAs upgrade extensions, and 40 of
 * the catalog's paths are inferred.  An admin fixes one with a row; no
 * rebuild, no restart.  The rows are read into a per-backend cache, which a
 * relcache invalidation of the table empties: the trigger sends one with
 * every change, so every backend and the worker see a committed change at
 * their next transaction (and the changing transaction at its next command).
 * The table is read with a plain scan, not SPI: a caller needs no privilege
 * on it, and no search_path is involved.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "signicat.h"

#define CORRECTIONS_TABLE "operation_corrections"

typedef struct Correction
{
	char	   *method;			/* NULL: not corrected */
	char	   *path;
} Correction;

/* indexed like signicat_operations[]; NULL while nothing was loaded */
static Correction *corrections = NULL;
static MemoryContext corrections_cxt = NULL;
static bool corrections_valid = false;
static Oid	corrections_relid = InvalidOid;

static char *correction_problem(const SignicatOperation *op, const char *method, const char *path);

static bool
method_is_idempotent(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "PUT") == 0 ||
		strcmp(method, "DELETE") == 0;
}

/* Any change to the table (or a cache reset) empties the cache. */
static void
corrections_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == corrections_relid ||
		!OidIsValid(corrections_relid))
		corrections_valid = false;
}

static char *
text_column(TupleTableSlot *slot, AttrNumber attnum)
{
	if (attnum == InvalidAttrNumber || slot->tts_isnull[attnum - 1])
		return NULL;
	return TextDatumGetCString(slot->tts_values[attnum - 1]);
}

/* A text column of the table by name, or InvalidAttrNumber (then no row is used). */
static AttrNumber
text_attnum(Relation rel, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum <= 0 || TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != TEXTOID)
		return InvalidAttrNumber;
	return attnum;
}

/*
 * Every usable row of the table, into loaded[] (allocated in cxt).  A row
 * is checked again here, as the trigger did: rows can come in without it
 * (replication, a restore with triggers off, a build that renamed a
 * parameter), and such a row is skipped with a WARNING, never sent.
 */
static void
scan_corrections(Relation rel, MemoryContext cxt, Correction *loaded)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	AttrNumber	op_att = text_attnum(rel, "operation");
	AttrNumber	method_att = text_attnum(rel, "method");
	AttrNumber	path_att = text_attnum(rel, "path");

	while (op_att && method_att && path_att &&
		   table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		char	   *opid;
		char	   *method;
		char	   *path;
		char	   *problem;
		const SignicatOperation *op;

		slot_getallattrs(slot);
		opid = text_column(slot, op_att);
		method = text_column(slot, method_att);
		path = text_column(slot, path_att);
		op = opid ? signicat_find_operation(opid) : NULL;
		/* (a row for an operation this library lacks corrects nothing) */
		if (op == NULL || method == NULL || path == NULL)
			continue;
		if ((problem = correction_problem(op, method, path)) != NULL)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("signicat.operation_corrections: the correction of %s is not used: %s",
							opid, problem)));
			continue;
		}
		loaded[op - signicat_operations].method = MemoryContextStrdup(cxt, method);
		loaded[op - signicat_operations].path = MemoryContextStrdup(cxt, path);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
}

/*
 * Read the table into a new cache.  The cache is marked valid before the
 * scan: an invalidation that arrives during it (table_open accepts them)
 * marks it stale again instead of being lost.  On an error the old cache
 * stays, marked stale.
 */
static void
load_corrections(void)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt;
	Correction *loaded;
	Oid			nsp = get_namespace_oid("signicat", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(CORRECTIONS_TABLE, nsp) : InvalidOid;

	corrections_relid = relid;
	corrections_valid = true;
	cxt = AllocSetContextCreate(TopMemoryContext, "signicat corrections", ALLOCSET_SMALL_SIZES);
	loaded = MemoryContextAllocZero(cxt, sizeof(Correction) * signicat_noperations);

	/* before CREATE EXTENSION or ALTER EXTENSION UPDATE, or dropped meanwhile: nothing corrected */
	if (OidIsValid(relid))
	{
		PG_TRY();
		{
			Relation	rel = try_table_open(relid, AccessShareLock);

			if (rel != NULL)
			{
				if (rel->rd_rel->relkind == RELKIND_RELATION)
					scan_corrections(rel, cxt, loaded);
				table_close(rel, AccessShareLock);
			}
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller);
			corrections_valid = false;
			MemoryContextDelete(cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}

	if (corrections_cxt)
		MemoryContextDelete(corrections_cxt);
	corrections_cxt = cxt;
	corrections = loaded;
}

/* Read the table again if it changed; needs a transaction. */
void
signicat_corrections_refresh(void)
{
	if (!corrections_valid)
		load_corrections();
}

/*
 * Where op is sent now.  The cache is refreshed only inside a transaction
 * (the worker prepares its requests after committing its claim, which
 * refreshed it); outside one the last loaded corrections serve.
 */
void
signicat_route(const SignicatOperation *op, SignicatRoute *route)
{
	const Correction *c;

	if (IsTransactionState())
		signicat_corrections_refresh();
	c = corrections ? &corrections[op - signicat_operations] : NULL;
	if (c && c->method && c->path)
	{
		/* copies: the cache may be replaced while the caller still holds them */
		route->method = pstrdup(c->method);
		route->path = pstrdup(c->path);
		route->idempotent = method_is_idempotent(c->method);
		route->corrected = true;
	}
	else
	{
		route->method = op->method;
		route->path = op->path;
		route->idempotent = op->idempotent;
		route->corrected = false;
	}
}

/* ---------- the table's trigger: validation and invalidation ---------- */

/* Whether template uses exactly the parameters of op's catalog path, each once. */
static bool
same_parameters(const char *template, const char *catalog, char **missing, char **extra)
{
	List	   *given = signicat_path_parameters(template);
	List	   *wanted = signicat_path_parameters(catalog);
	ListCell   *lc;

	*missing = *extra = NULL;
	foreach(lc, wanted)
	{
		char	   *name = lfirst(lc);
		int			n = 0;
		ListCell   *lc2;

		foreach(lc2, given)
			n += strcmp(lfirst(lc2), name) == 0;
		if (n != 1)
		{
			*missing = name;
			return false;
		}
	}
	foreach(lc, given)
	{
		char	   *name = lfirst(lc);
		bool		known = false;
		ListCell   *lc2;

		foreach(lc2, wanted)
			known |= strcmp(lfirst(lc2), name) == 0;
		if (!known)
		{
			*extra = name;
			return false;
		}
	}
	return true;
}

/* The first segment of a path: its API ("/assure/", "/mobileid/", ...). */
static size_t
api_prefix_len(const char *path)
{
	const char *slash = strchr(path + 1, '/');

	return slash ? (size_t) (slash - path + 1) : strlen(path);
}

/*
 * Why method and path cannot correct op, or NULL.  A correction keeps what
 * the roles rely on: an operation that reads (GET, which readers may be
 * granted) stays a read, one that writes stays a write; it stays in its API
 * (the first segment, /assure/, /mobileid/, ...); and it is a path that can
 * be expanded: the catalog's parameters, each once, each a whole segment.
 */
static char *
correction_problem(const SignicatOperation *op, const char *method, const char *path)
{
	const char *hint;
	char	   *problem;
	char	   *missing;
	char	   *extra;

	if (!signicat_method_known(method))
		return psprintf("method must be GET, POST, PUT, PATCH or DELETE, not \"%s\"", method);
	if ((strcmp(method, "GET") == 0) != (strcmp(op->method, "GET") == 0))
		return psprintf("method %s would make %s a %s: a correction keeps a read a read and a write a write",
						method, op->method, strcmp(method, "GET") == 0 ? "read" : "write");
	if (op->body != SIGNICAT_BODY_NONE && strcmp(method, "DELETE") == 0)
		return psprintf("method %s sends no body, and this operation sends one", method);
	if ((problem = signicat_path_problem(path, true, &hint)) != NULL)
		return psprintf("path %s", problem);
	if (api_prefix_len(path) != api_prefix_len(op->path) ||
		strncmp(path, op->path, api_prefix_len(op->path)) != 0)
		return psprintf("path must stay below %.*s, the operation's API",
						(int) api_prefix_len(op->path) - 1, op->path);
	if (!same_parameters(path, op->path, &missing, &extra))
		return missing ? psprintf("path must hold {%s} once, as \"%s\" does", missing, op->path)
			: psprintf("path holds {%s}, which is not a parameter of \"%s\"", extra, op->path);
	return NULL;
}

PG_FUNCTION_INFO_V1(signicat_operation_corrections_trigger);

/*
 * The table's trigger.  BEFORE INSERT OR UPDATE FOR EACH ROW: the row must
 * be a correction that can work, and who changed it when is set here (not
 * left to defaults an UPDATE keeps).  A row for an operation this library
 * does not know is kept with a WARNING, so that a restore into an older
 * build keeps it; it corrects nothing.  Every firing, row or statement
 * (DELETE, TRUNCATE), sends the invalidation that makes every backend read
 * the table again once this commits.
 */
Datum
signicat_operation_corrections_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "signicat_operation_corrections_trigger: not called as a trigger");
	event = trigdata->tg_event;
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));

	if (TRIGGER_FIRED_FOR_ROW(event) && TRIGGER_FIRED_BEFORE(event) &&
		(TRIGGER_FIRED_BY_INSERT(event) || TRIGGER_FIRED_BY_UPDATE(event)))
	{
		HeapTuple	tuple = TRIGGER_FIRED_BY_UPDATE(event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
		TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
		char	   *opid = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "operation"));
		char	   *method = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "method"));
		char	   *path = SPI_getvalue(tuple, desc, SPI_fnumber(desc, "path"));
		const SignicatOperation *op;
		char	   *problem;
		int			cols[2];
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (opid == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a correction needs its operation")));
		if (method == NULL || path == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("correction of %.64s: %s is required", opid, method == NULL ? "method" : "path")));
		op = signicat_find_operation(opid);
		if (op == NULL)
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no Signicat operation is named \"%.64s\": its correction is kept, and corrects nothing", opid),
					 errhint("signicat.operations() lists the operations of this build.")));
		else if ((problem = correction_problem(op, method, path)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("correction of %s: %s", opid, problem)));

		cols[0] = SPI_fnumber(desc, "changed_by");
		cols[1] = SPI_fnumber(desc, "changed_at");
		if (cols[0] > 0 && cols[1] > 0)
		{
			values[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
			values[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
			tuple = heap_modify_tuple_by_cols(tuple, desc, 2, cols, values, nulls);
		}
		return PointerGetDatum(tuple);
	}
	return PointerGetDatum(NULL);
}

void
signicat_corrections_init(void)
{
	CacheRegisterRelcacheCallback(corrections_relcache_callback, (Datum) 0);
}
