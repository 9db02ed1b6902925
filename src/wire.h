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

extern bool wire_is_json_media_type(const char *content_type);
extern const char *wire_sqlstate_for_status(long status);
extern char *wire_escape(const char *s, size_t len, bool escape_dots);
extern char *wire_expand_path(const char *template, const char *const *names,
							  const char *const *values, int n);
extern long wire_data_url_payload(const char *s, size_t len);

#endif							/* SIGNICAT_WIRE_H */
