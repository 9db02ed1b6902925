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
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
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

/*
 * Read the table into a new cache.  The cache is marked valid before the
 * scan: an invalidation that arrives during it (table_open accepts them)
 * marks it stale again instead of being lost.  On an error the old cache
 * stays, marked stale.
 */
static void
load_corrections(void)
{
	MemoryContext cxt;
	MemoryContext old;
	Correction *loaded;
	Oid			nsp = get_namespace_oid("signicat", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(CORRECTIONS_TABLE, nsp) : InvalidOid;

	corrections_relid = relid;
	corrections_valid = true;
	cxt = AllocSetContextCreate(TopMemoryContext, "signicat corrections", ALLOCSET_SMALL_SIZES);
	loaded = MemoryContextAllocZero(cxt, sizeof(Correction) * signicat_noperations);

	/* before CREATE EXTENSION or ALTER EXTENSION UPDATE: nothing corrected */
	if (OidIsValid(relid))
	{
		PG_TRY();
		{
			Relation	rel = table_open(relid, AccessShareLock);
			Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
			TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
			TupleTableSlot *slot = table_slot_create(rel, NULL);
			AttrNumber	op_att = get_attnum(relid, "operation");
			AttrNumber	method_att = get_attnum(relid, "method");
			AttrNumber	path_att = get_attnum(relid, "path");

			while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
			{
				char	   *opid;
				const SignicatOperation *op;

				slot_getallattrs(slot);
				opid = text_column(slot, op_att);
				op = opid ? signicat_find_operation(opid) : NULL;
				/* (a row for an operation this library lacks corrects nothing) */
				if (op == NULL)
					continue;
				old = MemoryContextSwitchTo(cxt);
				loaded[op - signicat_operations].method = text_column(slot, method_att);
				loaded[op - signicat_operations].path = text_column(slot, path_att);
				MemoryContextSwitchTo(old);
			}
			ExecDropSingleTupleTableSlot(slot);
			table_endscan(scan);
			UnregisterSnapshot(snapshot);
			table_close(rel, AccessShareLock);
		}
		PG_CATCH();
		{
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

/* Refuse a correction that could not be sent as the operation needs. */
static void
check_correction(const char *opid, const char *method, const char *path)
{
	const SignicatOperation *op;
	char	   *missing;
	char	   *extra;

	if (opid == NULL || method == NULL || path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("operation, method and path of a correction are required")));
	op = signicat_find_operation(opid);
	if (op == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no Signicat operation is named \"%s\"", opid),
				 errhint("signicat.operations() lists them.")));
	signicat_check_method(method, psprintf("correction of %s: method", opid));
	if (op->body != SIGNICAT_BODY_NONE &&
		(strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("correction of %s: method %s sends no body, and %s sends one",
						opid, method, opid)));
	signicat_check_path(path, true, psprintf("correction of %s: path", opid));
	if (!same_parameters(path, op->path, &missing, &extra))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 missing ? errmsg("correction of %s: path must hold {%s} once", opid, missing)
				 : errmsg("correction of %s: path holds {%s}, which is not a parameter of it", opid, extra),
				 errdetail("A corrected path uses the parameters of \"%s\", each once.", op->path)));
}

PG_FUNCTION_INFO_V1(signicat_operation_corrections_trigger);

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW: the row must be a valid correction.
 * Every firing, row or statement (DELETE, TRUNCATE), sends the invalidation
 * that makes every backend read the table again once this commits.
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

		check_correction(SPI_getvalue(tuple, desc, SPI_fnumber(desc, "operation")),
						 SPI_getvalue(tuple, desc, SPI_fnumber(desc, "method")),
						 SPI_getvalue(tuple, desc, SPI_fnumber(desc, "path")));
		return PointerGetDatum(tuple);
	}
	return PointerGetDatum(NULL);
}

void
signicat_corrections_init(void)
{
	CacheRegisterRelcacheCallback(corrections_relcache_callback, (Datum) 0);
}
