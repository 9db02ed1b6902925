/*-------------------------------------------------------------------------
 * catalog.c
 *	  Look-ups in the operation catalog (the table itself is generated into
 *	  catalog_data.c) and validation of enumerated values against it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "signicat.h"

static int
compare_operation_id(const void *key, const void *entry)
{
	return strcmp((const char *) key, ((const SignicatOperation *) entry)->id);
}

/* Operation by id (the SQL function name), or NULL. */
const SignicatOperation *
signicat_find_operation(const char *id)
{
	return bsearch(id, signicat_operations, signicat_noperations,
				   sizeof(SignicatOperation), compare_operation_id);
}

/* Parameter of an operation by wire name, or NULL. */
const SignicatParam *
signicat_find_param(const SignicatOperation *op, const char *name)
{
	for (int i = 0; i < op->nparams; i++)
	{
		if (strcmp(op->params[i].name, name) == 0)
			return &op->params[i];
	}
	return NULL;
}

/*
 * Refuse a value outside the parameter's enumeration before any request is
 * sent, naming the argument and the allowed values.
 */
void
signicat_check_allowed(const SignicatParam *param, const char *argname,
					   const char *value)
{
	StringInfoData allowed;

	if (param == NULL || param->allowed == NULL)
		return;
	for (const char *const *v = param->allowed; *v; v++)
	{
		if (strcmp(*v, value) == 0)
			return;
	}

	initStringInfo(&allowed);
	for (const char *const *v = param->allowed; *v; v++)
		appendStringInfo(&allowed, "%s%s", v == param->allowed ? "" : ", ", *v);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for %s: \"%s\"", argname, value),
			 errdetail("Allowed values: %s.", allowed.data)));
}
