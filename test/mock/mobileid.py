"""MobileID Admin API of the Signicat mock: account, APNs tokens, application configuration,
signing certificates, E2E keys, risk indicators and statistics.

This module owns the 28 ``/mobileid/admin`` routes and their state (:class:`MobileIdState`,
cleared by ``POST /__mock/reset``). Operation ids and paths are the catalog's (endpoints.md;
all of them are inferred).

Account selection: every route needs an account id, from the ``Signicat-AccountId`` header or
the query parameter ``signicat-accountid`` (name in any case). Both given: 400. Neither: 400
with the seed's problem (``code: account_id_missing``). State is kept per account id:
``POST /mobileid/admin/accounts`` adds the account, with one application configuration, one E2E
key and two signing certificates (one ACTIVE, one DEACTIVATED); before that every account
route answers 404. APNs tokens belong to the organisation: one list for every account, usable
before an account is added. Routes are declared with :func:`account_route`, which resolves the
account and hands it to the handler.

Statistics are fixed sample data shaped like the seed's samples, with the seed's quirks kept:
zone-less timestamps and integer device states in the device-hash statistics, state names in
"devices by device hash" (2 = ACTIVE, 3 = DELETED).

Ids, JSON bodies, dates and lookups (404) use the helpers for API modules of signicat_mock;
the ``code`` member of the missing-account problem is ``ApiError(..., code=...)``.

The route handlers run one at a time under the server lock (see signicat_mock.Api).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from signicat_mock import Api, ApiError, Request, Response, body_object, is_date, lookup, \
    new_id, rfc3339, validation_error

# --------------------------------------------------------------------------------------------
# Vocabulary and sample data (from the seed and signicat-openapi.json, schemas MobileId*)
# --------------------------------------------------------------------------------------------

ACCOUNT_PARAM = "signicat-accountid"
ACCOUNT_HEADER = "Signicat-AccountId"
ACCOUNT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ACCOUNT_MISSING_TITLE = "An Account ID must be specified for this request"
ACCOUNT_MISSING_DETAIL = (
    "An Account ID must be specified for this request. An AccountID can be specified in three "
    "ways. 1) For machine clients configured on an Account, the provided access token will "
    "specify the account ID. 2) Account ID can be provided as a query parameter "
    "`signicat-accountId=<accountId>`. 3) Account ID can be provided as a HTTP Header "
    "`Signicat-AccountId: <accountId>`. A request will be rejected if more than one account ID "
    "is specified.")

STATES = ("ENABLED", "DISABLED")
CERTIFICATE_STATES = ("ACTIVE", "DEACTIVATED")
ORGANISATION_ID = "o-d-MockOrganisation0001"
ADMIN_ID = "52e107e6-1ce9-4a4b-a051-612ad888de11"   # createdBy of E2E keys (seed)
MAX_LIST_ITEMS = 20
ID_ALPHABET = string.ascii_lowercase + string.digits

DEFAULT_PROPERTIES = {
    "amountFailuresAllowed": "3",
    "activationCodeType": "NUMERIC",
    "activationCodeLength": "6",
    "allowedAuthMethods": ["DEVICE", "DEVICE:PIN", "DEVICE:STRONG_TOUCH_ID",
                           "DEVICE:IOS_FACE_ID", "DEVICE:ANDROID_BIOMETRIC_PROMPT",
                           "DEVICE:SERVER_SIDE_FACE"],
    "maxPinCodeLength": "6",
    "pinCodeLength": "6",
    "pinCodeType": "NUMERIC",
    "maximumSessionExpiry": "187200000",
    "sessionExpiry": "300000",
    "apnExpiry": "1",
    "enabledRiskData": ["deviceHash", "deviceModel", "deviceManufacturer",
                        "operatingSystemFingerprint", "operatingSystemVersion",
                        "operatingSystemType"],
    "hwKeyValidationStrategy": "SUPPORTED",
    "nativePushEnabled": "false",
    "firebaseTimeToLive": "0",
    "firebaseServiceAccount": "<Base64 encoded string>",
    "allowedAuthMethodsForAuthAndActivate": ["DEVICE:PIN"],
    "recoveryEnabled": "false",
    "recoveryCodeMinLength": "6",
    "recoveryCodeMaxLength": "50",
    "recoveryCodeFormat": "NUMERIC",
    "recoveryCodeAmountFailuresAllowed": "3",
    "apnsNotificationSoundEnabled": "true",
    "geofencingActivationMode": "OFF",
    "geofencingAuthenticationMode": "OFF",
    "geofencingTimeout": "10000",
    "attestationIosAppAttestMode": "OFF",
    "attestationIosAppAttestEnvironment": "PRODUCTION",
    "attestationIosAppAttestTimeout": "20000",
    "attestationAndroidPlayIntegrityMode": "OFF",
    "attestationAndroidPlayIntegrityTimeout": "200000",
    "apnsTimeSensitiveInterruptionLevelEnabled": "true",
    "clientDebugDataEnabledOsTypes": "IOS,ANDROID",
    "lockScope": "DEVICE",
}
# Every property of MobileIdApplicationConfigProperties; the others are unknown (400).
PROPERTY_NAMES = frozenset(DEFAULT_PROPERTIES) | {
    "apnConfig", "minimumRequiredEncapApiVersionAndroid", "minimumRequiredEncapApiVersionIos",
    "encapApiBlacklistAndroid", "encapApiBlacklistIos", "attestationAndroidPackageName",
    "apnsBundleId", "geofencingActivationAllowedContinents",
    "geofencingActivationAllowedCountries", "geofencingActivationDeniedCountries",
    "geofencingAuthenticationAllowedContinents", "geofencingAuthenticationAllowedCountries",
    "geofencingAuthenticationDeniedCountries", "attestationIosAppAttestAppId",
    "attestationAndroidPlayIntegrityDecryptionKey",
    "attestationAndroidPlayIntegrityVerificationKey"}
ARRAY_PROPERTIES = ("allowedAuthMethods", "enabledRiskData",
                    "allowedAuthMethodsForAuthAndActivate")
FIXED_PROPERTIES = ("maximumSessionExpiry", "clientDebugDataEnabledOsTypes")
CODE_FORMATS = ("ANY", "NUMERIC", "ALPHA", "ALPHANUMERIC")
STRING_BOOLEANS = ("true", "false")
PROPERTY_ENUMS = {
    "activationCodeType": CODE_FORMATS,
    "recoveryCodeFormat": CODE_FORMATS,
    "attestationIosAppAttestEnvironment": ("PRODUCTION", "DEVELOPMENT"),
    "recoveryEnabled": STRING_BOOLEANS,
    "nativePushEnabled": STRING_BOOLEANS,
    "apnsNotificationSoundEnabled": STRING_BOOLEANS,
    "apnsTimeSensitiveInterruptionLevelEnabled": STRING_BOOLEANS,
}
RISK_DEVICE_HASH_USERS = "allowedNrOfUsersWithSameDeviceHash"

# Statistics samples (seed values; "not live data").
AGGREGATED_AT = "2026-04-10T10:32:42Z"
USER_DEVICE_TOTALS = {"users": {"total": 1234, "withActivatedState": 1111, "withLockedState": 123},
                      "devices": {"total": 2234, "withActivatedState": 1111,
                                  "withLockedState": 1123}}
DEVICE_HASH_TOTALS = {"total": 26, "uniqueDeviceHashes": 19, "activeUsers": 23}
PLATFORM_SDK_VERSIONS = {"Android": {"3.21": 20}, "iOS": {"3.21": 5, "3.20": 4}}
DEVICE_STATE_NAMES = {2: "ACTIVE", 3: "DELETED"}
# deviceHash -> [(userId, [(deviceId, state, lastUsed, created)])]; the second hash carries
# '+' and '/' so that tests see whether a client escapes it in a query string.
DEVICE_HASHES = {
    "wBHQ4HC3yLEUvEwnX5EBTBAbKkCia35WwO1dxqiFvYo=": [
        ("b13069a0-408f-4981-bcdb-a42a8d1060ee", [
            ("3eb60ed3-970c-4cdb-8607-b4a5c8745d39", 3, "2026-03-31T08:08:48.607000",
             "2026-03-31T08:08:48.591000"),
            ("294ffdd7-4306-49dc-aa5e-72c4bed89d18", 2, "2026-03-31T08:21:40.584000",
             "2026-03-31T08:21:40.572000")]),
        ("8ebc86af-c341-404b-8cf0-7077449d6cf4", [
            ("46af605e-a4c0-47da-9554-b6c0dc3fcd3a", 3, "2026-03-20T10:13:47.107000",
             "2026-03-20T10:13:47.094000"),
            ("1cf7985e-8dfd-4943-8f7c-878235296c20", 3, "2026-03-20T10:11:35.249000",
             "2026-03-20T10:11:35.230000")])],
    "k3+Jd9/VwYt1mQ0c2ZfR8sLxB7nEoHaP4uGiTjKlMnA=": [
        ("0b7e3f52-5d1c-4a8e-9f0b-2c6d7e8f9a01", [
            ("7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", 2, "2026-04-02T09:15:01.250000",
             "2026-01-15T12:00:00.000000")]),
        ("1c8f4a63-6e2d-4b9f-8a1c-3d7e8f9a0b12", [
            ("8d2e3f4a-5b6c-4d7e-9f8a-0b1c2d3e4f5a", 2, "2026-04-03T14:30:12.500000",
             "2026-02-01T08:30:00.000000")]),
        ("2d9a5b74-7f3e-4cab-9b2d-4e8f9a0b1c23", [
            ("9e3f4a5b-6c7d-4e8f-8a9b-1c2d3e4f5a6b", 3, "2026-03-01T07:45:33.750000",
             "2026-02-20T16:10:00.000000")])],
}
DEVICE_HASH_RE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
DIGITS_RE = re.compile(r"^\d{1,18}$")


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclass
class Account:
    account_id: str
    created: dt.datetime
    modified: dt.datetime
    onboarding_type: Optional[str]
    config_uuid: str
    encap_api_key: str
    state: str = "ENABLED"
    config_state: str = "ENABLED"
    apns_uuid: Optional[str] = None
    properties: dict = field(default_factory=lambda: {
        k: list(v) if isinstance(v, list) else v for k, v in DEFAULT_PROPERTIES.items()})
    e2e_keys: dict = field(default_factory=dict)    # id -> key JSON, creation order
    risk: dict = field(default_factory=lambda: {RISK_DEVICE_HASH_USERS: "1"})

    @property
    def name(self) -> str:
        return "Mock account %s" % self.account_id


class MobileIdState:
    """All MobileID data of one mock server: accounts by id, the organisation's APNs tokens."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.apns_tokens: dict[str, dict] = {}      # id -> token JSON, creation order

    def reset(self) -> None:
        self.accounts.clear()
        self.apns_tokens.clear()


