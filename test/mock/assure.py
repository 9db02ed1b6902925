"""Assure API of the Signicat mock: routes, in-memory state and process status progression.

This module owns the ``/assure`` routes (dossiers, user data, dossier files, processes, process
images/video/result/raw result, process list, watermark, redact, document types, matching and
capture configurations, perform matching, start capture flow), their state (:class:`AssureState`,
cleared by ``POST /__mock/reset``), the Assure config options of ``/__mock/config``
(``final_status``, ``process_polls_until_final``, ``process_list_format``) and the control route
``POST /__mock/seed-processes``.  Operation ids are the catalog's (endpoints.md).

Process life cycle in the mock: ``pending`` after Create process -> ``processing`` after Start
verification -> final after ``process_polls_until_final`` GETs of the process (the final status
is ``mock-final=<status>`` from the dossier's externalReference, else config ``final_status``).
Fail process moves a pending process to ``failed``.  Start capture flow creates a process that
is already ``processing``.  A process's ``finalResult`` is taken from the dossier's user data (else
sample values) when the process becomes final, and kept from then on.  Get raw result counts as a
GET of the process, like Get process; it answers 204 until the process has a result, then a
free-form provider answer derived from that result.

Watermark and redact mark the image bytes instead of changing pixels: watermark appends
``WATERMARK:<title>``, redact appends ``REDACTED``.  Perform matching compares two data nodes
(userData or a final process's finalResult/userInfo/ocr, which are the same data in the mock)
with the fields of a matching configuration or the default ones.

Ids, UUID path parameters, JSON bodies, lookups (404), the config checks and the status
progression (``target_status``, ``poll_makes_final``) use the helpers for API modules of
signicat_mock.

The route handlers run one at a time under the server lock (see signicat_mock.Api).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import json
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any, Optional

from signicat_mock import UUID_RE, Api, ApiError, Request, Response, body_object, \
    check_nonneg_int, check_one_of, is_date, lookup, new_id, parse_rfc3339, poll_makes_final, \
    rfc3339, target_status, uuid_param, validation_error

# --------------------------------------------------------------------------------------------
# Vocabulary (from signicat-openapi.json, schemas Assure*)
# --------------------------------------------------------------------------------------------

PROVIDERS = ("eid", "onfido", "readid", "signicatpaper", "facetec", "webid",
             "signicatpictureid", "signicatvideoid", "connect:idmethod")
PROCESS_TYPES = ("attended", "unattended", "substantial", "document", "documentSelfie",
                 "documentVideo", "sdk", "ready", "accountid", "videoid", "substantialFullyAuto",
                 "high")
DOCUMENT_TYPES = (
    "driversLicense", "passport", "identityCard", "residencePermit", "workPermit", "voterId",
    "postalIdCard", "professionalQualificationCard", "professionalPermit", "socialSecurity",
    "panCard", "passportCard", "stateId", "visa", "asylumRegistrationCard",
    "nationalHealthInsuranceCard", "aadharCard", "immigrationStatusDocument", "indigenousCard",
    "municipalityIdentityCard", "privateOperatorsCard", "certificateOfSponsorship",
    "serviceIdCard", "taxId")
STATUSES = ("pending", "processing", "accepted", "rejected", "canceled", "failed", "inconclusive")
FINAL_STATUSES = ("accepted", "rejected", "inconclusive", "failed", "canceled")
RESULT_STATUSES = ("accepted", "rejected", "inconclusive")  # those with a finalResult

DEFAULT_PROCESS_TYPE = {"onfido": "documentSelfie", "eid": "unattended", "readid": "sdk"}
PROVIDERS_WITH_API_URL = ("readid", "eid", "signicatvideoid")
PROVIDERS_NEEDING_FRONT = ("onfido", "signicatpaper", "facetec", "signicatpictureid")
PROVIDERS_VERIFY_204 = ("readid", "webid")

IMAGE_DEPICTIONS = ("front", "back", "selfie")
MEDIA_TYPES = {"image/png": "png", "image/jpeg": "jpg"}
USER_DATA_STRINGS = ("firstName", "lastName", "gender", "nationality", "dateOfBirth",
                     "personalIdentificationNumber", "placeOfBirth", "mobile", "email")

VIDEO_BYTES = (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
               b"\x00\x00\x00\x08free\x00\x00\x00\x08mdat")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)
# Get raw result: non-ASCII text in the provider's free-form answer.
RAW_NATIONAL_NAME = "Ærlig Øst"
RAW_ISSUING_AUTHORITY = "Politiet i Øst-Finnmark – passkontoret"
DATA_URL_RE = re.compile(r"^data:(image/png|image/jpeg);base64,(.*)$", re.DOTALL)
INT_RE = re.compile(r"^-?\d+$")

WATERMARK_DEPICTIONS = ("selfie", "front")
MAX_WATERMARK_BYTES = 4 * 1024 * 1024
REDACT_DOCUMENT_TYPES = ("passport", "identityCard", "driversLicense", "residencePermit")
REDACT_COUNTRIES = ("NLD",)
REDACT_FIELDS = ("personalIdentificationNumber", "photo")
REDACTION_LEVELS = ("standard", "medium", "high", "veryHigh")
REDACT_SIDES = (("front", "frontImage", "redactedFrontImage"),
                ("back", "backImage", "redactedBackImage"))

# Get document types: a few fixed AssureDocumentTypeInfo entries per provider; eid answers 204.
DOCUMENT_TYPE_INFO = {
    "onfido": [
        {"country": "NOR", "countryName": "Norway", "type": "passport"},
        {"country": "NOR", "countryName": "Norway", "type": "driversLicense"},
        {"country": "SWE", "countryName": "Sweden", "type": "identityCard"},
    ],
    "signicatpaper": [
        {"country": "NLD", "countryName": "Netherlands", "type": "passport"},
        {"country": "NLD", "countryName": "Netherlands", "type": "identityCard"},
        {"country": "PRT", "countryName": "Portugal", "type": "residencePermit"},
    ],
    "eid": [],
    "signicatpictureid": [
        {"country": "NOR", "countryName": "Norway", "type": "passport", "id": 138,
         "name": "Norway", "subType": "Passport", "icao": "TD3"},
        {"country": "DEU", "countryName": "Germany", "type": "identityCard", "id": 191,
         "name": "Germany", "subType": "Passport", "icao": "TD3"},
    ],
    "signicatvideoid": [
        {"country": "NOR", "countryName": "Norway", "type": "passport", "id": 138,
         "name": "Norway", "subType": "Passport", "icao": "TD3"},
        {"country": "SWE", "countryName": "Sweden", "type": "identityCard", "id": 123,
         "name": "Sweden", "subType": "ID Card", "icao": "TD1"},
    ],
}

MAX_CONFIGURATION_ID = 100
NORMALIZATIONS = ("none", "upper", "clean", "cleanUpper", "initialsUpper", "numeric")
ALGORITHMS = ("levenshtein", "fuzzy")
DATA_NODES = ("userData", "finalResult", "userInfo", "ocr")
DEFAULT_MATCH_FIELDS = (
    {"id": "firstName", "sourceField": "firstName", "targetField": "firstName",
     "normalization": "cleanUpper", "algorithm": "levenshtein"},
    {"id": "lastName", "sourceField": "lastName", "targetField": "lastName",
     "normalization": "cleanUpper", "algorithm": "levenshtein"},
    {"id": "dateOfBirth", "sourceField": "dateOfBirth", "targetField": "dateOfBirth",
     "normalization": "numeric", "algorithm": "levenshtein"},
)
# ICAO 9303 part 3 transliterations that NFKD does not give.
ICAO_LETTERS = {"Æ": "AE", "æ": "ae", "Ø": "OE", "ø": "oe", "Å": "AA", "å": "aa", "ß": "ss",
                "Þ": "TH", "þ": "th", "Ð": "D", "ð": "d", "Œ": "OE", "œ": "oe", "Ł": "L",
                "ł": "l"}

CAPTURE_PROVIDERS = ("eid", "onfido", "readid", "signicatpaper", "webid", "signicatpictureid",
                     "signicatvideoid")
CAPTURE_SDKS = ("native", "capture")
CAPTURE_URL = "https://api.signicat.com/assure/capture/#/artifact="
SMS_SENDER_RE = re.compile(r"^([0-9]{1,15}|[A-Za-z0-9]{1,11})$")
# AssureCaptureConfiguration: field -> kind (see kind_error); fields not listed take any value.
CAPTURE_FIELD_KINDS = {
    "pageTitle": "string", "favicon": "string", "fontName": "string", "fontUrl": "string",
    "primaryColor": "string", "fontColor": "string", "buttonsColor": "string",
    "buttonsHoverColor": "string", "buttonsTextColor": "string", "spinnerColor": "string",
    "defaultCountry": "string", "smsDefaultCountry": "string", "customCss": "string",
    "documentTypes": ("enum[]", DOCUMENT_TYPES), "documentCountries": "object",
    "languages": "string[]", "translations": "object",
    "allowFileUpload": ("enum[]", ("mobile", "desktop")),
    "allowTakePhoto": ("enum[]", ("mobile", "desktop")), "allowZoomOnPreview": "string[]",
    "mobileHandoverModes": ("enum[]", ("sms", "qrCode")),
    "useSignicatTheming": "boolean", "enableMobileHandover": "boolean",
    "enableOrientationConfirmation": "boolean", "autoCapture": "boolean",
    "customRedactionError": "boolean", "takeSelfie": "boolean",
    "showModalBeforeRedirect": "boolean", "forceMobileHandover": "boolean",
    "useNativeCamera": "boolean", "showConsentPage": "boolean",
    "showAccessibilityLink": "boolean", "showDocumentInstructionsScreen": "boolean",
    "showPrerequisitesScreen": "boolean", "showCountryBeforeDocumentType": "boolean",
    "maxRetries": "integer", "mobileHandoverTimeout": "integer",
    "signicatThemingConfig": "object", "onfidoConfig": "object", "eidConfig": "object",
    "signicatvideoidConfig": "object", "signicatpictureidConfig": "object",
}
MAX_PAGE_TITLE = 60
CAPTURE_REQUEST_KINDS = {"requestDomain": "string", "eventTags": "string[]",
                         "captureParameters": "object"}
CAPTURE_PARAMETER_KINDS = {"uiProfile": "string", "uiProfileJSON": "object",
                           "uiLanguage": "string", "smsSender": "string",
                           "smsMessage": "string", "defaultCountry": "string"}
KIND_NAMES = {"string": "a string", "boolean": "a boolean", "integer": "an integer",
              "object": "an object", "string[]": "an array of strings"}


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclass
class Image:
    media_type: str
    data: bytes


@dataclass
class UserData:
    fields: dict
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass
class Process:
    process_id: str
    provider: str
    process_type: Optional[str]
    document_type: Optional[str]
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    images: dict = field(default_factory=dict)      # depiction -> Image
    polls: int = 0                                  # GETs while processing
    fail_reason: Optional[dict] = None
    finished_at: Optional[dt.datetime] = None
    result: Optional[dict] = None                   # finalResult, kept once computed


@dataclass
class Dossier:
    dossier_id: str
    external_reference: Optional[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    user_data: Optional[UserData] = None
    files: dict = field(default_factory=dict)       # depiction -> Image
    processes: dict = field(default_factory=dict)   # processId -> Process, creation order


@dataclass
class Configuration:
    """A matching or capture configuration (``body`` is the validated request body)."""
    configuration_id: str
    body: dict
    created_at: dt.datetime
    updated_at: dt.datetime


class AssureState:
    """All Assure data of one mock server."""

    def __init__(self) -> None:
        self.dossiers: dict[str, Dossier] = {}      # creation order
        # kind ("matching" | "capture") -> configurationId -> Configuration, creation order
        self.configurations: dict[str, dict[str, Configuration]] = {"matching": {},
                                                                     "capture": {}}

    def reset(self) -> None:
        self.dossiers.clear()
        for store in self.configurations.values():
            store.clear()


API = Api("assure", state_factory=AssureState)
API.config_option("final_status", "accepted", check_one_of(FINAL_STATUSES),
                  "final status reached by processes (unless mock-final=... in externalReference)")
API.config_option("process_polls_until_final", 2, check_nonneg_int,
                  "GETs of a processing process until it is final (the Nth GET shows it final)")
API.config_option("process_list_format", "object",
                  check_one_of(("object", "bare"), "must be 'object' or 'bare'"),
                  "GET /assure/processes answers {processes, filters, totalResults} "
                  "or a bare array")


# --------------------------------------------------------------------------------------------
# Helpers: lookups, images, JSON renderings (ids, path parameters and bodies: signicat_mock)
# --------------------------------------------------------------------------------------------

def load_dossier(req: Request) -> Dossier:
    """The dossier named by the {dossierId} path parameter, or 400/404."""
    return lookup(req.state.dossiers, uuid_param(req, "dossierId"), "Dossier")


def load_process(req: Request) -> tuple[Dossier, Process]:
    """The dossier and process named by the path, or 400/404."""
    dossier = load_dossier(req)
    return dossier, lookup(dossier.processes, uuid_param(req, "processId"), "Process")


def parse_data_url(field_name: str, value: Any) -> Image:
    """``data:image/png;base64,...`` or ``data:image/jpeg;base64,...`` -> Image, else 400."""
    if not isinstance(value, str):
        raise validation_error({field_name: ["Must be a dataURL string."]})
    m = DATA_URL_RE.match(value)
    if not m:
        raise validation_error({field_name: [
            "Must be a dataURL: data:image/png;base64,... or data:image/jpeg;base64,..."]})
    try:
        data = base64.b64decode(m.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise validation_error({field_name: ["The base64 payload is invalid."]}) from None
    if not data:
        raise validation_error({field_name: ["The image is empty."]})
    return Image(m.group(1), data)


def parse_images(body: dict) -> dict:
    """{depiction: Image} for the front/back/selfie fields present in ``body``."""
    return {name: parse_data_url(name, body[name]) for name in IMAGE_DEPICTIONS
            if body.get(name) is not None}


def depiction_param(req: Request, allowed: tuple) -> str:
    value = req.query_one("depiction")
    if value not in allowed:
        raise validation_error({"depiction": ["Required; one of %s." % ", ".join(allowed)]})
    return value


def touch(dossier: Dossier, req: Request) -> None:
    dossier.updated_at = req.now()


def dossier_json(d: Dossier) -> dict:
    out: dict[str, Any] = {"dossierId": d.dossier_id}
    if d.external_reference is not None:
        out["externalReference"] = d.external_reference
    out["createdAt"] = rfc3339(d.created_at)
    out["updatedAt"] = rfc3339(d.updated_at)
    return out


def slim_process_json(p: Process) -> dict:
    return {"processId": p.process_id, "provider": p.provider, "processType": p.process_type,
            "status": p.status, "createdAt": rfc3339(p.created_at),
            "updatedAt": rfc3339(p.updated_at)}


def external_id(p: Process) -> str:
    return "n/a" if p.provider == "facetec" else "%s-%s" % (p.provider, p.process_id[:8])


def depictions(p: Process) -> list:
    names = [d for d in IMAGE_DEPICTIONS if d in p.images]
    if portrait(p) is not None:
        names.append("portrait")
    return names


def portrait(p: Process) -> Optional[Image]:
    """The portrait (the selfie) once the process is final."""
    return p.images.get("selfie") if p.status in FINAL_STATUSES else None


def final_result(d: Dossier, p: Process) -> dict:
    """The process's finalResult: the dossier's user data (else sample values) the first time
    it is asked for (when the process becomes final), then kept as is."""
    if p.result is None:
        user = d.user_data.fields if d.user_data else {}
        p.result = {
            "firstName": user.get("firstName") or "JOHN",
            "lastName": user.get("lastName") or "SMITH",
            "dateOfBirth": user.get("dateOfBirth") or "1986-07-24",
            "documentType": p.document_type or "passport",
            "documentNumber": "C1234567",
            "issuingCountry": "PRT",
        }
    return p.result


def provider_specific(p: Process) -> dict:
    result = "clear" if p.status == "accepted" else "consider"
    document_type = p.document_type or "passport"
    if p.provider == "onfido":
        return {"facialSimilarity": {"result": result, "similarityScore": "high"},
                "documentVerification": {"result": result, "subResult": result,
                                         "documentType": document_type}}
    if p.provider == "readid":
        return {"consolidatedIdentityData": {"documentType": document_type,
                                             "documentNumber": "C1234567"}}
    if p.provider in ("eid", "signicatvideoid"):
        return {"ocr": {"documentNumber": "C1234567"}, "manualApproval": {"result": result}}
    return {"verification": {"result": result, "mock": True}}


def process_json(d: Dossier, p: Process) -> dict:
    """Get process answer."""
    out = {"processId": p.process_id, "provider": p.provider, "processType": p.process_type,
           "status": p.status, "depictions": depictions(p),
           "createdAt": rfc3339(p.created_at), "updatedAt": rfc3339(p.updated_at)}
    if p.status in RESULT_STATUSES:
        out["finalResult"] = final_result(d, p)
        out["providerSpecific"] = provider_specific(p)
    if p.fail_reason is not None:
        out["failReason"] = p.fail_reason
    return out


def set_status(req: Request, p: Process, status: str,
               fail_reason: Optional[dict] = None) -> None:
    p.status = status
    p.updated_at = req.now()
    if status in FINAL_STATUSES:
        p.finished_at = p.updated_at
    if status == "failed":
        p.fail_reason = fail_reason or {
            "type": "providerError",
            "message": "The provider could not complete the verification (mock)."}


def count_poll(req: Request, d: Dossier, p: Process) -> None:
    """One GET of a processing process; the Nth one makes it final."""
    if p.status != "processing":
        return
    if poll_makes_final(req, p, "process_polls_until_final"):
        set_status(req, p, target_status(req, d.external_reference, FINAL_STATUSES,
                                         "final_status"))
        if p.status in RESULT_STATUSES:
            final_result(d, p)  # the result is fixed when the process becomes final


# --------------------------------------------------------------------------------------------
# Dossiers
# --------------------------------------------------------------------------------------------

@API.route("POST", "/assure/dossiers", "assure_create_dossier")
def create_dossier(req: Request) -> Response:
    body = body_object(req)
    reference = body.get("externalReference")
    if reference is not None and not isinstance(reference, str):
        raise validation_error({"externalReference": ["Must be a string."]})
    now = req.now()
    dossier = Dossier(new_id(), reference, now, now)
    req.state.dossiers[dossier.dossier_id] = dossier
    return Response.json(dossier_json(dossier), 201)


@API.route("GET", "/assure/dossiers", "assure_list_dossiers")
def list_dossiers(req: Request) -> Response:
    newest = list(req.state.dossiers.values())[-100:]
    return Response.json([dossier_json(d) for d in reversed(newest)])


@API.route("GET", "/assure/dossiers/{dossierId}", "assure_get_dossier")
def get_dossier(req: Request) -> Response:
    dossier = load_dossier(req)
    out = dossier_json(dossier)
    out["processes"] = [slim_process_json(p) for p in dossier.processes.values()]
    return Response.json(out)


@API.route("DELETE", "/assure/dossiers/all", "assure_delete_all_dossiers")
def delete_all_dossiers(req: Request) -> Response:
    req.state.dossiers.clear()
    return Response.empty(204)


@API.route("DELETE", "/assure/dossiers/{dossierId}", "assure_delete_dossier")
def delete_dossier(req: Request) -> Response:
    dossier = load_dossier(req)
    if any(p.provider == "onfido" and p.status == "processing"
           for p in dossier.processes.values()):
        raise ApiError(409, "The dossier has an onfido process in processing; "
                            "it cannot be deleted now.")
    del req.state.dossiers[dossier.dossier_id]
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# User data
# --------------------------------------------------------------------------------------------

def validate_user_data(data: Any, partial: bool) -> None:
    """400 naming ``userData.<field>``; with ``partial`` (PUT) "" means delete and is fine."""
    if not isinstance(data, dict):
        raise validation_error({"userData": ["Required; must be an object."]})
    errors: dict[str, list] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault("userData." + name, []).append(message)

    for name, value in data.items():
        if partial and value == "":
            continue
        if name in USER_DATA_STRINGS and not isinstance(value, str):
            bad(name, "Must be a string.")
        elif name in ("firstName", "lastName") and len(value) > 64:
            bad(name, "At most 64 characters.")
        elif name == "gender" and value not in ("M", "F"):
            bad(name, "Must be M or F.")
        elif name == "dateOfBirth" and not is_date(value):
            bad(name, "Must be a date YYYY-MM-DD.")
        elif name == "address" and not isinstance(value, dict):
            bad(name, "Must be an object.")
    if errors:
        raise validation_error(errors)


def user_data_body(req: Request, partial: bool) -> dict:
    body = body_object(req, required=True)
    data = body.get("userData")
    validate_user_data(data, partial)
    return data


@API.route("POST", "/assure/dossiers/{dossierId}/userdata", "assure_set_user_data")
def set_user_data(req: Request) -> Response:
    dossier = load_dossier(req)
    data = user_data_body(req, partial=False)
    if dossier.user_data is not None:
        raise ApiError(409, "User data already exists for this dossier; use PUT to update it.")
    now = req.now()
    dossier.user_data = UserData(dict(data), now, now)
    dossier.updated_at = now
    return Response.empty(201)


@API.route("PUT", "/assure/dossiers/{dossierId}/userdata", "assure_update_user_data")
def update_user_data(req: Request) -> Response:
    dossier = load_dossier(req)
    data = user_data_body(req, partial=True)
    if dossier.user_data is None:
        raise ApiError(404, "User data not found.")
    for name, value in data.items():
        if value == "":
            dossier.user_data.fields.pop(name, None)
        else:
            dossier.user_data.fields[name] = value
    dossier.user_data.updated_at = req.now()
    dossier.updated_at = dossier.user_data.updated_at
    return Response.empty(204)


@API.route("GET", "/assure/dossiers/{dossierId}/userdata", "assure_get_user_data")
def get_user_data(req: Request) -> Response:
    dossier = load_dossier(req)
    if dossier.user_data is None:
        raise ApiError(404, "User data not found.")
    u = dossier.user_data
    return Response.json({"dossierId": dossier.dossier_id, "userData": u.fields,
                          "createdAt": rfc3339(u.created_at), "updatedAt": rfc3339(u.updated_at)})


@API.route("DELETE", "/assure/dossiers/{dossierId}/userdata", "assure_delete_user_data")
def delete_user_data(req: Request) -> Response:
    dossier = load_dossier(req)
    if dossier.user_data is None:
        raise ApiError(404, "User data not found.")
    dossier.user_data = None
    touch(dossier, req)
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# Dossier files
# --------------------------------------------------------------------------------------------

@API.route("POST", "/assure/dossiers/{dossierId}/files", "assure_set_dossier_files")
def set_dossier_files(req: Request) -> Response:
    dossier = load_dossier(req)
    body = body_object(req, required=True)
    source = body.get("processId")
    images = parse_images(body)
    if source is None and not images:
        raise validation_error({"images": [
            "Give at least one of front, back, selfie (dataURL) or a processId."]})
    copied = {}
    if source is not None:
        if not isinstance(source, str) or not UUID_RE.match(source):
            raise validation_error({"processId": ["Must be a UUID."]})
        copied = dict(lookup(dossier.processes, source.lower(), "Process").images)
    dossier.files.update(copied)
    dossier.files.update(images)
    touch(dossier, req)
    return Response.empty(201)


@API.route("GET", "/assure/dossiers/{dossierId}/files", "assure_get_dossier_file")
def get_dossier_file(req: Request) -> Response:
    dossier = load_dossier(req)
    image = lookup(dossier.files, depiction_param(req, IMAGE_DEPICTIONS), "File")
    return Response.raw(image.data, image.media_type)


@API.route("DELETE", "/assure/dossiers/{dossierId}/files", "assure_delete_dossier_files")
def delete_dossier_files(req: Request) -> Response:
    dossier = load_dossier(req)
    dossier.files.clear()
    touch(dossier, req)
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

def validate_process_request(body: dict) -> None:
    errors: dict[str, list] = {}
    provider = body.get("provider")
    if provider is None:
        errors["provider"] = ["Required; one of %s." % ", ".join(PROVIDERS)]
    elif provider not in PROVIDERS:
        errors["provider"] = ["Unknown provider %r; one of %s." % (provider, ", ".join(PROVIDERS))]
    process_type = body.get("processType")
    if process_type is not None and process_type not in PROCESS_TYPES:
        errors["processType"] = ["Unknown processType %r." % (process_type,)]
    document_type = body.get("documentType")
    if document_type is not None and document_type not in DOCUMENT_TYPES:
        errors["documentType"] = ["Unknown documentType %r." % (document_type,)]
    parameters = body.get("processParameters")
    if parameters is not None and not isinstance(parameters, dict):
        errors["processParameters"] = ["Must be an object."]
        parameters = None
    if provider == "signicatpaper":
        country = body.get("documentCountry")
        if not isinstance(country, str) or not country:
            errors["documentCountry"] = ["Required for provider signicatpaper."]
    if provider == "webid" and not isinstance((parameters or {}).get("webid"), dict):
        errors["processParameters.webid"] = ["Required (object) for provider webid."]
    if errors:
        raise validation_error(errors)


@API.route("POST", "/assure/dossiers/{dossierId}/processes", "assure_create_process")
def create_process(req: Request) -> Response:
    dossier = load_dossier(req)
    body = body_object(req, required=True)
    validate_process_request(body)
    provider = body["provider"]
    now = req.now()
    process = Process(new_id(), provider,
                      body.get("processType") or DEFAULT_PROCESS_TYPE.get(provider),
                      body.get("documentType"), "pending", now, now)
    dossier.processes[process.process_id] = process
    dossier.updated_at = now
    out = slim_process_json(process)
    out["authorization"] = "mock-sdk-token-" + secrets.token_hex(16)
    if provider in PROVIDERS_WITH_API_URL:
        out["providerApiUrl"] = "https://%s.provider.mock.invalid/api" % provider
    if provider == "webid":
        out["redirectUrl"] = "https://webid.provider.mock.invalid/ident/" + process.process_id
    return Response.json(out, 201)


@API.route("GET", "/assure/dossiers/{dossierId}/processes/{processId}", "assure_get_process")
def get_process(req: Request) -> Response:
    dossier, process = load_process(req)
    count_poll(req, dossier, process)
    return Response.json(process_json(dossier, process))


def validate_verify_request(body: dict, provider: str) -> None:
    errors: dict[str, list] = {}
    ids = body.get("documentIds")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        errors["documentIds"] = ["Must be an array of strings."]
    enrollment = body.get("facetecEnrollment")
    if enrollment is not None and not isinstance(enrollment, dict):
        errors["facetecEnrollment"] = ["Must be an object."]
    depiction = body.get("imageDepiction")
    if depiction is not None and depiction not in ("selfie", "front"):
        errors["imageDepiction"] = ["Must be selfie or front."]
    authority = body.get("rAuthorityId")
    if authority is not None and not isinstance(authority, str):
        errors["rAuthorityId"] = ["Must be a string."]
    if provider == "facetec":
        if depiction is None:
            errors.setdefault("imageDepiction", ["Required for provider facetec."])
        if enrollment is None:
            errors.setdefault("facetecEnrollment", ["Required for provider facetec."])
    if errors:
        raise validation_error(errors)


@API.route("POST", "/assure/dossiers/{dossierId}/processes/{processId}",
           "assure_start_verification")
def start_verification(req: Request) -> Response:
    _dossier, process = load_process(req)
    validate_verify_request(body_object(req), process.provider)
    if process.status != "pending":
        raise ApiError(409, "The verification can only start from pending (status: %s)."
                       % process.status)
    if process.provider in PROVIDERS_NEEDING_FRONT and "front" not in process.images:
        raise ApiError(400, "Images missing: set at least the front image of the process "
                            "before starting the verification.")
    set_status(req, process, "processing")
    process.polls = 0
    if process.provider in PROVIDERS_VERIFY_204:
        return Response.empty(204)
    return Response.json({"processId": process.process_id, "status": process.status})


@API.route("DELETE", "/assure/dossiers/{dossierId}/processes/{processId}",
           "assure_delete_process")
def delete_process(req: Request) -> Response:
    dossier, process = load_process(req)
    if process.provider == "onfido" and process.status == "processing":
        raise ApiError(409, "An onfido process cannot be deleted while processing.")
    del dossier.processes[process.process_id]
    touch(dossier, req)
    return Response.empty(204)


@API.route("POST", "/assure/dossiers/{dossierId}/processes/{processId}/images",
           "assure_set_process_images")
def set_process_images(req: Request) -> Response:
    _dossier, process = load_process(req)
    body = body_object(req, required=True)
    if process.status != "pending":
        raise ApiError(409, "The process is immutable once the verification started "
                            "(status: %s)." % process.status)
    images = parse_images(body)
    if not images:
        raise validation_error({"images": ["Give at least one of front, back, selfie (dataURL)."]})
    process.images.update(images)
    process.updated_at = req.now()
    return Response.empty(201)


@API.route("GET", "/assure/dossiers/{dossierId}/processes/{processId}/images",
           "assure_get_process_image")
def get_process_image(req: Request) -> Response:
    _dossier, process = load_process(req)
    depiction = depiction_param(req, IMAGE_DEPICTIONS + ("portrait",))
    image = portrait(process) if depiction == "portrait" else process.images.get(depiction)
    if image is None:
        raise ApiError(404, "Image not found.")
    return Response.raw(image.data, image.media_type)


@API.route("POST", "/assure/dossiers/{dossierId}/processes/{processId}/fail",
           "assure_fail_process")
def fail_process(req: Request) -> Response:
    _dossier, process = load_process(req)
    if process.status != "pending":
        raise ApiError(409, "Only a pending process can be failed (status: %s)."
                       % process.status)
    message = "Process failed by the client"
    set_status(req, process, "failed", {"type": "failedByClient", "message": message})
    return Response.json({"processId": process.process_id, "status": "failed",
                          "reason": {"category": "manual", "reason": "failedByClient",
                                     "message": message}})


@API.route("GET", "/assure/dossiers/{dossierId}/processes/{processId}/external-id",
           "assure_get_process_external_id")
def get_process_external_id(req: Request) -> Response:
    _dossier, process = load_process(req)
    return Response.json({"externalId": external_id(process)})


@API.route("GET", "/assure/dossiers/{dossierId}/processes/{processId}/video",
           "assure_get_process_video")
def get_process_video(req: Request) -> Response:
    _dossier, process = load_process(req)
    if process.status == "pending":
        raise ApiError(404, "Video not found (the process is pending).")
    return Response.raw(VIDEO_BYTES, "video/mp4")


def raw_result(d: Dossier, p: Process) -> dict:
    """Get raw result answer: a free-form object standing for the provider's own answer,
    deterministic per process (derived from its finalResult, fixed once final).  It holds
    nested objects, an array, a number, booleans, a null and non-ASCII text, so that a client
    proves it passes the document through untouched."""
    result = final_result(d, p)
    accepted = p.status == "accepted"
    return {
        "provider": p.provider,
        "processId": p.process_id,
        "status": p.status,
        "raw": {
            "documentNumber": result["documentNumber"],
            "documentType": result["documentType"],
            "issuingCountry": result["issuingCountry"],
            "chipVerified": accepted,
            "holder": {"givenNames": result["firstName"], "surname": result["lastName"],
                       "dateOfBirth": result["dateOfBirth"],
                       "nameInNationalCharacters": RAW_NATIONAL_NAME},
            "issuingAuthority": RAW_ISSUING_AUTHORITY,
            "checks": [{"name": "documentAuthenticity", "passed": accepted},
                       {"name": "faceMatch", "passed": accepted,
                        "score": 0.97 if accepted else 0.41}],
            "expiryDate": None,
            "providerSpecific": provider_specific(p),
        },
    }


def result_zip(dossier: Dossier, process: Process, include_timestamps: bool) -> bytes:
    """Deterministic zip: process.json, the images, optionally timestamps.json."""
    files = [("process.json", json.dumps(process_json(dossier, process), indent=2,
                                         sort_keys=True).encode("utf-8"))]
    for name in IMAGE_DEPICTIONS:
        image = process.images.get(name)
        if image is not None:
            files.append(("%s.%s" % (name, MEDIA_TYPES[image.media_type]), image.data))
    if include_timestamps:
        stamps = {"createdAt": rfc3339(process.created_at),
                  "updatedAt": rfc3339(process.updated_at),
                  "finishedAt": rfc3339(process.finished_at or process.updated_at)}
        files.append(("timestamps.json", json.dumps(stamps, indent=2).encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@API.route("GET", "/assure/dossiers/{dossierId}/processes/{processId}/raw",
           "assure_get_process_raw_result")
def get_process_raw_result(req: Request) -> Response:
    dossier, process = load_process(req)
    count_poll(req, dossier, process)  # a GET of the process, as Get process counts it
    if process.status not in RESULT_STATUSES:
        return Response.empty(204)
    return Response.json(raw_result(dossier, process))


@API.route("GET", "/assure/dossiers/{dossierId}/processes/{processId}/download",
           "assure_download_process_result")
def download_process_result(req: Request) -> Response:
    dossier, process = load_process(req)
    flag = req.query_one("includeTimestamps")
    if flag not in (None, "true", "false"):
        raise validation_error({"includeTimestamps": ["Must be true or false."]})
    if process.status not in FINAL_STATUSES:
        return Response.empty(204)
    data = result_zip(dossier, process, flag == "true")
    return Response.raw(data, "application/zip", headers={
        "Content-Disposition": 'attachment; filename="%s.zip"' % process.process_id})


# --------------------------------------------------------------------------------------------
# Process list
# --------------------------------------------------------------------------------------------

def _int_param(req: Request, name: str, default: int, low: int, high: int) -> int:
    text = req.query_one(name)
    if text is None:
        return default
    if not INT_RE.match(text) or not low <= int(text) <= high:
        raise validation_error({name: ["Must be an integer in %d..%d." % (low, high)]})
    return int(text)


def _date_param(req: Request, name: str, required: bool) -> tuple[Optional[str],
                                                                  Optional[dt.datetime]]:
    text = req.query_one(name)
    if text is None:
        if required:
            raise validation_error({name: ["Required: an RFC 3339 date-time, e.g. "
                                           "2026-01-01T00:00:00Z."]})
        return None, None
    moment = parse_rfc3339(text)
    if moment is None:
        raise validation_error({name: ["Must be an RFC 3339 date-time with Z or an offset."]})
    return text, moment


def list_item_json(d: Dossier, p: Process) -> dict:
    out = {"processId": p.process_id, "dossier": dossier_json(d), "provider": p.provider,
           "status": p.status, "processType": p.process_type,
           "createdAt": rfc3339(p.created_at), "updatedAt": rfc3339(p.updated_at),
           "externalId": external_id(p)}
    if p.fail_reason is not None:
        out["failReason"] = p.fail_reason
    return out


@API.route("GET", "/assure/processes", "assure_list_processes")
def list_processes(req: Request) -> Response:
    start_text, start = _date_param(req, "startCreationDate", required=True)
    end_text, end = _date_param(req, "endCreationDate", required=False)
    if end is not None and end < start:
        raise validation_error({"endCreationDate": ["Must not be before startCreationDate."]})
    statuses: list[str] = []
    for value in req.query.get("status", []):
        for status in filter(None, value.split(",")):
            if status not in STATUSES:
                raise validation_error({"status": ["Unknown status %r; one of %s."
                                                   % (status, ", ".join(STATUSES))]})
            if status not in statuses:
                statuses.append(status)
    offset = _int_param(req, "offset", 0, 0, 200000)
    limit = _int_param(req, "limit", 100, 1, 2000)
    order = req.query_one("order") or "createdAtDescending"
    if order not in ("createdAtDescending", "createdAtAscending"):
        raise validation_error({"order": ["Must be createdAtDescending or createdAtAscending."]})

    matches = [(d, p) for d in req.state.dossiers.values() for p in d.processes.values()
               if start <= p.created_at and (end is None or p.created_at <= end)
               and (not statuses or p.status in statuses)]
    matches.sort(key=lambda dp: dp[1].created_at, reverse=(order == "createdAtDescending"))
    page = [list_item_json(d, p) for d, p in matches[offset:offset + limit]]
    if req.config["process_list_format"] == "bare":
        return Response.json(page)
    filters: dict[str, Any] = {"startCreationDate": start_text}
    if end_text is not None:
        filters["endCreationDate"] = end_text
    filters.update({"statusList": statuses, "offset": offset, "limit": limit, "order": order})
    return Response.json({"processes": page, "filters": filters, "totalResults": len(matches)})


# --------------------------------------------------------------------------------------------
# Shared validation helpers of the utilities, configurations, matching and capture flow
# --------------------------------------------------------------------------------------------

def kind_error(kind: Any, value: Any) -> Optional[str]:
    """None when ``value`` is of ``kind`` (a KIND_NAMES key or ("enum[]", allowed)), else
    the message."""
    if isinstance(kind, tuple):
        allowed = kind[1]
        if isinstance(value, list) and all(isinstance(v, str) and v in allowed for v in value):
            return None
        return "Must be an array of: %s." % ", ".join(allowed)
    ok = {"string": lambda: isinstance(value, str),
          "boolean": lambda: isinstance(value, bool),
          "integer": lambda: isinstance(value, int) and not isinstance(value, bool),
          "object": lambda: isinstance(value, dict),
          "string[]": lambda: isinstance(value, list)
          and all(isinstance(v, str) for v in value)}[kind]()
    return None if ok else "Must be %s." % KIND_NAMES[kind]


def check_kinds(errors: dict, obj: dict, kinds: dict, prefix: str = "") -> None:
    """Record in ``errors`` the members of ``obj`` (null aside) not of their declared kind."""
    for name, value in obj.items():
        kind = kinds.get(name)
        message = None if kind is None or value is None else kind_error(kind, value)
        if message:
            errors[prefix + name] = [message]


def check_enum(errors: dict, name: str, value: Any, allowed: tuple,
               required: bool = False) -> None:
    """Record in ``errors`` a missing (when ``required``) or unknown enum value."""
    if value is None:
        if required:
            errors[name] = ["Required; one of %s." % ", ".join(allowed)]
    elif not isinstance(value, str) or value not in allowed:
        errors[name] = ["Unknown value %r; one of %s." % (value, ", ".join(allowed))]


def body_uuid(body: dict, name: str) -> Optional[str]:
    """The optional UUID member ``name`` of a request body (lowercased), else 400."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise validation_error({name: ["Must be a UUID."]})
    return value.lower()


