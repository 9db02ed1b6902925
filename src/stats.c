/*-------------------------------------------------------------------------
 * stats.c
 *	  Per-operation statistics in shared memory, in the style of
 *	  pg_stat_statements: calls, errors by class, retries, time and bytes,
 *	  for every catalog operation plus signicat.request and the token
 *	  endpoint.  The view is signicat.stat_operations.
 *
 * Counters are atomics in a fixed array indexed like the catalog, so
 * recording a call takes no lock and costs a few atomic adds.  Without
 * shared_preload_libraries the counters are the backend's own.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "signicat.h"

/* only pg_atomic_uint64 members: see COUNTERS_PER_OPERATION */
typedef struct OperationStats
{
	pg_atomic_uint64 calls;
	pg_atomic_uint64 errors[SIGNICAT_ERROR_CLASSES];
	pg_atomic_uint64 retries;
	pg_atomic_uint64 total_us;
	pg_atomic_uint64 max_us;
	pg_atomic_uint64 bytes_in;
	pg_atomic_uint64 bytes_out;
	pg_atomic_uint64 last_error_at; /* TimestampTz, 0 = never */
} OperationStats;

typedef struct StatsShared
{
	pg_atomic_uint64 reset_at;	/* TimestampTz */
	OperationStats ops[FLEXIBLE_ARRAY_MEMBER];
} StatsShared;

static StatsShared *stats = NULL;

static const char *const error_class_names[SIGNICAT_ERROR_CLASSES] = {
	"bad_request", "unauthorized", "not_found", "conflict", "rate_limited",
	"server", "transport"
};

const char *
signicat_error_class_name(int error_class)
{
	return error_class >= 0 && error_class < SIGNICAT_ERROR_CLASSES ?
		error_class_names[error_class] : NULL;
}

/* catalog operations, then signicat.request, then the token endpoint */
static int
nslots(void)
{
	return signicat_noperations + 2;
}

Size
signicat_stats_shmem_size(void)
{
	return MAXALIGN(offsetof(StatsShared, ops) + sizeof(OperationStats) * nslots());
}

/* Every member of OperationStats is a counter: walk them as an array. */
#define COUNTERS_PER_OPERATION (sizeof(OperationStats) / sizeof(pg_atomic_uint64))
StaticAssertDecl(sizeof(OperationStats) % sizeof(pg_atomic_uint64) == 0,
				 "OperationStats holds only counters");

static void
init_stats(StatsShared *s)
{
	pg_atomic_init_u64(&s->reset_at, (uint64) GetCurrentTimestamp());
	for (int i = 0; i < nslots(); i++)
	{
		pg_atomic_uint64 *counters = (pg_atomic_uint64 *) &s->ops[i];

		for (size_t c = 0; c < COUNTERS_PER_OPERATION; c++)
			pg_atomic_init_u64(&counters[c], 0);
	}
}

void
signicat_stats_shmem_startup(void)
{
	bool		found;

	stats = ShmemInitStruct("signicat stats", signicat_stats_shmem_size(), &found);
	if (!found)
		init_stats(stats);
}

static StatsShared *
get_stats(void)
{
	if (stats == NULL)
	{
		/* not preloaded: this backend's own counters */
		stats = MemoryContextAllocZero(TopMemoryContext, signicat_stats_shmem_size());
		init_stats(stats);
	}
	return stats;
}

/* Slot of a catalog operation; NULL is signicat.request's. */
int
signicat_stats_slot(const SignicatOperation *op)
{
	return op ? (int) (op - signicat_operations) : signicat_noperations;
}

/* Slot of the token endpoint. */
int
signicat_stats_token_slot(void)
{
	return signicat_noperations + 1;
}

/* Error class of an HTTP status (wire.c's table), or -1 for success. */
int
signicat_error_class(long status)
{
	const WireStatusRule *rule = wire_status_rule(status);

	return rule ? rule->error_class : -1;
}

/*
 * Record one request: its duration, bytes, and error class (-1 = none).
 * Retries are counted separately by signicat_stats_retry.
 */
