/*
 * fuzz_status: wire_sqlstate_for_status(long), HTTP status -> SQLSTATE.
 *
 * The input is a status: 8 or more bytes are a whole long (native byte
 * order), fewer are a sign-extended little-endian integer of that many bytes
 * (so 1- and 2-byte inputs cover 0..65535, and every HTTP status, densely).
 *
 * Checked: the result is never NULL, is exactly 5 characters of [0-9A-Z],
 * and equals the table of the README's "Errors" section (reference below):
 * 400, 422, other 4xx -> 22023; 401 -> 28000; 403 -> 42501; 404, 410 ->
 * P0002; 405, 501 -> 0A000; 409, 412 -> 55000; 413 -> 54000; 429 -> 53400;
 * 408, 502, 503, 504 -> 08006; anything else -> 58000.  Before fuzzing,
 * LLVMFuzzerInitialize checks those fixed points and every status in
 * -100000..100000 plus LONG_MIN/LONG_MAX.
 */
#include <limits.h>

#include "fuzz_common.h"
#include "wire.h"

static const char *
ref_sqlstate(long status)
{
	switch (status)
	{
		case 401: return "28000";
		case 403: return "42501";
		case 404: case 410: return "P0002";
		case 405: case 501: return "0A000";
		case 409: case 412: return "55000";
		case 413: return "54000";
		case 429: return "53400";
		case 408: case 502: case 503: case 504: return "08006";
	}
	if (status >= 400 && status <= 499)
		return "22023";
	return "58000";
}

static void
check_status(long status)
{
	const char *s = wire_sqlstate_for_status(status);
	const char *ref = ref_sqlstate(status);

	CHECK(s != NULL, "NULL for status %ld", status);
	CHECK(strlen(s) == 5, "\"%s\" for %ld is not 5 characters", s, status);
	for (int i = 0; i < 5; i++)
		CHECK((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z'),
			  "\"%s\" for %ld has a character outside [0-9A-Z]", s, status);
	CHECK(strcmp(s, ref) == 0, "status %ld: \"%s\", expected \"%s\"", status, s, ref);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct { long status; const char *state; } fixed[] = {
		{400, "22023"}, {422, "22023"}, {418, "22023"}, {499, "22023"},
		{401, "28000"}, {403, "42501"}, {404, "P0002"}, {410, "P0002"},
		{405, "0A000"}, {501, "0A000"}, {409, "55000"}, {412, "55000"},
		{413, "54000"}, {429, "53400"}, {408, "08006"}, {502, "08006"},
		{503, "08006"}, {504, "08006"}, {500, "58000"}, {599, "58000"},
		{200, "58000"}, {0, "58000"}, {-1, "58000"}, {399, "58000"},
		{500, "58000"}, {LONG_MIN, "58000"}, {LONG_MAX, "58000"},
	};

	(void) argc;
	(void) argv;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		CHECK(strcmp(wire_sqlstate_for_status(fixed[i].status), fixed[i].state) == 0,
			  "status %ld: \"%s\", expected \"%s\"", fixed[i].status,
			  wire_sqlstate_for_status(fixed[i].status), fixed[i].state);
	for (long s = -100000; s <= 100000; s++)
		check_status(s);
	check_status(LONG_MIN);
	check_status(LONG_MAX);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long		status = 0;

	if (size >= sizeof(long))
		memcpy(&status, data, sizeof(long));
	else if (size > 0)
	{
		unsigned long u = 0;

		for (size_t i = 0; i < size; i++)
			u |= (unsigned long) data[i] << (8 * i);
		/* sign-extend from size*8 bits */
		if (data[size - 1] & 0x80)
			u |= ~0UL << (8 * size);
		status = (long) u;
	}
	check_status(status);
	return 0;
}