API = Api("mobileid", state_factory=MobileIdState)


def select_account(req: Request) -> str:
    """The account id of the request: header or query parameter, exactly one of them."""
    given = [v for v in req.headers.get_all(ACCOUNT_HEADER) or [] if v.strip()]
    given += [v for name, values in req.query.items() if name.lower() == ACCOUNT_PARAM
              for v in values if v.strip()]
    if not given:
        raise ApiError(400, ACCOUNT_MISSING_DETAIL, title=ACCOUNT_MISSING_TITLE,
                       code="account_id_missing")
    if len(given) > 1:
        raise ApiError(400, "More than one account ID was specified (header %s and/or query "
                            "parameter %s); send exactly one." % (ACCOUNT_HEADER, ACCOUNT_PARAM))
    account_id = given[0].strip()
    if not ACCOUNT_ID_RE.match(account_id):
        raise validation_error({ACCOUNT_PARAM: ["'%s' is not a valid account ID." % account_id]})
    return account_id


def account_route(method: str, template: str, operation_id: str,
                  onboarded: bool = True) -> Callable:
    """Declare a MobileID route. The handler gets ``(req, account)``: the added
    :class:`Account` (404 until it is added), or only the account id when ``onboarded`` is
    False (add account, APNs tokens)."""
    def decorator(handler: Callable[[Request, Any], Response]) -> Callable:
        @functools.wraps(handler)
        def run(req: Request) -> Response:
            account_id = select_account(req)
            if not onboarded:
                return handler(req, account_id)
            account = req.state.accounts.get(account_id)
            if account is None:
                raise ApiError(404, "Account %s is not onboarded to MobileID; add it first "
                                    "(POST /mobileid/admin/accounts)." % account_id)
            return handler(req, account)
        API.route(method, template, operation_id)(run)
        return handler
    return decorator


