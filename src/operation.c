/*-------------------------------------------------------------------------
 * operation.c
 *	  The SQL-callable entry points.  Every catalog operation is an SQL
 *	  function whose name is the operation id and whose C symbol is one of
 *	  these few generic functions; nothing here is specific to an operation.
 *
 * On the first call through an FmgrInfo the function is bound to its
 * catalog entry: each input argument is matched by name (snake_case in SQL,
 * camelCase on the wire: dossier_id -> dossierId) to a path, query or body
 * parameter, or is one of the reserved arguments:
 *	  body jsonb		a whole JSON body; named arguments are merged over it
 *	  media_type text	media type for bytea arguments sent as dataURLs
 *						(sniffed from PNG/JPEG magic bytes when NULL)
 *	  page_size int		page length for offset/limit paged lists
 *	  confirm boolean	must be true: guards destructive operations
 *	  file_names text[], media_types text[]
 *						names and media types of the bytea[] files of a
 *						multipart/form-data upload (one part per file)
 * The declared return type picks the answer's form: jsonb, bytea, void, or a
 * set of typed rows (signicat_list_operation).  Values are checked against
 * the catalog before any request is sent: required, well-formed (typed
 * arguments: a uuid, a date).  Enumerations are not limits: a value the
 * catalog does not know is sent as given, for Signicat to judge.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "signicat.h"

typedef enum ArgRole
{
	ROLE_PARAM,					/* a catalog parameter (path, query, body) */
	ROLE_BODY,
	ROLE_MEDIA_TYPE,
	ROLE_PAGE_SIZE,
	ROLE_CONFIRM,
	ROLE_FILE_NAMES,
	ROLE_MEDIA_TYPES
} ArgRole;

typedef struct BoundArg
{
	char	   *sqlname;
	Oid			type;
	ArgRole		role;
	const SignicatParam *param;
} BoundArg;

typedef struct BoundOperation
{
	const SignicatOperation *op;
	Oid			rettype;
	int			nargs;
	BoundArg   *args;
	int			media_type_arg;
	int			page_size_arg;
	int			file_names_arg;
	int			media_types_arg;
} BoundOperation;

/* ---------- binding a SQL function to its catalog entry ---------- */

static char *
snake_to_camel(const char *s)
{
	StringInfoData out;
	bool		upper = false;

	initStringInfo(&out);
	for (; *s; s++)
	{
		if (*s == '_')
			upper = true;
		else
		{
			appendStringInfoChar(&out, upper ? pg_toupper((unsigned char) *s) : *s);
			upper = false;
		}
	}
	return out.data;
}

static char *
camel_to_snake(const char *s)
{
	StringInfoData out;

	initStringInfo(&out);
	for (; *s; s++)
	{
		if (*s >= 'A' && *s <= 'Z')
		{
			appendStringInfoChar(&out, '_');
			appendStringInfoChar(&out, pg_tolower((unsigned char) *s));
		}
		else
			appendStringInfoChar(&out, *s);
	}
	return out.data;
}

static int
find_arg(const BoundOperation *b, const SignicatParam *param)
{
	for (int i = 0; i < b->nargs; i++)
	{
		if (b->args[i].param == param)
			return i;
	}
	return -1;
}

/*
 * Bind the called function to its operation, in memory context cxt.
 * Mistakes here are mistakes of the install script, reported as such (and
 * caught by the tests).
 */
static BoundOperation *
bind_operation(FmgrInfo *flinfo, MemoryContext cxt)
{
	BoundOperation *b;
	MemoryContext oldcxt;
	HeapTuple	tup;
	Form_pg_proc proc;
	char	  **argnames = NULL;
	int			nnames;
	bool		isnull;
	Datum		names;
	Datum		modes;
	bool		has_body = false;

	oldcxt = MemoryContextSwitchTo(cxt);
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(flinfo->fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", flinfo->fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tup);

	b = palloc0(sizeof(BoundOperation));
	b->op = signicat_find_operation(NameStr(proc->proname));
	if (b->op == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function %s is not a Signicat operation", NameStr(proc->proname))));
	b->rettype = proc->prorettype;
	b->nargs = proc->pronargs;
	b->args = palloc0(sizeof(BoundArg) * Max(b->nargs, 1));
	b->media_type_arg = -1;
	b->page_size_arg = -1;
	b->file_names_arg = -1;
	b->media_types_arg = -1;

	names = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proargnames, &isnull);
	if (!isnull)
	{
		modes = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proargmodes, &isnull);
		nnames = get_func_input_arg_names(names, isnull ? (Datum) 0 : modes, &argnames);
	}
	else
		nnames = 0;
	if (nnames != b->nargs)
		elog(ERROR, "every argument of %s must be named", b->op->id);

	for (int i = 0; i < b->nargs; i++)
	{
		BoundArg   *a = &b->args[i];

		a->sqlname = pstrdup(argnames[i]);
		a->type = proc->proargtypes.values[i];
		if (strcmp(a->sqlname, "body") == 0 && a->type == JSONBOID)
			a->role = ROLE_BODY, has_body = true;
		else if (strcmp(a->sqlname, "media_type") == 0)
			a->role = ROLE_MEDIA_TYPE, b->media_type_arg = i;
		else if (strcmp(a->sqlname, "page_size") == 0 && b->op->paged)
			a->role = ROLE_PAGE_SIZE, b->page_size_arg = i;
		else if (strcmp(a->sqlname, "confirm") == 0 && a->type == BOOLOID)
			a->role = ROLE_CONFIRM;
		else if (strcmp(a->sqlname, "file_names") == 0 && b->op->body == SIGNICAT_BODY_MULTIPART)
			a->role = ROLE_FILE_NAMES, b->file_names_arg = i;
		else if (strcmp(a->sqlname, "media_types") == 0 && b->op->body == SIGNICAT_BODY_MULTIPART)
			a->role = ROLE_MEDIA_TYPES, b->media_types_arg = i;
		else
		{
			a->role = ROLE_PARAM;
			a->param = signicat_find_param(b->op, snake_to_camel(a->sqlname));
			if (a->param == NULL)
				elog(ERROR, "argument %s of %s matches no parameter of the operation",
					 a->sqlname, b->op->id);
		}
	}

	/* every path parameter and every required parameter needs an argument */
	for (int i = 0; i < b->op->nparams; i++)
	{
		const SignicatParam *p = &b->op->params[i];

		if ((p->in == SIGNICAT_IN_PATH || (p->required && !(p->in == SIGNICAT_IN_BODY && has_body))) &&
			find_arg(b, p) < 0 &&
			!(b->op->paged && (strcmp(p->name, "offset") == 0 || strcmp(p->name, "limit") == 0)))
			elog(ERROR, "%s has no argument for the required parameter %s",
				 b->op->id, p->name);
	}

	ReleaseSysCache(tup);
	MemoryContextSwitchTo(oldcxt);
	return b;
}

