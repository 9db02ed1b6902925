/*
 * fuzz_common.h: helpers shared by the libFuzzer harnesses of src/wire.c.
 *
 * CHECK() is an assertion that is never compiled out (unlike assert() under
 * NDEBUG): it prints what failed and aborts, which libFuzzer reports as a
 * crash and saves as a crash-* artifact.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "\n*** CHECK failed at %s:%d: %s\n*** ", \
					__FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			abort(); \
		} \
	} while (0)

/* RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" */
static inline bool
fz_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static inline bool
fz_upper_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static inline int
fz_hexval(unsigned char c)
{
	return c <= '9' ? c - '0' : c - 'A' + 10;
}

/*
 * Is s[0..len) well-formed output of the escaper: only unreserved characters
 * (no '.' when escape_dots) and %XX triplets with uppercase hex digits?
 * On failure *bad is the offending offset.
 */
static inline bool
fz_well_formed(const char *s, size_t len, bool escape_dots, size_t *bad)
{
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '%')
		{
			if (i + 2 >= len)
			{
				*bad = i;
				return false;
			}
			if (!fz_upper_hex((unsigned char) s[i + 1]) ||
				!fz_upper_hex((unsigned char) s[i + 2]))
			{
				*bad = i;
				return false;
			}
			i += 2;
		}
		else if (!fz_unreserved(c) || (escape_dots && c == '.'))
		{
			*bad = i;
			return false;
		}
	}
	return true;
}

/*
 * Percent-decode well-formed escaper output s[0..len) into out (at least len
 * bytes); returns the decoded length.  Call fz_well_formed() first.
 */
static inline size_t
fz_decode(const char *s, size_t len, unsigned char *out)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			out[n++] = (unsigned char) (fz_hexval((unsigned char) s[i + 1]) * 16 +
										fz_hexval((unsigned char) s[i + 2]));
			i += 2;
		}
		else
			out[n++] = (unsigned char) s[i];
	}
	return n;
}

/*
 * Reference escaper, independent of libcurl: every byte but the unreserved
 * ones (and '.', with escape_dots) as %XX, uppercase.  out needs 3*len+1.
 * Returns the length written (NUL-terminated).
 */
static inline size_t
fz_ref_escape(const unsigned char *s, size_t len, bool escape_dots, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (fz_unreserved(s[i]) && !(escape_dots && s[i] == '.'))
			out[n++] = (char) s[i];
		else
		{
			out[n++] = '%';
			out[n++] = hex[s[i] >> 4];
			out[n++] = hex[s[i] & 15];
		}
	}
	out[n] = '\0';
	return n;
}

/*
 * A printable rendering of bytes for CHECK messages (one of four static
 * buffers in turn, so a message can show up to four values).
 */
static inline const char *
fz_show(const void *p, size_t len)
{
	static char bufs[4][4 * 512 + 32];
	static int	next;
	char	   *buf = bufs[next++ % 4];
	const unsigned char *s = p;
	size_t		n = 0;

	for (size_t i = 0; i < len && n < sizeof(bufs[0]) - 32; i++)
	{
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			buf[n++] = (char) s[i];
		else
			n += (size_t) snprintf(buf + n, sizeof(bufs[0]) - n, "\\x%02x", s[i]);
	}
	if (n >= sizeof(bufs[0]) - 32)
		n += (size_t) snprintf(buf + n, sizeof(bufs[0]) - n, "...(%zu bytes)", len);
	buf[n] = '\0';
	return buf;
}

#endif							/* FUZZ_COMMON_H */
