/*-------------------------------------------------------------------------
 * wire.c
 *	  Untrusted text in and out, with no PostgreSQL backend: media types of
 *	  answers, the SQLSTATE of an HTTP status, percent-encoding and path
 *	  template expansion, the payload of a dataURL.  Plain C over malloc;
 *	  results are malloc'd (free them with free()) and NULL means out of
 *	  memory or, where said, invalid input.  Never raises, never longjmps, so
 *	  backend callers can wrap it and fuzz/ can drive it directly.
 *-------------------------------------------------------------------------
 */
#include <curl/curl.h>
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

/* The SQLSTATE class of an error answer; the table is in the README. */
const char *
wire_sqlstate_for_status(long status)
{
	switch (status)
	{
		case 400:
		case 422:
			return "22023";		/* invalid_parameter_value */
		case 401:
			return "28000";		/* invalid_authorization_specification */
		case 403:
			return "42501";		/* insufficient_privilege */
		case 404:
		case 410:
			return "P0002";		/* no_data_found */
		case 405:
		case 501:
			return "0A000";		/* feature_not_supported */
		case 409:
		case 412:
			return "55000";		/* object_not_in_prerequisite_state */
		case 413:
			return "54000";		/* program_limit_exceeded */
		case 429:
			return "53400";		/* configuration_limit_exceeded */
		case 408:
		case 502:
		case 503:
		case 504:
			return "08006";		/* connection_failure */
		default:
			if (status >= 400 && status < 500)
				return "22023";
			return "58000";		/* system_error */
	}
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