def stored_images(req: Request, body: dict) -> dict:
    """{depiction: Image} of the process named by the body's dossierId + processId, or of the
    dossier's files without processId; 404 for an unknown dossier or process."""
    dossier = lookup(req.state.dossiers, body_uuid(body, "dossierId"), "Dossier")
    process_id = body_uuid(body, "processId")
    if process_id is None:
        return dossier.files
    return lookup(dossier.processes, process_id, "Process").images


def data_url(media_type: str, data: bytes) -> str:
    return "data:%s;base64,%s" % (media_type, base64.b64encode(data).decode("ascii"))


# --------------------------------------------------------------------------------------------
# Watermark and redact: the mock marks the bytes instead of drawing on the image
# --------------------------------------------------------------------------------------------

def validate_watermark(value: Any) -> None:
    if not isinstance(value, dict):
        raise validation_error({"watermark": [
            "Required; an object with title, description and date."]})
    errors: dict[str, list] = {}
    for name in ("title", "description", "date"):
        if not isinstance(value.get(name), str):
            errors["watermark." + name] = ["Required (string)."]
    if "watermark.date" not in errors and not is_date(value["date"]):
        errors["watermark.date"] = ["Must be a date YYYY-MM-DD."]
    if errors:
        raise validation_error(errors)


@API.route("POST", "/assure/watermark", "assure_watermark_image")
def watermark_image(req: Request) -> Response:
    body = body_object(req, required=True)
    validate_watermark(body.get("watermark"))
    if body.get("image") is not None:
        image = parse_data_url("image", body["image"])
        if len(image.data) > MAX_WATERMARK_BYTES:
            raise validation_error({"image": ["The image is larger than 4 MB."]})
    elif body.get("dossierId") is not None:
        depiction = body.get("imageDepiction")
        errors: dict[str, list] = {}
        check_enum(errors, "imageDepiction", depiction, WATERMARK_DEPICTIONS, required=True)
        if errors:
            raise validation_error(errors)
        image = lookup(stored_images(req, body), depiction, "Image")
    else:
        raise validation_error({"image": [
            "Give image (dataURL) or dossierId [+ processId] with imageDepiction."]})
    mark = ("WATERMARK:" + body["watermark"]["title"]).encode("utf-8")
    return Response.raw(image.data + mark, image.media_type)


