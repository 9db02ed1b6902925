/*
 * fuzz_escape: wire_escape(s, len, escape_dots), the percent-encoder of URL
 * path segments and query components.
 *
 * The input is the byte string to escape, embedded NULs included: wire_escape
 * takes a length and must encode s[0..len) exactly (a NUL byte is "%00"),
 * never stop at a NUL and never read s[len] or beyond (the bytes are handed
 * over in a buffer of exactly len bytes, so ASan sees any over-read).
 *
 * Checked, for both escape_dots = false and true:
 *   - the result is not NULL (no OOM at these sizes);
 *   - it is well formed: only unreserved characters A-Za-z0-9-._~ (no '.'
 *     with escape_dots) and %XX triplets with uppercase hex digits;
 *   - percent-decoding it gives back the input bytes exactly;
 *   - it equals an independent reference encoder (fz_ref_escape), i.e.
 *     unreserved bytes are never escaped and nothing else is left raw;
 *   - the escape_dots result is the plain result with every '.' as "%2E".
 * And the length-0 contract: wire_escape(s, 0, ...) is "" whatever s points
 * at (s[0..0) is empty), without reading s.
 */
#include "fuzz_common.h"
#include "wire.h"

static void
check_one(const unsigned char *s, size_t len, bool escape_dots, char **result)
{
	char	   *out = wire_escape((const char *) s, len, escape_dots);
	size_t		outlen;
	size_t		bad = 0;
	unsigned char *decoded;
	char	   *ref;
	size_t		declen;

	CHECK(out != NULL, "wire_escape returned NULL for %zu bytes", len);
	outlen = strlen(out);
	CHECK(outlen <= 3 * len, "result longer than 3*len: %zu > 3*%zu", outlen, len);
	CHECK(fz_well_formed(out, outlen, escape_dots, &bad),
		  "escape_dots=%d: bad character at offset %zu of \"%s\" (input \"%s\")",
		  escape_dots, bad, fz_show(out, outlen), fz_show(s, len));

	decoded = malloc(outlen + 1);
	declen = fz_decode(out, outlen, decoded);
	CHECK(declen == len && memcmp(decoded, s, len) == 0,
		  "escape_dots=%d: decoding \"%s\" gives %zu bytes \"%s\", input was %zu bytes \"%s\"",
		  escape_dots, fz_show(out, outlen), declen, fz_show(decoded, declen),
		  len, fz_show(s, len));
	free(decoded);

	ref = malloc(3 * len + 1);
	fz_ref_escape(s, len, escape_dots, ref);
	CHECK(strcmp(ref, out) == 0,
		  "escape_dots=%d: \"%s\", reference \"%s\" (input \"%s\")",
		  escape_dots, fz_show(out, outlen), fz_show(ref, strlen(ref)), fz_show(s, len));
	free(ref);
	*result = out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly size bytes, no terminator: ASan catches reads past len */
	unsigned char *s = malloc(size);	/* ASan: malloc(0) is a 0-byte block */
	char	   *plain;
	char	   *dots;

	if (size > 0)
		memcpy(s, data, size);

	/*
	 * Length 0: libcurl's curl_easy_escape() reads a length of 0 as "use
	 * strlen(s)", so wire_escape must not pass 0 through.  (libFuzzer's
	 * mutator never makes an empty input, hence "size <= 1".)  Building with
	 * -DFUZZ_SKIP_ESCAPE_LEN0 (run.sh: FUZZ_CFLAGS=-DFUZZ_SKIP_ESCAPE_LEN0)
	 * leaves this out, to fuzz the rest while that bug is open.
	 */
#ifndef FUZZ_SKIP_ESCAPE_LEN0
	if (size <= 1)
	{
		char	   *e = wire_escape("x/y", 0, true);

		CHECK(e != NULL && e[0] == '\0',
			  "wire_escape(\"x/y\", 0, true) = \"%s\", expected \"\" "
			  "(curl_easy_escape treats length 0 as strlen)", e ? e : "(null)");
		free(e);
		/* and it must not read s at all: s + size is the end of the block */
		e = wire_escape((const char *) s + size, 0, false);
		CHECK(e != NULL && e[0] == '\0', "wire_escape(s, 0, false) not \"\"");
		free(e);
	}
#endif

#ifdef FUZZ_SKIP_ESCAPE_LEN0
	if (size == 0)
	{
		free(s);
		return 0;
	}
#endif
	check_one(s, size, false, &plain);
	check_one(s, size, true, &dots);

	/* escape_dots only turns '.' into %2E */
	{
		size_t		plen = strlen(plain);
		char	   *expect = malloc(3 * plen + 1);
		size_t		n = 0;

		for (size_t i = 0; i < plen; i++)
		{
			if (plain[i] == '.')
			{
				memcpy(expect + n, "%2E", 3);
				n += 3;
			}
			else
				expect[n++] = plain[i];
		}
		expect[n] = '\0';
		CHECK(strcmp(expect, dots) == 0, "escape_dots result \"%s\" is not \"%s\"",
			  fz_show(dots, strlen(dots)), fz_show(expect, n));
		free(expect);
	}
	free(plain);
	free(dots);
	free(s);
	return 0;
}