# --------------------------------------------------------------------------------------------
# Helpers: bodies, query parameters, renderings (ids, JSON bodies, lookups: signicat_mock)
# --------------------------------------------------------------------------------------------

def required_strings(body: dict, names: tuple) -> dict:
    """400 unless every name is a non-empty string; answers them."""
    errors = {n: ["Required: a non-empty string."] for n in names
              if not isinstance(body.get(n), str) or not body[n].strip()}
    if errors:
        raise validation_error(errors)
    return {n: body[n] for n in names}


def optional_string(body: dict, name: str) -> Optional[str]:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise validation_error({name: ["Must be a string."]})
    return value


def enum_value(value: Any, name: str, allowed: tuple, required: bool = True) -> Optional[str]:
    if value is None and not required:
        return None
    if value not in allowed:
        raise validation_error({name: ["Must be one of %s." % ", ".join(allowed)]})
    return value


def bool_query(req: Request, name: str, default: bool) -> bool:
    text = req.query_one(name)
    if text is None:
        return default
    if text.lower() not in STRING_BOOLEANS:
        raise validation_error({name: ["Must be true or false."]})
    return text.lower() == "true"


def int_query(req: Request, name: str, low: int, high: int,
              default: Optional[int] = None) -> int:
    text = req.query_one(name)
    if text is None and default is not None:
        return default
    if text is None or not DIGITS_RE.match(text) or not low <= int(text) <= high:
        raise validation_error({name: ["%s an integer in %d..%d." % (
            "Must be" if default is not None else "Required:", low, high)]})
    return int(text)


