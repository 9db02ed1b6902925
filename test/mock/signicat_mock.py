#!/usr/bin/env python3
"""Mock Signicat server for the tests: entry point and core.

This file owns everything that is not specific to one Signicat API:

* the HTTP/1.1 server (``ThreadingHTTPServer``, keep-alive, optional TLS) and the CLI;
* the plug-in interface: :class:`Api` (a named group of routes with ``{param}`` templates, an
  optional per-server state object with ``reset()`` and optional config options), the
  :class:`Request` handed to route handlers, :class:`Response` and :class:`ApiError` (with an
  optional problem ``code``);
* helpers for API modules (section "Helpers for API modules"): :func:`new_id`,
  :func:`uuid_param`, :func:`body_object`, :func:`lookup` (or 404), :func:`is_date`, the config
  checks :func:`check_nonneg_int` and :func:`check_one_of`, and the status progression helpers
  :func:`target_status` (``mock-final=<status>`` in a reference, else a config key) and
  :func:`poll_makes_final` (the Nth GET shows a resource final);
* routing (the most literal template wins, so ``/x/all`` beats ``/x/{id}``), and moved routes
  (``POST /__mock/moves``: an operation served only at another method + path template);
* the OAuth 2.0 client-credentials token endpoint ``POST /auth/open/connect/token`` and the
  bearer check in front of every API route;
* RFC 7807 problem details for every API error;
* the control interface under ``/__mock/`` (reset, tokens, request log, config, faults, moves,
  health);
* fault injection (error answers, delays, hangs, dropped/truncated/malformed/oversized/dripped
  answers) and the request log (credentials redacted).

API modules (``assure.py``, ``auth_rest.py``, ``secure_share.py``, ``reuseid.py``,
``mobileid.py``; see KNOWN_API_MODULES) live next to this file, each exposing a module-level
``API = Api(...)``; see README.md for how to add one.  Standard library only.

Usage:
    python3 test/mock/signicat_mock.py --host 127.0.0.1 --port 0 --port-file FILE \
        [--client-id test-client] [--client-secret test-secret] [--token-expires-in 3600] \
        [--tls-cert CERT --tls-key KEY] [--verbose]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import http.server
import importlib
import json
import os
import re
import secrets
import select
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from http import HTTPStatus
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, parse_qsl, quote_plus, unquote, unquote_plus, urlsplit

MOCK_DIR = os.path.dirname(os.path.abspath(__file__))

# API modules loaded by default when their file exists next to this one (see load_api_modules).
KNOWN_API_MODULES = ("assure", "auth_rest", "secure_share", "reuseid", "mobileid")

TOKEN_PATH = "/auth/open/connect/token"
CONTROL_PREFIX = "/__mock/"
DEFAULT_SCOPE = "signicat-api"
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_LOG_ENTRIES = 20000
HANG_LIMIT_SECONDS = 60.0
JSON_TYPE = "application/json"
PROBLEM_TYPE = "application/problem+json"


# --------------------------------------------------------------------------------------------
# Timestamps, problem details and the handler types (Response, ApiError, Request)
# --------------------------------------------------------------------------------------------

def new_trace_id() -> str:
    """32 lowercase hex characters, like Signicat's traceId."""
    return secrets.token_hex(16)


def rfc3339(moment: dt.datetime) -> str:
    """RFC 3339 UTC timestamp with milliseconds and 'Z', e.g. 2026-11-26T14:00:00.123Z."""
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


_RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: str) -> Optional[dt.datetime]:
    """Parse an RFC 3339 date-time with 'Z' or an offset; None when invalid."""
    if not isinstance(text, str) or not _RFC3339_RE.match(text):
        return None
    try:
        return dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


class Clock:
    """UTC clock with millisecond resolution that never repeats itself.

    Every call of :meth:`now` answers a moment at least 1 ms after the previous one, so that
    timestamps are unique and ``updatedAt`` changes on every change, however fast the calls.
    """

    def __init__(self) -> None:
        self._last: Optional[dt.datetime] = None
        self._lock = threading.Lock()

    def take(self, count: int = 1) -> dt.datetime:
        """Reserve ``count`` consecutive milliseconds; answer the first one."""
        with self._lock:
            now = dt.datetime.now(dt.timezone.utc)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if self._last is not None and now <= self._last:
                now = self._last + dt.timedelta(milliseconds=1)
            self._last = now + dt.timedelta(milliseconds=count - 1)
            return now

    def now(self) -> dt.datetime:
        return self.take(1)


STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
VALIDATION_TITLE = "One or more validation errors occurred."


def status_title(status: int) -> str:
    if status in STATUS_TITLES:
        return STATUS_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_document(status: int, detail: str, instance: str, method: str,
                     title: Optional[str] = None, errors: Optional[dict] = None) -> dict:
    """The default RFC 7807 problem object for ``status``."""
    doc = {
        "type": "https://httpstatuses.io/%d" % status,
        "title": title or (VALIDATION_TITLE if errors else status_title(status)),
        "status": status,
        "detail": detail,
        "instance": instance,
        "method": method,
        "traceId": new_trace_id(),
    }
    if errors:
        doc["errors"] = errors
    return doc


class Response:
    """An HTTP answer: status, body bytes, content type and extra headers."""

    def __init__(self, status: int = 200, body: bytes = b"", content_type: Optional[str] = None,
                 headers: Optional[dict] = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})

    @classmethod
    def json(cls, value: Any, status: int = 200, content_type: str = JSON_TYPE,
             headers: Optional[dict] = None) -> "Response":
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return cls(status, body, content_type, headers)

    @classmethod
    def empty(cls, status: int = 204) -> "Response":
        return cls(status)

    @classmethod
    def raw(cls, data: bytes, content_type: str, status: int = 200,
            headers: Optional[dict] = None) -> "Response":
        return cls(status, data, content_type, headers)


