/*
 * fuzz_data_url: wire_data_url_payload(s, len), where the base64 payload of
 * an image the API returns starts.
 *
 * The input is s[0..len), any bytes (NULs included), handed over in a buffer
 * of exactly len bytes: ASan reports any read at or past s[len].
 *
 * Checked, against a reference written here:
 *   - the result is -1, 0, or in 12+1..len (never beyond len);
 *   - 0 iff the input does not start with "data:" (plain base64);
 *   - for a "data:" input: -1 when there is no ',' or the text between
 *     "data:" and the first ',' does not end with ";base64"; otherwise the
 *     offset just after that first ',' (and s[result-1] == ',');
 *   - the caller's arithmetic (s + result, len - result) stays in bounds.
 */
#include "fuzz_common.h"
#include "wire.h"

static long
ref_payload(const unsigned char *s, size_t len)
{
	size_t		comma;

	if (len < 5 || memcmp(s, "data:", 5) != 0)
		return 0;
	for (comma = 0; comma < len && s[comma] != ','; comma++)
		;
	if (comma == len)
		return -1;
	/* "data:" + <type> + ";base64" before the comma, <type> may be empty */
	if (comma < 5 + 7 || memcmp(s + comma - 7, ";base64", 7) != 0)
		return -1;
	return (long) comma + 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct { const char *s; long r; } fixed[] = {
		{"data:image/png;base64,iVBOR", 22},
		{"data:;base64,", 13},
		{"data:;base64,AAAA", 13},
		{"data:image/png;base64", -1},
		{"data:image/png,abc", -1},
		{"data:text/plain;charset=utf-8;base64,QQ==", 37},
		{"data:,;base64,", -1},
		{"data:base64,", -1},
		{"data:", -1},
		{"data", 0},
		{"", 0},
		{"iVBORw0KGgo=", 0},
		{"DATA:;base64,", 0},
	};

	(void) argc;
	(void) argv;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
	{
		size_t		len = strlen(fixed[i].s);
		char	   *s = malloc(len + 1);

		memcpy(s, fixed[i].s, len);
		CHECK(wire_data_url_payload(s, len) == fixed[i].r, "\"%s\": %ld, expected %ld",
			  fixed[i].s, wire_data_url_payload(s, len), fixed[i].r);
		CHECK(ref_payload((const unsigned char *) s, len) == fixed[i].r,
			  "reference wrong for \"%s\"", fixed[i].s);
		free(s);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *s = malloc(size);	/* exactly size bytes */
	long		got;
	long		want;

	if (size > 0)
		memcpy(s, data, size);
	got = wire_data_url_payload((const char *) s, size);
	want = ref_payload(s, size);
	CHECK(got == -1 || got == 0 || (got >= 13 && (size_t) got <= size),
		  "result %ld out of range for len %zu: \"%s\"", got, size, fz_show(s, size));
	CHECK(got == want, "\"%s\": %ld, reference %ld", fz_show(s, size), got, want);
	if (got > 0)
	{
		CHECK(s[got - 1] == ',', "s[%ld - 1] is not ','", got);
		CHECK(memchr(s, ',', (size_t) got - 1) == NULL, "not the first ','");
		CHECK(memcmp(s, "data:", 5) == 0, "payload offset for a non-data: input");
		CHECK(memcmp(s + got - 8, ";base64", 7) == 0, "no \";base64\" before the ','");
	}
	else if (got == 0)
		CHECK(size < 5 || memcmp(s, "data:", 5) != 0, "0 for a data: input");
	free(s);
	return 0;
}