def date_query(req: Request, name: str) -> dt.date:
    text = req.query_one(name)
    if not is_date(text):
        raise validation_error({name: ["Required: a date YYYY-MM-DD."]})
    return dt.date.fromisoformat(text)


def device_hash(value: Any, name: str = "deviceHash") -> str:
    if not isinstance(value, str) or not DEVICE_HASH_RE.match(value):
        raise validation_error({name: ["Required: a (URL-safe) Base64 device hash."]})
    return value


def fingerprint(data: bytes, algorithm: str = "sha256") -> str:
    return ":".join("%02x" % b for b in hashlib.new(algorithm, data).digest())


def mock_key_id() -> str:
    """An id shaped like the seed's E2E key ids (8-4-4-4-12, letters and digits)."""
    return "-".join("".join(secrets.choice(ID_ALPHABET) for _ in range(n))
                    for n in (8, 4, 4, 4, 12))


def account_json(a: Account, statistics: bool, with_modified: bool = True) -> dict:
    out: dict[str, Any] = {"created": rfc3339(a.created)}
    if with_modified:
        out["modified"] = rfc3339(a.modified)
    out.update({"organisationId": ORGANISATION_ID, "id": a.account_id, "name": a.name,
                "type": "SANDBOX", "state": a.state,
                "sandboxProperties": {"sandboxDeviceLimit": "100", "numberOfDevices": "0"}})
    if statistics:
        out["statistics"] = {"numberOfActiveDevices": "0", "numberOfActiveUsers": "0"}
    out["configurations"] = [{
        "description": "Created by admin.", "default": True, "accountId": a.account_id,
        "id": a.config_uuid,
        "properties": {"applicationId": a.account_id,
                       "inactiveDeviceDeleteRetentionTime": "365"},
        "additionalFeatures": {"passportScanEnabled": False}}]
    out["onboardedForMobileId"] = True
    out["onboardedForPasskeys"] = False
    return out


def properties_json(a: Account) -> dict:
    return {k: list(v) if isinstance(v, list) else v for k, v in a.properties.items()}


def signing_certificates(account_id: str) -> list:
    """Two fixed certificates per account: the ACTIVE one and a DEACTIVATED predecessor."""
    out = []
    for state, activated, deactivated in (
            ("ACTIVE", "2024-11-09T21:59:00.000Z", None),
            ("DEACTIVATED", "2023-11-09T21:59:00.000Z", "2024-11-09T21:59:00.000Z")):
        der = hashlib.sha512(("mock-signing-certificate/%s/%s" % (account_id, state))
                             .encode()).digest() * 4
        pem = base64.encodebytes(der).decode("ascii").replace("\n", "")
        cert = {"certificate": "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----"
                               % "\n".join(pem[i:i + 64] for i in range(0, len(pem), 64)),
                "sha256Fingerprint": fingerprint(der), "state": state,
                "activatedAt": activated}
        if deactivated:
            cert["deactivatedAt"] = deactivated
        out.append(cert)
    return out