class ApiError(Exception):
    """Raise from a handler to answer a problem document (``errors`` names invalid fields;
    ``code``, when given, is added as the problem's ``code`` member, as MobileID does)."""

    def __init__(self, status: int, detail: str, errors: Optional[dict] = None,
                 title: Optional[str] = None, headers: Optional[dict] = None,
                 code: Optional[str] = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.title = title
        self.headers = headers or {}
        self.code = code


def validation_error(errors: dict, detail: Optional[str] = None) -> ApiError:
    """400 with ``errors: {field: [messages]}``; the detail defaults to the first message."""
    errors = {k: (v if isinstance(v, list) else [v]) for k, v in errors.items()}
    if detail is None:
        field, messages = next(iter(errors.items()))
        detail = "%s: %s" % (field, messages[0])
    return ApiError(400, detail, errors=errors)


class Request:
    """What a route handler sees.

    Attributes: ``method``, ``path`` (decoded path without query), ``raw_path`` (as sent), ``query`` ({name: [values]}),
    ``headers`` (email.message.Message, case-insensitive), ``body`` (bytes), ``params`` (path
    template parameters, URL-decoded), ``state`` (the route's Api state object for this server),
    ``config`` (the live config dict), ``server`` (the MockServer), ``operation``.
    """

    def __init__(self, method: str, path: str, query: dict, headers: Any, body: bytes,
                 server: "MockServer") -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.server = server
        self.params: dict = {}
        self.state: Any = None
        self.operation = "unknown"
        self.raw_path = path  # the path as sent, still percent-encoded

    @property
    def config(self) -> dict:
        return self.server.config

    def now(self) -> dt.datetime:
        return self.server.clock.now()

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self, default: Any = None) -> Any:
        """The JSON body; ``default`` when the body is empty; 400 when it is not valid JSON."""
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise validation_error({"$": ["The request body is not valid JSON: %s" % exc]},
                                   detail="The request body is not valid JSON.") from None

    def json_object(self, default: Any = None) -> Any:
        """Like :meth:`json` but the body, when present, must be a JSON object."""
        value = self.json(default)
        if value is not default and not isinstance(value, dict):
            raise validation_error({"$": ["The request body must be a JSON object."]},
                                   detail="The request body must be a JSON object.")
        return value

    def query_one(self, name: str) -> Optional[str]:
        """The single value of a query parameter (None when absent; 400 when repeated)."""
        values = self.query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise validation_error({name: ["The parameter must be given once."]})
        return values[0]


# --------------------------------------------------------------------------------------------
# Helpers for API modules: ids, path parameters, bodies, lookups, config checks, progression
# --------------------------------------------------------------------------------------------

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                     re.IGNORECASE)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# ``mock-final=<status>`` in a client-chosen reference picks the final status of a resource.
MOCK_FINAL_RE = re.compile(r"mock-final=([A-Za-z]+)")


def new_id() -> str:
    """A new random UUID (version 4, lowercase): the id of anything an API module creates."""
    return str(uuid.uuid4())


def uuid_param(req: Request, name: str) -> str:
    """The path parameter ``name``, lowercased; 400 naming it when it is not a UUID."""
    value = req.params[name]
    if not UUID_RE.match(value):
        raise validation_error({name: ["'%s' is not a valid UUID." % value]})
    return value.lower()


def body_object(req: Request, required: bool = False) -> dict:
    """The JSON object body ({} when empty and not required; 400 when empty and required)."""
    body = req.json_object(default=None)
    if body is None:
        if required:
            raise validation_error({"$": ["A JSON object body is required."]},
                                   detail="A JSON object body is required.")
        return {}
    return body


def lookup(store: dict, key: Any, what: str) -> Any:
    """``store[key]``, or 404 with the detail ``"<what> not found."``."""
    value = store.get(key)
    if value is None:
        raise ApiError(404, "%s not found." % what)
    return value


