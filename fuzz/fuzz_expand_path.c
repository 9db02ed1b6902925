/*
 * fuzz_expand_path: wire_expand_path(template, names, values, n), which puts
 * escaped values into the {name} placeholders of an API path template.
 *
 * Input layout, split on NUL bytes (names, values and templates are C strings,
 * so NUL is the one byte none of them can hold):
 *
 *     template \0 name1 \0 value1 \0 name2 \0 value2 \0 name3 \0 value3
 *
 * Up to 3 name/value pairs (n = number of names, 0..3; pieces after the 6th
 * are ignored).  A name without a following value piece gets value NULL.
 * Every string is passed in a buffer of exactly strlen+1 bytes (ASan).
 *
 * A reference expansion is computed here with the same rules (first '{'
 * to the next '}' is a placeholder; its value is that of the first pair
 * whose name matches and whose value is not NULL; no such pair, an empty
 * value or an unclosed '{' -> NULL) and the independent reference escaper
 * with escape_dots.  Checked:
 *   - wire_expand_path is NULL exactly when the reference is NULL;
 *   - when not NULL it equals the reference byte for byte, so every value
 *     appears, escaped, exactly where its placeholder was;
 *   - every byte that came from a value is unreserved-and-not-'.' or part of
 *     a %XX triplet (uppercase hex), and each value region decodes back to
 *     its value: values bring no '/', '?', '#', raw '%' or '.';
 *   - the number of '/' in the result equals the number of '/' in the
 *     template's literal text (outside placeholders);
 *   - every "." or ".." path segment of the result, and every '?', '#' or
 *     '%' not in a value's %XX, consists of template text only (so values
 *     introduce no "/../", "/./", query or fragment).
 */
#include "fuzz_common.h"
#include "wire.h"

#define MAXPAIRS 3

/*
 * Reference expansion into out (capacity cap), tag[i] = 0 for template
 * text, k+1 for bytes of the k-th placeholder's value; regions[k] =
 * {start, len, value}.  Returns false for "NULL".
 */
typedef struct
{
	size_t		start;
	size_t		len;
	const char *value;
} Region;

static bool
ref_expand(const char *template, const char *const *names,
		   const char *const *values, int n, char *out, uint32_t *tag,
		   Region *regions, size_t *nregions, size_t *outlen)
{
	size_t		len = 0;

	*nregions = 0;
	for (const char *p = template; *p; p++)
	{
		if (*p == '{')
		{
			const char *end = strchr(p, '}');
			const char *value = NULL;
			size_t		namelen;
			size_t		vlen;
			size_t		elen;

			if (end == NULL)
				return false;
			namelen = (size_t) (end - p - 1);
			for (int i = 0; i < n; i++)
			{
				if (values[i] != NULL && strlen(names[i]) == namelen &&
					memcmp(names[i], p + 1, namelen) == 0)
				{
					value = values[i];
					break;
				}
			}
			if (value == NULL || value[0] == '\0')
				return false;
			vlen = strlen(value);
			elen = fz_ref_escape((const unsigned char *) value, vlen, true, out + len);
			for (size_t i = 0; i < elen; i++)
				tag[len + i] = (uint32_t) (*nregions + 1);
			regions[*nregions].start = len;
			regions[*nregions].len = elen;
			regions[*nregions].value = value;
			(*nregions)++;
			len += elen;
			p = end;
		}
		else
		{
			tag[len] = 0;
			out[len++] = *p;
		}
	}
	out[len] = '\0';
	*outlen = len;
	return true;
}