/* ---------- argument values to text and JSON ---------- */

/* Text form of a scalar for a path segment or query value. */
static char *
scalar_text(Datum value, Oid type)
{
	static const int utc = 0;
	Oid			out;
	bool		isvarlena;

	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
		case DATEOID:
			/* ISO 8601 whatever DateStyle says; instants in UTC */
			return JsonEncodeDateTime(NULL, value, type, &utc);
		case BOOLOID:
			return pstrdup(DatumGetBool(value) ? "true" : "false");
		case UUIDOID:			/* the common cases, without a catalog lookup per call */
			return DatumGetCString(DirectFunctionCall1(uuid_out, value));
		case TEXTOID:
			return TextDatumGetCString(value);
		default:
			getTypeOutputInfo(type, &out, &isvarlena);
			return OidOutputFunctionCall(out, value);
	}
}

static const char *
sniff_media_type(const unsigned char *data, size_t len)
{
	if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
		return "image/jpeg";
	if (len >= 5 && memcmp(data, "%PDF-", 5) == 0)
		return "application/pdf";
	return NULL;
}

/* A media type goes into a header or a dataURL: type/subtype characters only. */
static void
check_media_type(const char *media_type, const char *argname)
{
	for (const char *p = media_type; *p; p++)
	{
		if (!(isalnum((unsigned char) *p) || strchr("/.+-", *p)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid %s: \"%s\"", argname, media_type)));
	}
}

/* "data:<media type>;base64,<bytes>", as the API wants images. */
static char *
make_data_url(bytea *bytes, const char *media_type, const char *argname)
{
	const char *data = VARDATA_ANY(bytes);
	int			len = VARSIZE_ANY_EXHDR(bytes);
	StringInfoData url;
	int			enclen;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is empty", argname)));
	if (media_type == NULL)
		media_type = sniff_media_type((const unsigned char *) data, len);
	if (media_type == NULL || strncmp(media_type, "image/", 6) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot tell the media type of %s", argname),
				 errdetail("It is neither a PNG nor a JPEG image."),
				 errhint("Pass media_type, for example media_type => 'image/png'.")));
	check_media_type(media_type, "media_type");

	enclen = pg_b64_enc_len(len);
	initStringInfo(&url);
	appendStringInfo(&url, "data:%s;base64,", media_type);
	enlargeStringInfo(&url, enclen + 1);
	enclen = pg_b64_encode((const b64_binary *) data, len, url.data + url.len, enclen);
	if (enclen < 0)
		elog(ERROR, "could not encode %s as base64", argname);
	url.len += enclen;
	url.data[url.len] = '\0';
	return url.data;
}

static void
push_string(JsonbParseState **state, JsonbIteratorToken tok, char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = s;
	v.val.string.len = strlen(s);
	pushJsonbValue(state, tok, &v);
}

/* Push a jsonb document as an object member or array element. */
static void
push_jsonb(JsonbParseState **state, JsonbIteratorToken tok, Jsonb *j)
{
	JsonbValue	v;

	if (JB_ROOT_IS_SCALAR(j))
		JsonbExtractScalar(&j->root, &v);
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = &j->root;
		v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	}
	pushJsonbValue(state, tok, &v);
}

/* Elements of an array argument, and their type (NULL elements refused). */
static int
array_elements(Datum array, const char *argname, Datum **elems, Oid *elemtype)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bool	   *nulls;
	int			n;

	*elemtype = ARR_ELEMTYPE(arr);
	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, *elemtype, typlen, typbyval, typalign, elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", argname)));
	}
	return n;
}

/* Push one argument's value as a JSON value of the type its SQL type says. */
static void
push_arg_value(JsonbParseState **state, const BoundArg *a, Datum value,
			   const char *media_type)
{
	JsonbValue	v;

	switch (a->type)
	{
		case JSONBOID:
			push_jsonb(state, WJB_VALUE, DatumGetJsonbP(value));
			return;
		case BOOLOID:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(value);
			pushJsonbValue(state, WJB_VALUE, &v);
			return;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			v.type = jbvNumeric;
			v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																CStringGetDatum(scalar_text(value, a->type)),
																ObjectIdGetDatum(InvalidOid),
																Int32GetDatum(-1)));
			pushJsonbValue(state, WJB_VALUE, &v);
			return;
		case BYTEAOID:
			push_string(state, WJB_VALUE,
						make_data_url(DatumGetByteaPP(value), media_type, a->sqlname));
			return;
		default:
			break;
	}

	if (type_is_array(a->type))
	{
		Datum	   *elems;
		Oid			elemtype;
		int			n = array_elements(value, a->sqlname, &elems, &elemtype);

		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < n; i++)
			push_string(state, WJB_ELEM, scalar_text(elems[i], elemtype));
		pushJsonbValue(state, WJB_END_ARRAY, NULL);
		return;
	}

	push_string(state, WJB_VALUE, scalar_text(value, a->type));
}

/* ---------- building the call from the arguments ---------- */