def new_e2e_key(req: Request, name: str, description: Optional[str],
                algorithm: Optional[str] = None) -> dict:
    public_key = b"\x04" + secrets.token_bytes(64)   # an uncompressed EC point's shape
    key: dict[str, Any] = {"id": mock_key_id(), "name": name}
    if description is not None:
        key["description"] = description
    if algorithm is not None:
        key["algorithm"] = algorithm
    key.update({"createdBy": ADMIN_ID, "created": rfc3339(req.now()),
                "sha256Fingerprint": fingerprint(public_key),
                "publicKey": base64.b64encode(public_key).decode("ascii"), "state": "ENABLED"})
    return key


def load_e2e_key(req: Request, account: Account) -> dict:
    return lookup(account.e2e_keys, req.params["e2eKeyId"], "E2E key")


def load_apns_token(req: Request) -> dict:
    return lookup(req.state.apns_tokens, req.params["apnsTokenId"], "APNs token")


# --------------------------------------------------------------------------------------------
# Account
# --------------------------------------------------------------------------------------------

@account_route("GET", "/mobileid/admin/accounts", "mobileid_get_account")
def get_account(req: Request, account: Account) -> Response:
    return Response.json(account_json(account, bool_query(req, "statistics", True)))


@account_route("POST", "/mobileid/admin/accounts", "mobileid_add_account", onboarded=False)
def add_account(req: Request, account_id: str) -> Response:
    if account_id in req.state.accounts:
        raise ApiError(409, "Account %s is already onboarded to MobileID." % account_id)
    now = req.now()
    key = base64.b64encode(("%s:%s" % (account_id, new_id())).encode()).decode("ascii")
    account = Account(account_id, now, now, req.query_one("onboardingType"), new_id(), key)
    default_key = new_e2e_key(req, "Default E2E key - %s" % account.name,
                              "Default key/cert generated at first db init")
    account.e2e_keys[default_key["id"]] = default_key
    req.state.accounts[account_id] = account
    return Response.json(account_json(account, True, with_modified=False), 201)


@account_route("PATCH", "/mobileid/admin/accounts", "mobileid_update_account")
def update_account(req: Request, account: Account) -> Response:
    state = enum_value(body_object(req).get("state"), "state", STATES, required=False)
    if state is not None:
        account.state = state
        account.modified = req.now()
    return Response.json({"id": account.account_id, "state": account.state,
                          "organisationId": ORGANISATION_ID,
                          "encapApiKey": account.encap_api_key, "sandboxDeviceLimit": "100"})


# --------------------------------------------------------------------------------------------
# APNs tokens (the organisation's: one list for every account)
# --------------------------------------------------------------------------------------------

@account_route("GET", "/mobileid/admin/apns-tokens", "mobileid_list_apns_tokens",
               onboarded=False)
def list_apns_tokens(req: Request, _account_id: str) -> Response:
    tokens = list(req.state.apns_tokens.values())[:MAX_LIST_ITEMS]
    return Response.json({"apnsTokens": tokens})


@account_route("POST", "/mobileid/admin/apns-tokens", "mobileid_add_apns_token",
               onboarded=False)
def add_apns_token(req: Request, _account_id: str) -> Response:
    body = body_object(req, required=True)
    fields = required_strings(body, ("name", "privateKey", "keyId", "teamId"))
    description = optional_string(body, "description")
    try:
        private_key = base64.b64decode("".join(fields["privateKey"].split()), validate=True)
    except (binascii.Error, ValueError):
        private_key = b""
    if not private_key:
        raise validation_error({"privateKey": ["Must be the Base64 encoded private key."]})
    token: dict[str, Any] = {"id": new_id()}
    if description is not None:
        token["description"] = description
    token.update({"name": fields["name"], "created": rfc3339(req.now()),
                  "sha1Fingerprint": fingerprint(private_key, "sha1"),
                  "sha256Fingerprint": fingerprint(private_key),
                  "keyId": fields["keyId"], "teamId": fields["teamId"]})
    req.state.apns_tokens[token["id"]] = token
    return Response.json(token, 201)