def validate_redaction(body: dict) -> None:
    errors: dict[str, list] = {}
    check_enum(errors, "documentType", body.get("documentType"), REDACT_DOCUMENT_TYPES,
               required=True)
    check_enum(errors, "documentCountry", body.get("documentCountry"), REDACT_COUNTRIES,
               required=True)
    fields = body.get("fieldsToRedact")
    if not fields or kind_error(("enum[]", REDACT_FIELDS), fields):
        errors["fieldsToRedact"] = ["Required; a non-empty array of: %s."
                                    % ", ".join(REDACT_FIELDS)]
    check_enum(errors, "redactionLevel", body.get("redactionLevel"), REDACTION_LEVELS)
    if errors:
        raise validation_error(errors)


@API.route("POST", "/assure/redact", "assure_redact_images")
def redact_images(req: Request) -> Response:
    body = body_object(req, required=True)
    validate_redaction(body)
    images = {side: parse_data_url(name, body[name]) for side, name, _out in REDACT_SIDES
              if body.get(name) is not None}
    if not images:
        if body.get("dossierId") is None:
            raise validation_error({"frontImage": [
                "Give frontImage and/or backImage (dataURL) or dossierId [+ processId]."]})
        stored = stored_images(req, body)
        images = {side: stored[side] for side, _name, _out in REDACT_SIDES if side in stored}
        if not images:
            raise ApiError(404, "No front or back image stored.")
    out: dict[str, Any] = {"success": True}
    for side, _name, answer in REDACT_SIDES:
        if side in images:
            out[answer] = data_url(images[side].media_type, images[side].data + b"REDACTED")
    return Response.json(out)