typedef struct PreparedCall
{
	SignicatCall call;
	StringInfoData query;		/* without paging parameters */
	int			page_size;
} PreparedCall;

typedef struct PathArgs
{
	FunctionCallInfo fcinfo;
	const BoundOperation *b;
} PathArgs;

/* Value of a path parameter, checked: never empty. */
static const char *
path_value(const char *name, void *arg)
{
	PathArgs   *pa = (PathArgs *) arg;
	FunctionCallInfo fcinfo = pa->fcinfo;
	const BoundOperation *b = pa->b;
	const SignicatParam *param = signicat_find_param(b->op, name);
	int			i = param ? find_arg(b, param) : -1;
	char	   *value;

	/* bound for every catalog parameter; a correction holds only those (corrections.c) */
	if (i < 0 || b->args[i].role != ROLE_PARAM)
		elog(ERROR, "%s: the path names {%s}, which is not an argument", b->op->id, name);
	value = scalar_text(PG_GETARG_DATUM(i), b->args[i].type);
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", b->args[i].sqlname)));
	return value;
}

/*
 * multipart/form-data: each element of the bytea[] argument is one part,
 * named after the API's field, with its file name and media type.
 */
static void
prepare_parts(FunctionCallInfo fcinfo, const BoundOperation *b, PreparedCall *pc)
{
	int			files_arg = -1;
	Datum	   *files;
	Datum	   *names = NULL;
	Datum	   *types = NULL;
	int			nfiles;
	Oid			elemtype;
	SignicatMimePart *parts;

	for (int i = 0; i < b->nargs; i++)
	{
		if (b->args[i].role == ROLE_PARAM && b->args[i].param->in == SIGNICAT_IN_BODY &&
			b->args[i].type == BYTEAARRAYOID)
			files_arg = i;
	}
	if (files_arg < 0 || b->file_names_arg < 0)
		elog(ERROR, "%s needs a bytea[] argument and file_names", b->op->id);
	if (PG_ARGISNULL(files_arg) || PG_ARGISNULL(b->file_names_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s and file_names are required", b->args[files_arg].sqlname)));

	nfiles = array_elements(PG_GETARG_DATUM(files_arg), b->args[files_arg].sqlname, &files, &elemtype);
	if (nfiles == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must hold at least one file", b->args[files_arg].sqlname)));
	if (array_elements(PG_GETARG_DATUM(b->file_names_arg), "file_names", &names, &elemtype) != nfiles ||
		(b->media_types_arg >= 0 && !PG_ARGISNULL(b->media_types_arg) &&
		 array_elements(PG_GETARG_DATUM(b->media_types_arg), "media_types", &types, &elemtype) != nfiles))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s, file_names and media_types must have the same length",
						b->args[files_arg].sqlname)));

	parts = palloc0(sizeof(SignicatMimePart) * nfiles);
	for (int i = 0; i < nfiles; i++)
	{
		bytea	   *content = DatumGetByteaPP(files[i]);
		char	   *filename = TextDatumGetCString(names[i]);

		if (filename[0] == '\0' || strpbrk(filename, "\"\r\n") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid file name: \"%s\"", filename),
					 errdetail("File names must be non-empty, without quotes or line breaks.")));
		parts[i].name = b->args[files_arg].param->name;
		parts[i].filename = filename;
		parts[i].data = VARDATA_ANY(content);
		parts[i].len = VARSIZE_ANY_EXHDR(content);
		if (types)
			parts[i].content_type = TextDatumGetCString(types[i]);
		else
			parts[i].content_type = sniff_media_type((const unsigned char *) parts[i].data, parts[i].len);
		if (parts[i].content_type == NULL)
			parts[i].content_type = "application/octet-stream";
		check_media_type(parts[i].content_type, "media_types");
	}
	pc->call.parts = parts;
	pc->call.nparts = nfiles;
}

/*
 * The reserved arguments (media_type, page_size) and the checks that come
 * before anything is built: confirm => true where it is needed, NULL for a
 * path parameter or a required query parameter.  Returns media_type.
 */
static const char *
check_call_args(FunctionCallInfo fcinfo, const BoundOperation *b, PreparedCall *pc)
{
	const char *media_type = NULL;

	if (b->media_type_arg >= 0 && !PG_ARGISNULL(b->media_type_arg))
		media_type = text_to_cstring(PG_GETARG_TEXT_PP(b->media_type_arg));
	if (b->page_size_arg >= 0 && !PG_ARGISNULL(b->page_size_arg))
	{
		pc->page_size = PG_GETARG_INT32(b->page_size_arg);
		if (pc->page_size < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("page_size must be at least 1")));
	}
	for (int i = 0; i < b->nargs; i++)
	{
		const BoundArg *a = &b->args[i];

		if (a->role == ROLE_CONFIRM && (PG_ARGISNULL(i) || !PG_GETARG_BOOL(i)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s needs confirm => true", b->op->id),
					 errdetail("It cannot be undone.")));
		if (a->role == ROLE_PARAM && PG_ARGISNULL(i) &&
			(a->param->in == SIGNICAT_IN_PATH ||
			 (a->param->required && a->param->in == SIGNICAT_IN_QUERY)))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s is required", a->sqlname)));
		/* (an operation without a JSON body has no object to merge it into) */
		if (a->role == ROLE_BODY && !PG_ARGISNULL(i) && b->op->body != SIGNICAT_BODY_JSON)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("body must be a JSON object")));
	}
	return media_type;
}

/* The query string: every query parameter given, escaped (arrays repeat it). */
static void
build_query(FunctionCallInfo fcinfo, const BoundOperation *b, PreparedCall *pc)
{
	for (int i = 0; i < b->nargs; i++)
	{
		const BoundArg *a = &b->args[i];

		if (PG_ARGISNULL(i) || a->role != ROLE_PARAM || a->param->in != SIGNICAT_IN_QUERY)
			continue;
		if (type_is_array(a->type))
		{
			Datum	   *elems;
			Oid			elemtype;
			int			n = array_elements(PG_GETARG_DATUM(i), a->sqlname, &elems, &elemtype);

			for (int e = 0; e < n; e++)
			{
				signicat_append_query(&pc->query, a->param->name, scalar_text(elems[e], elemtype));
			}
		}
		else
		{
			signicat_append_query(&pc->query, a->param->name, scalar_text(PG_GETARG_DATUM(i), a->type));
		}
	}
}