def is_date(value: Any) -> bool:
    """Whether ``value`` is a string holding a real calendar date YYYY-MM-DD."""
    if not isinstance(value, str) or not DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def check_nonneg_int(value: Any) -> int:
    """Config check (see :meth:`Api.config_option`): an integer >= 0 (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def check_one_of(allowed: tuple, message: Optional[str] = None) -> Callable[[Any], Any]:
    """A config check (see :meth:`Api.config_option`) accepting only the values ``allowed``;
    the error is ``message``, by default ``must be one of a, b, c``."""
    message = message or "must be one of %s" % ", ".join(allowed)

    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(message)
        return value
    return check


def target_status(req: Request, reference: Any, allowed: tuple, config_key: str,
                  normalize: Callable[[str], str] = str) -> str:
    """The final status a new resource will reach: ``mock-final=<status>`` in ``reference``
    (a string; the first such marker, passed through ``normalize``, e.g. ``str.upper``) when
    that status is one of ``allowed``, else the config value ``config_key``."""
    m = MOCK_FINAL_RE.search(reference) if isinstance(reference, str) else None
    if m and normalize(m.group(1)) in allowed:
        return normalize(m.group(1))
    return req.config[config_key]


def poll_makes_final(req: Request, item: Any, config_key: str) -> bool:
    """Count one GET of a resource that is not final yet (``item.polls += 1``); True when it
    is the GET that shows the resource final: the Nth, N being the config value
    ``config_key`` (0 and 1 both mean the first GET)."""
    item.polls += 1
    return item.polls >= max(1, req.config[config_key])


# --------------------------------------------------------------------------------------------
# Plug-in interface: Api and routes
# --------------------------------------------------------------------------------------------

class Route:
    """One method + path template, bound to a handler.

    ``kind`` is ``"api"`` (bearer token required, logged, subject to faults), ``"public"`` (no
    bearer, logged, subject to faults: the token endpoint) or ``"control"`` (``/__mock/...``:
    no auth, never logged, never faulted).
    """

    _PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

    def __init__(self, api: "Api", method: str, template: str, operation_id: str,
                 handler: Callable[[Request], Response], kind: str,
                 body_types: tuple = (JSON_TYPE,)) -> None:
        if not template.startswith("/"):
            raise ValueError("route template must start with '/': %r" % template)
        self.api = api
        self.method = method.upper()
        self.template = template
        self.operation_id = operation_id
        self.handler = handler
        self.kind = kind
        self.body_types = body_types
        segments = template.strip("/").split("/")
        pattern = []
        for seg in segments:
            m = self._PARAM.fullmatch(seg)
            if m:
                pattern.append("(?P<%s>[^/]+)" % m.group(1))
            elif "{" in seg:
                raise ValueError("a template parameter must be a whole segment: %r" % template)
            else:
                pattern.append(re.escape(seg))
        self.regex = re.compile("^/" + "/".join(pattern) + "/?$")
        # Literal segments sort before parameters, position by position.
        self.specificity = tuple(1 if self._PARAM.fullmatch(s) else 0 for s in segments)

    def accepts(self, content_type: str) -> bool:
        """Whether a non-empty body of this media type may reach the handler (else 415)."""
        return content_type in self.body_types or (
            JSON_TYPE in self.body_types and content_type.endswith("+json"))

    def match(self, path: str) -> Optional[dict]:
        m = self.regex.match(path)
        if not m:
            return None
        return {k: unquote(v) for k, v in m.groupdict().items()}


class ConfigOption:
    def __init__(self, name: str, default: Any, check: Callable[[Any], Any], doc: str) -> None:
        self.name, self.default, self.check, self.doc = name, default, check, doc


class Api:
    """A group of routes served by the mock, plus its per-server state and config options.

    Typical API module::

        API = Api("assure", state_factory=AssureState)

        @API.route("GET", "/assure/dossiers/{dossierId}", "assure_get_dossier")
        def get_dossier(req):
            dossier = req.state.dossiers.get(req.params["dossierId"])
            ...
            return Response.json({...})

    ``state_factory()`` is called once per server; the object must have ``reset()`` (called by
    ``POST /__mock/reset``).  Handlers run under the server's lock, one at a time, so they may
    touch the state freely.  Raise :class:`ApiError` for problem answers.
    """

    def __init__(self, name: str, state_factory: Optional[Callable[[], Any]] = None) -> None:
        self.name = name
        self.state_factory = state_factory
        self.routes: list[Route] = []
        self.config_options: list[ConfigOption] = []

    def _add(self, method: str, template: str, operation_id: str, kind: str,
             body_types: tuple = (JSON_TYPE,)) -> Callable:
        def decorator(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
            self.routes.append(Route(self, method, template, operation_id, handler, kind,
                                     body_types))
            return handler
        return decorator

    def route(self, method: str, template: str, operation_id: str,
              body_types: tuple = (JSON_TYPE,)) -> Callable:
        """Register an API route (bearer token required); ``operation_id`` = catalog id.
        A non-empty body must have one of ``body_types`` (default JSON), else 415."""
        return self._add(method, template, operation_id, "api", body_types)

    def public_route(self, method: str, template: str, operation_id: str) -> Callable:
        """Register a logged, faultable route that needs no bearer token."""
        return self._add(method, template, operation_id, "public")

    def control_route(self, method: str, template: str) -> Callable:
        """Register a control route; ``template`` must start with ``/__mock/``."""
        if not template.startswith(CONTROL_PREFIX):
            raise ValueError("control routes live under %s: %r" % (CONTROL_PREFIX, template))
        return self._add(method, template, "control", "control")

    def config_option(self, name: str, default: Any, check: Callable[[Any], Any],
                      doc: str = "") -> None:
        """Declare a key of ``/__mock/config``; ``check(value)`` answers the value to store
        or raises ValueError."""
        self.config_options.append(ConfigOption(name, default, check, doc))


def load_api_modules(names: Optional[list[str]] = None) -> list[Api]:
    """Import the API modules (each must define ``API``). By default every module of
    KNOWN_API_MODULES whose file exists next to this one."""
    if MOCK_DIR not in sys.path:
        sys.path.insert(0, MOCK_DIR)
    if names is None:
        names = [n for n in KNOWN_API_MODULES if os.path.exists(os.path.join(MOCK_DIR, n + ".py"))]
    apis = []
    for name in names:
        module = importlib.import_module(name)
        api = getattr(module, "API", None)
        if not isinstance(api, Api):
            raise RuntimeError("API module %s does not define API = Api(...)" % name)
        apis.append(api)
    return apis


# --------------------------------------------------------------------------------------------
# Tokens, request log, faults
# --------------------------------------------------------------------------------------------

class TokenStore:
    """Access tokens issued by the token endpoint (value -> expiry, monotonic seconds)."""

    def __init__(self) -> None:
        self.tokens: dict[str, float] = {}
        self.issued = 0
        # every token ever issued, so that a test can look for them where they must not be
        self.ever_issued: list[str] = []

    def issue(self, expires_in: int) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = time.monotonic() + expires_in
        self.issued += 1
        self.ever_issued.append(token)
        return token

    def is_valid(self, token: str) -> bool:
        expiry = self.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def valid_count(self) -> int:
        now = time.monotonic()
        return sum(1 for expiry in self.tokens.values() if now < expiry)

    def revoke_all(self) -> None:
        self.tokens.clear()


_BEARER_RE = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)


def redact_authorization(value: str) -> str:
    """Keep the scheme of an Authorization header, never the credentials."""
    if _BEARER_RE.match(value):
        return "Bearer ***"
    scheme = value.strip().split(" ", 1)[0]
    return "%s ***" % scheme if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]*", scheme) else "***"


def loggable_body(body: bytes, content_type: str, redact_form_keys: tuple = ()) -> Any:
    """Parsed JSON, the text of form/text bodies, {"bytes": n} for anything else, None if empty.

    Form fields (and top-level JSON members) named in ``redact_form_keys`` become "***"."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"bytes": len(body)}
    if content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        return "&".join("%s=%s" % (quote_plus(k), "***" if k in redact_form_keys else quote_plus(v))
                        for k, v in pairs)
    try:
        value = json.loads(text)
    except ValueError:
        pass
    else:
        if isinstance(value, dict):
            value = {k: "***" if k in redact_form_keys else v for k, v in value.items()}
        return value
    if content_type.startswith("text/") or "json" in content_type or "xml" in content_type:
        return text
    return {"bytes": len(body)}


