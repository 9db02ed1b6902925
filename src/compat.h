/*-------------------------------------------------------------------------
 * compat.h
 *	  Every difference between the PostgreSQL majors signicat supports (15 to
 *	  18) lives here, as version macros, the way pgvector and pg_cron keep
 *	  theirs: the code is written against the newest API, and for older
 *	  servers this header supplies that API in terms of what they have.
 *
 * Include it after postgres.h (signicat.h does).
 *-------------------------------------------------------------------------
 */
#ifndef SIGNICAT_COMPAT_H
#define SIGNICAT_COMPAT_H

/*
 * 18 replaced pg_attribute_noreturn(), written after a declaration, with
 * pg_noreturn, written before it (C11 _Noreturn).  The GNU attribute that
 * 15 to 17 offer may stand before a declaration too.
 */
#if PG_VERSION_NUM < 180000 && !defined(pg_noreturn)
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * 17 lets an extension name its wait events (WaitEventExtensionNew): a DBA
 * then reads "SignicatHttp" in pg_stat_activity.wait_event where 15 and 16
 * can only say "Extension".
 */
#if PG_VERSION_NUM >= 170000
#define SIGNICAT_CUSTOM_WAIT_EVENTS 1
#include "utils/wait_event.h"
#endif

/*
 * 18 names the library in its magic block (pg_get_loaded_modules() shows
 * the name and version); before, the block carries only the ABI.
 */
#ifdef PG_MODULE_MAGIC_EXT
#define SIGNICAT_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "signicat", .version = SIGNICAT_VERSION)
#else
#define SIGNICAT_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * 18 types the binary side of common/base64.h as uint8 (the source of
 * pg_b64_encode, the destination of pg_b64_decode); before, it was char.
 */
#if PG_VERSION_NUM >= 180000
typedef uint8 b64_binary;
#else
typedef char b64_binary;
#endif

/*
 * 16 folded the per-class ownership checks (pg_database_ownercheck, ...)
 * into object_ownercheck(classid, objectid, roleid).  signicat asks only
 * about databases.
 */
#if PG_VERSION_NUM < 160000
#include "catalog/pg_database.h"
#include "utils/acl.h"

static inline bool
object_ownercheck(Oid classid, Oid objectid, Oid roleid)
{
	if (classid != DatabaseRelationId)
		elog(ERROR, "signicat: object_ownercheck for class %u is not provided before PostgreSQL 16", classid);
	return pg_database_ownercheck(objectid, roleid);
}
#endif

/*
 * May roleid run function funcoid?  16 folded pg_proc_aclcheck into
 * object_aclcheck.
 */
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_proc.h"
#define signicat_function_aclcheck(funcoid, roleid) \
	object_aclcheck(ProcedureRelationId, (funcoid), (roleid), ACL_EXECUTE)
#else
#define signicat_function_aclcheck(funcoid, roleid) \
	pg_proc_aclcheck((funcoid), (roleid), ACL_EXECUTE)
#endif

/*
 * pq_check_connection() (14+) is declared in libpq/libpq.h, which includes
 * libpq-be.h, which needs the GSSAPI headers when the server was built with
 * GSSAPI (Debian's is): a build dependency on libkrb5-dev for one prototype.
 * The prototype is the same on every supported major.
 */
extern bool pq_check_connection(void);

/*
 * libcurl: a header line over its limit fails a transfer as
 * CURLE_OUT_OF_MEMORY until 8.5 and as CURLE_TOO_LARGE from 8.6 on.
 */
#if LIBCURL_VERSION_NUM >= 0x080600
#define SIGNICAT_CURLE_TOO_LARGE(code) ((code) == CURLE_TOO_LARGE || (code) == CURLE_OUT_OF_MEMORY)
#else
#define SIGNICAT_CURLE_TOO_LARGE(code) ((code) == CURLE_OUT_OF_MEMORY)
#endif

#endif							/* SIGNICAT_COMPAT_H */
