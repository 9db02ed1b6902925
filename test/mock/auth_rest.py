"""Authentication REST API (eID Hub) of the Signicat mock: sessions and their status progression.

This module owns the ``/auth/rest`` routes (create, get and cancel a session), their state
(:class:`AuthRestState`, cleared by ``POST /__mock/reset``) and the config options
``auth_final_status``, ``auth_polls_until_final`` and ``auth_waiting_status`` of
``/__mock/config``.  Operation ids are the catalog's (endpoints.md).

Session life cycle in the mock: ``CREATED`` after Create session -> final after
``auth_polls_until_final`` GETs of the session; the GETs before that one show config
``auth_waiting_status`` when it is set (e.g. ``WAITING_FOR_USER``, or an invented status), else
``CREATED``.  The final status is ``mock-final=<STATUS>`` (SUCCESS, ERROR or ABORT) from the
session's externalReference, else config ``auth_final_status``.  Every session has a
``statusUrl``; a SUCCESS session gets ``subject`` (from prefilledInput, else the seed's sample
person) and ``loa``, an ERROR session gets ``error``.  Cancel moves a session that is not final
(CREATED or waiting) to ``CANCELLED``; a final or cancelled one answers 409.

Ids, JSON bodies, lookups (404), the config checks and the status progression
(``target_status``, ``poll_makes_final``) use the helpers for API modules of signicat_mock.

The route handlers run one at a time under the server lock (see signicat_mock.Api).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from signicat_mock import Api, ApiError, Request, Response, body_object, check_nonneg_int, \
    check_one_of, is_date, lookup, new_id, poll_makes_final, rfc3339, target_status, \
    validation_error

# --------------------------------------------------------------------------------------------
# Vocabulary (from signicat-openapi.json, schemas Auth*, and the seed 001)
# --------------------------------------------------------------------------------------------

FLOWS = ("redirect", "headless", "embedded")
LOAS = ("low", "substantial", "high")
FINAL_STATUSES = ("SUCCESS", "ERROR", "ABORT")
PREFILLED_FIELDS = ("nin", "mobile", "email", "userName", "dateOfBirth", "deviceId", "firstName",
                    "lastName", "bankAccountNumber")
CALLBACK_FIELDS = ("success", "abort", "error")
# Request fields echoed in the session, in the order of the AuthSession schema.
ECHOED_FIELDS = ("callbackUrls", "tags", "allowedProviders", "language", "flow", "themeId",
                 "requestedAttributes", "externalReference", "usageReference", "sessionLifetime",
                 "requestDomain")
# Optional string fields: name -> maximum length (None: any).
STRING_FIELDS = {"returnUrl": None, "themeId": 10, "externalReference": 100,
                 "usageReference": None, "requestDomain": None, "expiresAt": None,
                 "language": None, "requestedLoa": None}

DEFAULT_ACCOUNT_ID = "a-spge-mock"
AUTHENTICATION_URL = "https://mock.signicat/auth/"
# statusUrl of a session (Signicat .NET SDK AuthenticationSession): the Get session URL.
STATUS_URL = "https://api.signicat.com/auth/rest/sessions/"
DEFAULT_LOA = "substantial"   # loa of a SUCCESS session that did not ask for one
DEFAULT_LIFETIME = 1200
MIN_LIFETIME = 300
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
MAX_PROVIDER_LENGTH = 30

# The seed's sample person (a SUCCESS subject without prefilledInput).
SAMPLE_SUBJECT_ID = "9578-6000-4-48855"
SAMPLE_PERSON = {"firstName": "John", "lastName": "Doe", "dateOfBirth": "2002-06-01",
                 "nin": "123456789"}
SAMPLE_NIN_COUNTRY, SAMPLE_NIN_TYPE = "NOR", "SOCIAL"
SAMPLE_PROVIDER = "nbid"
MOCK_ERROR = {"title": "Authentication failed",
              "detail": "The end-user could not be authenticated (mock).",
              "code": "authentication_failed"}

LANGUAGE_RE = re.compile(r"^[A-Za-z]{2}$")
WAITING_STATUS_RE = re.compile(r"[A-Za-z_]{1,64}")


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclass
class Session:
    doc: dict                       # the AuthSession answer
    target: str                     # the final status it reaches
    prefilled: dict = field(default_factory=dict)
    polls: int = 0                  # GETs while not final
    settled: bool = False           # final (SUCCESS, ERROR, ABORT) or CANCELLED


class AuthRestState:
    """All Authentication REST data of one mock server."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    def reset(self) -> None:
        self.sessions.clear()