FAULT_FIELDS = {
    # name: (default, kind)
    "operation": (None, "str"),
    "path_contains": (None, "str"),     # only requests whose path holds this text
    "count": (1, "count"),
    "status": (None, "status"),
    "problem": (None, "object"),
    "body": (None, "str"),
    "content_type": (None, "str"),
    "retry_after": (None, "header"),
    "delay_ms": (0, "nonneg"),
    "hang": (False, "bool"),
    "drop": (False, "bool"),
    "drop_mid_body": (False, "bool"),
    "malformed_json": (False, "bool"),
    "truncated_json": (False, "bool"),
    "oversized_bytes": (0, "nonneg"),
    "header_bytes": (0, "nonneg"),      # one more header line (X-Padding) of about this size
    "drip_ms": (0, "nonneg"),
}


def _check_fault_field(name: str, kind: str, value: Any) -> Any:
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError("must be a string")
    elif kind == "header":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError("must be a string or an integer")
        value = str(value)
        if "\r" in value or "\n" in value:
            raise ValueError("must be one line")
    elif kind == "object":
        if not isinstance(value, dict):
            raise ValueError("must be an object")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be a boolean")
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if kind == "count" and not (value == -1 or value >= 1):
            raise ValueError("must be -1 (until cleared) or >= 1")
        if kind == "status" and not 100 <= value <= 599:
            raise ValueError("must be an HTTP status (100..599)")
        if kind == "nonneg" and value < 0:
            raise ValueError("must be >= 0")
    return value


class FaultBook:
    """Registered faults, fired in registration order for matching operations."""

    def __init__(self) -> None:
        self.faults: list[dict] = []
        self.next_id = 1

    def add(self, spec: Any, known_operations: set) -> dict:
        if not isinstance(spec, dict):
            raise validation_error({"$": ["A fault is a JSON object."]})
        errors = {}
        fault = {}
        for name, value in spec.items():
            if name not in FAULT_FIELDS:
                errors[name] = ["Unknown fault field."]
                continue
            try:
                fault[name] = _check_fault_field(name, FAULT_FIELDS[name][1], value)
            except ValueError as exc:
                errors[name] = [str(exc)]
        operation = fault.get("operation")
        if operation is None and "operation" not in errors:
            errors["operation"] = ["Required: an operationId, 'token', 'unknown' or '*'."]
        elif operation is not None and operation not in known_operations and operation != "*":
            errors["operation"] = ["Unknown operation %r." % operation]
        if errors:
            raise validation_error(errors)
        for name, (default, _kind) in FAULT_FIELDS.items():
            fault.setdefault(name, default)
        fault["id"] = self.next_id
        fault["fired"] = 0
        self.next_id += 1
        self.faults.append(fault)
        return dict(fault)

    def take(self, operation: str, path: str = "") -> Optional[dict]:
        """The first fault matching ``operation`` (and path); consumes one of its counts."""
        for fault in self.faults:
            if fault["operation"] in (operation, "*") and (
                    fault["path_contains"] is None or fault["path_contains"] in path):
                fault["fired"] += 1
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.faults.remove(fault)
                return dict(fault)
        return None

    def listing(self) -> list:
        return [dict(f) for f in self.faults]

    def clear(self) -> None:
        self.faults.clear()


# --------------------------------------------------------------------------------------------
# Moved routes: an operation served at another method + path template (POST /__mock/moves)
# --------------------------------------------------------------------------------------------

MOVE_FIELDS = ("operation", "method", "path")
MOVE_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def template_params(template: str) -> list[str]:
    """The ``{param}`` names of a path template, in order."""
    return Route._PARAM.findall(template)


