/*-------------------------------------------------------------------------
 * watch.c
 *	  What the background worker follows: the kinds of watched items (which
 *	  operation creates one, which reads its status, which statuses end it)
 *	  and their automatic enrolment when they are created through SQL.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "signicat.h"


bool		signicat_auto_watch = true;

static const char *const assure_final[] = {
	"accepted", "rejected", "inconclusive", "failed", "canceled", NULL
};
static const char *const auth_final[] = {"SUCCESS", "ERROR", "ABORT", "CANCELLED", NULL};
static const char *const reuseid_final[] = {"Completed", "Failed", NULL};

static const SignicatWatchKind watch_kinds[] = {
	{"assure_process", "assure_create_process", "assure_get_process", "processId", assure_final},
	{"auth_session", "auth_create_session", "auth_get_session", "id", auth_final},
	{"reuseid_onboarding", "reuseid_start_onboarding", "reuseid_get_onboarding", "transactionId", reuseid_final},
	{"reuseid_step_up", "reuseid_start_step_up", "reuseid_get_step_up", "transactionId", reuseid_final},
};

const SignicatWatchKind *
signicat_watch_kind(const char *kind)
{
	for (size_t i = 0; i < lengthof(watch_kinds); i++)
	{
		if (strcmp(watch_kinds[i].kind, kind) == 0)
			return &watch_kinds[i];
	}
	return NULL;
}

const SignicatWatchKind *
signicat_watch_kind_for_create(const char *opid)
{
	for (size_t i = 0; i < lengthof(watch_kinds); i++)
	{
		if (strcmp(watch_kinds[i].create_op, opid) == 0)
			return &watch_kinds[i];
	}
	return NULL;
}

bool
signicat_watch_is_terminal(const SignicatWatchKind *kind, const char *status)
{
	if (status == NULL)
		return false;
	for (const char *const *s = kind->terminal; *s; s++)
	{
		if (strcmp(*s, status) == 0)
			return true;
	}
	return false;
}

/*
 * A create whose result would be enrolled must be able to write: refused
 * before anything is sent, since afterwards the remote object would exist
 * and its id be lost with the failed enrolment.  Reads, and creates with
 * signicat.auto_watch off, run anywhere (a standby included).
 */
void
signicat_watch_check_writable(const char *opid)
{
	if (!signicat_auto_watch || signicat_watch_kind_for_create(opid) == NULL)
		return;
	if (XactReadOnly || RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s cannot run in a read-only transaction: what it creates is enrolled in signicat.watch",
						opid),
				 errdetail("Nothing was sent to Signicat."),
				 errhint("Run it on the primary outside a read-only transaction, or SET LOCAL signicat.auto_watch = off for it.")));
}

/*
 * Enrol what a create operation just made, so the worker follows it:
 * signicat.watch_add (SECURITY DEFINER) in the caller's transaction, so a
 * rolled-back transaction enrols nothing.  Skipped when signicat.auto_watch
 * is off or the answer carries no id.
 */
void
signicat_watch_enroll(const SignicatWatchKind *kind, Jsonb *answer, const char *dossier_id)
{
	SignicatEnrolment item = {answer, dossier_id};

	signicat_watch_enroll_many(kind, &item, 1);
}

/*
 * Enrol what n creates of kind made (one for a SQL function, a window's for
 * signicat.call_many), in one statement: signicat.watch_add per item.  The
 * ids go in as uuid arrays, not as text cast in SQL: the statement has no
 * cast, operator or unqualified name that the caller's search_path could
 * resolve to somebody else's code.  Items whose answer carries no id are
 * left out; nothing is done with signicat.auto_watch off.
 */
void
signicat_watch_enroll_many(const SignicatWatchKind *kind, const SignicatEnrolment *items, int n)
{
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *dossiers = palloc(sizeof(Datum) * n);
	bool	   *nodossier = palloc(sizeof(bool) * n);
	int			dims[1];
	int			lbs[1] = {1};
	int			count = 0;
	Oid			argtypes[3] = {TEXTOID, UUIDARRAYOID, UUIDARRAYOID};
	Datum		values[3];
	int			rc;

	if (!signicat_auto_watch)
		return;
	for (int i = 0; i < n; i++)
	{
		JsonbValue *id;

		if (items[i].answer == NULL || !JB_ROOT_IS_OBJECT(items[i].answer))
			continue;
		id = getKeyJsonValueFromContainer(&items[i].answer->root, kind->id_member,
										  strlen(kind->id_member), NULL);
		if (id == NULL || id->type != jbvString)
			continue;
		ids[count] = DirectFunctionCall1(uuid_in,
										 CStringGetDatum(pnstrdup(id->val.string.val, id->val.string.len)));
		nodossier[count] = items[i].dossier_id == NULL;
		dossiers[count] = nodossier[count] ? (Datum) 0 :
			DirectFunctionCall1(uuid_in, CStringGetDatum(items[i].dossier_id));
		count++;
	}
	if (count == 0)
		return;
	dims[0] = count;
	values[0] = CStringGetTextDatum(kind->kind);
	values[1] = PointerGetDatum(construct_md_array(ids, NULL, 1, dims, lbs, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	values[2] = PointerGetDatum(construct_md_array(dossiers, nodossier, 1, dims, lbs, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));

	SPI_connect();
	rc = SPI_execute_with_args("SELECT pg_catalog.count(signicat.watch_add($1, u.i, u.d)) "
							   "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(i, d)",
							   3, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not enrol %s for status tracking: %s", kind->kind,
			 SPI_result_code_string(rc));
	SPI_finish();
}

/* Automatic enrolment. */
void
signicat_watch_init(void)
{
	DefineCustomBoolVariable("signicat.auto_watch",
							 "Follow processes, sessions and onboardings created through SQL in signicat.watch.",
							 NULL, &signicat_auto_watch, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}