API = Api("auth_rest", state_factory=AuthRestState)
API.config_option("auth_final_status", "SUCCESS", check_one_of(FINAL_STATUSES),
                  "final status of sessions (unless mock-final=... in externalReference)")
API.config_option("auth_polls_until_final", 2, check_nonneg_int,
                  "GETs of a not-final session until it is final (the Nth GET shows it final)")


def check_waiting_status(value: Any) -> str:
    """Config check of ``auth_waiting_status``: "" or 1..64 characters of [A-Za-z_]."""
    if not isinstance(value, str) or not (value == "" or WAITING_STATUS_RE.fullmatch(value)):
        raise ValueError("must be a string of 1 to 64 characters from A-Z, a-z and _, or ''")
    return value


API.config_option("auth_waiting_status", "", check_waiting_status,
                  "status shown by the GETs of a session before the one that makes it final "
                  "('' keeps CREATED)")


# --------------------------------------------------------------------------------------------
# Helpers: validation, lookups, renderings
# --------------------------------------------------------------------------------------------

def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_iso_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return False
    return True


def validate_session_request(body: dict) -> None:
    """400 naming every invalid field of an AuthCreateSessionRequest (null = absent)."""
    errors: dict[str, list] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if body.get("flow") not in FLOWS:
        bad("flow", "Required; one of %s." % ", ".join(FLOWS))
    if not _is_string_list(body.get("requestedAttributes")):
        bad("requestedAttributes", "Required; an array of strings (may be empty).")
    for name, limit in STRING_FIELDS.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            bad(name, "Must be a string.")
        elif limit is not None and len(value) > limit:
            bad(name, "At most %d characters." % limit)
    if isinstance(body.get("requestedLoa"), str) and body["requestedLoa"] not in LOAS:
        bad("requestedLoa", "One of %s." % ", ".join(LOAS))
    if isinstance(body.get("language"), str) and not LANGUAGE_RE.match(body["language"]):
        bad("language", "An ISO 639-1 code: two letters.")
    if isinstance(body.get("expiresAt"), str) and not _is_iso_datetime(body["expiresAt"]):
        bad("expiresAt", "Must be an ISO 8601 date and time.")
    tags = body.get("tags")
    if tags is not None and not (_is_string_list(tags) and len(tags) <= MAX_TAGS
                                 and all(len(t) <= MAX_TAG_LENGTH for t in tags)):
        bad("tags", "At most %d strings of at most %d characters." % (MAX_TAGS, MAX_TAG_LENGTH))
    providers = body.get("allowedProviders")
    if providers is not None and not (_is_string_list(providers) and
                                      all(len(p) <= MAX_PROVIDER_LENGTH for p in providers)):
        bad("allowedProviders", "An array of strings of at most %d characters."
            % MAX_PROVIDER_LENGTH)
    domains = body.get("embeddedParentDomains")
    if domains is not None and not _is_string_list(domains):
        bad("embeddedParentDomains", "Must be an array of strings.")
    lifetime = body.get("sessionLifetime")
    if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int)
                                 or not 0 <= lifetime <= 2 ** 31 - 1):
        bad("sessionLifetime", "Must be an integer of seconds (below 300 counts as 300).")
    callbacks = body.get("callbackUrls")
    if callbacks is not None and not (isinstance(callbacks, dict) and all(
            k in CALLBACK_FIELDS and (v is None or isinstance(v, str))
            for k, v in callbacks.items())):
        bad("callbackUrls", "An object with the strings %s." % ", ".join(CALLBACK_FIELDS))
    prefilled = body.get("prefilledInput")
    if prefilled is not None:
        if not isinstance(prefilled, dict) or not any(v is not None for v in prefilled.values()):
            bad("prefilledInput", "An object with at least one value.")
        else:
            for name, value in prefilled.items():
                if name not in PREFILLED_FIELDS:
                    bad("prefilledInput." + name, "Unknown field; known: %s."
                        % ", ".join(PREFILLED_FIELDS))
                elif value is not None and not isinstance(value, str):
                    bad("prefilledInput." + name, "Must be a string.")
                elif name == "dateOfBirth" and value is not None and not is_date(value):
                    bad("prefilledInput.dateOfBirth", "Must be a date YYYY-MM-DD.")
    parameters = body.get("additionalParameters")
    if parameters is not None and not _is_string_map(parameters):
        bad("additionalParameters", "Must be an object of strings.")
    if errors:
        raise validation_error(errors)
    if body.get("encryptionPublicKey") is not None:
        raise validation_error({"encryptionPublicKey": [
            "Encrypted answers are not supported by the mock."]},
            detail="encrypted answers are not supported by the mock")