def moved_route(spec: Any, routes: list[Route]) -> Route:
    """The Route serving ``spec["operation"]`` at ``spec["path"]`` (and ``spec["method"]``,
    default the operation's own); 400 naming the field when the spec is invalid."""
    if not isinstance(spec, dict):
        raise validation_error({"$": ["A move is a JSON object {operation, method, path}."]})
    errors = {name: ["Unknown move field; known: %s." % ", ".join(MOVE_FIELDS)]
              for name in spec if name not in MOVE_FIELDS}
    operation = spec.get("operation")
    original = next((r for r in routes if r.kind != "control"
                     and r.operation_id == operation), None)
    if operation is None:
        errors["operation"] = ["Required: an operationId (or 'token')."]
    elif original is None:
        errors["operation"] = ["Unknown operation %r." % (operation,)]
    method = spec.get("method")
    if method is not None and (not isinstance(method, str)
                               or method.upper() not in MOVE_METHODS):
        errors["method"] = ["One of %s." % ", ".join(MOVE_METHODS)]
    template = spec.get("path")
    if not isinstance(template, str) or not template.startswith("/"):
        errors["path"] = ["Required: a path template starting with '/'."]
    elif template.startswith(CONTROL_PREFIX) or template.rstrip("/") == CONTROL_PREFIX[:-1]:
        errors["path"] = ["A route cannot move under %s." % CONTROL_PREFIX]
    elif "?" in template or "#" in template:
        errors["path"] = ["A path template has no query or fragment."]
    elif original is not None:
        names = template_params(template)
        wanted = template_params(original.template)
        if len(set(names)) != len(names):
            errors["path"] = ["A parameter appears twice in %r." % template]
        elif set(names) != set(wanted):
            errors["path"] = ["The template must have the parameters of %s, {%s}; it has {%s}."
                              % (original.template, "}, {".join(wanted) if wanted else "",
                                 "}, {".join(names) if names else "")]
    if errors:
        raise validation_error(errors)
    assert original is not None
    try:
        return Route(original.api, (method or original.method).upper(), template,
                     original.operation_id, original.handler, original.kind,
                     original.body_types)
    except (ValueError, re.error) as exc:
        raise validation_error({"path": [str(exc)]}) from None


def move_json(route: Route) -> dict:
    return {"operation": route.operation_id, "method": route.method, "path": route.template}


# --------------------------------------------------------------------------------------------
# The mock server (state shared by all connections)
# --------------------------------------------------------------------------------------------