/*
 * The JSON body, built with jsonb: a whole body argument goes first, so that
 * the named arguments pushed after it win (the last of duplicate keys is
 * kept); then every required member must be there.
 */
static void
build_json_body(FunctionCallInfo fcinfo, const BoundOperation *b, PreparedCall *pc,
				const char *media_type)
{
	const SignicatOperation *op = b->op;
	JsonbParseState *state = NULL;
	Jsonb	   *body;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < b->nargs; i++)
	{
		if (b->args[i].role == ROLE_BODY && !PG_ARGISNULL(i))
		{
			Jsonb	   *given = PG_GETARG_JSONB_P(i);
			JsonbIterator *it;
			JsonbValue	v;
			JsonbIteratorToken tok;

			if (!JB_ROOT_IS_OBJECT(given))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("body must be a JSON object")));
			it = JsonbIteratorInit(&given->root);
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				if (tok == WJB_KEY || tok == WJB_VALUE)
					pushJsonbValue(&state, tok, &v);
			}
		}
	}
	for (int i = 0; i < b->nargs; i++)
	{
		const BoundArg *a = &b->args[i];

		if (!PG_ARGISNULL(i) && a->role == ROLE_PARAM && a->param->in == SIGNICAT_IN_BODY)
		{
			push_string(&state, WJB_KEY, (char *) a->param->name);
			push_arg_value(&state, a, PG_GETARG_DATUM(i), media_type);
		}
	}
	body = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	for (int i = 0; i < op->nparams; i++)
	{
		const SignicatParam *p = &op->params[i];
		int			a;
		const char *name;

		if (p->in != SIGNICAT_IN_BODY || !p->required ||
			getKeyJsonValueFromContainer(&body->root, p->name, strlen(p->name), NULL) != NULL)
			continue;
		a = find_arg(b, p);
		name = a >= 0 ? b->args[a].sqlname : camel_to_snake(p->name);
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s is required", name),
				 a < 0 ? errdetail("Give it in body as \"%s\".", p->name) : 0));
	}
	pc->call.body = JsonbToCString(NULL, &body->root, VARSIZE(body));
	pc->call.body = pg_server_to_any(pc->call.body, strlen(pc->call.body), PG_UTF8);
	pc->call.body_len = strlen(pc->call.body);
	pc->call.content_type = "application/json";
}

/* Everything a call of the operation sends, from the function's arguments. */
static void
prepare_call(FunctionCallInfo fcinfo, const BoundOperation *b, PreparedCall *pc)
{
	const SignicatOperation *op = b->op;
	const char *media_type;
	PathArgs	pa = {fcinfo, b};
	SignicatRoute route;

	memset(pc, 0, sizeof(*pc));
	initStringInfo(&pc->query);
	pc->page_size = 100;

	media_type = check_call_args(fcinfo, b, pc);
	/* path: the catalog's or its correction, every {param} replaced by its escaped value */
	signicat_route(op, &route);
	pc->call.path = signicat_expand_path(route.path, path_value, &pa);
	build_query(fcinfo, b, pc);
	if (op->body == SIGNICAT_BODY_JSON)
		build_json_body(fcinfo, b, pc, media_type);
	else if (op->body == SIGNICAT_BODY_MULTIPART)
		prepare_parts(fcinfo, b, pc);

	pc->call.op = op;
	pc->call.opid = op->id;
	pc->call.idempotent = route.idempotent;
	pc->call.method = route.method;
	pc->call.path_template = route.path;
	pc->call.query = pc->query.data;
	pc->call.accept = op->accept;
}

/* ---------- answers ---------- */

/*
 * Whether an empty answer means "nothing" for operation op: only with a
 * status the operation documents without a body (204, mostly).  An empty
 * 200 where the operation documents JSON is not an empty result.
 */
static bool
empty_answer_is_documented(const SignicatOperation *op, const SignicatHttpResponse *resp)
{
	return resp->status >= 200 && resp->status < 232 &&
		(op->empty_answers & SIGNICAT_EMPTY(resp->status)) != 0;
}

/*
 * Whether the answer holds JSON to parse: false for an empty answer the
 * operation documents (the caller returns NULL or no rows); an empty answer
 * it does not document, or one of another media type, is 08P01.  Without an
 * operation (signicat.request) any empty 2xx is "nothing".
 */
static bool
answer_is_json(const SignicatOperation *op, const SignicatHttpResponse *resp, const char *what)
{
	if (resp->body_len == 0)
	{
		if (op == NULL || empty_answer_is_documented(op, resp))
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat answered %s with an empty body where JSON was expected", op->id),
				 errdetail("The %s was HTTP %ld with no content; %s documents no empty answer for that status.",
						   what, resp->status, op->id)));
	}
	if (resp->content_type && !wire_is_json_media_type(resp->content_type))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat answered %s where JSON was expected", resp->content_type),
				 errdetail("The %s was %zu bytes.", what, resp->body_len)));
	return true;
}

/* The dossier_id argument as text, or NULL. */
static const char *
dossier_arg(FunctionCallInfo fcinfo, const BoundOperation *b)
{
	for (int i = 0; i < b->nargs; i++)
	{
		if (strcmp(b->args[i].sqlname, "dossier_id") == 0 && !PG_ARGISNULL(i))
			return scalar_text(PG_GETARG_DATUM(i), b->args[i].type);
	}
	return NULL;
}

/*
 * The jsonb answer of a 2xx (NULL where the operation documents an empty
 * one, or for a void function); with enrol, what a create made is enrolled
 * in signicat.watch.  Shared by the SQL functions and signicat.call_many.
 */
