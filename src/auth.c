/*-------------------------------------------------------------------------
 * auth.c
 *	  OAuth 2.0 client-credentials access token, fetched once and shared by
 *	  every backend through shared memory until shortly before it expires.
 *
 * Only one backend fetches at a time: it marks the slot "refreshing", drops
 * the lock, does the HTTP request (interruptible, never under an LWLock) and
 * wakes the others through a condition variable.  A refresher that died is
 * taken over once its attempt is older than the configured timeouts.  A 401
 * from the API invalidates the token by generation, so of many backends that
 * see the same stale token only the first forces a refresh.
 *
 * Without shared_preload_libraries the same logic runs on a per-backend
 * slot.  The slot is keyed by a hash of the token URL, client id and secret,
 * scope and auth method, so a session with other credentials never uses a token that
 * was issued for different ones.
 *
 * Secrets: the client secret and the token are never logged or put in an
 * error message; buffers that held them are zeroed before being freed.  The
 * secret comes from signicat.client_secret_file (recommended: it never passes
 * through SQL, pg_db_role_setting, pg_stat_activity or the server log) or from
 * signicat.client_secret; the file is read when a token is fetched, so a
 * rotated secret is used from the next token on.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/condition_variable.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "signicat.h"

char	   *signicat_token_url = NULL;
char	   *signicat_client_id = NULL;
char	   *signicat_client_secret = NULL;
char	   *signicat_client_secret_file = NULL;
char	   *signicat_scope = NULL;
int			signicat_token_auth_method = SIGNICAT_CLIENT_SECRET_BASIC;

static const struct config_enum_entry token_auth_methods[] = {
	{"client_secret_basic", SIGNICAT_CLIENT_SECRET_BASIC, false},
	{"client_secret_post", SIGNICAT_CLIENT_SECRET_POST, false},
	{NULL, 0, false}
};

#define SIGNICAT_MAX_TOKEN_LEN 8192

typedef struct TokenSlot
{
	uint32		key;			/* hash of the settings the token is for */
	bool		valid;
	TimestampTz refresh_at;		/* stop using the token from then on */
	uint64		generation;		/* bumped at every new token */
	bool		refreshing;
	int			refresher_pid;
	TimestampTz refresh_started;
	uint64		tokens_fetched;
	int			token_len;
	char		token[SIGNICAT_MAX_TOKEN_LEN];
} TokenSlot;

typedef struct TokenShared
{
	LWLock	   *lock;
	ConditionVariable cv;
	TokenSlot	slot;
} TokenShared;

static TokenShared *token_shared = NULL;
static TokenSlot *token_local = NULL;	/* when not preloaded */

Size
signicat_auth_shmem_size(void)
{
	return MAXALIGN(sizeof(TokenShared));
}

void
signicat_auth_shmem_startup(void)
{
	bool		found;

	token_shared = ShmemInitStruct("signicat token", sizeof(TokenShared), &found);
	if (!found)
	{
		memset(token_shared, 0, sizeof(TokenShared));
		token_shared->lock = &(GetNamedLWLockTranche("signicat"))->lock;
		ConditionVariableInit(&token_shared->cv);
	}
}

/*
 * Hash of the settings a token is for.  Recomputed only when one of them
 * changed: a GUC assignment always installs a new string.
 */
static uint32
settings_key(void)
{
	static const char *seen[5] = {NULL, NULL, NULL, NULL, NULL};
	static int	seen_method = -1;
	static uint32 key = 0;
	StringInfoData s;

	if (seen[0] == signicat_token_url && seen[1] == signicat_client_id &&
		seen[2] == signicat_scope && seen[3] == signicat_client_secret &&
		seen[4] == signicat_client_secret_file && seen_method == signicat_token_auth_method)
		return key;

	initStringInfo(&s);
	/* with a secret file, its path stands for the secret (read only when fetching) */
	appendStringInfo(&s, "%s\n%s\n%s\n%d\n%s\n%s", signicat_token_url, signicat_client_id,
					 signicat_scope, signicat_token_auth_method, signicat_client_secret,
					 signicat_client_secret_file ? signicat_client_secret_file : "");
	key = hash_bytes((const unsigned char *) s.data, s.len);
	explicit_bzero(s.data, s.len);
	pfree(s.data);
	seen[0] = signicat_token_url;
	seen[1] = signicat_client_id;
	seen[2] = signicat_scope;
	seen[3] = signicat_client_secret;
	seen[4] = signicat_client_secret_file;
	seen_method = signicat_token_auth_method;
	return key;
}

static void
lock_slot(LWLockMode mode)
{
	if (token_shared)
		LWLockAcquire(token_shared->lock, mode);
}

