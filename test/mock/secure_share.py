"""Secure Share API of the Signicat mock: shares, multipart file uploads and recipients.

This module owns the ``/secure-share`` routes (create share, upload and remove files, create,
get, update and remove recipients, send a reminder), their state (:class:`SecureShareState`,
cleared by ``POST /__mock/reset``) and the control routes
``GET /__mock/secure-share/last-upload`` (the multipart parts of the last upload) and
``GET /__mock/secure-share/shares/{shareId}`` (a share with its files and recipients).
Operation ids and paths are the catalog's (endpoints.md; all of them are inferred).

Uploads: the body is parsed as ``multipart/form-data`` (CRLF delimiters, RFC 7578). Every part
must be named ``files`` and carry a filename; each is one file, with the result status
``VirusFound`` when the filename starts with ``eicar`` (any case), ``Failed`` when the part is
empty, else ``Success``. Only ``Success`` files are stored in the share.

Recipients: ``authentication`` (non-empty) and ``email`` or ``mobile`` are required; the address
an authentication (``otp-email``, ``otp-sms``) or the notification (``sendEmail``, ``sendSms``)
uses is required too. ``fileRestrictions`` must name files of the share. Update is partial: a
field that is absent or null keeps its value. Reminders are counted in ``remindersSent``.

``expires`` (default: 30 days after creation) is echoed but never enforced, and may lie in the
past, so that tests with fixed dates keep passing.

Ids, UUID path parameters, JSON bodies and lookups (404) use the helpers for API modules of
signicat_mock.

The route handlers run one at a time under the server lock (see signicat_mock.Api).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value
from typing import Any, Optional

from signicat_mock import UUID_RE, Api, ApiError, Request, Response, body_object, lookup, \
    new_id, parse_rfc3339, rfc3339, uuid_param, validation_error

# --------------------------------------------------------------------------------------------
# Vocabulary (from signicat-openapi.json, schemas Share*)
# --------------------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"^[^@]+@[^@]+$")
SHARE_STRINGS = ("title", "description", "externalReference", "usageReference",
                 "requestDomain")
RECIPIENT_STRINGS = ("firstName", "lastName", "email", "mobile", "externalReference")
NOTIFICATION_DEFAULTS = {"sendEmail": False, "sendSms": False, "language": None}
NOTIFICATION_TEMPLATES = ("emailTemplate", "smsTemplate")
DEFAULT_LIFETIME = dt.timedelta(days=30)
RECIPIENT_URL = "https://mock.signicat/share/%s"
MULTIPART_TYPE = "multipart/form-data"
FILE_PART_NAME = "files"
VIRUS_PREFIX = "eicar"


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclass
class StoredFile:
    file_id: str
    name: str
    content_type: Optional[str]
    size: int
    sha256: str
    uploaded_at: dt.datetime


@dataclass
class Recipient:
    recipient_id: str
    data: dict                                      # RECIPIENT_STRINGS, authentication,
    reminders: int = 0                              # notification, fileRestrictions


@dataclass
class Share:
    share_id: str
    data: dict                                      # SHARE_STRINGS, tags, contactDetails
    expires: dt.datetime
    files: dict = field(default_factory=dict)       # fileId -> StoredFile, upload order
    recipients: dict = field(default_factory=dict)  # recipientId -> Recipient
    last_upload: list = field(default_factory=list)


@dataclass
class Part:
    """One part of a multipart/form-data body."""
    name: Optional[str]
    filename: Optional[str]
    content_type: Optional[str]
    data: bytes


class SecureShareState:
    """All Secure Share data of one mock server."""

    def __init__(self) -> None:
        self.shares: dict[str, Share] = {}
        self.last_upload: list = []                 # parts of the last parsed upload

    def reset(self) -> None:
        self.shares.clear()
        self.last_upload = []


API = Api("secure_share", state_factory=SecureShareState)


# --------------------------------------------------------------------------------------------
# Helpers: lookups, JSON renderings (ids, path parameters and bodies: signicat_mock)
# --------------------------------------------------------------------------------------------

def load_share(req: Request) -> Share:
    """The share named by the {shareId} path parameter, or 400/404."""
    return lookup(req.state.shares, uuid_param(req, "shareId"), "Share")


def load_recipient(req: Request) -> tuple[Share, Recipient]:
    """The share and recipient named by the path, or 400/404."""
    share = load_share(req)
    return share, lookup(share.recipients, uuid_param(req, "recipientId"), "Recipient")


def file_json(f: StoredFile) -> dict:
    return {"id": f.file_id, "name": f.name, "size": f.size, "contentType": f.content_type,
            "sha256": f.sha256, "uploadedAt": rfc3339(f.uploaded_at)}


def recipient_json(r: Recipient) -> dict:
    out: dict[str, Any] = {"id": r.recipient_id}
    for name in ("externalReference", "firstName", "lastName", "email", "mobile"):
        out[name] = r.data.get(name)
    out["fileAccessInfos"] = []
    out["fileRestrictions"] = list(r.data["fileRestrictions"])
    out["authentication"] = [dict(a) for a in r.data["authentication"]]
    out["loggedInTime"] = None
    out["url"] = RECIPIENT_URL % r.recipient_id
    notification = r.data.get("notification")
    out["notification"] = dict(notification) if notification is not None else None
    out["remindersSent"] = r.reminders
    return out


def share_json(s: Share) -> dict:
    out: dict[str, Any] = {"id": s.share_id}
    for name in SHARE_STRINGS:
        out[name] = s.data.get(name)
    out["tags"] = list(s.data["tags"])
    out["contactDetails"] = s.data["contactDetails"]
    out["recipients"] = [recipient_json(r) for r in s.recipients.values()]
    out["files"] = [file_json(f) for f in s.files.values()]
    out["expires"] = rfc3339(s.expires)
    return out


# --------------------------------------------------------------------------------------------
# Validation of recipients (create and partial update share one set of rules)
# --------------------------------------------------------------------------------------------

def check_authentication(value: Any, where: str, errors: dict) -> Optional[list]:
    if not isinstance(value, list) or not value:
        errors[where] = ["Must be a non-empty array of {identityProvider, idpId, nin}."]
        return None
    out = []
    for i, item in enumerate(value):
        here = "%s[%d]" % (where, i)
        if not isinstance(item, dict):
            errors[here] = ["Must be an object."]
            continue
        provider = item.get("identityProvider")
        if not isinstance(provider, str) or not provider.strip():
            errors[here + ".identityProvider"] = ["Required: a non-empty string."]
        for name in ("idpId", "nin"):
            if item.get(name) is not None and not isinstance(item[name], str):
                errors["%s.%s" % (here, name)] = ["Must be a string or null."]
        out.append({"identityProvider": provider, "idpId": item.get("idpId"),
                    "nin": item.get("nin")})
    return out


def check_notification(value: Any, where: str, errors: dict) -> dict:
    """The non-null notification members given (null keeps a member as it is)."""
    if not isinstance(value, dict):
        errors[where] = ["Must be an object or null."]
        return {}
    given = {}
    for name in ("sendEmail", "sendSms"):
        if value.get(name) is not None:
            if not isinstance(value[name], bool):
                errors["%s.%s" % (where, name)] = ["Must be a boolean."]
            given[name] = value[name]
    for name in ("language",) + NOTIFICATION_TEMPLATES:
        if value.get(name) is not None:
            if not isinstance(value[name], str):
                errors["%s.%s" % (where, name)] = ["Must be a string or null."]
            given[name] = value[name]
    return given


def check_file_restrictions(value: Any, share: Share, where: str, errors: dict) -> list:
    if not isinstance(value, list):
        errors[where] = ["Must be an array of file ids or null."]
        return []
    out: list[str] = []
    for i, item in enumerate(value):
        here = "%s[%d]" % (where, i)
        if not isinstance(item, str) or not UUID_RE.match(item):
            errors[here] = ["Must be a file id (UUID)."]
        elif item.lower() not in share.files:
            errors[here] = ["No file %s in this share." % item]
        elif item.lower() not in out:
            out.append(item.lower())
    return out


def merge_recipient(body: dict, current: dict, share: Share, prefix: str,
                    errors: dict) -> dict:
    """``current`` updated with the non-null recipient fields of ``body`` (validated)."""
    data = dict(current)
    for name in RECIPIENT_STRINGS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors[prefix + name] = ["Must be a string or null."]
        elif name == "email" and not EMAIL_RE.match(value):
            errors[prefix + name] = ["Must match ^[^@]+@[^@]+$."]
        elif name == "mobile" and not value.strip():
            errors[prefix + name] = ["Must not be empty."]
        data[name] = value
    if body.get("authentication") is not None:
        data["authentication"] = check_authentication(body["authentication"],
                                                      prefix + "authentication", errors)
    if body.get("notification") is not None:
        given = check_notification(body["notification"], prefix + "notification", errors)
        data["notification"] = dict(current.get("notification") or NOTIFICATION_DEFAULTS,
                                    **given)
    if body.get("fileRestrictions") is not None:
        data["fileRestrictions"] = check_file_restrictions(body["fileRestrictions"], share,
                                                           prefix + "fileRestrictions", errors)
    return data


def check_addresses(data: dict, prefix: str, errors: dict) -> None:
    """email or mobile; and the one an authentication or the notification uses."""
    providers = {a["identityProvider"] for a in data["authentication"] or []}
    notification = data.get("notification") or {}
    if not data.get("email") and not data.get("mobile"):
        errors[prefix + "email"] = ["Either email or mobile is required."]
    if not data.get("email") and ("otp-email" in providers or notification.get("sendEmail")):
        errors[prefix + "email"] = ["Required: used by otp-email or notification.sendEmail."]
    if not data.get("mobile") and ("otp-sms" in providers or notification.get("sendSms")):
        errors[prefix + "mobile"] = ["Required: used by otp-sms or notification.sendSms."]


def new_recipient(body: Any, share: Share, prefix: str, errors: dict) -> Optional[Recipient]:
    """A recipient from a ShareCreateRecipientRequest; None (and ``errors``) when invalid."""
    if not isinstance(body, dict):
        errors[prefix.rstrip(".") or "$"] = ["Must be an object."]
        return None
    before = len(errors)
    if body.get("authentication") is None:
        errors[prefix + "authentication"] = ["Required: a non-empty array."]
    empty = {"authentication": None, "notification": None, "fileRestrictions": []}
    data = merge_recipient(body, empty, share, prefix, errors)
    check_addresses(data, prefix, errors)
    return Recipient(new_id(), data) if len(errors) == before else None


# --------------------------------------------------------------------------------------------
# Shares
# --------------------------------------------------------------------------------------------

def check_share_request(body: dict, now: dt.datetime, errors: dict) -> tuple[dict, dt.datetime]:
    data: dict[str, Any] = {}
    for name in SHARE_STRINGS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = ["Must be a string or null."]
        data[name] = value
    contact = body.get("contactDetails")
    if not isinstance(contact, dict):
        errors["contactDetails"] = ["Required: an object."]
    data["contactDetails"] = contact
    tags = body.get("tags")
    if tags is not None and not (isinstance(tags, list)
                                 and all(isinstance(t, str) for t in tags)):
        errors["tags"] = ["Must be an array of strings or null."]
    data["tags"] = tags if isinstance(tags, list) else []
    expires = now + DEFAULT_LIFETIME
    if body.get("expires") is not None:
        moment = parse_rfc3339(body["expires"])
        if moment is None:
            errors["expires"] = ["Must be an RFC 3339 date-time with Z or an offset."]
        else:
            expires = moment
    recipients = body.get("recipients")
    if recipients is not None and not isinstance(recipients, list):
        errors["recipients"] = ["Must be an array or null."]
    return data, expires


@API.route("POST", "/secure-share/shares", "share_create_share")
def create_share(req: Request) -> Response:
    body = body_object(req, required=True)
    errors: dict[str, list] = {}
    data, expires = check_share_request(body, req.now(), errors)
    share = Share(new_id(), data, expires)
    recipients = body.get("recipients")
    for i, item in enumerate(recipients if isinstance(recipients, list) else []):
        recipient = new_recipient(item, share, "recipients[%d]." % i, errors)
        if recipient is not None:
            share.recipients[recipient.recipient_id] = recipient
    if errors:
        raise validation_error(errors)
    req.state.shares[share.share_id] = share
    return Response.json(share_json(share))


# --------------------------------------------------------------------------------------------
# Files: multipart upload and removal
# --------------------------------------------------------------------------------------------

def parse_part(raw: bytes, index: int) -> Part:
    """Headers (decoded as UTF-8, as browsers and libcurl send file names) and data."""
    if raw.startswith(b"\r\n"):
        head, data = b"", raw[2:]
    else:
        head, sep, data = raw.partition(b"\r\n\r\n")
        if not sep:
            raise validation_error({"parts[%d]" % index: [
                "Part %d has no blank line between its headers and its content." % (index + 1)]})
    headers = HeaderParser().parsestr(head.decode("utf-8", "replace") + "\r\n\r\n")
    if headers.get_content_disposition() != "form-data":
        raise validation_error({"parts[%d]" % index: [
            "Part %d needs Content-Disposition: form-data." % (index + 1)]})
    name = headers.get_param("name", header="content-disposition")
    content_type = headers.get("Content-Type")
    return Part(collapse_rfc2231_value(name) if name is not None else None,
                headers.get_filename(), content_type.strip() if content_type else None, data)


def parse_multipart(req: Request) -> list[Part]:
    """The parts of a multipart/form-data body: 415 for another media type, 400 when broken."""
    if req.content_type != MULTIPART_TYPE:
        raise ApiError(415, "The request body must be multipart/form-data (got %r)."
                       % (req.content_type or "no Content-Type"))
    boundary = req.headers.get_param("boundary")
    if not boundary or isinstance(boundary, tuple):
        raise validation_error({"Content-Type": ["The multipart boundary parameter is missing."]})
    body, delimiter = req.body, b"--" + boundary.encode("latin-1", "replace")
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:                                           # skip a preamble
        pos = body.find(b"\r\n" + delimiter)
        if pos < 0:
            raise validation_error({"$": ["No multipart delimiter --%s in the body." % boundary]},
                                   detail="The body holds no multipart parts.")
        pos += 2 + len(delimiter)
    parts: list[Part] = []
    while not body.startswith(b"--", pos):          # close delimiter: --boundary--
        eol = body.find(b"\r\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t"):
            raise validation_error({"$": ["Malformed multipart delimiter line."]})
        end = body.find(b"\r\n" + delimiter, eol + 2)
        if end < 0:
            raise validation_error({"$": ["The multipart body is not closed (--%s--)."
                                          % boundary]})
        parts.append(parse_part(body[eol + 2:end], len(parts)))
        pos = end + 2 + len(delimiter)
    return parts


def part_summary(part: Part) -> dict:
    return {"name": part.name, "filename": part.filename, "content_type": part.content_type,
            "size": len(part.data), "sha256": hashlib.sha256(part.data).hexdigest()}


def check_parts(parts: list[Part]) -> None:
    if not parts:
        raise validation_error({FILE_PART_NAME: ["The upload holds no parts; send one part "
                                                 "named 'files' per file."]})
    errors = {}
    for i, part in enumerate(parts):
        label = "Part %d (%s)" % (i + 1, "name %r" % part.name if part.name else "no name")
        if part.name != FILE_PART_NAME:
            errors["parts[%d]" % i] = ["%s: each file goes in a part named 'files'." % label]
        elif not part.filename:
            errors["files[%d]" % i] = ["%s has no filename." % label]
    if errors:
        raise validation_error(errors)


def upload_status(part: Part) -> tuple[str, Optional[str]]:
    if part.filename.lower().startswith(VIRUS_PREFIX):
        return "VirusFound", "Virus found"
    if not part.data:
        return "Failed", "Empty file"
    return "Success", None


@API.route("POST", "/secure-share/shares/{shareId}/files", "share_upload_files",
           body_types=(MULTIPART_TYPE,))
def upload_files(req: Request) -> Response:
    share = load_share(req)
    parts = parse_multipart(req)
    req.state.last_upload = share.last_upload = [part_summary(p) for p in parts]
    check_parts(parts)
    results = []
    for part, summary in zip(parts, share.last_upload):
        status, message = upload_status(part)
        file_id = new_id()
        if status == "Success":
            share.files[file_id] = StoredFile(file_id, part.filename, part.content_type,
                                              summary["size"], summary["sha256"], req.now())
        results.append({"id": file_id, "name": part.filename, "status": status,
                        "size": summary["size"], "message": message})
    return Response.json(results)


@API.route("DELETE", "/secure-share/shares/{shareId}/files/{fileId}", "share_remove_file")
def remove_file(req: Request) -> Response:
    share = load_share(req)
    if share.files.pop(uuid_param(req, "fileId"), None) is None:
        raise ApiError(404, "File not found.")
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# Recipients
# --------------------------------------------------------------------------------------------

@API.route("POST", "/secure-share/shares/{shareId}/recipients", "share_create_recipient")
def create_recipient(req: Request) -> Response:
    share = load_share(req)
    errors: dict[str, list] = {}
    recipient = new_recipient(body_object(req, required=True), share, "", errors)
    if recipient is None:
        raise validation_error(errors)
    share.recipients[recipient.recipient_id] = recipient
    return Response.json(recipient_json(recipient))


@API.route("GET", "/secure-share/shares/{shareId}/recipients/{recipientId}",
           "share_get_recipient")
def get_recipient(req: Request) -> Response:
    _share, recipient = load_recipient(req)
    return Response.json(recipient_json(recipient))


@API.route("PATCH", "/secure-share/shares/{shareId}/recipients/{recipientId}",
           "share_update_recipient")
def update_recipient(req: Request) -> Response:
    share, recipient = load_recipient(req)
    errors: dict[str, list] = {}
    data = merge_recipient(body_object(req, required=True), recipient.data, share, "", errors)
    check_addresses(data, "", errors)
    if errors:
        raise validation_error(errors)
    recipient.data = data
    return Response.json(recipient_json(recipient))


@API.route("DELETE", "/secure-share/shares/{shareId}/recipients/{recipientId}",
           "share_remove_recipient")
def remove_recipient(req: Request) -> Response:
    share, recipient = load_recipient(req)
    del share.recipients[recipient.recipient_id]
    return Response.empty(204)


@API.route("POST", "/secure-share/shares/{shareId}/recipients/{recipientId}/reminder",
           "share_send_reminder")
def send_reminder(req: Request) -> Response:
    _share, recipient = load_recipient(req)
    recipient.reminders += 1
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# Control: what the last upload carried, and a whole share
# --------------------------------------------------------------------------------------------

@API.control_route("GET", "/__mock/secure-share/last-upload")
def control_last_upload(req: Request) -> Response:
    """[{name, filename, content_type, size, sha256}] of the last parsed upload, or of the last
    upload to the share given as ``?shareId=``; [] before any."""
    share_id = req.query_one("shareId")
    if share_id is None:
        return Response.json(req.state.last_upload)
    return Response.json(lookup(req.state.shares, share_id.lower(), "Share").last_upload)


@API.control_route("GET", "/__mock/secure-share/shares/{shareId}")
def control_get_share(req: Request) -> Response:
    """The share as create share answers it, with its stored files and recipients."""
    return Response.json(share_json(lookup(req.state.shares, req.params["shareId"].lower(),
                                           "Share")))