@account_route("GET", "/mobileid/admin/apns-tokens/{apnsTokenId}", "mobileid_get_apns_token",
               onboarded=False)
def get_apns_token(req: Request, _account_id: str) -> Response:
    return Response.json(load_apns_token(req))


@account_route("DELETE", "/mobileid/admin/apns-tokens/{apnsTokenId}",
               "mobileid_delete_apns_token", onboarded=False)
def delete_apns_token(req: Request, _account_id: str) -> Response:
    del req.state.apns_tokens[load_apns_token(req)["id"]]
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# Application configuration (one per account)
# --------------------------------------------------------------------------------------------

@account_route("GET", "/mobileid/admin/application-config", "mobileid_get_application_config")
def get_application_config(req: Request, account: Account) -> Response:
    return Response.json({"uuid": account.config_uuid, "appId": account.account_id,
                          "state": account.config_state, "properties": properties_json(account)})


@account_route("GET", "/mobileid/admin/application-config/state",
               "mobileid_get_application_config_state")
def get_application_config_state(req: Request, account: Account) -> Response:
    return Response.json({"state": account.config_state})


@account_route("PUT", "/mobileid/admin/application-config/state",
               "mobileid_update_application_config_state")
def update_application_config_state(req: Request, account: Account) -> Response:
    account.config_state = enum_value(body_object(req, required=True).get("state"), "state",
                                      STATES)
    return Response.json({"state": account.config_state})


@account_route("GET", "/mobileid/admin/application-config/apns-uuid",
               "mobileid_get_application_config_apns_uuid")
def get_application_config_apns_uuid(req: Request, account: Account) -> Response:
    return Response.json({"apnsUuid": account.apns_uuid})


@account_route("PUT", "/mobileid/admin/application-config/apns-uuid",
               "mobileid_update_application_config_apns_uuid")
def update_application_config_apns_uuid(req: Request, account: Account) -> Response:
    apns_uuid = required_strings(body_object(req, required=True), ("apnsUuid",))["apnsUuid"]
    if apns_uuid not in req.state.apns_tokens:
        raise validation_error({"apnsUuid": ["No APNs token with id %s." % apns_uuid]})
    account.apns_uuid = apns_uuid
    return Response.json({"apnsUuid": apns_uuid})


@account_route("GET", "/mobileid/admin/application-config/properties",
               "mobileid_get_application_config_properties")
def get_application_config_properties(req: Request, account: Account) -> Response:
    return Response.json(properties_json(account))


def check_property(name: str, value: Any) -> Optional[str]:
    """The problem with one property of a PATCH, or None."""
    if name not in PROPERTY_NAMES:
        return "Unknown property."
    if name in FIXED_PROPERTIES:
        return "Cannot be changed through this endpoint; contact Signicat support."
    if name in ARRAY_PROPERTIES:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return "Must be an array of strings."
    elif not isinstance(value, str):
        return "Must be a string (numbers and booleans too, e.g. \"3\", \"false\")."
    elif name in PROPERTY_ENUMS and value not in PROPERTY_ENUMS[name]:
        return "Must be one of %s." % ", ".join(PROPERTY_ENUMS[name])
    return None


@account_route("PATCH", "/mobileid/admin/application-config/properties",
               "mobileid_update_application_config_properties")
def update_application_config_properties(req: Request, account: Account) -> Response:
    body = body_object(req, required=True)
    errors = {name: [problem] for name, value in body.items()
              if (problem := check_property(name, value)) is not None}
    if errors:
        raise validation_error(errors)
    merged = dict(account.properties, **body)
    extra = [m for m in merged["allowedAuthMethodsForAuthAndActivate"]
             if m not in merged["allowedAuthMethods"]]
    if extra:
        raise validation_error({"allowedAuthMethodsForAuthAndActivate": [
            "Not in allowedAuthMethods: %s." % ", ".join(extra)]})
    account.properties = merged
    return Response.json(properties_json(account))


# --------------------------------------------------------------------------------------------
# Signing certificates and E2E keys
# --------------------------------------------------------------------------------------------

@account_route("GET", "/mobileid/admin/signing-certificates",
               "mobileid_list_signing_certificates")
def list_signing_certificates(req: Request, account: Account) -> Response:
    state = enum_value(req.query_one("state"), "state", CERTIFICATE_STATES, required=False)
    certificates = [c for c in signing_certificates(account.account_id)
                    if state is None or c["state"] == state]
    return Response.json({"signingCertificates": certificates})