# --------------------------------------------------------------------------------------------
# Document types
# --------------------------------------------------------------------------------------------

@API.route("GET", "/assure/{providerName}/document-types", "assure_list_document_types")
def list_document_types(req: Request) -> Response:
    provider = req.params["providerName"]
    if provider not in DOCUMENT_TYPE_INFO:
        raise validation_error({"providerName": ["Unknown provider %r; one of %s."
                                                 % (provider, ", ".join(DOCUMENT_TYPE_INFO))]})
    entries = DOCUMENT_TYPE_INFO[provider]
    return Response.json(entries) if entries else Response.empty(204)


# --------------------------------------------------------------------------------------------
# Matching and capture configurations (one set of routes per kind)
# --------------------------------------------------------------------------------------------

def validate_matching_configuration(body: dict) -> dict:
    errors: dict[str, list] = {}
    fields = body.get("fields")
    if fields is not None and not isinstance(fields, list):
        errors["fields"] = ["Must be an array."]
    for i, item in enumerate(fields if isinstance(fields, list) else []):
        where = "fields[%d]" % i
        if not isinstance(item, dict):
            errors[where] = ["Must be an object."]
            continue
        check_kinds(errors, item, {"id": "string", "sourceField": "string",
                                   "targetField": "string"}, where + ".")
        if not any(isinstance(item.get(n), str) and item[n]
                   for n in ("id", "sourceField", "targetField")):
            errors.setdefault(where + ".id", ["Give id, sourceField or targetField."])
        check_enum(errors, where + ".normalization", item.get("normalization"), NORMALIZATIONS)
        check_enum(errors, where + ".algorithm", item.get("algorithm"), ALGORITHMS)
    if errors:
        raise validation_error(errors)
    return body