void
signicat_stats_record(int slot, int error_class, uint64 elapsed_us, uint64 bytes_out,
					  uint64 bytes_in)
{
	OperationStats *o = &get_stats()->ops[slot];
	uint64		max = pg_atomic_read_u64(&o->max_us);

	pg_atomic_fetch_add_u64(&o->calls, 1);
	pg_atomic_fetch_add_u64(&o->total_us, elapsed_us);
	pg_atomic_fetch_add_u64(&o->bytes_out, bytes_out);
	pg_atomic_fetch_add_u64(&o->bytes_in, bytes_in);
	while (elapsed_us > max &&
		   !pg_atomic_compare_exchange_u64(&o->max_us, &max, elapsed_us))
		;
	if (error_class >= 0)
	{
		pg_atomic_fetch_add_u64(&o->errors[error_class], 1);
		pg_atomic_write_u64(&o->last_error_at, (uint64) GetCurrentTimestamp());
	}
}

/*
 * A finished call of an operation: its answer (NULL when none came, a
 * transport failure) gives the error class and the bytes in.
 */
void
signicat_stats_record_answer(int slot, const SignicatHttpResponse *resp, uint64 elapsed_us,
							 uint64 bytes_out)
{
	signicat_stats_record(slot, resp ? signicat_error_class(resp->status) : SIGNICAT_ERR_TRANSPORT,
						  elapsed_us, bytes_out, resp ? resp->body_len : 0);
}

void
signicat_stats_retry(int slot)
{
	pg_atomic_fetch_add_u64(&get_stats()->ops[slot].retries, 1);
}

PG_FUNCTION_INFO_V1(signicat_stats);

/* signicat.stats(): one row per operation that was called. */
Datum
signicat_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StatsShared *s = get_stats();

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nslots(); i++)
	{
		OperationStats *o = &s->ops[i];
		Datum		values[12];
		bool		nulls[12] = {false};
		uint64		calls = pg_atomic_read_u64(&o->calls);
		uint64		errors = 0;
		uint64		last_error_at = pg_atomic_read_u64(&o->last_error_at);
		Datum		classes[SIGNICAT_ERROR_CLASSES * 2];
		int			nclasses = 0;

		if (calls == 0)
			continue;
		for (int c = 0; c < SIGNICAT_ERROR_CLASSES; c++)
		{
			uint64		n = pg_atomic_read_u64(&o->errors[c]);

			errors += n;
			if (n > 0)
			{
				classes[nclasses++] = CStringGetTextDatum(error_class_names[c]);
				classes[nclasses++] = CStringGetTextDatum(psprintf(UINT64_FORMAT, n));
			}
		}
		values[0] = CStringGetTextDatum(i < signicat_noperations ? signicat_operations[i].id :
										i == signicat_noperations ? "request" : "token");
		values[1] = Int64GetDatum((int64) calls);
		values[2] = Int64GetDatum((int64) errors);
		values[3] = DirectFunctionCall1(jsonb_object,
										PointerGetDatum(construct_array(classes, nclasses, TEXTOID,
																		-1, false, TYPALIGN_INT)));
		values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&o->retries));
		values[5] = Float8GetDatum(pg_atomic_read_u64(&o->total_us) / 1000.0);
		values[6] = Float8GetDatum(pg_atomic_read_u64(&o->total_us) / 1000.0 / calls);
		values[7] = Float8GetDatum(pg_atomic_read_u64(&o->max_us) / 1000.0);
		values[8] = Int64GetDatum((int64) pg_atomic_read_u64(&o->bytes_out));
		values[9] = Int64GetDatum((int64) pg_atomic_read_u64(&o->bytes_in));
		values[10] = TimestampTzGetDatum((TimestampTz) last_error_at);
		nulls[10] = last_error_at == 0;
		values[11] = TimestampTzGetDatum((TimestampTz) pg_atomic_read_u64(&s->reset_at));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(signicat_stats_reset);

Datum
signicat_stats_reset(PG_FUNCTION_ARGS)
{
	StatsShared *s = get_stats();

	for (int i = 0; i < nslots(); i++)
	{
		pg_atomic_uint64 *counters = (pg_atomic_uint64 *) &s->ops[i];

		for (size_t c = 0; c < COUNTERS_PER_OPERATION; c++)
			pg_atomic_write_u64(&counters[c], 0);
	}
	pg_atomic_write_u64(&s->reset_at, (uint64) GetCurrentTimestamp());
	PG_RETURN_VOID();
}
