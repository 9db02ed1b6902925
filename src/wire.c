/*-------------------------------------------------------------------------
 * wire.c
 *	  Untrusted text in and out, with no PostgreSQL backend: media types of
 *	  answers, what an HTTP status means (one table), percent-encoding and path
 *	  template expansion, the payload of a dataURL.  Plain C over malloc;
 *	  results are malloc'd (free them with free()) and NULL means out of
 *	  memory or, where said, invalid input.  Never raises, never longjmps, so
 *	  backend callers can wrap it and fuzz/ can drive it directly.
 *-------------------------------------------------------------------------
 */
#include <curl/curl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

/*
 * application/json or application/<anything>+json, parameters (";
 * charset=...") ignored, case-insensitive.
 */
bool
wire_is_json_media_type(const char *content_type)
{
	const char *semi;
	size_t		len;

	if (content_type == NULL)
		return false;
	semi = strchr(content_type, ';');
	len = semi ? (size_t) (semi - content_type) : strlen(content_type);
	while (len > 0 && (content_type[len - 1] == ' ' || content_type[len - 1] == '\t'))
		len--;
	if (len == 16 && strncasecmp(content_type, "application/json", 16) == 0)
		return true;
	return len > 17 && strncasecmp(content_type, "application/", 12) == 0 &&
		strncasecmp(content_type + len - 5, "+json", 5) == 0 &&
		memchr(content_type + 12, '/', len - 12) == NULL;
}

/*
 * What an HTTP status means, in one table read by everything that decides
 * something about a status: the SQLSTATE of the error (errors.c; the
 * README's table), the error class the statistics count (stats.c), whether
 * an idempotent request is worth another try (request.c), whether the
 * object is gone (worker.c), and the hint.  The first rule whose range
 * holds the status applies; the last ones catch what the others do not
 * name.  2xx is success and has no rule.  (A test walks this table against
 * the mock: sql/status_rules.sql.)
 */
const WireStatusRule wire_status_rules[] = {
	/* low, high, SQLSTATE, class, retryable, gone, hint */
	{400, 400, "22023", SIGNICAT_ERR_BAD_REQUEST, false, false, NULL},	/* invalid_parameter_value */
	{401, 401, "28000", SIGNICAT_ERR_UNAUTHORIZED, false, false,	/* invalid_authorization_specification */
	"The access token was refused twice; check signicat.client_id, the client secret and signicat.scope."},
	{403, 403, "42501", SIGNICAT_ERR_UNAUTHORIZED, false, false, NULL},	/* insufficient_privilege */
	{404, 404, "P0002", SIGNICAT_ERR_NOT_FOUND, false, true, NULL},	/* no_data_found */
	{405, 405, "0A000", SIGNICAT_ERR_BAD_REQUEST, false, false, NULL},	/* feature_not_supported */
	/* the server gave up waiting for the request: a transport failure */
	{408, 408, "08006", SIGNICAT_ERR_TRANSPORT, true, false, NULL},	/* connection_failure */
	{409, 409, "55000", SIGNICAT_ERR_CONFLICT, false, false, NULL},	/* object_not_in_prerequisite_state */
	{410, 410, "P0002", SIGNICAT_ERR_NOT_FOUND, false, true, NULL},
	{412, 412, "55000", SIGNICAT_ERR_CONFLICT, false, false, NULL},
	{413, 413, "54000", SIGNICAT_ERR_BAD_REQUEST, false, false, NULL},	/* program_limit_exceeded */
	{422, 422, "22023", SIGNICAT_ERR_BAD_REQUEST, false, false, NULL},
	{429, 429, "53400", SIGNICAT_ERR_RATE_LIMITED, true, false, NULL},	/* configuration_limit_exceeded */
	{400, 499, "22023", SIGNICAT_ERR_BAD_REQUEST, false, false, NULL},
	{501, 501, "0A000", SIGNICAT_ERR_SERVER, false, false, NULL},
	/* a gateway or an overloaded server: the request may go through later */
	{502, 504, "08006", SIGNICAT_ERR_SERVER, true, false, NULL},
	{500, 599, "58000", SIGNICAT_ERR_SERVER, false, false, NULL},	/* system_error */
	/* 1xx and 3xx are not followed (no redirects): an unexpected answer */
	{LONG_MIN, LONG_MAX, "58000", SIGNICAT_ERR_SERVER, false, false, NULL},
};
const int	wire_nstatus_rules = sizeof(wire_status_rules) / sizeof(wire_status_rules[0]);