def validate_capture_configuration(body: dict) -> dict:
    errors: dict[str, list] = {}
    check_kinds(errors, body, CAPTURE_FIELD_KINDS)
    title = body.get("pageTitle")
    if isinstance(title, str) and len(title) > MAX_PAGE_TITLE:
        errors["pageTitle"] = ["At most %d characters." % MAX_PAGE_TITLE]
    if errors:
        raise validation_error(errors)
    return body


def configuration_summary(c: Configuration) -> dict:
    """AssureCaptureConfigurationSummary; ``configurationId`` repeats ``id``."""
    return {"id": c.configuration_id, "configurationId": c.configuration_id,
            "createdAt": rfc3339(c.created_at), "updatedAt": rfc3339(c.updated_at)}


def matching_configuration_json(c: Configuration) -> dict:
    """AssureMatchingConfigurationResponse."""
    return dict({"configuration": c.body}, **configuration_summary(c))


def capture_configuration_json(c: Configuration) -> dict:
    """AssureCaptureConfigurationResponse: the configuration's fields, id and timestamps."""
    return dict(c.body, **configuration_summary(c))


def configuration_id(req: Request) -> str:
    value = req.params["configurationId"]
    if not 1 <= len(value) <= MAX_CONFIGURATION_ID:
        raise validation_error({"configurationId": [
            "Must have 1 to %d characters." % MAX_CONFIGURATION_ID]})
    return value