class MockServer:
    """Routes, per-API state, tokens, faults, log and config of one running mock."""

    def __init__(self, client_id: str = "test-client", client_secret: str = "test-secret",
                 token_expires_in: int = 3600, apis: Optional[list[Api]] = None,
                 verbose: bool = False) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.verbose = verbose
        self.lock = threading.RLock()
        self.clock = Clock()
        self.tokens = TokenStore()
        self.blackhole: Optional["BlackHole"] = None
        self.faults = FaultBook()
        self.log: list[dict] = []
        self.log_seq = 0
        self._release = threading.Event()   # set to end hangs and delays (reset, shutdown)
        self.apis = [CORE_API] + list(load_api_modules() if apis is None else apis)
        self.states = {api.name: api.state_factory() for api in self.apis if api.state_factory}
        self.config_options = {}
        for api in self.apis:
            for option in api.config_options:
                self.config_options[option.name] = option
        self.config_options["token_expires_in"] = ConfigOption(
            "token_expires_in", token_expires_in, check_nonneg_int,
            "lifetime (s) of tokens issued from now on")
        self.config = {}
        self.reset_config()
        # The declared routes (the catalog's), most literal first.  ``find_route`` serves
        # ``self.serving``: these, with the routes moved by ``POST /__mock/moves`` replaced.
        self.routes = sorted((r for api in self.apis for r in api.routes),
                             key=lambda r: r.specificity)
        self.operations = {r.operation_id for r in self.routes if r.kind != "control"}
        self.operations.add("unknown")
        self.moves: dict[str, Route] = {}   # operation id -> its moved route, in move order
        self.serving: list[Route] = list(self.routes)

    # -- state ------------------------------------------------------------------------------

    def reset_config(self) -> None:
        self.config.clear()
        self.config.update({name: opt.default for name, opt in self.config_options.items()})

    def reset(self) -> None:
        """Back to a fresh server, except that issued tokens stay valid."""
        with self.lock:
            for state in self.states.values():
                state.reset()
            self.log.clear()
            self.log_seq = 0
            self.faults.clear()
            self.clear_moves()
            self.tokens.issued = 0
            self.reset_config()
            self.release_waiters()
            if self.blackhole is not None:
                self.blackhole.close()
                self.blackhole = None

    def release_waiters(self) -> None:
        """End every hang and delay in progress."""
        old, self._release = self._release, threading.Event()
        old.set()

    @property
    def release_event(self) -> threading.Event:
        return self._release

    def find_route(self, method: str, path: str) -> tuple[Optional[Route], dict]:
        for route in self.serving:
            if route.method == method:
                params = route.match(path)
                if params is not None:
                    return route, params
        return None, {}

    # -- moved routes (POST /__mock/moves) ----------------------------------------------------

    def move_route(self, spec: Any, dry_run: bool = False) -> dict:
        """Serve one operation only at another method + path template (see :func:`moved_route`);
        answers the move as listed by ``GET /__mock/moves``."""
        route = moved_route(spec, self.routes)
        if not dry_run:
            self.moves.pop(route.operation_id, None)
            self.moves[route.operation_id] = route
            self._rebuild_serving()
        return move_json(route)

    def clear_moves(self) -> None:
        self.moves.clear()
        self._rebuild_serving()

    def move_listing(self) -> list:
        return [move_json(route) for route in self.moves.values()]

    def _rebuild_serving(self) -> None:
        """The routes ``find_route`` tries: the declared ones with moved ones replaced, most
        literal first; a moved route comes before a declared route of equal specificity."""
        moved = list(self.moves.values())
        kept = [r for r in self.routes if r.kind == "control" or r.operation_id not in self.moves]
        self.serving = sorted(moved + kept, key=lambda r: r.specificity)

    def record(self, req: Request) -> None:
        """Append a request to the log (credentials and tokens redacted)."""
        headers = {}
        for name, value in req.headers.items():
            name = name.lower()
            if name == "authorization":
                value = redact_authorization(value)
            headers[name] = headers[name] + ", " + value if name in headers else value
        is_token = req.operation == "token"
        entry = {
            "seq": 0,
            "received_at": time.time(),     # epoch seconds: tests time requests by it
            "operation": req.operation,
            "method": req.method,
            "path": req.path,
            "raw_path": req.raw_path,
            "query": req.query,
            "headers": headers,
            "body": loggable_body(req.body, req.content_type,
                                  ("client_secret",) if is_token else ()),
        }
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)
            if len(self.log) > MAX_LOG_ENTRIES:
                del self.log[: len(self.log) - MAX_LOG_ENTRIES]

    # -- answering ---------------------------------------------------------------------------

    def handle(self, route: Optional[Route], req: Request) -> Response:
        """Run the route (bearer check first for API routes); problem answers for errors."""
        try:
            if route is None:
                raise ApiError(404, "No route for %s %s." % (req.method, req.path))
            if route.kind == "api":
                self.check_bearer(req)
                if req.body.strip() and not route.accepts(req.content_type):
                    raise ApiError(415, "The request body must be %s (got %r)."
                                   % (" or ".join(route.body_types),
                                      req.content_type or "no Content-Type"))
            with self.lock:
                return route.handler(req)
        except ApiError as exc:
            doc = problem_document(exc.status, exc.detail, req.path, req.method,
                                   exc.title, exc.errors)
            if exc.code is not None:
                doc["code"] = exc.code
            return Response.json(doc, exc.status, PROBLEM_TYPE, exc.headers)
        except Exception:  # a bug in the mock: say so loudly, answer 500
            traceback.print_exc()
            doc = problem_document(500, "Mock internal error (see the mock's stderr).",
                                   req.path, req.method)
            return Response.json(doc, 500, PROBLEM_TYPE)

    def check_bearer(self, req: Request) -> None:
        m = _BEARER_RE.match(req.headers.get("Authorization") or "")
        with self.lock:
            ok = bool(m) and self.tokens.is_valid(m.group(1))
        if not ok:
            raise ApiError(401, "The access token is missing, invalid or expired.",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def fault_answer(self, fault: dict, req: Request) -> Optional[Response]:
        """The answer that replaces the normal one for this fault, or None (normal answer)."""
        if fault["malformed_json"]:
            return Response(200, b'{"broken": ', JSON_TYPE)
        if fault["oversized_bytes"]:
            return Response(200, oversized_json(fault["oversized_bytes"]), JSON_TYPE)
        if fault["status"] is None and fault["problem"] is None and fault["body"] is None:
            return None
        status = fault["status"] if fault["status"] is not None else 500
        if fault["body"] is not None:
            return Response(status, fault["body"].encode("utf-8"),
                            fault["content_type"] or JSON_TYPE)
        if status < 400 and fault["problem"] is None:
            return Response(status, b"", fault["content_type"])
        doc = problem_document(status, "Fault injected by the mock.", req.path, req.method)
        doc.update(fault["problem"] or {})
        return Response.json(doc, status, fault["content_type"] or PROBLEM_TYPE)


def oversized_json(size: int) -> bytes:
    """A valid JSON document of exactly ``size`` bytes (``size`` >= 2)."""
    head, tail = b'{"padding":"', b'"}'
    if size < len(head) + len(tail):
        return (b"{}" + b" " * max(0, size - 2))[:max(size, 2)]
    return head + b"x" * (size - len(head) - len(tail)) + tail


# --------------------------------------------------------------------------------------------
# Core routes: token endpoint and control interface
# --------------------------------------------------------------------------------------------

CORE_API = Api("core")


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="signicat-mock"'
    return Response.json(body, status, headers=headers)


def _client_credentials(req: Request, form: dict) -> tuple[Optional[str], Optional[str], str]:
    """(client_id, client_secret, problem) from Basic auth (preferred) or the form."""
    auth = req.headers.get("Authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() != "basic":
            return None, None, "Unsupported Authorization scheme for the token endpoint."
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, "Malformed Basic credentials."
        if ":" not in decoded:
            return None, None, "Malformed Basic credentials."
        user, _, password = decoded.partition(":")
        return unquote_plus(user), unquote_plus(password), ""
    if "client_id" in form:
        return form.get("client_id"), form.get("client_secret"), ""
    return None, None, "No client credentials (client_secret_basic or client_secret_post)."


@CORE_API.public_route("POST", TOKEN_PATH, "token")
def token_endpoint(req: Request) -> Response:
    if req.content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request",
                            "Content-Type must be application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "The form is not UTF-8.")
    form = {}
    for key, value in pairs:
        if key in form:
            return _oauth_error(400, "invalid_request", "Parameter %s repeated." % key)
        form[key] = value
    server = req.server
    client_id, client_secret, problem = _client_credentials(req, form)
    if problem:
        return _oauth_error(401, "invalid_client", problem)
    if client_id != server.client_id or not secrets.compare_digest(
            (client_secret or "").encode(), server.client_secret.encode()):
        return _oauth_error(401, "invalid_client", "Unknown client or wrong client secret.")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type",
                            "Only grant_type=client_credentials is supported.")
    expires_in = server.config["token_expires_in"]
    token = server.tokens.issue(expires_in)
    return Response.json({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": form.get("scope") or DEFAULT_SCOPE,
    }, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@CORE_API.control_route("GET", "/__mock/health")
def control_health(req: Request) -> Response:
    return Response.json({"ok": True})


@CORE_API.control_route("POST", "/__mock/reset")
def control_reset(req: Request) -> Response:
    req.server.reset()
    return Response.json({"ok": True})


@CORE_API.control_route("POST", "/__mock/revoke-tokens")
def control_revoke_tokens(req: Request) -> Response:
    req.server.tokens.revoke_all()
    return Response.json({"ok": True})


@CORE_API.control_route("GET", "/__mock/tokens")
def control_tokens(req: Request) -> Response:
    tokens = req.server.tokens
    answer = {"issued": tokens.issued, "valid": tokens.valid_count()}
    if req.query_one("reveal") == "true":
        # for the test that greps server logs for leaked tokens
        answer["tokens"] = list(tokens.ever_issued)
    return Response.json(answer)


def _int_query(req: Request, name: str) -> Optional[int]:
    value = req.query_one(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise validation_error({name: ["Must be an integer."]}) from None


@CORE_API.control_route("GET", "/__mock/requests")
def control_requests(req: Request) -> Response:
    operation = req.query_one("operation")
    since = _int_query(req, "since") or 0
    entries = [e for e in req.server.log
               if e["seq"] > since and (operation is None or e["operation"] == operation)]
    return Response.json(entries)


@CORE_API.control_route("DELETE", "/__mock/requests")
def control_clear_requests(req: Request) -> Response:
    req.server.log.clear()
    return Response.json({"ok": True})


@CORE_API.control_route("GET", "/__mock/config")
def control_get_config(req: Request) -> Response:
    return Response.json(req.server.config)


@CORE_API.control_route("POST", "/__mock/config")
def control_set_config(req: Request) -> Response:
    changes = req.json_object(default={})
    options = req.server.config_options
    errors, checked = {}, {}
    for name, value in changes.items():
        if name not in options:
            errors[name] = ["Unknown config key; known: %s." % ", ".join(sorted(options))]
            continue
        try:
            checked[name] = options[name].check(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise validation_error(errors)
    req.server.config.update(checked)
    return Response.json(req.server.config)


class BlackHole:
    """A loopback port that never completes a TCP handshake: a listening socket whose accept
    queue is already full, so new connections wait for SYN retransmits until the client's
    connect timeout.  For connect-timeout tests; closed by reset."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except (BlockingIOError, OSError):
                pass
            self.fillers.append(c)

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.listener.close()


@CORE_API.control_route("POST", "/__mock/blackhole")
def control_blackhole(req: Request) -> Response:
    with req.server.lock:
        if req.server.blackhole is None:
            req.server.blackhole = BlackHole()
        return Response.json({"port": req.server.blackhole.port})


@CORE_API.control_route("GET", "/__mock/faults")
def control_list_faults(req: Request) -> Response:
    return Response.json(req.server.faults.listing())


@CORE_API.control_route("POST", "/__mock/faults")
def control_add_faults(req: Request) -> Response:
    spec = req.json()
    specs = spec if isinstance(spec, list) else [spec]
    server = req.server
    # Validate every fault before registering any of them.
    scratch = FaultBook()
    for one in specs:
        scratch.add(one, server.operations)
    added = [server.faults.add(one, server.operations) for one in specs]
    return Response.json(added if isinstance(spec, list) else added[0], 201)


@CORE_API.control_route("DELETE", "/__mock/faults")
def control_clear_faults(req: Request) -> Response:
    req.server.faults.clear()
    return Response.json({"ok": True})


@CORE_API.control_route("GET", "/__mock/moves")
def control_list_moves(req: Request) -> Response:
    return Response.json(req.server.move_listing())


@CORE_API.control_route("POST", "/__mock/moves")
def control_add_moves(req: Request) -> Response:
    spec = req.json()
    specs = spec if isinstance(spec, list) else [spec]
    server = req.server
    for one in specs:   # validate every move before applying any of them
        server.move_route(one, dry_run=True)
    moved = [server.move_route(one) for one in specs]
    return Response.json(moved if isinstance(spec, list) else moved[0], 201)


@CORE_API.control_route("DELETE", "/__mock/moves")
def control_clear_moves(req: Request) -> Response:
    req.server.clear_moves()
    return Response.json({"ok": True})


# --------------------------------------------------------------------------------------------
# HTTP layer
# --------------------------------------------------------------------------------------------

class BodyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class MockRequestHandler(http.server.BaseHTTPRequestHandler):
    """One connection: parses requests, applies faults and writes the answers."""

    protocol_version = "HTTP/1.1"
    server_version = "SignicatMock/1.0"
    disable_nagle_algorithm = True  # head and body are separate writes: no 40 ms ACK stalls

    def version_string(self) -> str:
        return self.server_version

    @property
    def mock(self) -> MockServer:
        return self.server.mock  # type: ignore[attr-defined]

    # Quiet by default (request bodies carry PII); --verbose gives one terse line per request.
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if self.mock.verbose:
            path = self.path.split("?", 1)[0]
            sys.stderr.write("signicat-mock: %s %s -> %s\n" % (self.command, path, code))

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(10)
            self.connection.do_handshake()
            self.connection.settimeout(None)

    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # -- request parsing ----------------------------------------------------------------------

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BodyError(400, "Malformed chunked body.") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise BodyError(413, "Request body too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BodyError(400, "Invalid Content-Length.") from None
        if n < 0:
            raise BodyError(400, "Invalid Content-Length.")
        if n > MAX_BODY_BYTES:
            raise BodyError(413, "Request body too large.")
        body = self.rfile.read(n)
        if len(body) != n:
            raise BodyError(400, "Request body shorter than Content-Length.")
        return body

    def dispatch(self) -> None:
        mock = self.mock
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            body = self.read_body()
        except BodyError as exc:
            self.close_connection = True
            doc = problem_document(exc.status, exc.detail, path, self.command)
            self.send(Response.json(doc, exc.status, PROBLEM_TYPE))
            return
        req = Request(self.command, path, query, self.headers, body, mock)
        req.raw_path = parts.path
        route, req.params = mock.find_route(self.command, parts.path)
        if route is not None:
            req.operation = route.operation_id
            req.state = mock.states.get(route.api.name)
        if (route is not None and route.kind == "control") or (
                route is None and parts.path.startswith(CONTROL_PREFIX)):
            self.send(mock.handle(route, req))  # control: no auth, no log, no faults
            return
        mock.record(req)
        with mock.lock:
            fault = mock.faults.take(req.operation, req.path)
        if fault is None:
            self.send(mock.handle(route, req))
        else:
            self.serve_with_fault(fault, route, req)

    # -- faults -------------------------------------------------------------------------------

    def serve_with_fault(self, fault: dict, route: Optional[Route], req: Request) -> None:
        mock = self.mock
        if fault["delay_ms"] and mock.release_event.wait(fault["delay_ms"] / 1000.0):
            self.close_connection = True  # reset/shutdown during the delay
            return
        if fault["hang"]:
            self.hang()
            return
        if fault["drop"]:
            self.close_connection = True
            return
        response = mock.fault_answer(fault, req) or mock.handle(route, req)
        if fault["retry_after"] is not None:
            response.headers["Retry-After"] = fault["retry_after"]
        if fault["header_bytes"]:
            response.headers["X-Padding"] = "x" * fault["header_bytes"]
        if fault["truncated_json"]:
            if not response.body:
                response.body = json.dumps({"detail": "mock truncated answer"}).encode()
            response.status, response.content_type = 200, JSON_TYPE
            self.send_partial(response)
        elif fault["drop_mid_body"]:
            if not response.body:
                response.body = json.dumps({"detail": "mock dropped answer"}).encode()
            self.send_partial(response)
        else:
            self.send(response, drip_ms=fault["drip_ms"])

    def hang(self) -> None:
        """Answer nothing until the client goes away, 60 s pass, or reset/shutdown."""
        self.close_connection = True
        release = self.mock.release_event
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        # Peek at the TCP stream through a duplicate descriptor (works under TLS too).
        try:
            raw = socket.socket(fileno=os.dup(self.connection.fileno()))
        except OSError:
            return
        try:
            while time.monotonic() < deadline and not release.is_set():
                readable, _, _ = select.select([raw], [], [], 0.05)
                if readable:
                    if not raw.recv(1, socket.MSG_PEEK):
                        return  # the client closed its side
                    release.wait(0.05)  # pipelined bytes or TLS alerts: keep hanging
        except (OSError, ValueError):
            return
        finally:
            raw.close()

    # -- writing ------------------------------------------------------------------------------

    def write_head(self, response: Response, content_length: int) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(content_length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def send(self, response: Response, drip_ms: int = 0) -> None:
        try:
            self.write_head(response, len(response.body))
            if drip_ms and response.body:
                self.wfile.flush()
                for i in range(len(response.body)):
                    if self.mock.release_event.wait(drip_ms / 1000.0):
                        self.close_connection = True
                        return
                    self.wfile.write(response.body[i:i + 1])
                    self.wfile.flush()
            else:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def send_partial(self, response: Response) -> None:
        """Headers announcing the whole body, half of the body, then close."""
        self.close_connection = True
        try:
            self.write_head(response, len(response.body))
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            pass


class MockHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple, mock: MockServer,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.mock = mock
        self.ssl_context = ssl_context
        super().__init__(address, MockRequestHandler)

    def get_request(self) -> tuple:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # The handshake happens in the connection's own thread (MockRequestHandler.setup).
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            return  # clients going away, TLS probes: not worth a traceback
        super().handle_error(request, client_address)


class RunningMock:
    """A mock serving on a background thread: used by the CLI and the unit tests.

    ``with RunningMock() as m: ... m.port ... m.mock`` (the MockServer) ...
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: Optional[ssl.SSLContext] = None, **mock_args: Any) -> None:
        self.mock = MockServer(**mock_args)
        self.httpd = MockHTTPServer((host, port), self.mock, ssl_context)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if ssl_context else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       name="signicat-mock", daemon=True)

    @property
    def url(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (self.scheme, host, self.port)

    def start(self) -> "RunningMock":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.mock.release_waiters()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> "RunningMock":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def write_port_file(path: str, port: int) -> None:
    """Write ``PORT\\n`` atomically (temporary file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Mock Signicat server for tests.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind; 0 = a free port")
    p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    p.add_argument("--client-id", default="test-client")
    p.add_argument("--client-secret", default="test-secret")
    p.add_argument("--token-expires-in", type=int, default=3600,
                   help="expires_in (seconds) of issued tokens")
    p.add_argument("--tls-cert", help="PEM certificate (chain) to serve HTTPS")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("--verbose", action="store_true",
                   help="one terse line per request on stderr (method, path, status)")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.token_expires_in < 0:
        p.error("--token-expires-in must be >= 0")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    running = RunningMock(args.host, args.port, context, client_id=args.client_id,
                          client_secret=args.client_secret,
                          token_expires_in=args.token_expires_in, verbose=args.verbose)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    running.start()
    if args.port_file:
        write_port_file(args.port_file, running.port)
    print("signicat mock listening on %s" % running.url, flush=True)
    while not stop.wait(0.5):
        pass
    running.stop()
    return 0


if __name__ == "__main__":
    # Run through the importable module so that the API modules (which import signicat_mock)
    # and this entry point share one copy of the classes.
    sys.path.insert(0, MOCK_DIR)
    import signicat_mock
    sys.exit(signicat_mock.main())
