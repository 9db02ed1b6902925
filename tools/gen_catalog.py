#!/usr/bin/env python3
"""Generate src/catalog_data.c from api/signicat-openapi.json.

The operation catalog is data: for every Signicat operation its method, path
template, parameters (where each goes, whether it is required, its allowed
values) and the shape of its answer.  The C request path reads this table; the
SQL functions only name an operation and give typed arguments.

The output is checked in, so building the extension needs no Python.  Run
`make catalog` (or this script) after editing api/signicat-openapi.json, e.g.
when an inferred path is corrected.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "api", "signicat-openapi.json")
OUT = os.path.join(ROOT, "src", "catalog_data.c")

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
IDEMPOTENT = {"GET", "PUT", "DELETE"}


def load():
    with open(SPEC, encoding="utf-8") as f:
        return json.load(f)


class Resolver:
    def __init__(self, spec):
        self.schemas = spec["components"]["schemas"]

    def deref(self, s):
        while isinstance(s, dict) and "$ref" in s:
            s = self.schemas[s["$ref"].split("/")[-1]]
        return s or {}

    def flatten(self, s):
        """Properties and required names of an object schema, through allOf/oneOf.

        For oneOf (a union discriminated by a field) a field is required only if
        every variant requires it; the per-variant rules are the server's to check.
        """
        s = self.deref(s)
        props, required = {}, None
        if "allOf" in s:
            req = set()
            for part in s["allOf"]:
                p, r = self.flatten(part)
                for k, v in p.items():
                    props.setdefault(k, v)
                req |= r
            required = req
        elif "oneOf" in s:
            req = None
            for part in s["oneOf"]:
                p, r = self.flatten(part)
                for k, v in p.items():
                    props.setdefault(k, v)
                req = r if req is None else req & r
            required = req or set()
        else:
            required = set(s.get("required", []))
        for k, v in s.get("properties", {}).items():
            props.setdefault(k, v)
        return props, required

    def enum_of(self, s):
        s = self.deref(s)
        if "allOf" in s and len(s["allOf"]) == 1:
            return self.enum_of(s["allOf"][0])
        if "enum" in s:
            return [str(v) for v in s["enum"]]
        if s.get("type") == "array":
            return self.enum_of(s.get("items", {}))
        return None


def c_str(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    spec = load()
    r = Resolver(spec)
    ops = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if not op:
                continue
            oid = op["operationId"]
            api = oid.split("_", 1)[0]
            params = []
            for p in op.get("parameters", []):
                p = r.deref(p)
                params.append((p["name"], p["in"], bool(p.get("required")), r.enum_of(p.get("schema", {}))))
            body_kind, body_required = "SIGNICAT_BODY_NONE", False
            rb = op.get("requestBody")
            if rb:
                body_required = bool(rb.get("required"))
                content = rb.get("content", {})
                if "multipart/form-data" in content:
                    body_kind = "SIGNICAT_BODY_MULTIPART"
                    schema = content["multipart/form-data"].get("schema", {})
                else:
                    body_kind = "SIGNICAT_BODY_JSON"
                    schema = content.get("application/json", {}).get("schema", {})
                props, required = r.flatten(schema)
                for name, ps in props.items():
                    params.append((name, "body", name in required, r.enum_of(ps)))
            accept, envelope, list_member, returns_list = [], None, None, False
            # 2xx statuses documented without a body: only those may answer nothing
            empty = sorted(int(code) for code, resp in op.get("responses", {}).items()
                           if code.startswith("2") and code.isdigit() and not resp.get("content"))
            if any(c >= 232 for c in empty):     # SIGNICAT_EMPTY is a 32-bit mask over 200..231
                sys.exit("%s: a 2xx status past 231 documented without content" % oid)
            for code, resp in op.get("responses", {}).items():
                for ct, c in (resp.get("content") or {}).items():
                    if ct not in accept:
                        accept.append(ct)
                    if not code.startswith("2"):
                        continue
                    s = r.deref(c.get("schema", {}))
                    if s.get("type") == "array":
                        returns_list = True
                    if s.get("type") == "object":
                        props = s.get("properties", {})
                        if list(props) == ["data"]:
                            envelope = "data"
                        arrays = [k for k, v in props.items() if r.deref(v).get("type") == "array"]
                        if "_list_" in oid and len(arrays) == 1:
                            list_member = arrays[0]
                            returns_list = True
            if "application/json" not in accept:
                accept.append("application/json")  # problem details
            # x-source: "confirmed: <where>" or "inferred: <why>", shown by signicat.operations()
            source = op.get("x-source", "")
            mark = source.split(":", 1)[0]
            if mark not in ("confirmed", "inferred"):
                sys.exit("%s: x-source must begin with confirmed: or inferred:" % oid)
            confirmed = mark == "confirmed"
            source = source.split(":", 1)[1].strip()
            names = {p[0] for p in params}
            paged = "offset" in names and "limit" in names
            ops.append(dict(id=oid, api=api, method=method.upper(), path=path,
                            body=body_kind, body_required=body_required,
                            idempotent=method.upper() in IDEMPOTENT,
                            accept=", ".join(accept), envelope=envelope,
                            list_member=list_member, returns_list=returns_list,
                            paged=paged, params=params, empty=empty,
                            source=source, confirmed=confirmed))
    ops.sort(key=lambda o: o["id"])
    ins = {"path": "SIGNICAT_IN_PATH", "query": "SIGNICAT_IN_QUERY",
           "body": "SIGNICAT_IN_BODY", "header": "SIGNICAT_IN_HEADER"}
    out = []
    w = out.append
    w("/*-------------------------------------------------------------------------")
    w(" * catalog_data.c")
    w(" *\t  The Signicat operation catalog as data.  GENERATED by tools/gen_catalog.py")
    w(" *\t  from api/signicat-openapi.json: do not edit by hand, edit the JSON and")
    w(" *\t  run `make catalog`.  Sorted by operation id (looked up by bsearch).")
    w(" *-------------------------------------------------------------------------")
    w(" */")
    w('#include "postgres.h"')
    w("")
    w('#include "signicat.h"')
    w("")
    for o in ops:
        for i, (name, where, req, enum) in enumerate(o["params"]):
            if enum:
                w("static const char *const %s_%d_allowed[] = {%s, NULL};" % (
                    o["id"], i, ", ".join(c_str(e) for e in enum)))
        if o["params"]:
            w("static const SignicatParam %s_params[] = {" % o["id"])
            for i, (name, where, req, enum) in enumerate(o["params"]):
                w("\t{%s, %s, %s, %s}," % (c_str(name), ins[where], "true" if req else "false",
                                             ("%s_%d_allowed" % (o["id"], i)) if enum else "NULL"))
            w("};")
    w("")
    w("const SignicatOperation signicat_operations[] = {")
    for o in ops:
        w("\t{")
        w("\t\t.id = %s, .api = %s, .method = %s," % (c_str(o["id"]), c_str(o["api"]), c_str(o["method"])))
        w("\t\t.path = %s," % c_str(o["path"]))
        w("\t\t.body = %s, .body_required = %s, .idempotent = %s," % (
            o["body"], "true" if o["body_required"] else "false", "true" if o["idempotent"] else "false"))
        w("\t\t.accept = %s," % c_str(o["accept"]))
        w("\t\t.envelope = %s, .list_member = %s, .returns_list = %s, .paged = %s," % (
            c_str(o["envelope"]), c_str(o["list_member"]),
            "true" if o["returns_list"] else "false", "true" if o["paged"] else "false"))
        w("\t\t.confirmed = %s, .source = %s," % ("true" if o["confirmed"] else "false", c_str(o["source"])))
        w("\t\t.empty_answers = %s," % (" | ".join("SIGNICAT_EMPTY(%d)" % c for c in o["empty"]) or "0"))
        w("\t\t.nparams = %d, .params = %s" % (len(o["params"]), ("%s_params" % o["id"]) if o["params"] else "NULL"))
        w("\t},")
    w("};")
    w("")
    w("const int signicat_noperations = lengthof(signicat_operations);")
    text = "\n".join(out) + "\n"
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit("src/catalog_data.c is out of date: run make catalog")
        return
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s: %d operations" % (os.path.relpath(OUT, ROOT), len(ops)))


if __name__ == "__main__":
    main()