def load_configuration(req: Request, kind: str) -> Configuration:
    return lookup(req.state.configurations[kind], configuration_id(req),
                  "%s configuration" % kind.capitalize())


def configuration_routes(kind: str, validate: Any, render: Any, summarize: Any) -> None:
    """Create (201; 409 if it exists), get, update (200), delete (204) and list routes of one
    configuration kind under /assure/<kind>/configurations."""
    base = "/assure/%s/configurations" % kind
    item = base + "/{configurationId}"

    @API.route("POST", item, "assure_create_%s_configuration" % kind)
    def create_configuration(req: Request) -> Response:
        config_id = configuration_id(req)
        body = validate(body_object(req, required=True))
        store = req.state.configurations[kind]
        if config_id in store:
            raise ApiError(409, "%s configuration %r already exists; use PUT to update it."
                           % (kind.capitalize(), config_id))
        now = req.now()
        store[config_id] = Configuration(config_id, body, now, now)
        return Response.json(render(store[config_id]), 201)

    @API.route("GET", item, "assure_get_%s_configuration" % kind)
    def get_configuration(req: Request) -> Response:
        return Response.json(render(load_configuration(req, kind)))

    @API.route("PUT", item, "assure_update_%s_configuration" % kind)
    def update_configuration(req: Request) -> Response:
        body = validate(body_object(req, required=True))
        configuration = load_configuration(req, kind)
        configuration.body = body
        configuration.updated_at = req.now()
        return Response.json(render(configuration))

    @API.route("DELETE", item, "assure_delete_%s_configuration" % kind)
    def delete_configuration(req: Request) -> Response:
        configuration = load_configuration(req, kind)
        del req.state.configurations[kind][configuration.configuration_id]
        return Response.empty(204)

    @API.route("GET", base, "assure_list_%s_configurations" % kind)
    def list_configurations(req: Request) -> Response:
        return Response.json([summarize(c) for c in req.state.configurations[kind].values()])