static void
unlock_slot(void)
{
	if (token_shared)
		LWLockRelease(token_shared->lock);
}

static TokenSlot *
get_slot(void)
{
	if (token_shared)
		return &token_shared->slot;
	if (token_local == NULL)
		token_local = MemoryContextAllocZero(TopMemoryContext, sizeof(TokenSlot));
	return token_local;
}

/* Copy the token out if it is usable for these settings; slot lock held. */
static char *
usable_token(TokenSlot *slot, uint32 key, uint64 *generation)
{
	if (slot->valid && slot->key == key && GetCurrentTimestamp() < slot->refresh_at)
	{
		*generation = slot->generation;
		return pnstrdup(slot->token, slot->token_len);
	}
	return NULL;
}

/*
 * The secret from signicat.client_secret_file: its first line (without the
 * line end).  The file must be a regular file that only the server can read,
 * the rule PostgreSQL applies to ssl_key_file: owned by the server's user
 * with no access for group or others, or owned by root with at most read
 * access for the group.  Errors name the file, never its contents.
 */
static char *
read_secret_file(const char *path)
{
	struct stat st;
	FILE	   *f;
	char		buf[4096];
	size_t		n;
	char	   *nl;
	char	   *secret;

	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not access signicat.client_secret_file \"%s\": %m", path)));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("signicat.client_secret_file \"%s\" is not a regular file", path)));
	if ((st.st_uid == geteuid() && (st.st_mode & (S_IRWXG | S_IRWXO))) ||
		(st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))) ||
		(st.st_uid != geteuid() && st.st_uid != 0))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("signicat.client_secret_file \"%s\" has group or world access", path),
				 errdetail("The file must be owned by the database user with permissions u=rw (0600) or less, or owned by root with permissions u=rw,g=r (0640) or less.")));
	f = AllocateFile(path, "r");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open signicat.client_secret_file \"%s\": %m", path)));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	FreeFile(f);
	buf[n] = '\0';
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	secret = pstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (secret[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("signicat.client_secret_file \"%s\" is empty", path)));
	return secret;
}

/* The client secret (palloc'd; the caller zeroes it), from the file or the setting. */
static char *
client_secret(void)
{
	bool		from_file = signicat_client_secret_file && signicat_client_secret_file[0];
	bool		from_setting = signicat_client_secret && signicat_client_secret[0];

	if (from_file && from_setting)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("both signicat.client_secret and signicat.client_secret_file are set"),
				 errhint("Set one of them; signicat.client_secret_file is the recommended one.")));
	if (from_file)
		return read_secret_file(signicat_client_secret_file);
	if (!from_setting)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("signicat.client_secret is not set"),
				 errhint("A superuser sets signicat.client_secret_file to a file only the server can read (or signicat.client_secret).")));
	return pstrdup(signicat_client_secret);
}

/*
 * The client-credentials grant for the token endpoint: the form body and,
 * with client_secret_basic, the Basic credentials.  *password is the
 * escaped secret, for the caller to wipe with the body after sending.
 */
static void
build_token_request(SignicatHttpRequest *req, StringInfo body, char **password)
{
	char	   *user;
	char	   *secret;

	if (signicat_client_id == NULL || signicat_client_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("signicat.client_id is not set"),
				 errhint("A superuser sets signicat.client_id and signicat.client_secret_file, e.g. with ALTER SYSTEM.")));
	signicat_require_secure_url(signicat_token_url, "signicat.token_url");
	secret = client_secret();

	initStringInfo(body);
	appendStringInfoString(body, "grant_type=client_credentials");
	if (signicat_scope && signicat_scope[0])
		appendStringInfo(body, "&scope=%s", signicat_url_escape(signicat_scope, false));

	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->url = signicat_token_url;
	req->accept = "application/json";
	req->content_type = "application/x-www-form-urlencoded";

	/* RFC 6749 2.3.1: both parts are form-encoded before Basic encoding */
	user = signicat_url_escape(signicat_client_id, false);
	*password = signicat_url_escape(secret, false);
	explicit_bzero(secret, strlen(secret));
	pfree(secret);
	if (signicat_token_auth_method == SIGNICAT_CLIENT_SECRET_BASIC)
	{
		req->basic_user = user;
		req->basic_password = *password;
	}
	else
		appendStringInfo(body, "&client_id=%s&client_secret=%s", user, *password);
	req->body = body->data;
	req->body_len = body->len;
}