@account_route("GET", "/mobileid/admin/e2e-keys", "mobileid_list_e2e_keys")
def list_e2e_keys(req: Request, account: Account) -> Response:
    state = enum_value(req.query_one("state"), "state", STATES, required=False)
    keys = [k for k in account.e2e_keys.values() if state is None or k["state"] == state]
    return Response.json({"e2eKeys": keys[:MAX_LIST_ITEMS]})


@account_route("POST", "/mobileid/admin/e2e-keys", "mobileid_create_e2e_key")
def create_e2e_key(req: Request, account: Account) -> Response:
    body = body_object(req, required=True)
    name = required_strings(body, ("name",))["name"]
    description = optional_string(body, "description")
    # ``algorithm``: optional, any non-empty string (the allowed values are not public)
    algorithm = optional_string(body, "algorithm")
    if algorithm == "":
        raise validation_error({"algorithm": ["Must be a non-empty string."]})
    if len(account.e2e_keys) >= MAX_LIST_ITEMS:
        raise ApiError(400, "An account has at most %d E2E keys; delete one first."
                       % MAX_LIST_ITEMS)
    key = new_e2e_key(req, name, description, algorithm)
    account.e2e_keys[key["id"]] = key
    return Response.json(key, 201)


@account_route("GET", "/mobileid/admin/e2e-keys/{e2eKeyId}", "mobileid_get_e2e_key")
def get_e2e_key(req: Request, account: Account) -> Response:
    return Response.json(load_e2e_key(req, account))


@account_route("PUT", "/mobileid/admin/e2e-keys/{e2eKeyId}/state",
               "mobileid_update_e2e_key_state")
def update_e2e_key_state(req: Request, account: Account) -> Response:
    key = load_e2e_key(req, account)
    key["state"] = enum_value(body_object(req, required=True).get("state"), "state", STATES)
    return Response.json({"state": key["state"]})


@account_route("DELETE", "/mobileid/admin/e2e-keys/{e2eKeyId}", "mobileid_delete_e2e_key")
def delete_e2e_key(req: Request, account: Account) -> Response:
    del account.e2e_keys[load_e2e_key(req, account)["id"]]
    return Response.empty(204)


# --------------------------------------------------------------------------------------------
# Risk indicators
# --------------------------------------------------------------------------------------------

@account_route("GET", "/mobileid/admin/risk-indicators", "mobileid_get_risk_indicators")
def get_risk_indicators(req: Request, account: Account) -> Response:
    return Response.json({"riskIndicatorsConfiguration": dict(account.risk)})


@account_route("PATCH", "/mobileid/admin/risk-indicators", "mobileid_update_risk_indicators")
def update_risk_indicators(req: Request, account: Account) -> Response:
    changes = body_object(req, required=True).get("riskIndicatorsConfiguration", {})
    if not isinstance(changes, dict):
        raise validation_error({"riskIndicatorsConfiguration": ["Must be an object."]})
    errors = {}
    for name, value in changes.items():
        where = "riskIndicatorsConfiguration." + name
        if value is not None and not isinstance(value, str):
            errors[where] = ["Must be a string, or null to delete the property."]
        elif name == RISK_DEVICE_HASH_USERS and value is not None and (
                not DIGITS_RE.match(value) or int(value) < 1):
            errors[where] = ["Must be a numeric string >= 1, e.g. \"3\" (null deletes it)."]
    if errors:
        raise validation_error(errors)
    for name, value in changes.items():
        if value is None:
            account.risk.pop(name, None)
        else:
            account.risk[name] = value
    return Response.json({"riskIndicatorsConfiguration": dict(account.risk)})


# --------------------------------------------------------------------------------------------
# Statistics (fixed samples)
# --------------------------------------------------------------------------------------------

def statistics_json(from_date: dt.date, to_date: dt.date) -> dict:
    out: dict[str, Any] = {"fromDate": from_date.isoformat(), "toDate": to_date.isoformat()}
    out.update({k: dict(v) for k, v in USER_DEVICE_TOTALS.items()})
    return out