configuration_routes("matching", validate_matching_configuration, matching_configuration_json,
                     matching_configuration_json)
configuration_routes("capture", validate_capture_configuration, capture_configuration_json,
                     configuration_summary)


# --------------------------------------------------------------------------------------------
# Perform matching
# --------------------------------------------------------------------------------------------

def validate_match_request(body: dict) -> None:
    errors: dict[str, list] = {}
    for side in ("source", "target"):
        component = body.get(side)
        if not isinstance(component, dict):
            errors[side] = ["Required; an object with dataNode (and processId)."]
            continue
        node = component.get("dataNode")
        check_enum(errors, side + ".dataNode", node, DATA_NODES, required=True)
        process_id = component.get("processId")
        if process_id is not None:
            if not isinstance(process_id, str) or not UUID_RE.match(process_id):
                errors[side + ".processId"] = ["Must be a UUID."]
        elif node in DATA_NODES and node != "userData":
            errors[side + ".processId"] = ["Required for dataNode %s." % node]
    check_kinds(errors, body, {"configurationId": "string"})
    if errors:
        raise validation_error(errors)


def node_data(dossier: Dossier, component: dict) -> tuple[dict, dict]:
    """(the values of a data node, the component as answered with its updatedAt)."""
    node = component["dataNode"]
    if node == "userData":
        if dossier.user_data is None:
            raise ApiError(404, "User data not found.")
        return dossier.user_data.fields, {"dataNode": node,
                                          "updatedAt": rfc3339(dossier.user_data.updated_at)}
    process = lookup(dossier.processes, component["processId"].lower(), "Process")
    if process.status not in RESULT_STATUSES:
        raise ApiError(409, "The process has no %s (status: %s)." % (node, process.status))
    return final_result(dossier, process), {
        "processId": process.process_id, "dataNode": node,
        "updatedAt": rfc3339(process.finished_at or process.updated_at)}