/* The error for a token endpoint that did not answer 200, with its OAuth error if any. */
static void
report_token_refusal(const SignicatHttpResponse *resp)
{
	char	   *error = NULL;
	char	   *description = NULL;
	bool		refused = resp->status == 401 || resp->status == 400;	/* the client's fault */
	int			sqlstate = refused ? ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION :
		signicat_sqlstate_for_status(resp->status);
	const char *hint = refused ?
		"Check signicat.client_id, the client secret (signicat.client_secret_file), signicat.scope and signicat.token_auth_method." :
		NULL;

	if (wire_is_json_media_type(resp->content_type))
	{
		Jsonb	   *answer = signicat_parse_json(resp->body, resp->body_len, "the token endpoint", "answer");

		error = signicat_json_string(answer, "error");
		description = signicat_json_string(answer, "error_description");
		/* the detail ends with its own period */
		if (description && description[strlen(description) - 1] == '.')
			description[strlen(description) - 1] = '\0';
	}
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("could not obtain a Signicat access token"),
			 errdetail("The token endpoint answered HTTP %ld%s%s%s%s.", resp->status,
					   error ? ": " : "", error ? error : "",
					   description ? ", " : "", description ? description : ""),
			 hint ? errhint("%s", hint) : 0));
}

/* The token of a 200 answer, checked; *expires_in gets its lifetime in seconds. */
static char *
read_token_answer(const SignicatHttpResponse *resp, int *expires_in)
{
	Jsonb	   *answer = signicat_parse_json(resp->body, resp->body_len, "the token endpoint", "answer");
	JsonbValue *v;
	char	   *token;
	char	   *token_type;

	explicit_bzero(resp->body, resp->body_len);
	if (!JB_ROOT_IS_OBJECT(answer))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat token endpoint answered something other than a JSON object")));
	token = signicat_json_string(answer, "access_token");
	if (token == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat token endpoint answer has no access_token")));
	if (strlen(token) >= SIGNICAT_MAX_TOKEN_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Signicat access token is longer than %d bytes", SIGNICAT_MAX_TOKEN_LEN - 1)));
	token_type = signicat_json_string(answer, "token_type");
	if (token_type && pg_strcasecmp(token_type, "bearer") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat token endpoint issued a token of type \"%s\", expected Bearer",
						token_type)));

	*expires_in = 3600;
	v = getKeyJsonValueFromContainer(&answer->root, "expires_in", strlen("expires_in"), NULL);
	if (v && v->type == jbvNumeric)
		*expires_in = DatumGetInt32(DirectFunctionCall1(numeric_int4,
														NumericGetDatum(v->val.numeric)));
	else if (v && v->type == jbvString)
		*expires_in = pg_strtoint32(pnstrdup(v->val.string.val, v->val.string.len));
	if (*expires_in < 1)
		*expires_in = 1;
	return token;
}

/*
 * POST the client-credentials grant to the token endpoint.  Returns the
 * token; *expires_in gets its lifetime in seconds.  The body and the
 * escaped secret are wiped on every path; the request counts in the
 * statistics under "token".
 */
static char *
fetch_token(int *expires_in)
{
	SignicatHttpRequest req;
	SignicatHttpResponse resp;
	StringInfoData body;
	char	   *password;
	instr_time	start;
	instr_time	elapsed;

	build_token_request(&req, &body, &password);
	memset(&resp, 0, sizeof(resp));
	INSTR_TIME_SET_CURRENT(start);
	PG_TRY();
	{
		signicat_http_perform(&req, &resp);
	}
	PG_FINALLY();
	{
		explicit_bzero(body.data, body.len);
		explicit_bzero(password, strlen(password));
		INSTR_TIME_SET_CURRENT(elapsed);
		INSTR_TIME_SUBTRACT(elapsed, start);
		signicat_stats_record(signicat_stats_token_slot(),
							  resp.status ? signicat_error_class(resp.status) : SIGNICAT_ERR_TRANSPORT,
							  INSTR_TIME_GET_MICROSEC(elapsed), body.len, resp.body_len);
	}
	PG_END_TRY();

	if (resp.status != 200)
		report_token_refusal(&resp);
	return read_token_answer(&resp, expires_in);
}

/*
 * A usable access token (palloc'd) and its generation, fetching a new one
 * when there is none or it is about to expire.
 */