@account_route("GET", "/mobileid/admin/statistics/days", "mobileid_get_statistics_by_days")
def get_statistics_by_days(req: Request, account: Account) -> Response:
    days = int_query(req, "nrOfDays", 1, 365)
    today = req.now().date()
    return Response.json(statistics_json(today - dt.timedelta(days=days - 1), today))


@account_route("GET", "/mobileid/admin/statistics/date-range",
               "mobileid_get_statistics_by_date_range")
def get_statistics_by_date_range(req: Request, account: Account) -> Response:
    from_date, to_date = date_query(req, "fromDate"), date_query(req, "toDate")
    if to_date < from_date:
        raise validation_error({"toDate": ["Must not be before fromDate."]})
    return Response.json(statistics_json(from_date, to_date))


def buckets(counts: dict) -> list:
    total = sum(counts.values())
    out = []
    for name, count in counts.items():
        share = round(count * 100.0 / total, 2) if total else 0
        out.append({"name": name, "count": count,
                    "percentage": int(share) if share == int(share) else share})
    return out


@account_route("GET", "/mobileid/admin/statistics/devices/detailed",
               "mobileid_get_detailed_device_statistics")
def get_detailed_device_statistics(req: Request, account: Account) -> Response:
    kind = req.query_one("type")
    if not kind or not kind.strip():
        raise validation_error({"type": ["Required, e.g. allbasic."]})
    platform = req.query_one("platform")
    platforms = {p.lower(): p for p in PLATFORM_SDK_VERSIONS}
    if platform is not None and platform.lower() not in platforms:
        raise validation_error({"platform": ["Must be one of %s."
                                             % ", ".join(PLATFORM_SDK_VERSIONS)]})
    chosen = [platforms[platform.lower()]] if platform else list(PLATFORM_SDK_VERSIONS)
    per_platform = {p: sum(PLATFORM_SDK_VERSIONS[p].values()) for p in chosen}
    versions: dict[str, int] = {}
    for p in chosen:
        for version, count in PLATFORM_SDK_VERSIONS[p].items():
            versions[version] = versions.get(version, 0) + count
    return Response.json({"accountId": account.account_id, "aggregatedAt": AGGREGATED_AT,
                          "total": sum(per_platform.values()),
                          "platforms": buckets(per_platform), "sdkversions": buckets(versions)})


@account_route("GET", "/mobileid/admin/statistics/device-hashes",
               "mobileid_get_device_hash_statistics")
def get_device_hash_statistics(req: Request, account: Account) -> Response:
    default = int(account.risk.get(RISK_DEVICE_HASH_USERS) or 1)
    allowed = int_query(req, RISK_DEVICE_HASH_USERS, 1, 2 ** 63 - 1, default)
    detailed = bool_query(req, "detailed", False)
    suspicious = []
    for hash_value, users in DEVICE_HASHES.items():
        if len(users) <= allowed:
            continue
        suspicious.append({"deviceHash": hash_value, "users": [
            {"userId": user, "devices": [
                {"deviceId": d, "state": s, "lastUsed": last, "created": created}
                for d, s, last, created in devices]} if detailed else {"userId": user}
            for user, devices in users]})
    return Response.json({"accountId": account.account_id, "aggregatedAt": AGGREGATED_AT,
                          "count": dict(DEVICE_HASH_TOTALS),
                          "suspiciousDeviceHashes": suspicious})


@account_route("GET", "/mobileid/admin/statistics/device-hashes/devices",
               "mobileid_list_devices_by_device_hash")
def list_devices_by_device_hash(req: Request, account: Account) -> Response:
    hash_value = device_hash(req.query_one("deviceHash"))
    return Response.json([
        {"userId": user, "devices": [
            {"deviceId": d, "lastUsed": last.replace("T", " ")[:23],
             "state": DEVICE_STATE_NAMES[s], "accountId": account.account_id}
            for d, s, last, _created in devices]}
        for user, devices in DEVICE_HASHES.get(hash_value, [])])


@account_route("POST", "/mobileid/admin/statistics/device-hashes/lock",
               "mobileid_lock_devices_by_device_hash")
def lock_devices_by_device_hash(req: Request, account: Account) -> Response:
    hash_value = device_hash(body_object(req, required=True).get("deviceHash"))
    return Response.json({"lockedDevices": [d for _user, devices in
                                            DEVICE_HASHES.get(hash_value, [])
                                            for d, _s, _last, _created in devices]})