def normalize(text: str, how: str) -> str:
    """The AssureMatchingNormalization ``how`` of ``text``."""
    if how in ("clean", "cleanUpper", "initialsUpper"):
        text = "".join(ICAO_LETTERS.get(c, c) for c in text)
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
        text = " ".join(re.sub(r"[^A-Za-z0-9]+", " ", text).split())
    if how == "initialsUpper":
        return "".join(word[0] for word in text.split()[:2]).upper()
    if how in ("upper", "cleanUpper"):
        return text.upper()
    if how == "numeric":
        return re.sub(r"[^0-9]", "", text)
    return text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def field_match(field: dict, source: dict, target: dict) -> tuple[str, dict]:
    """(result key, AssureFieldMatchResult) of one configured field; sourceField defaults to
    id, targetField to sourceField."""
    key = field.get("id") or field.get("sourceField") or field.get("targetField")
    how = field.get("normalization") or "none"
    algorithm = field.get("algorithm") or "levenshtein"
    source_field = field.get("sourceField") or key
    values = (source.get(source_field), target.get(field.get("targetField") or source_field))
    out: dict[str, Any] = {}
    for name, value in zip(("sourceValue", "targetValue"), values):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[name] = str(value)
    out.update({"algorithm": algorithm, "normalization": how})
    missing = [name[:-5] for name in ("sourceValue", "targetValue") if name not in out]
    if missing:
        out.update({"error": "No text value in the %s data." % " and ".join(missing),
                    "exactMatch": False, "partialMatch": False})
        return key, out
    a, b = normalize(out["sourceValue"], how), normalize(out["targetValue"], how)
    distance = edit_distance(a, b)
    similarity = 1 - distance / max(len(a), len(b), 1)
    words_a, words_b = a.split(), b.split()
    word_hit = (algorithm == "fuzzy" and max(len(words_a), len(words_b)) > 1
                and bool(set(words_a) & set(words_b)))
    out.update({"sourceNormalized": a, "targetNormalized": b, "editDistance": distance,
                "exactMatch": a == b, "partialMatch": a == b or similarity > 0.9 or word_hit})
    return key, out


@API.route("POST", "/assure/dossiers/{dossierId}/match", "assure_perform_matching")
def perform_matching(req: Request) -> Response:
    dossier = load_dossier(req)
    body = body_object(req, required=True)
    validate_match_request(body)
    fields: Any = DEFAULT_MATCH_FIELDS
    if body.get("configurationId") is not None:
        configuration = lookup(req.state.configurations["matching"], body["configurationId"],
                               "Matching configuration")
        fields = configuration.body.get("fields") or ()
    source, source_json = node_data(dossier, body["source"])
    target, target_json = node_data(dossier, body["target"])
    results = dict(field_match(f, source, target) for f in fields)
    return Response.json({"dossierId": dossier.dossier_id, "createdAt": rfc3339(req.now()),
                          "source": source_json, "target": target_json,
                          "matchResult": results})


# --------------------------------------------------------------------------------------------
# Start capture flow
# --------------------------------------------------------------------------------------------

def validate_capture_request(body: dict) -> dict:
    """The single providers[] entry of a valid Start capture flow body, else 400."""
    errors: dict[str, list] = {}
    providers = body.get("providers")
    entry: dict = {}
    if (not isinstance(providers, list) or len(providers) != 1
            or not isinstance(providers[0], dict)):
        errors["providers"] = ["Required; an array of exactly one {provider, processType}."]
    else:
        entry = providers[0]
        check_enum(errors, "providers[0].provider", entry.get("provider"), CAPTURE_PROVIDERS,
                   required=True)
        check_enum(errors, "providers[0].processType", entry.get("processType"),
                   PROCESS_TYPES, required=entry.get("provider") == "readid")
    check_enum(errors, "sdk", body.get("sdk"), CAPTURE_SDKS, required=True)
    if not isinstance(body.get("redirectUrl"), str) or not body["redirectUrl"]:
        errors["redirectUrl"] = ["Required (string)."]
    check_kinds(errors, body, CAPTURE_REQUEST_KINDS)
    parameters = body.get("captureParameters")
    if isinstance(parameters, dict):
        check_kinds(errors, parameters, CAPTURE_PARAMETER_KINDS, "captureParameters.")
        sender, message = parameters.get("smsSender"), parameters.get("smsMessage")
        if isinstance(sender, str) and not SMS_SENDER_RE.match(sender):
            errors["captureParameters.smsSender"] = ["1-15 digits or 1-11 letters/digits."]
        if isinstance(message, str) and len(message) > 200:
            errors["captureParameters.smsMessage"] = ["At most 200 characters."]
    if errors:
        raise validation_error(errors)
    return entry


@API.route("POST", "/assure/dossiers/{dossierId}/capture", "assure_start_capture_flow")
def start_capture_flow(req: Request) -> Response:
    dossier = load_dossier(req)
    body = body_object(req, required=True)
    entry = validate_capture_request(body)
    profile = (body.get("captureParameters") or {}).get("uiProfile")
    if profile is not None and profile not in req.state.configurations["capture"]:
        raise ApiError(404, "Capture configuration %r (captureParameters.uiProfile) not found."
                       % profile)
    provider = entry["provider"]
    now = req.now()
    process = Process(new_id(), provider,
                      entry.get("processType") or DEFAULT_PROCESS_TYPE.get(provider), None,
                      "processing", now, now)
    dossier.processes[process.process_id] = process
    dossier.updated_at = now
    return Response.json({"url": CAPTURE_URL + secrets.token_hex(25)}, 201)


# --------------------------------------------------------------------------------------------
# Control: bulk process creation for paging tests
# --------------------------------------------------------------------------------------------

@API.control_route("POST", "/__mock/seed-processes")
def seed_processes(req: Request) -> Response:
    """Body {"count": N, "status": "accepted", "provider": "onfido", "externalReference": str}:
    one new dossier holding N processes, createdAt 1 ms apart from now."""
    body = body_object(req)
    count = body.get("count", 1)
    status = body.get("status", "accepted")
    provider = body.get("provider", "onfido")
    reference = body.get("externalReference")
    errors = {}
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 200000:
        errors["count"] = ["Must be an integer in 1..200000."]
    if status not in STATUSES:
        errors["status"] = ["One of %s." % ", ".join(STATUSES)]
    if provider not in PROVIDERS:
        errors["provider"] = ["One of %s." % ", ".join(PROVIDERS)]
    if reference is not None and not isinstance(reference, str):
        errors["externalReference"] = ["Must be a string."]
    if errors:
        raise validation_error(errors)
    first = req.server.clock.take(count)
    dossier = Dossier(new_id(), reference, first, first)
    step = dt.timedelta(milliseconds=1)
    for i in range(count):
        moment = first + step * i
        process = Process(new_id(), provider, DEFAULT_PROCESS_TYPE.get(provider), None, status,
                          moment, moment)
        if status in FINAL_STATUSES:
            process.finished_at = moment
        if status == "failed":
            process.fail_reason = {"type": "providerError",
                                   "message": "The provider could not complete the "
                                              "verification (mock)."}
        dossier.processes[process.process_id] = process
    dossier.updated_at = first + step * (count - 1)
    req.state.dossiers[dossier.dossier_id] = dossier
    return Response.json({"dossierId": dossier.dossier_id, "count": count,
                          "processIds": list(dossier.processes)}, 201)
