"""ReuseID Onboarding API of the Signicat mock: onboarding and step-up transactions.

This module owns the ``/reuseid`` routes (start and get an onboarding, start and get a step-up),
their state (:class:`ReuseIdState`, cleared by ``POST /__mock/reset``) and the config options
``reuseid_final_status`` and ``reuseid_polls_until_final`` of ``/__mock/config``.  Operation
ids are the catalog's (endpoints.md).  Every answer is wrapped as ``{"data": {...}}``.

Transaction life cycle in the mock: ``Pending`` after start -> final after
``reuseid_polls_until_final`` GETs of the transaction.  The final status is
``mock-final=<status>`` (Completed or Failed) from a string externalRef, else config
``reuseid_final_status``.  A Completed transaction gets ``proofingId`` and ``userData`` (the
seed's sample person), and an onboarding also its ``deviceId``.  ``dossierId`` and ``processId``
are given from the start, as in the seed's samples; they are not Assure dossiers of the mock.

Ids, JSON bodies, lookups (404), the config checks and the status progression
(``target_status``, ``poll_makes_final``) use the helpers for API modules of signicat_mock.

The route handlers run one at a time under the server lock (see signicat_mock.Api).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from signicat_mock import UUID_RE, Api, Request, Response, body_object, check_nonneg_int, \
    check_one_of, lookup, new_id, poll_makes_final, rfc3339, target_status, validation_error

# --------------------------------------------------------------------------------------------
# Vocabulary (from signicat-openapi.json, schemas ReuseId*, and the seed 002)
# --------------------------------------------------------------------------------------------

KINDS = ("onboarding", "step-up")
FINAL_STATUSES = ("Completed", "Failed")
ACTIVATION_CODE_DIGITS = 10  # as the seed's samples (2005468691, 8954685641)
SAMPLE_USER_DATA = {"firstName": "JANE", "lastName": "SMITH", "dateOfBirth": "1990-01-01",
                    "gender": "F", "nationality": "NOR"}


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclass
class Transaction:
    data: dict                      # the answer's "data" object
    target: str                     # the final status it reaches
    polls: int = 0                  # GETs while Pending


class ReuseIdState:
    """All ReuseID data of one mock server: transactions by kind, then transactionId."""

    def __init__(self) -> None:
        self.transactions: dict[str, dict[str, Transaction]] = {kind: {} for kind in KINDS}

    def reset(self) -> None:
        for store in self.transactions.values():
            store.clear()


API = Api("reuseid", state_factory=ReuseIdState)
API.config_option("reuseid_final_status", "Completed", check_one_of(FINAL_STATUSES),
                  "final status of transactions (unless mock-final=... in externalRef)")
API.config_option("reuseid_polls_until_final", 2, check_nonneg_int,
                  "GETs of a Pending transaction until it is final (the Nth GET shows it final)")


# --------------------------------------------------------------------------------------------
# Helpers: validation, lookups, progression
# --------------------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_start(body: dict, errors: dict) -> None:
    """Record in ``errors`` the invalid provider / videoidProviderOptions of a start body.

    ``provider`` is any string, not an enum: Signicat's release note names ``videoid`` and
    ``readid``, the seed's sample says ``signicatvideoid``, and Signicat may add providers.
    ``videoidProviderOptions`` is checked (and accepted) whatever the provider."""
    provider = body.get("provider")
    if provider is not None and not isinstance(provider, str):
        errors["provider"] = ["Must be a string."]
    options = body.get("videoidProviderOptions")
    if options is None:
        return
    if not isinstance(options, dict):
        errors["videoidProviderOptions"] = ["Must be an object."]
        return
    for name in ("docType", "defaultId"):
        if options.get(name) is not None and not _is_int(options[name]):
            errors["videoidProviderOptions." + name] = ["Must be an integer."]
    doc_types = options.get("docTypes")
    if doc_types is not None and not (isinstance(doc_types, list)
                                      and all(_is_int(v) for v in doc_types)):
        errors["videoidProviderOptions.docTypes"] = ["Must be an array of integers."]


def start(req: Request, kind: str, body: dict, data: dict) -> Response:
    """Register a Pending transaction whose answer starts with ``data``; answer it."""
    target = target_status(req, body.get("externalRef"), FINAL_STATUSES, "reuseid_final_status",
                           str.capitalize)
    data.update({"dossierId": new_id(), "processId": new_id()})
    for name in ("externalRef", "provider"):
        if body.get(name) is not None:
            data[name] = body[name]
    data["createdAt"] = rfc3339(req.now())
    req.state.transactions[kind][data["transactionId"]] = Transaction(data, target)
    return Response.json({"data": data})


def load_transaction(req: Request, kind: str) -> Transaction:
    return lookup(req.state.transactions[kind], req.params["transactionId"].lower(),
                  "Transaction")


def count_poll(req: Request, kind: str, transaction: Transaction) -> None:
    """One GET of a Pending transaction; the Nth one makes it final."""
    data = transaction.data
    if data["status"] != "Pending":
        return
    if not poll_makes_final(req, transaction, "reuseid_polls_until_final"):
        return
    data["status"] = transaction.target
    if transaction.target == "Completed":
        if kind == "onboarding":
            data["deviceId"] = new_id()
        data["proofingId"] = new_id()
        data["userData"] = dict(SAMPLE_USER_DATA)


def get_transaction(req: Request, kind: str) -> Response:
    transaction = load_transaction(req, kind)
    count_poll(req, kind, transaction)
    return Response.json({"data": transaction.data})


# --------------------------------------------------------------------------------------------
# Onboarding and step-up
# --------------------------------------------------------------------------------------------

@API.route("POST", "/reuseid/onboarding", "reuseid_start_onboarding")
def start_onboarding(req: Request) -> Response:
    body = body_object(req)
    errors: dict[str, list] = {}
    validate_start(body, errors)
    if errors:
        raise validation_error(errors)
    code = "".join(secrets.choice("0123456789") for _ in range(ACTIVATION_CODE_DIGITS))
    return start(req, "onboarding", body, {"status": "Pending", "transactionId": new_id(),
                                           "userId": new_id(), "activationCode": code})


@API.route("GET", "/reuseid/onboarding/{transactionId}", "reuseid_get_onboarding")
def get_onboarding(req: Request) -> Response:
    return get_transaction(req, "onboarding")


@API.route("POST", "/reuseid/step-up", "reuseid_start_step_up")
def start_step_up(req: Request) -> Response:
    body = body_object(req)
    errors: dict[str, list] = {}
    user_id, device_id = body.get("userId"), body.get("deviceId")
    if not isinstance(user_id, str) or not UUID_RE.match(user_id):
        errors["userId"] = ["Required; a UUID."]
    if not isinstance(device_id, str) or not device_id:
        errors["deviceId"] = ["Required (string)."]
    validate_start(body, errors)
    if errors:
        raise validation_error(errors)
    return start(req, "step-up", body, {"status": "Pending", "transactionId": new_id(),
                                        "userId": user_id, "deviceId": device_id})


@API.route("GET", "/reuseid/step-up/{transactionId}", "reuseid_get_step_up")
def get_step_up(req: Request) -> Response:
    return get_transaction(req, "step-up")