/* The rule of a status, or NULL for success (2xx). */
const WireStatusRule *
wire_status_rule(long status)
{
	if (status >= 200 && status <= 299)
		return NULL;
	for (int i = 0; i < wire_nstatus_rules; i++)
	{
		if (status >= wire_status_rules[i].low && status <= wire_status_rules[i].high)
			return &wire_status_rules[i];
	}
	return &wire_status_rules[wire_nstatus_rules - 1];
}

/* The SQLSTATE of an error answer (58000 for a 2xx one, which is no error). */
const char *
wire_sqlstate_for_status(long status)
{
	const WireStatusRule *rule = wire_status_rule(status);

	return rule ? rule->sqlstate : "58000";
}

/*
 * Length of the leading run of s[0..len) that percent-encoding leaves as it
 * is: RFC 3986's unreserved characters (the ones curl_easy_escape keeps),
 * without "." when dots are escaped too.
 */
static size_t
unreserved_prefix(const char *s, size_t len, bool escape_dots)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '_' || c == '~' || (c == '.' && !escape_dots)))
			break;
	}
	return i;
}

/*
 * Percent-encode s[0..len) with libcurl: every byte but the unreserved
 * characters.  With escape_dots also ".", so that "." and ".." are data and
 * never dot segments of a path.
 */
char *
wire_escape(const char *s, size_t len, bool escape_dots)
{
	char	   *escaped;
	char	   *out;
	size_t		n = 0;

	if (len > (size_t) 0x7fffffff / 3)
		return NULL;
	/* libcurl takes a length of 0 to mean strlen(s) */
	if (len == 0)
		return calloc(1, 1);
	/* nothing to escape (ids, enum values): skip libcurl's byte-by-byte buffer */
	if (unreserved_prefix(s, len, escape_dots) == len)
	{
		out = malloc(len + 1);
		if (out == NULL)
			return NULL;
		memcpy(out, s, len);
		out[len] = '\0';
		return out;
	}
	escaped = curl_easy_escape(NULL, s, (int) len);
	if (escaped == NULL)
		return NULL;
	out = malloc(strlen(escaped) * 3 + 1);
	if (out == NULL)
	{
		curl_free(escaped);
		return NULL;
	}
	for (const char *p = escaped; *p; p++)
	{
		if (*p == '.' && escape_dots)
		{
			memcpy(out + n, "%2E", 3);
			n += 3;
		}
		else
			out[n++] = *p;
	}
	out[n] = '\0';
	curl_free(escaped);
	return out;
}

/*
 * Expand a path template: every {name} becomes its value, escaped as one
 * path segment.  NULL when a placeholder has no value (or is not closed),
 * or when a value is empty: an empty segment would change the path.
 */
char *
wire_expand_path(const char *template, const char *const *names,
				 const char *const *values, int n)
{
	size_t		cap = strlen(template) + 64;
	size_t		len = 0;
	char	   *out = malloc(cap);

	if (out == NULL)
		return NULL;
	for (const char *p = template; *p; p++)
	{
		const char *piece = p;
		size_t		piecelen = 1;
		char	   *escaped = NULL;

		if (*p == '{')
		{
			const char *end = strchr(p, '}');
			const char *value = NULL;

			if (end == NULL)
				goto fail;
			for (int i = 0; i < n && value == NULL; i++)
			{
				if (strlen(names[i]) == (size_t) (end - p - 1) &&
					strncmp(names[i], p + 1, end - p - 1) == 0)
					value = values[i];
			}
			if (value == NULL || value[0] == '\0' ||
				(escaped = wire_escape(value, strlen(value), true)) == NULL)
				goto fail;
			piece = escaped;
			piecelen = strlen(escaped);
			p = end;
		}
		if (len + piecelen + 1 > cap)
		{
			char	   *bigger;

			cap = (len + piecelen + 1) * 2;
			bigger = realloc(out, cap);
			if (bigger == NULL)
			{
				free(escaped);
				goto fail;
			}
			out = bigger;
		}
		memcpy(out + len, piece, piecelen);
		len += piecelen;
		free(escaped);
	}
	out[len] = '\0';
	return out;

fail:
	free(out);
	return NULL;
}

/*
 * Where the base64 payload of s starts: after "data:<type>;base64," for a
 * dataURL, 0 for anything else (plain base64).  -1 for a dataURL that is not
 * base64-encoded.
 */
long
wire_data_url_payload(const char *s, size_t len)
{
	const char *comma;

	if (len < 5 || strncmp(s, "data:", 5) != 0)
		return 0;
	comma = memchr(s, ',', len);
	if (comma == NULL || comma - s < 12 || strncmp(comma - 7, ";base64", 7) != 0)
		return -1;
	return (long) (comma + 1 - s);
}