/* a NUL-terminated copy in a buffer of exactly len+1 bytes */
static char *
dup_exact(const uint8_t *p, size_t len)
{
	char	   *s = malloc(len + 1);

	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *pieces[1 + 2 * MAXPAIRS] = {NULL};
	int			npieces = 0;
	size_t		pos = 0;
	const char *names[MAXPAIRS];
	const char *values[MAXPAIRS];
	int			n;
	const char *template;
	size_t		tlen;
	char	   *got;
	char	   *ref;
	uint32_t *tag;
	Region	   *regions;
	size_t		nregions = 0;
	size_t		reflen = 0;
	bool		ok;

	/* split on NUL into at most 7 pieces */
	while (npieces < 1 + 2 * MAXPAIRS)
	{
		const uint8_t *nul = pos < size ? memchr(data + pos, '\0', size - pos) : NULL;
		size_t		end = nul ? (size_t) (nul - data) : size;

		pieces[npieces++] = dup_exact(data + pos, end - pos);
		if (nul == NULL)
			break;
		pos = end + 1;
	}
	template = pieces[0];
	tlen = strlen(template);
	n = npieces / 2;			/* 2 pieces -> 1 name (NULL value), 3 -> 1 pair, ... */
	for (int i = 0; i < n; i++)
	{
		names[i] = pieces[1 + 2 * i];
		values[i] = 2 + 2 * i < npieces ? pieces[2 + 2 * i] : NULL;
	}

	got = wire_expand_path(template, names, values, n);

	/* each template byte becomes at most 3*max(value length) bytes */
	{
		size_t		maxv = 0;
		size_t		cap;

		for (int i = 0; i < n; i++)
			if (values[i] && strlen(values[i]) > maxv)
				maxv = strlen(values[i]);
		cap = tlen * (3 * maxv + 1) + 1;
		ref = malloc(cap);
		tag = malloc(cap * sizeof(*tag));
		regions = malloc((tlen / 2 + 1) * sizeof(*regions));	/* "{}" is 2 bytes */
	}
	ok = ref_expand(template, names, values, n, ref, tag, regions, &nregions, &reflen);

	CHECK((got != NULL) == ok,
		  "template \"%s\" (n=%d): wire_expand_path %s, reference %s",
		  fz_show(template, tlen), n, got ? "succeeded" : "returned NULL",
		  ok ? "succeeds" : "is NULL");
	if (got != NULL)
	{
		size_t		glen = strlen(got);
		size_t		tslashes = 0;
		size_t		gslashes = 0;
		bool		inph = false;

		CHECK(glen == reflen && memcmp(got, ref, glen) == 0,
			  "template \"%s\": \"%s\", reference \"%s\"",
			  fz_show(template, tlen), fz_show(got, glen), fz_show(ref, reflen));

		/* value regions: well formed, decode to the value */
		for (size_t k = 0; k < nregions; k++)
		{
			size_t		bad = 0;
			unsigned char *dec = malloc(regions[k].len + 1);
			size_t		declen;
			size_t		vlen = strlen(regions[k].value);

			CHECK(fz_well_formed(got + regions[k].start, regions[k].len, true, &bad),
				  "value %zu: bad byte at %zu in \"%s\"", k, regions[k].start + bad,
				  fz_show(got, glen));
			declen = fz_decode(got + regions[k].start, regions[k].len, dec);
			CHECK(declen == vlen && memcmp(dec, regions[k].value, vlen) == 0,
				  "value %zu \"%s\" does not decode back from \"%s\"", k,
				  fz_show(regions[k].value, vlen),
				  fz_show(got + regions[k].start, regions[k].len));
			free(dec);
		}

		/* '/' count: literal template slashes only */
		for (size_t i = 0; i < tlen; i++)
		{
			if (template[i] == '{')
				inph = true;
			else if (template[i] == '}' && inph)
				inph = false;
			else if (!inph && template[i] == '/')
				tslashes++;
		}
		for (size_t i = 0; i < glen; i++)
			gslashes += got[i] == '/';
		CHECK(gslashes == tslashes, "%zu '/' in \"%s\", template \"%s\" has %zu",
			  gslashes, fz_show(got, glen), fz_show(template, tlen), tslashes);

		/* '?', '#', '%' from values only as %XX; dot segments template-only */
		for (size_t i = 0; i < glen; i++)
		{
			if (tag[i] == 0)
				continue;
			CHECK(got[i] != '?' && got[i] != '#' && got[i] != '/' && got[i] != '.',
				  "raw '%c' from a value at %zu of \"%s\"", got[i], i, fz_show(got, glen));
			if (got[i] == '%')
				CHECK(i + 2 < glen && tag[i + 1] == tag[i] && tag[i + 2] == tag[i] &&
					  fz_upper_hex((unsigned char) got[i + 1]) &&
					  fz_upper_hex((unsigned char) got[i + 2]),
					  "'%%' from a value at %zu of \"%s\" is not %%XX", i, fz_show(got, glen));
		}
		for (size_t a = 0; a <= glen;)
		{
			size_t		b = a;

			while (b < glen && got[b] != '/')
				b++;
			if ((b - a == 1 && got[a] == '.') ||
				(b - a == 2 && got[a] == '.' && got[a + 1] == '.'))
				for (size_t i = a; i < b; i++)
					CHECK(tag[i] == 0, "dot segment made by a value in \"%s\"",
						  fz_show(got, glen));
			a = b + 1;
		}
		free(got);
	}
	free(ref);
	free(tag);
	free(regions);
	for (int i = 0; i < npieces; i++)
		free(pieces[i]);
	return 0;
}