def load_session(req: Request) -> Session:
    return lookup(req.state.sessions, req.params["id"].lower(), "Session")


def subject_json(session: Session) -> dict:
    """The SUCCESS subject: prefilledInput values, else the seed's sample person."""
    person = dict(SAMPLE_PERSON)
    person.update({k: v for k, v in session.prefilled.items() if k in person and v})
    subject = {"id": SAMPLE_SUBJECT_ID, "idpId": SAMPLE_SUBJECT_ID,
               "name": "%s %s" % (person["firstName"], person["lastName"]),
               "firstName": person["firstName"], "lastName": person["lastName"],
               "dateOfBirth": person["dateOfBirth"],
               "nin": {"value": person["nin"], "issuingCountry": SAMPLE_NIN_COUNTRY,
                       "type": SAMPLE_NIN_TYPE}}
    for name in ("email", "mobile"):
        if session.prefilled.get(name):
            subject[name] = session.prefilled[name]
    return subject


def finish(session: Session, status: str) -> None:
    """Move a session that is not final to ``status`` and fill what that status carries."""
    doc = session.doc
    doc["status"] = status
    session.settled = True
    if status == "SUCCESS":
        doc["provider"] = (doc.get("allowedProviders") or [SAMPLE_PROVIDER])[0]
        doc["subject"] = subject_json(session)
        doc["loa"] = doc.get("requestedLoa") or DEFAULT_LOA
    elif status == "ERROR":
        doc["error"] = dict(MOCK_ERROR)
    elif status == "ABORT":
        doc["statusDetail"] = "The end-user aborted the authentication (mock)."


def count_poll(req: Request, session: Session) -> None:
    """One GET of a session that is not final (CREATED or the waiting status); the Nth one
    makes it final, the ones before show config ``auth_waiting_status`` (when set)."""
    if session.settled:
        return
    if poll_makes_final(req, session, "auth_polls_until_final"):
        finish(session, session.target)
    else:
        session.doc["status"] = req.config["auth_waiting_status"] or "CREATED"


# --------------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------------

@API.route("POST", "/auth/rest/sessions", "auth_create_session")
def create_session(req: Request) -> Response:
    body = body_object(req, required=True)
    validate_session_request(body)
    session_id = new_id()
    now = req.now()
    lifetime = body.get("sessionLifetime")
    if lifetime is not None:
        lifetime = max(MIN_LIFETIME, lifetime)
    doc: dict[str, Any] = {"id": session_id,
                           "accountId": req.headers.get("Signicat-AccountId")
                           or DEFAULT_ACCOUNT_ID}
    if body["flow"] in ("redirect", "embedded"):
        doc["authenticationUrl"] = AUTHENTICATION_URL + session_id
    doc["status"] = "CREATED"
    doc["statusUrl"] = STATUS_URL + session_id
    if body["flow"] == "headless":
        doc["idpData"] = {"autoStartToken": new_id()}
    doc["messageTransportProperties"] = {"messageLevelEncryption": "NOT_REQUIRED",
                                         "requireHsmSigning": False}
    for name in ECHOED_FIELDS:
        if body.get(name) is not None:
            doc[name] = body[name]
    if lifetime is not None:
        doc["sessionLifetime"] = lifetime
    if body.get("requestedLoa") is not None:
        doc["requestedLoa"] = body["requestedLoa"]
    doc["expiresAt"] = body.get("expiresAt") or rfc3339(
        now + dt.timedelta(seconds=lifetime or DEFAULT_LIFETIME))
    session = Session(doc, target_status(req, body.get("externalReference"), FINAL_STATUSES,
                                         "auth_final_status", str.upper),
                      {k: v for k, v in (body.get("prefilledInput") or {}).items()
                       if v is not None})
    req.state.sessions[session_id] = session
    return Response.json(doc)


@API.route("GET", "/auth/rest/sessions/{id}", "auth_get_session")
def get_session(req: Request) -> Response:
    session = load_session(req)
    count_poll(req, session)
    return Response.json(session.doc)


@API.route("POST", "/auth/rest/sessions/{id}/cancel", "auth_cancel_session")
def cancel_session(req: Request) -> Response:
    session = load_session(req)
    if session.settled:
        raise ApiError(409, "The session is already final (status: %s)."
                       % session.doc["status"])
    session.doc["status"] = "CANCELLED"
    session.settled = True
    return Response.json(session.doc)
