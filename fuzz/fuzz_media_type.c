/*
 * fuzz_media_type: wire_is_json_media_type(const char *), "is this
 * Content-Type JSON?".
 *
 * The input, up to its first NUL, is the Content-Type (the function takes a C
 * string; it is handed over in a buffer of exactly strlen+1 bytes so ASan sees
 * any read past the terminator).
 *
 * Checked against a reference written here: the media type is the text
 * before the first ';' (parameters ignored) with trailing spaces and tabs
 * (HTTP OWS) trimmed, compared case-insensitively (ASCII); it is JSON iff
 *   - it is "application/json", or
 *   - it is "application/<name>+json" with a non-empty <name> that contains
 *     no '/' (exactly one '/' in the whole type/subtype).
 * Leading whitespace is not trimmed: the value comes from libcurl's
 * CURLINFO_CONTENT_TYPE, which has already stripped the header value's
 * leading and trailing whitespace (see README.md, "Notes").
 * Also: NULL is not JSON.
 */
#include "fuzz_common.h"
#include "wire.h"

static bool
ref_is_json(const char *ct)
{
	size_t		len = strcspn(ct, ";");
	char	   *t;
	bool		json;

	while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
		len--;
	t = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) ct[i];

		t[i] = (char) ((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
	}
	t[len] = '\0';

	if (strcmp(t, "application/json") == 0)
		json = true;
	else
	{
		size_t		slashes = 0;

		for (size_t i = 0; i < len; i++)
			slashes += t[i] == '/';
		json = strncmp(t, "application/", 12) == 0 &&
			len >= 5 && strcmp(t + len - 5, "+json") == 0 &&
			len - 12 - 5 >= 1 &&	/* non-empty name before "+json" */
			slashes == 1;
	}
	free(t);
	return json;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct { const char *ct; bool json; } fixed[] = {
		{"application/json", true},
		{"Application/JSON", true},
		{"application/json; charset=utf-8", true},
		{"application/json ;charset=utf-8", true},
		{"application/json\t", true},
		{"application/problem+json", true},
		{"APPLICATION/PROBLEM+JSON; charset=UTF-8", true},
		{"application/vnd.signicat.v1+json", true},
		{"application/a+json", true},
		{"application/+json", false},
		{"application/json-seq", false},
		{"application/jsonx", false},
		{"application/x/y+json", false},
		{"application/x+json/", false},
		{"text/json", false},
		{"text/plain", false},
		{"application/xml", false},
		{"application", false},
		{"", false},
		{";application/json", false},
		{"application/x+json+xml", false},
	};

	(void) argc;
	(void) argv;
	CHECK(!wire_is_json_media_type(NULL), "NULL is JSON");
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
	{
		CHECK(wire_is_json_media_type(fixed[i].ct) == fixed[i].json,
			  "\"%s\": %d, expected %d", fixed[i].ct, !fixed[i].json, fixed[i].json);
		CHECK(ref_is_json(fixed[i].ct) == fixed[i].json,
			  "reference is wrong for \"%s\"", fixed[i].ct);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t		len = nul ? (size_t) (nul - data) : size;
	char	   *ct = malloc(len + 1);
	bool		got;
	bool		want;

	memcpy(ct, data, len);
	ct[len] = '\0';
	got = wire_is_json_media_type(ct);
	want = ref_is_json(ct);
	CHECK(got == want, "\"%s\": wire_is_json_media_type says %d, reference %d",
		  fz_show(ct, len), got, want);
	free(ct);
	return 0;
}