static Jsonb *
answer_jsonb(const BoundOperation *b, const SignicatHttpResponse *resp, bool enrol,
			 FunctionCallInfo fcinfo)
{
	Jsonb	   *answer;
	const SignicatWatchKind *kind;

	if (b->rettype != JSONBOID || !answer_is_json(b->op, resp, "answer"))
		return NULL;
	answer = signicat_unwrap_envelope(b->op, signicat_parse_json(resp->body, resp->body_len, b->op->id, "answer"));
	/* what was just created is followed by the worker */
	if (enrol && (kind = signicat_watch_kind_for_create(b->op->id)) != NULL)
		signicat_watch_enroll(kind, answer, dossier_arg(fcinfo, b));
	return answer;
}

PG_FUNCTION_INFO_V1(signicat_operation);

/*
 * Generic single-answer operation: returns jsonb, bytea, boolean or void as
 * the SQL function declares.  An empty answer is NULL where the operation
 * documents one (204), and 08P01 where JSON was due.
 */
Datum
signicat_operation(PG_FUNCTION_ARGS)
{
	BoundOperation *b = (BoundOperation *) fcinfo->flinfo->fn_extra;
	PreparedCall pc;
	SignicatHttpResponse resp;

	/* bound once per FmgrInfo, e.g. once for a whole query */
	if (b == NULL)
	{
		b = bind_operation(fcinfo->flinfo, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = b;
	}
	prepare_call(fcinfo, b, &pc);
	signicat_watch_check_writable(b->op->id);
	signicat_execute(&pc.call, &resp);

	switch (b->rettype)
	{
		case VOIDOID:
			PG_RETURN_VOID();
		case BOOLOID:
			PG_RETURN_BOOL(true);
		case BYTEAOID:
			{
				bytea	   *result;

				/* nothing, where documented; else the bytes, however few */
				if (resp.body_len == 0 && empty_answer_is_documented(b->op, &resp))
					PG_RETURN_NULL();
				if (resp.body_len > MaxAllocSize - VARHDRSZ)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("Signicat answer is too large for bytea")));
				result = palloc(resp.body_len + VARHDRSZ);
				SET_VARSIZE(result, resp.body_len + VARHDRSZ);
				memcpy(VARDATA(result), resp.body, resp.body_len);
				PG_RETURN_BYTEA_P(result);
			}
		case JSONBOID:
			{
				Jsonb	   *answer = answer_jsonb(b, &resp, true, fcinfo);

				if (answer == NULL)
					PG_RETURN_NULL();
				PG_RETURN_JSONB_P(answer);
			}
		default:
			elog(ERROR, "%s cannot return type %s", b->op->id, format_type_be(b->rettype));
	}
	pg_unreachable();
}

/* ---------- lists as typed rows ---------- */

typedef struct ListState
{
	BoundOperation *b;
	PreparedCall pc;
	MemoryContext page_cxt;
	Jsonb	   *page;
	JsonbContainer *items;		/* the list, or NULL for a single object */
	int			nitems;
	int			index;
	int64		offset;
	bool		last_page;
	TupleDesc	tupdesc;
	char	  **keys;			/* JSON member per column; NULL for raw */
	FmgrInfo   *infuncs;
	Oid		   *ioparams;
} ListState;

static void
fetch_page(ListState *ls)
{
	const SignicatOperation *op = ls->b->op;
	MemoryContext oldcxt;
	SignicatHttpResponse resp;
	StringInfoData query;
	JsonbValue *v;
	int64		total = -1;

	MemoryContextReset(ls->page_cxt);
	oldcxt = MemoryContextSwitchTo(ls->page_cxt);

	initStringInfo(&query);
	appendStringInfoString(&query, ls->pc.query.data);
	if (op->paged)
	{
		signicat_append_query(&query, "offset", psprintf(INT64_FORMAT, ls->offset));
		signicat_append_query(&query, "limit", psprintf("%d", ls->pc.page_size));
	}
	ls->pc.call.query = query.data;
	signicat_execute(&ls->pc.call, &resp);

	ls->items = NULL;
	ls->nitems = 0;
	ls->index = 0;
	if (answer_is_json(op, &resp, "list"))
	{
		ls->page = signicat_unwrap_envelope(op, signicat_parse_json(resp.body, resp.body_len, op->id, "list"));
		if (JB_ROOT_IS_ARRAY(ls->page) && !JB_ROOT_IS_SCALAR(ls->page))
			ls->items = &ls->page->root;
		else if (JB_ROOT_IS_OBJECT(ls->page) && op->list_member &&
				 (v = getKeyJsonValueFromContainer(&ls->page->root, op->list_member,
												   strlen(op->list_member), NULL)) != NULL &&
				 v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		{
			ls->items = v->val.binary.data;
			v = getKeyJsonValueFromContainer(&ls->page->root, "totalResults",
											 strlen("totalResults"), NULL);
			if (v && v->type == jbvNumeric)
				total = DatumGetInt64(DirectFunctionCall1(numeric_int8,
														  NumericGetDatum(v->val.numeric)));
		}
		else if (JB_ROOT_IS_OBJECT(ls->page) && !op->returns_list)
			ls->items = NULL;	/* one object: one row */
		else
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("Signicat answered something other than a list to %s", op->id)));
		ls->nitems = ls->items ? JsonContainerSize(ls->items) : 1;
	}
	MemoryContextSwitchTo(oldcxt);

	ls->last_page = !op->paged || ls->nitems < ls->pc.page_size || ls->nitems == 0 ||
		(total >= 0 && ls->offset + ls->nitems >= total);
	ls->offset += ls->nitems;
}

/*
 * The bytes of a dataURL ("data:image/png;base64,...") or of plain base64,
 * as the API returns images inside JSON.
 */
