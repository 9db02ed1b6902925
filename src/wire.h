/*-------------------------------------------------------------------------
 * wire.h
 *	  The parts of the extension that handle untrusted text without a
 *	  server: plain C over malloc, no PostgreSQL backend, so that they can be
 *	  fuzzed on their own (fuzz/).  See wire.c.
 *-------------------------------------------------------------------------
 */
#ifndef SIGNICAT_WIRE_H
#define SIGNICAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>

/* The error classes counted by the statistics (signicat.stat_operations). */
typedef enum SignicatErrorClass
{
	SIGNICAT_ERR_BAD_REQUEST,	/* other 4xx */
	SIGNICAT_ERR_UNAUTHORIZED,	/* 401, 403 */
	SIGNICAT_ERR_NOT_FOUND,		/* 404, 410 */
	SIGNICAT_ERR_CONFLICT,		/* 409, 412 */
	SIGNICAT_ERR_RATE_LIMITED,	/* 429 */
	SIGNICAT_ERR_SERVER,		/* 5xx */
	SIGNICAT_ERR_TRANSPORT,		/* no answer (connection, TLS, timeout, cancel), or 408 */
	SIGNICAT_ERROR_CLASSES
} SignicatErrorClass;

/* What an HTTP status means (see wire.c) */
typedef struct WireStatusRule
{
	long		low;			/* the statuses it covers */
	long		high;
	const char *sqlstate;		/* of the SQL error */
	int			error_class;	/* SignicatErrorClass, for the statistics */
	bool		retryable;		/* an idempotent request may be sent again */
	bool		gone;			/* the object no longer exists */
	const char *hint;			/* for the SQL error, or NULL */
} WireStatusRule;

extern const WireStatusRule wire_status_rules[];
extern const int wire_nstatus_rules;
extern const WireStatusRule *wire_status_rule(long status);

extern bool wire_is_json_media_type(const char *content_type);
extern const char *wire_sqlstate_for_status(long status);
extern char *wire_escape(const char *s, size_t len, bool escape_dots);
extern char *wire_expand_path(const char *template, const char *const *names,
							  const char *const *values, int n);
extern long wire_data_url_payload(const char *s, size_t len);

#endif							/* SIGNICAT_WIRE_H */
