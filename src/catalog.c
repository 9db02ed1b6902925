/*-------------------------------------------------------------------------
 * catalog.c
 *	  Look-ups in the operation catalog (the table itself is generated into
 *	  catalog_data.c).  Its enumerations are the values known when it was
 *	  written: shown by signicat.operations(), never used to refuse a value,
 *	  since Signicat adds values (providers, options) without notice and
 *	  its own 400 answer says what it does not accept.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