static bytea *
decode_data_url(const char *s, int len, const char *column)
{
	long		start = wire_data_url_payload(s, len);
	bytea	   *result;
	int			declen;

	if (start < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat sent a dataURL without base64 data in %s", column)));
	s += start;
	len -= start;
	result = palloc(VARHDRSZ + pg_b64_dec_len(len));
	declen = pg_b64_decode(s, len, (b64_binary *) VARDATA(result), pg_b64_dec_len(len));
	if (declen < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("Signicat sent invalid base64 data in %s", column)));
	SET_VARSIZE(result, VARHDRSZ + declen);
	return result;
}

/* A member by name, or one level down (process.dossier.dossierId). */
static JsonbValue *
find_member(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
	JsonbIterator *it;
	JsonbValue	member;
	JsonbIteratorToken tok;

	if (v)
		return v;
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &member, true)) != WJB_DONE)
	{
		if (tok == WJB_VALUE && member.type == jbvBinary &&
			JsonContainerIsObject(member.val.binary.data) &&
			(v = getKeyJsonValueFromContainer(member.val.binary.data, key, strlen(key), NULL)) != NULL)
			return v;
	}
	return NULL;
}

/* The text of a JSON scalar, as a type's input function takes it; NULL for a container. */
static char *
json_scalar_text(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

static Datum
column_value(ListState *ls, int col, JsonbValue *item, bool *isnull)
{
	Form_pg_attribute att = TupleDescAttr(ls->tupdesc, col);
	JsonbValue *v;
	char	   *text;

	*isnull = false;
	if (ls->keys[col] == NULL)
		return JsonbPGetDatum(JsonbValueToJsonb(item));
	if (item->type != jbvBinary || !JsonContainerIsObject(item->val.binary.data) ||
		(v = find_member(item->val.binary.data, ls->keys[col])) == NULL ||
		v->type == jbvNull)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (att->atttypid == JSONBOID)
		return JsonbPGetDatum(JsonbValueToJsonb(v));
	if (att->atttypid == BYTEAOID && v->type == jbvString)
		return PointerGetDatum(decode_data_url(v->val.string.val, v->val.string.len,
											   NameStr(att->attname)));
	if ((text = json_scalar_text(v)) == NULL)
		text = JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	return InputFunctionCall(&ls->infuncs[col], text, ls->ioparams[col], att->atttypmod);
}

PG_FUNCTION_INFO_V1(signicat_list_operation);

/*
 * Generic list operation: one typed row per list item, columns matched by
 * name to item members (created_at <- createdAt), plus a raw jsonb column.
 * Offset/limit paged lists are followed page by page; only one page is held
 * in memory at a time.
 */
Datum
signicat_list_operation(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	ListState  *ls;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcxt;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "a Signicat list function must return a set of rows");

		ls = palloc0(sizeof(ListState));
		/* fn_extra belongs to the SRF machinery: bind per execution */
		ls->b = bind_operation(fcinfo->flinfo, funcctx->multi_call_memory_ctx);
		prepare_call(fcinfo, ls->b, &ls->pc);
		ls->tupdesc = BlessTupleDesc(tupdesc);
		ls->keys = palloc0(sizeof(char *) * tupdesc->natts);
		ls->infuncs = palloc0(sizeof(FmgrInfo) * tupdesc->natts);
		ls->ioparams = palloc0(sizeof(Oid) * tupdesc->natts);
		for (int i = 0; i < tupdesc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, i);
			Oid			infunc;

			if (strcmp(NameStr(att->attname), "raw") == 0)
				continue;
			ls->keys[i] = snake_to_camel(NameStr(att->attname));
			getTypeInputInfo(att->atttypid, &infunc, &ls->ioparams[i]);
			fmgr_info_cxt(infunc, &ls->infuncs[i], funcctx->multi_call_memory_ctx);
		}
		ls->page_cxt = AllocSetContextCreate(funcctx->multi_call_memory_ctx,
											 "signicat list page",
											 ALLOCSET_DEFAULT_SIZES);
		fetch_page(ls);
		funcctx->user_fctx = ls;
		MemoryContextSwitchTo(oldcxt);
	}

	funcctx = SRF_PERCALL_SETUP();
	ls = (ListState *) funcctx->user_fctx;

	while (ls->index >= ls->nitems && !ls->last_page)
		fetch_page(ls);

	if (ls->index < ls->nitems)
	{
		JsonbValue	single;
		JsonbValue *item;
		Datum	   *values;
		bool	   *nulls;

		if (ls->items)
			item = getIthJsonbValueFromContainer(ls->items, ls->index);
		else
		{
			single.type = jbvBinary;
			single.val.binary.data = &ls->page->root;
			single.val.binary.len = VARSIZE(ls->page) - VARHDRSZ;
			item = &single;
		}
		ls->index++;
		values = palloc(sizeof(Datum) * ls->tupdesc->natts);
		nulls = palloc(sizeof(bool) * ls->tupdesc->natts);

		for (int i = 0; i < ls->tupdesc->natts; i++)
			values[i] = column_value(ls, i, item, &nulls[i]);
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(ls->tupdesc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/* ---------- the escape hatch ---------- */

PG_FUNCTION_INFO_V1(signicat_request);

/*
 * signicat.request(method, path, body, query): any Signicat endpoint through
 * the same auth, retry and error path.  Answers JSON (or NULL when empty).
 */
Datum
signicat_request(PG_FUNCTION_ARGS)
{
	SignicatCall call;
	SignicatHttpResponse resp;
	StringInfoData query;
	char	   *method;
	char	   *path;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method and path are required")));
	method = asc_toupper(text_to_cstring(PG_GETARG_TEXT_PP(0)), VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)));
	signicat_check_method(method, "method");
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	signicat_check_path(path, false, "path");

	memset(&call, 0, sizeof(call));
	call.opid = "request";
	call.method = method;
	call.idempotent = strcmp(method, "GET") == 0 || strcmp(method, "PUT") == 0 ||
		strcmp(method, "DELETE") == 0;
	call.path_template = path;
	call.path = path;
	call.accept = "application/json";

	initStringInfo(&query);
	if (!PG_ARGISNULL(3))
	{
		Jsonb	   *q = PG_GETARG_JSONB_P(3);
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *key = NULL;

		if (!JB_ROOT_IS_OBJECT(q))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("query must be a JSON object")));
		it = JsonbIteratorInit(&q->root);
		while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				key = pnstrdup(v.val.string.val, v.val.string.len);
			else if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type != jbvNull)
			{
				char	   *s;

				if (v.type == jbvString)
					s = pnstrdup(v.val.string.val, v.val.string.len);
				else if (v.type == jbvNumeric)
					s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
				else if (v.type == jbvBool)
					s = pstrdup(v.val.boolean ? "true" : "false");
				else
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("query parameter \"%s\" must be a scalar or an array of scalars", key)));
				signicat_append_query(&query, key, s);
			}
			else if (tok == WJB_BEGIN_OBJECT && key != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("query parameter \"%s\" must be a scalar or an array of scalars", key)));
		}
	}
	call.query = query.data;

	if (!PG_ARGISNULL(2))
	{
		Jsonb	   *body = PG_GETARG_JSONB_P(2);
		char	   *text = JsonbToCString(NULL, &body->root, VARSIZE(body));

		call.body = pg_server_to_any(text, strlen(text), PG_UTF8);
		call.body_len = strlen(call.body);
		call.content_type = "application/json";
	}

	signicat_execute(&call, &resp);
	if (!answer_is_json(NULL, &resp, "answer"))
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(signicat_parse_json(resp.body, resp.body_len, "signicat.request", "answer"));
}