char *
signicat_get_token(uint64 *generation)
{
	TokenSlot  *slot = get_slot();
	uint32		key = settings_key();
	char	   *volatile token;
	int			expires_in;
	int64		margin_ms;
	long		stale_ms = (long) signicat_connect_timeout_ms + signicat_timeout_ms + 1000;

	for (;;)
	{
		TimestampTz now;

		lock_slot(LW_SHARED);
		token = usable_token(slot, key, generation);
		unlock_slot();
		if (token)
			return token;

		lock_slot(LW_EXCLUSIVE);
		token = usable_token(slot, key, generation);
		if (token)
		{
			unlock_slot();
			return token;
		}
		now = GetCurrentTimestamp();
		if (!slot->refreshing ||
			TimestampDifferenceExceeds(slot->refresh_started, now, stale_ms))
		{
			slot->refreshing = true;
			slot->refresher_pid = MyProcPid;
			slot->refresh_started = now;
			unlock_slot();
			break;
		}
		unlock_slot();

		/* another backend is fetching: wait for it, interruptibly */
		ConditionVariableTimedSleep(&token_shared->cv, 100, signicat_wait_event(SIGNICAT_WAIT_TOKEN));
	}
	if (token_shared)
		ConditionVariableCancelSleep();

	PG_TRY();
	{
		token = fetch_token(&expires_in);

		/* refresh shortly before expiry: 10% of the lifetime, at most 60 s */
		margin_ms = Min((int64) expires_in * 100, 60000);
		lock_slot(LW_EXCLUSIVE);
		slot->key = key;
		slot->valid = true;
		slot->refresh_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   (int64) expires_in * 1000 - margin_ms);
		slot->generation++;
		slot->tokens_fetched++;
		explicit_bzero(slot->token, sizeof(slot->token));
		slot->token_len = strlen(token);
		memcpy(slot->token, token, slot->token_len);
		*generation = slot->generation;
		unlock_slot();
	}
	PG_FINALLY();
	{
		lock_slot(LW_EXCLUSIVE);
		if (slot->refresher_pid == MyProcPid)
		{
			slot->refreshing = false;
			slot->refresher_pid = 0;
		}
		unlock_slot();
		if (token_shared)
			ConditionVariableBroadcast(&token_shared->cv);
	}
	PG_END_TRY();

	return token;
}

/* Forget the token of this generation (the API answered 401 to it). */
void
signicat_invalidate_token(uint64 generation)
{
	TokenSlot  *slot = get_slot();

	lock_slot(LW_EXCLUSIVE);
	if (slot->generation == generation)
		slot->valid = false;
	unlock_slot();
}

/*
 * The secret is refused where PostgreSQL would store it for every role to
 * read: ALTER ROLE/DATABASE ... SET (pg_db_role_setting) and CREATE FUNCTION
 * ... SET (pg_proc) are validated with PGC_S_TEST, and such a stored value
 * comes back as PGC_S_DATABASE/USER at connection.  The message never shows
 * the value (PostgreSQL's default one would).
 */
static bool
check_client_secret(char **newval, void **extra, GucSource source)
{
	if (*newval && (*newval)[0] &&
		(source == PGC_S_TEST || source == PGC_S_DATABASE || source == PGC_S_USER ||
		 source == PGC_S_DATABASE_USER))
	{
		GUC_check_errmsg("signicat.client_secret cannot be stored with a role, a database or a function");
		GUC_check_errdetail("Every role can read such settings (pg_db_role_setting, pg_proc).");
		GUC_check_errhint("Set signicat.client_secret_file to a file only the server can read.");
		return false;
	}
	return true;
}

/* The token endpoint and the client's credentials. */
void
signicat_auth_init(void)
{
	DefineCustomStringVariable("signicat.token_url",
							   "OAuth 2.0 token endpoint.",
							   NULL, &signicat_token_url,
							   "https://api.signicat.com/auth/open/connect/token",
							   PGC_SUSET, 0, signicat_check_url, NULL, NULL);
	DefineCustomStringVariable("signicat.client_id",
							   "OAuth 2.0 client id of the Signicat API client.",
							   NULL, &signicat_client_id, "",
							   PGC_SUSET, 0, signicat_check_header_value, NULL, NULL);
	DefineCustomStringVariable("signicat.client_secret",
							   "OAuth 2.0 client secret of the Signicat API client.",
							   "Only superusers can see or set it.",
							   &signicat_client_secret, "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_client_secret, NULL, NULL);
	DefineCustomStringVariable("signicat.client_secret_file",
							   "File holding the OAuth 2.0 client secret (recommended over signicat.client_secret).",
							   "Read when a token is fetched; must be readable by the server only, like ssl_key_file.",
							   &signicat_client_secret_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("signicat.scope",
							   "OAuth 2.0 scope requested with the token.",
							   NULL, &signicat_scope, "signicat-api",
							   PGC_SUSET, 0, signicat_check_header_value, NULL, NULL);
	DefineCustomEnumVariable("signicat.token_auth_method",
							 "How the client authenticates at the token endpoint.",
							 NULL, &signicat_token_auth_method, SIGNICAT_CLIENT_SECRET_BASIC,
							 token_auth_methods, PGC_SUSET, 0, NULL, NULL, NULL);
}