PG_FUNCTION_INFO_V1(signicat_operations_list);

/* {"param": ["value", ...], ...}: the values the catalog knows, or NULL. */
static Jsonb *
known_values(const SignicatOperation *op)
{
	JsonbParseState *state = NULL;
	bool		any = false;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < op->nparams; i++)
	{
		const SignicatParam *p = &op->params[i];

		if (p->allowed == NULL)
			continue;
		any = true;
		push_string(&state, WJB_KEY, (char *) p->name);
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (const char *const *v = p->allowed; *v; v++)
			push_string(&state, WJB_ELEM, (char *) *v);
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	if (!any)
		return NULL;
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * signicat.operations(): the catalog compiled into the library, as rows:
 * where each operation is sent now (corrections applied), where the
 * catalog says, whether that is confirmed by a public source, and the
 * values its parameters are known to take.
 */
Datum
signicat_operations_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const char *const body_kinds[] = {"none", "json", "multipart"};

	InitMaterializedSRF(fcinfo, 0);
	/*
	 * 0.2.0 declared the first six columns only: until ALTER EXTENSION
	 * UPDATE, a tuple of the declared columns is formed from the first ones.
	 */
	if (rsinfo->setDesc->natts > 12)
		elog(ERROR, "signicat.operations() declares more columns than the library returns");
	for (int i = 0; i < signicat_noperations; i++)
	{
		const SignicatOperation *op = &signicat_operations[i];
		SignicatRoute route;
		Jsonb	   *known = known_values(op);
		Datum		values[12];
		bool		nulls[12] = {false};

		signicat_route(op, &route);
		values[0] = CStringGetTextDatum(op->id);
		values[1] = CStringGetTextDatum(op->api);
		values[2] = CStringGetTextDatum(route.method);
		values[3] = CStringGetTextDatum(route.path);
		values[4] = CStringGetTextDatum(body_kinds[op->body]);
		values[5] = BoolGetDatum(route.idempotent);
		values[6] = BoolGetDatum(route.corrected);
		values[7] = CStringGetTextDatum(op->method);
		values[8] = CStringGetTextDatum(op->path);
		values[9] = CStringGetTextDatum(op->confirmed ? "confirmed" : "inferred");
		values[10] = CStringGetTextDatum(op->source);
		values[11] = known ? JsonbPGetDatum(known) : (Datum) 0;
		nulls[11] = known == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---------- calls described in JSON (signicat.call_many, bulk.c) ---------- */

/* The bound operation of the function funcoid (a Signicat operation's SQL function). */
SignicatBoundOperation *
signicat_bind_function(Oid funcoid)
{
	FmgrInfo	flinfo;

	fmgr_info(funcoid, &flinfo);
	return bind_operation(&flinfo, CurrentMemoryContext);
}

/*
 * The function named operation in schema signicat, which role must be
 * allowed to run (the grants of the operation's own function decide:
 * reader, operator, admin).  caller names the SQL function for messages.
 */
static Oid
operation_function(const char *caller, const char *operation, Oid role)
{
	Oid			funcoid;

	if (signicat_find_operation(operation) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: no Signicat operation is named \"%.64s\"", caller, operation),
				 errhint("signicat.operations() lists them.")));
	funcoid = LookupFuncName(list_make2(makeString("signicat"), makeString(pstrdup(operation))),
							 -1, NULL, true);
	if (!OidIsValid(funcoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("%s: there is no function signicat.%s", caller, operation),
				 errhint("ALTER EXTENSION signicat UPDATE makes the functions of this library.")));
	if (signicat_function_aclcheck(funcoid, role) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, psprintf("signicat.%s", operation));
	return funcoid;
}

/*
 * Why a call described in JSON cannot be made of the function, or NULL:
 * one jsonb (or nothing) per call, and no bytes (an upload's images or
 * files are given to the function itself, where their media types are
 * known).
 */
static const char *
json_call_refusal(const SignicatBoundOperation *b)
{
	if (b->rettype != JSONBOID && b->rettype != VOIDOID)
		return "returns rows or bytes, not one jsonb per call";
	for (int i = 0; i < b->nargs; i++)
		if (b->args[i].type == BYTEAOID || get_element_type(b->args[i].type) == BYTEAOID)
			return "takes bytes (an upload)";
	return NULL;
}

/*
 * The SQL function of operation, bound for calls described in JSON
 * (signicat.call_many, signicat.enqueue, the worker sending the queue):
 * role must be allowed to run it, and it must return one jsonb or nothing
 * and take no bytes (0A000 otherwise; the hint says to call the function
 * instead).  caller names the SQL function for messages.
 */
SignicatBoundOperation *
signicat_bind_json_operation(const char *caller, const char *operation, Oid role,
							 const char *instead)
{
	SignicatBoundOperation *b = signicat_bind_function(operation_function(caller, operation, role));
	const char *why_not = json_call_refusal(b);

	if (why_not != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s: %s %s", caller, operation, why_not),
				 errhint("Call signicat.%s %s.", operation, instead)));
	return b;
}

/* A JSON value as the argument's SQL type, through the type's own input function. */
static Datum
json_to_arg(JsonbValue *v, const BoundArg *a, const char *opid)
{
	Oid			elemtype = get_element_type(a->type);
	Oid			typinput;
	Oid			typioparam;
	char	   *text;

	if (a->type == JSONBOID)
		return JsonbPGetDatum(JsonbValueToJsonb(v));
	if (OidIsValid(elemtype) && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;
		int			n = JsonContainerSize(v->val.binary.data);
		Datum	   *elems = palloc0(sizeof(Datum) * Max(n, 1));
		bool	   *nulls = palloc0(sizeof(bool) * Max(n, 1));
		int			i = 0;
		int			dims[1];
		int			lbs[1] = {1};
		int16		typlen;
		bool		typbyval;
		char		typalign;
		BoundArg	elem = *a;

		elem.type = elemtype;
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			nulls[i] = e.type == jbvNull;
			if (!nulls[i])
				elems[i] = json_to_arg(&e, &elem, opid);
			i++;
		}
		dims[0] = i;
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
												  typlen, typbyval, typalign));
	}
	if ((text = json_scalar_text(v)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s must be a JSON %s", opid, a->sqlname,
						OidIsValid(elemtype) ? "array" : "string, number or boolean")));
	getTypeInputInfo(a->type, &typinput, &typioparam);
	return OidInputFunctionCall(typinput, text, typioparam, -1);
}

/*
 * One call described by a JSON object naming the SQL function's arguments
 * ({"dossier_id": "...", "process_id": "..."}; absent or null: NULL),
 * converted by each argument's type and prepared exactly as a call of the
 * function would be: the same checks, before anything is sent.
 */
void
signicat_prepare_from_json(SignicatBoundOperation *b, Jsonb *args, SignicatCall *call,
						   const char **dossier_id)
{
	FunctionCallInfo fcinfo = palloc0(SizeForFunctionCallInfo(Max(b->nargs, 1)));
	PreparedCall *pc = palloc0(sizeof(PreparedCall));
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;

	InitFunctionCallInfoData(*fcinfo, NULL, b->nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < b->nargs; i++)
	{
		fcinfo->args[i].value = (Datum) 0;
		fcinfo->args[i].isnull = true;
	}
	if (args == NULL || !JB_ROOT_IS_OBJECT(args))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the arguments of a call of %s must be a JSON object", b->op->id),
				 errhint("Name the arguments of signicat.%s, e.g. {\"%s\": ...}.", b->op->id,
						 b->nargs > 0 ? b->args[0].sqlname : "")));
	it = JsonbIteratorInit(&args->root);
	(void) JsonbIteratorNext(&it, &k, true);	/* the object */
	while (JsonbIteratorNext(&it, &k, true) == WJB_KEY)
	{
		char	   *name = pnstrdup(k.val.string.val, k.val.string.len);
		int			i;

		(void) JsonbIteratorNext(&it, &v, true);
		for (i = 0; i < b->nargs && strcmp(b->args[i].sqlname, name) != 0; i++)
			;
		if (i == b->nargs)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("signicat.%s has no argument \"%.64s\"", b->op->id, name)));
		if (v.type == jbvNull)
			continue;
		fcinfo->args[i].value = json_to_arg(&v, &b->args[i], b->op->id);
		fcinfo->args[i].isnull = false;
	}
	prepare_call(fcinfo, b, pc);
	*call = pc->call;
	*dossier_id = dossier_arg(fcinfo, b);
}

/*
 * The answer of a call of signicat.call_many, as its function would return
 * it; what a create made is not enrolled here but *enrol says its kind, so
 * that the window's creates are enrolled together (bulk.c).
 */
Jsonb *
signicat_bulk_answer(SignicatBoundOperation *b, const SignicatHttpResponse *resp,
					 const SignicatWatchKind **enrol)
{
	*enrol = signicat_watch_kind_for_create(b->op->id);
	return answer_jsonb(b, resp, false, NULL);
}

/*
 * The result of a call whose request came back (poll), or its error raised
 * exactly as the single call raises it: a transport failure, a Retry-After
 * too far to wait (too_far > 0), an HTTP error (*trace_id gets Signicat's
 * traceId first), a bad answer.  *enrol: the kind of what a create made.
 * signicat.call_many and the worker's queue catch the error as the call's.
 */
Jsonb *
signicat_poll_result(SignicatBoundOperation *b, const SignicatCall *call, const SignicatPoll *poll,
					 long too_far, char **trace_id, const SignicatWatchKind **enrol)
{
	if (!poll->done)
	{
		SignicatTransportError err = {0};

		err.sqlstate = poll->sqlstate;
		err.message = poll->error;
		err.detail = poll->error_detail;
		signicat_report_transport_error(&err);
	}
	if (too_far > 0)
	{
		*trace_id = signicat_trace_id(&poll->resp);
		signicat_report_retry_too_far(call, &poll->resp, too_far);
	}
	if (poll->resp.status < 200 || poll->resp.status > 299)
	{
		*trace_id = signicat_trace_id(&poll->resp);
		signicat_report_http_error(call, &poll->resp);
	}
	return signicat_bulk_answer(b, &poll->resp, enrol);
}
