"""Checks of the mock Signicat server itself (core + Assure API).

Each test starts a fresh mock in-process on a free loopback port (a background thread) and
talks to it with http.client over one keep-alive connection.  Run from the repository root:

    python3 -m unittest discover -s test/mock -p 'test_*.py' -v
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile
from typing import Any, Optional
from urllib.parse import quote, urlencode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import signicat_mock  # noqa: E402
from signicat_mock import RunningMock, load_api_modules  # noqa: E402

MOCK_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "signicat_mock.py")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TRACE_RE = re.compile(r"^[0-9a-f]{32}$")
PNG = b"\x89PNG\r\n\x1a\nmock-png"
JPEG = b"\xff\xd8\xffmock-jpeg"
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
JPEG_URL = "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
MISSING = "00000000-0000-4000-8000-000000000000"


class Answer:
    """status, headers (lowercased dict), body bytes, and .json()."""

    def __init__(self, status: int, headers: dict, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def __repr__(self) -> str:
        return "Answer(%d, %r)" % (self.status, self.body[:300])


class MockCase(unittest.TestCase):
    """A fresh mock per test, a keep-alive connection and a valid token.

    The mock serves the API modules named in ``api_modules`` (a subclass sets its own list,
    e.g. ``["mobileid"]``) and gets ``mock_args`` as RunningMock keyword arguments."""

    api_modules: list = ["assure"]
    mock_args: dict = {}

    def setUp(self) -> None:
        self.server = RunningMock(apis=load_api_modules(self.api_modules),
                                  **self.mock_args).start()
        self.conn = self.connect()
        self.token = self.get_token()

    def tearDown(self) -> None:
        self.conn.close()
        self.server.stop()

    # -- plumbing -----------------------------------------------------------------------------

    def connect(self, timeout: float = 5.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)

    def call(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None,
             token: Any = True, conn: Optional[http.client.HTTPConnection] = None) -> Answer:
        """One request; ``body`` dict/list -> JSON, str/bytes sent as is."""
        conn = conn or self.conn
        headers = dict(headers or {})
        if token is True:
            headers.setdefault("Authorization", "Bearer " + self.token)
        elif token:
            headers.setdefault("Authorization", "Bearer " + token)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, "/__mock/" + path, body, token=False)
        self.assertLess(answer.status, 300, answer)
        return answer.json()

    def token_request(self, form: dict, basic: Optional[tuple] = None,
                      content_type: str = "application/x-www-form-urlencoded",
                      conn: Optional[http.client.HTTPConnection] = None) -> Answer:
        """A token request with the form ``form`` (and Basic credentials ``basic``), sent on
        ``conn`` (default: the test's connection)."""
        headers = {"Content-Type": content_type}
        if basic:
            raw = "%s:%s" % (quote(basic[0], safe=""), quote(basic[1], safe=""))
            headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
        return self.call("POST", "/auth/open/connect/token", urlencode(form), headers,
                         token=False, conn=conn)

    def get_token(self) -> str:
        answer = self.token_request({"grant_type": "client_credentials"},
                                    basic=("test-client", "test-secret"))
        self.assertEqual(answer.status, 200, answer)
        return answer.json()["access_token"]

    # -- assertions ---------------------------------------------------------------------------

    def assertProblem(self, answer: Answer, status: int, field: Optional[str] = None) -> dict:
        self.assertEqual(answer.status, status, answer)
        self.assertEqual(answer.content_type, "application/problem+json")
        doc = answer.json()
        for key in ("type", "title", "status", "detail", "instance", "traceId"):
            self.assertIn(key, doc)
        self.assertEqual(doc["status"], status)
        self.assertRegex(doc["traceId"], TRACE_RE)
        if field is not None:
            self.assertIn(field, doc.get("errors", {}), doc)
        return doc

    def assertEmpty(self, answer: Answer, status: int) -> None:
        self.assertEqual(answer.status, status, answer)
        self.assertEqual(answer.headers.get("content-length"), "0")
        self.assertEqual(answer.body, b"")

    # -- Assure shortcuts ---------------------------------------------------------------------

    def new_dossier(self, reference: Optional[str] = None) -> str:
        body = {} if reference is None else {"externalReference": reference}
        answer = self.call("POST", "/assure/dossiers", body)
        self.assertEqual(answer.status, 201, answer)
        return answer.json()["dossierId"]

    def new_process(self, dossier: str, provider: str = "onfido", **fields: Any) -> dict:
        answer = self.call("POST", "/assure/dossiers/%s/processes" % dossier,
                           dict(provider=provider, **fields))
        self.assertEqual(answer.status, 201, answer)
        return answer.json()

    def process_path(self, dossier: str, process: str, tail: str = "") -> str:
        return "/assure/dossiers/%s/processes/%s%s" % (dossier, process, tail)

    def started_process(self, reference: Optional[str] = None, provider: str = "onfido",
                        **fields: Any) -> tuple[str, str]:
        dossier = self.new_dossier(reference)
        process = self.new_process(dossier, provider, **fields)["processId"]
        self.assertEmpty(self.call("POST", self.process_path(dossier, process, "/images"),
                                   {"front": PNG_URL, "selfie": JPEG_URL}), 201)
        self.assertEqual(self.call("POST", self.process_path(dossier, process)).status, 200)
        return dossier, process

    def poll_until_final(self, dossier: str, process: str, limit: int = 10) -> dict:
        for _ in range(limit):
            doc = self.call("GET", self.process_path(dossier, process)).json()
            if doc["status"] != "processing":
                return doc
        self.fail("process never became final")


# ============================================================================================
# Token endpoint and bearer checks
# ============================================================================================

class TokenTests(MockCase):

    def test_client_secret_basic(self) -> None:
        answer = self.token_request({"grant_type": "client_credentials"},
                                    basic=("test-client", "test-secret"))
        self.assertEqual(answer.status, 200)
        doc = answer.json()
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertEqual(doc["expires_in"], 3600)
        self.assertEqual(doc["scope"], "signicat-api")
        self.assertRegex(doc["access_token"], r"^[A-Za-z0-9_-]{32,}$")
        self.assertEqual(answer.headers.get("cache-control"), "no-store")

    def test_client_secret_post_with_scope(self) -> None:
        answer = self.token_request({"grant_type": "client_credentials", "scope": "x y",
                                     "client_id": "test-client",
                                     "client_secret": "test-secret"})
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.json()["scope"], "x y")

    def test_basic_parts_are_url_decoded(self) -> None:
        with RunningMock(apis=[], client_id="id:with space",
                         client_secret="s&c:r+t%") as other:
            conn = http.client.HTTPConnection("127.0.0.1", other.port, timeout=5)
            try:
                raw = "%s:%s" % (quote("id:with space", safe=""), quote("s&c:r+t%", safe=""))
                answer = self.call("POST", "/auth/open/connect/token",
                                   "grant_type=client_credentials",
                                   {"Content-Type": "application/x-www-form-urlencoded",
                                    "Authorization": "Basic " +
                                    base64.b64encode(raw.encode()).decode()},
                                   token=False, conn=conn)
                self.assertEqual(answer.status, 200, answer)
            finally:
                conn.close()

    def test_wrong_or_missing_credentials(self) -> None:
        cases = [
            ({"grant_type": "client_credentials"}, ("test-client", "nope")),
            ({"grant_type": "client_credentials"}, ("other", "test-secret")),
            ({"grant_type": "client_credentials", "client_id": "test-client",
              "client_secret": "nope"}, None),
            ({"grant_type": "client_credentials", "client_id": "test-client"}, None),
            ({"grant_type": "client_credentials"}, None),
        ]
        for form, basic in cases:
            answer = self.token_request(form, basic)
            self.assertEqual(answer.status, 401, (form, basic))
            self.assertEqual(answer.json()["error"], "invalid_client")
            self.assertIn("error_description", answer.json())
        answer = self.call("POST", "/auth/open/connect/token", "grant_type=client_credentials",
                           {"Content-Type": "application/x-www-form-urlencoded",
                            "Authorization": "Basic !!notbase64"}, token=False)
        self.assertEqual(answer.status, 401)

    def test_wrong_grant_type(self) -> None:
        for form in ({"grant_type": "password"}, {}):
            answer = self.token_request(form, basic=("test-client", "test-secret"))
            self.assertEqual(answer.status, 400)
            self.assertEqual(answer.json()["error"], "unsupported_grant_type")

    def test_wrong_content_type(self) -> None:
        answer = self.token_request({"grant_type": "client_credentials"},
                                    basic=("test-client", "test-secret"),
                                    content_type="application/json")
        self.assertEqual(answer.status, 400)
        self.assertEqual(answer.json()["error"], "invalid_request")

    def test_counts_and_revocation(self) -> None:
        self.get_token()
        self.token_request({"grant_type": "client_credentials"}, ("test-client", "bad"))
        self.assertEqual(self.control("GET", "tokens"), {"issued": 2, "valid": 2})
        self.control("POST", "revoke-tokens")
        self.assertEqual(self.control("GET", "tokens"), {"issued": 2, "valid": 0})
        self.assertProblem(self.call("GET", "/assure/dossiers"), 401)
        self.token = self.get_token()
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)

    def test_reset_keeps_tokens_valid(self) -> None:
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "tokens"), {"issued": 0, "valid": 1})
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)

    def test_expiry_from_config(self) -> None:
        self.control("POST", "config", {"token_expires_in": 0})
        self.token = self.get_token()
        self.assertProblem(self.call("GET", "/assure/dossiers"), 401)

    def test_cli_expires_in(self) -> None:
        with RunningMock(apis=[], token_expires_in=5) as other:
            conn = http.client.HTTPConnection("127.0.0.1", other.port, timeout=5)
            try:
                answer = self.token_request({"grant_type": "client_credentials",
                                             "client_id": "test-client",
                                             "client_secret": "test-secret"}, conn=conn)
                self.assertEqual(answer.json()["expires_in"], 5)
            finally:
                conn.close()


class BearerTests(MockCase):

    def test_rejections(self) -> None:
        cases = [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer unknown-token"},
                 {"Authorization": "Basic dGVzdC1jbGllbnQ6dGVzdC1zZWNyZXQ="},
                 {"Authorization": self.token}]
        for headers in cases:
            answer = self.call("GET", "/assure/dossiers", headers=headers, token=False)
            doc = self.assertProblem(answer, 401)
            self.assertEqual(doc["title"], "Unauthorized")
            self.assertEqual(doc["type"], "https://httpstatuses.io/401")
            self.assertEqual(doc["detail"], "The access token is missing, invalid or expired.")
            self.assertEqual(doc["instance"], "/assure/dossiers")

    def test_scheme_is_case_insensitive(self) -> None:
        answer = self.call("GET", "/assure/dossiers",
                           headers={"Authorization": "bearer " + self.token}, token=False)
        self.assertEqual(answer.status, 200)

    def test_every_api_route_checks_the_token(self) -> None:
        routes = [r for r in self.server.mock.routes if r.kind == "api"]
        self.assertGreater(len(routes), 0)
        for route in routes:
            path = route.template.replace("{dossierId}", MISSING).replace("{processId}", MISSING)
            answer = self.call(route.method, path, token=False)
            self.assertEqual(answer.status, 401, (route.method, path))

    def test_unknown_route(self) -> None:
        for method, path in (("GET", "/nope"), ("PATCH", "/assure/dossiers"),
                             ("GET", "/assure/dossiers/%s/whatever" % MISSING)):
            doc = self.assertProblem(self.call(method, path), 404)
            self.assertEqual(doc["instance"], path)
        ops = {e["operation"] for e in self.control("GET", "requests")}
        self.assertIn("unknown", ops)

    def test_api_body_must_be_json(self) -> None:
        answer = self.call("POST", "/assure/dossiers", "externalReference=x",
                           {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertProblem(answer, 415)


# ============================================================================================
# Assure: dossiers, user data, files
# ============================================================================================

class DossierTests(MockCase):

    def test_create(self) -> None:
        for body in (None, {}, {"externalReference": "order-1"}):
            answer = self.call("POST", "/assure/dossiers", body)
            self.assertEqual(answer.status, 201, answer)
            doc = answer.json()
            self.assertRegex(doc["dossierId"], UUID4_RE)
            self.assertRegex(doc["createdAt"], STAMP_RE)
            self.assertRegex(doc["updatedAt"], STAMP_RE)
            if body and "externalReference" in body:
                self.assertEqual(doc["externalReference"], "order-1")
            else:
                self.assertNotIn("externalReference", doc)

    def test_create_validation(self) -> None:
        self.assertProblem(self.call("POST", "/assure/dossiers", [1]), 400)
        self.assertProblem(self.call("POST", "/assure/dossiers", {"externalReference": 7}),
                           400, "externalReference")
        self.assertProblem(self.call("POST", "/assure/dossiers", "{not json"), 400)

    def test_list_newest_first_last_100(self) -> None:
        ids = [self.new_dossier("r%d" % i) for i in range(103)]
        answer = self.call("GET", "/assure/dossiers")
        self.assertEqual(answer.status, 200)
        listed = [d["dossierId"] for d in answer.json()]
        self.assertEqual(listed, list(reversed(ids))[:100])

    def test_get(self) -> None:
        dossier = self.new_dossier("ref")
        process = self.new_process(dossier, "readid")
        doc = self.call("GET", "/assure/dossiers/" + dossier).json()
        self.assertEqual(doc["dossierId"], dossier)
        self.assertEqual(doc["externalReference"], "ref")
        self.assertEqual(len(doc["processes"]), 1)
        slim = doc["processes"][0]
        self.assertEqual(set(slim), {"processId", "provider", "processType", "status",
                                     "createdAt", "updatedAt"})
        self.assertEqual(slim["processId"], process["processId"])
        self.assertProblem(self.call("GET", "/assure/dossiers/" + MISSING), 404)
        self.assertProblem(self.call("GET", "/assure/dossiers/not-a-uuid"), 400, "dossierId")

    def test_delete(self) -> None:
        dossier = self.new_dossier()
        self.assertEmpty(self.call("DELETE", "/assure/dossiers/" + dossier), 204)
        self.assertProblem(self.call("DELETE", "/assure/dossiers/" + dossier), 404)
        self.assertProblem(self.call("GET", "/assure/dossiers/" + dossier), 404)

    def test_delete_conflict_while_onfido_processing(self) -> None:
        dossier, _process = self.started_process()
        self.assertProblem(self.call("DELETE", "/assure/dossiers/" + dossier), 409)

    def test_delete_all(self) -> None:
        for _ in range(3):
            self.new_dossier()
        self.assertEmpty(self.call("DELETE", "/assure/dossiers/all"), 204)
        self.assertEqual(self.call("GET", "/assure/dossiers").json(), [])
        ops = [e["operation"] for e in self.control("GET", "requests")]
        self.assertEqual(ops[-2], "assure_delete_all_dossiers")


class DossierCase(MockCase):
    """MockCase with a new dossier, ``self.dossier``; with ``dossier_tail`` set, ``self.path``
    is the path of that part of the dossier (e.g. ``/assure/dossiers/<id>/userdata``)."""

    dossier_tail: Optional[str] = None

    def setUp(self) -> None:
        super().setUp()
        self.dossier = self.new_dossier()
        if self.dossier_tail is not None:
            self.path = "/assure/dossiers/%s/%s" % (self.dossier, self.dossier_tail)


class UserDataTests(DossierCase):

    dossier_tail = "userdata"

    def test_lifecycle(self) -> None:
        self.assertProblem(self.call("GET", self.path), 404)
        self.assertProblem(self.call("PUT", self.path, {"userData": {"email": "a@b"}}), 404)
        data = {"firstName": "Ada", "lastName": "Lovelace", "gender": "F",
                "dateOfBirth": "1815-12-10", "email": "ada@example.org"}
        self.assertEmpty(self.call("POST", self.path, {"userData": data}), 201)
        self.assertProblem(self.call("POST", self.path, {"userData": data}), 409)
        doc = self.call("GET", self.path).json()
        self.assertEqual(doc["dossierId"], self.dossier)
        self.assertEqual(doc["userData"], data)
        self.assertRegex(doc["createdAt"], STAMP_RE)
        self.assertEmpty(self.call("PUT", self.path,
                                   {"userData": {"email": "", "nationality": "GBR"}}), 204)
        doc2 = self.call("GET", self.path).json()
        self.assertNotIn("email", doc2["userData"])
        self.assertEqual(doc2["userData"]["nationality"], "GBR")
        self.assertEqual(doc2["userData"]["firstName"], "Ada")
        self.assertNotEqual(doc2["updatedAt"], doc["updatedAt"])
        self.assertEmpty(self.call("DELETE", self.path), 204)
        self.assertProblem(self.call("DELETE", self.path), 404)

    def test_validation(self) -> None:
        cases = [({}, "userData"), ({"userData": "x"}, "userData"),
                 ({"userData": {"gender": "X"}}, "userData.gender"),
                 ({"userData": {"dateOfBirth": "24-07-1986"}}, "userData.dateOfBirth"),
                 ({"userData": {"dateOfBirth": "1986-02-30"}}, "userData.dateOfBirth"),
                 ({"userData": {"firstName": "x" * 65}}, "userData.firstName"),
                 ({"userData": {"lastName": 5}}, "userData.lastName")]
        for body, field in cases:
            self.assertProblem(self.call("POST", self.path, body), 400, field)
        self.assertProblem(self.call("POST", "/assure/dossiers/%s/userdata" % MISSING,
                                     {"userData": {}}), 404)


class DossierFileTests(DossierCase):

    dossier_tail = "files"

    def test_set_get_delete(self) -> None:
        self.assertEmpty(self.call("POST", self.path, {"front": PNG_URL, "selfie": JPEG_URL}),
                         201)
        front = self.call("GET", self.path + "?depiction=front")
        self.assertEqual((front.status, front.content_type, front.body), (200, "image/png", PNG))
        selfie = self.call("GET", self.path + "?depiction=selfie")
        self.assertEqual((selfie.content_type, selfie.body), ("image/jpeg", JPEG))
        self.assertProblem(self.call("GET", self.path + "?depiction=back"), 404)
        self.assertProblem(self.call("GET", self.path), 400, "depiction")
        self.assertProblem(self.call("GET", self.path + "?depiction=portrait"), 400, "depiction")
        self.assertEmpty(self.call("DELETE", self.path), 204)
        self.assertProblem(self.call("GET", self.path + "?depiction=front"), 404)

    def test_validation(self) -> None:
        cases = [({}, "images"), ({"front": "data:image/gif;base64,R0lG"}, "front"),
                 ({"back": "data:image/png;base64,***"}, "back"),
                 ({"selfie": "iVBORw0KGgo="}, "selfie"), ({"front": 5}, "front"),
                 ({"processId": "nope"}, "processId")]
        for body, field in cases:
            self.assertProblem(self.call("POST", self.path, body), 400, field)
        self.assertProblem(self.call("POST", self.path, {"processId": MISSING}), 404)
        self.assertProblem(self.call("POST", "/assure/dossiers/%s/files" % MISSING,
                                     {"front": PNG_URL}), 404)

    def test_copy_from_process(self) -> None:
        process = self.new_process(self.dossier)["processId"]
        self.call("POST", self.process_path(self.dossier, process, "/images"), {"back": PNG_URL})
        self.assertEmpty(self.call("POST", self.path, {"processId": process}), 201)
        self.assertEqual(self.call("GET", self.path + "?depiction=back").body, PNG)


# ============================================================================================
# Assure: processes
# ============================================================================================

class ProcessTests(DossierCase):

    def test_create_every_provider(self) -> None:
        extras = {"signicatpaper": {"documentCountry": "NLD"},
                  "webid": {"processParameters": {"webid": {"user": {}}}},
                  "facetec": {}, "connect:idmethod": {"processType": "document"}}
        expected_type = {"onfido": "documentSelfie", "eid": "unattended", "readid": "sdk",
                         "connect:idmethod": "document"}
        for provider in ("eid", "onfido", "readid", "signicatpaper", "facetec", "webid",
                         "signicatpictureid", "signicatvideoid", "connect:idmethod"):
            doc = self.new_process(self.dossier, provider, **extras.get(provider, {}))
            self.assertRegex(doc["processId"], UUID4_RE)
            self.assertEqual(doc["provider"], provider)
            self.assertEqual(doc["status"], "pending")
            self.assertEqual(doc["processType"], expected_type.get(provider))
            self.assertTrue(doc["authorization"].startswith("mock-sdk-token-"))
            self.assertEqual("providerApiUrl" in doc,
                             provider in ("readid", "eid", "signicatvideoid"), provider)
            self.assertRegex(doc["createdAt"], STAMP_RE)
        self.assertEqual(self.new_process(self.dossier, "onfido",
                                          processType="document")["processType"], "document")

    def test_create_validation(self) -> None:
        path = "/assure/dossiers/%s/processes" % self.dossier
        cases = [({}, "provider"), ({"provider": "acme"}, "provider"),
                 ({"provider": "onfido", "processType": "quick"}, "processType"),
                 ({"provider": "onfido", "documentType": "library-card"}, "documentType"),
                 ({"provider": "signicatpaper"}, "documentCountry"),
                 ({"provider": "webid"}, "processParameters.webid"),
                 ({"provider": "webid", "processParameters": {}}, "processParameters.webid"),
                 ({"provider": "onfido", "processParameters": []}, "processParameters")]
        for body, field in cases:
            self.assertProblem(self.call("POST", path, body), 400, field)
        self.assertProblem(self.call("POST", path), 400)
        self.assertProblem(self.call("POST", path, ["onfido"]), 400)
        self.assertProblem(self.call("POST", "/assure/dossiers/%s/processes" % MISSING,
                                     {"provider": "onfido"}), 404)

    def test_get_unknown(self) -> None:
        self.assertProblem(self.call("GET", self.process_path(self.dossier, MISSING)), 404)
        self.assertProblem(self.call("GET", self.process_path(MISSING, MISSING)), 404)
        self.assertProblem(self.call("GET", self.process_path(self.dossier, "x")), 400,
                           "processId")

    def test_status_progression(self) -> None:
        dossier, process = self.started_process(documentType="identityCard")
        path = self.process_path(dossier, process)
        first = self.call("GET", path).json()
        self.assertEqual(first["status"], "processing")
        self.assertNotIn("finalResult", first)
        second = self.call("GET", path).json()
        self.assertEqual(second["status"], "accepted")
        self.assertNotEqual(second["updatedAt"], first["updatedAt"])
        self.assertEqual(second["finalResult"], {
            "firstName": "JOHN", "lastName": "SMITH", "dateOfBirth": "1986-07-24",
            "documentType": "identityCard", "documentNumber": "C1234567",
            "issuingCountry": "PRT"})
        self.assertIn("documentVerification", second["providerSpecific"])
        self.assertEqual(second["depictions"], ["front", "selfie", "portrait"])
        self.assertEqual(self.call("GET", path).json(), second)  # stable once final

    def test_final_status_from_reference_and_config(self) -> None:
        _d, _p = self.started_process("order-7 mock-final=rejected")
        self.assertEqual(self.poll_until_final(_d, _p)["status"], "rejected")
        self.control("POST", "config", {"final_status": "inconclusive",
                                        "process_polls_until_final": 3})
        d, p = self.started_process("plain")
        statuses = [self.call("GET", self.process_path(d, p)).json()["status"]
                    for _ in range(3)]
        self.assertEqual(statuses, ["processing", "processing", "inconclusive"])
        d, p = self.started_process("x mock-final=failed")
        doc = self.poll_until_final(d, p)
        self.assertEqual(doc["status"], "failed")
        self.assertEqual(set(doc["failReason"]), {"type", "message"})
        self.assertNotIn("finalResult", doc)

    def test_final_result_uses_user_data(self) -> None:
        dossier = self.new_dossier()
        self.call("POST", "/assure/dossiers/%s/userdata" % dossier,
                  {"userData": {"firstName": "Ada", "dateOfBirth": "1815-12-10"}})
        process = self.new_process(dossier, "readid")["processId"]
        self.assertEmpty(self.call("POST", self.process_path(dossier, process)), 204)
        result = self.poll_until_final(dossier, process)["finalResult"]
        self.assertEqual((result["firstName"], result["lastName"], result["dateOfBirth"],
                          result["documentType"]), ("Ada", "SMITH", "1815-12-10", "passport"))

    def test_start_verification(self) -> None:
        onfido = self.new_process(self.dossier)["processId"]
        path = self.process_path(self.dossier, onfido)
        missing = self.assertProblem(self.call("POST", path), 400)
        self.assertIn("Images missing", missing["detail"])
        self.call("POST", path + "/images", {"front": PNG_URL})
        self.assertProblem(self.call("POST", path, {"documentIds": "x"}), 400, "documentIds")
        self.assertProblem(self.call("POST", path, {"imageDepiction": "back"}), 400,
                           "imageDepiction")
        answer = self.call("POST", path, {"documentIds": ["a"]})
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json(), {"processId": onfido, "status": "processing"})
        self.assertProblem(self.call("POST", path), 409)
        for provider, extra in (("readid", {}),
                                ("webid", {"processParameters": {"webid": {}}})):
            pid = self.new_process(self.dossier, provider, **extra)["processId"]
            self.assertEmpty(self.call("POST", self.process_path(self.dossier, pid)), 204)
        eid = self.new_process(self.dossier, "eid")["processId"]
        self.assertEqual(self.call("POST", self.process_path(self.dossier, eid)).status, 200)
        self.assertProblem(self.call("POST", self.process_path(self.dossier, MISSING)), 404)

    def test_start_verification_facetec(self) -> None:
        pid = self.new_process(self.dossier, "facetec")["processId"]
        path = self.process_path(self.dossier, pid)
        self.call("POST", path + "/images", {"front": PNG_URL})
        doc = self.assertProblem(self.call("POST", path), 400, "imageDepiction")
        self.assertIn("facetecEnrollment", doc["errors"])
        answer = self.call("POST", path, {"imageDepiction": "selfie",
                                          "facetecEnrollment": {"faceScan": "abc"}})
        self.assertEqual(answer.status, 200, answer)

    def test_delete(self) -> None:
        pid = self.new_process(self.dossier, "readid")["processId"]
        path = self.process_path(self.dossier, pid)
        self.assertEmpty(self.call("DELETE", path), 204)
        self.assertProblem(self.call("DELETE", path), 404)
        d, p = self.started_process()
        self.assertProblem(self.call("DELETE", self.process_path(d, p)), 409)
        self.poll_until_final(d, p)
        self.assertEmpty(self.call("DELETE", self.process_path(d, p)), 204)

    def test_images(self) -> None:
        pid = self.new_process(self.dossier)["processId"]
        path = self.process_path(self.dossier, pid, "/images")
        self.assertProblem(self.call("POST", path, {}), 400, "images")
        self.assertProblem(self.call("POST", path, {"front": "data:text/plain;base64,eA=="}),
                           400, "front")
        self.assertEmpty(self.call("POST", path, {"front": PNG_URL, "back": JPEG_URL,
                                                  "selfie": JPEG_URL}), 201)
        self.assertEmpty(self.call("POST", path, {"back": PNG_URL}), 201)  # last one kept
        back = self.call("GET", path + "?depiction=back")
        self.assertEqual((back.status, back.content_type, back.body), (200, "image/png", PNG))
        self.assertProblem(self.call("GET", path + "?depiction=portrait"), 404)
        self.assertProblem(self.call("GET", path + "?depiction=side"), 400, "depiction")
        self.assertProblem(self.call("GET", path), 400, "depiction")
        doc = self.call("GET", self.process_path(self.dossier, pid)).json()
        self.assertEqual(doc["depictions"], ["front", "back", "selfie"])
        self.call("POST", self.process_path(self.dossier, pid))
        self.assertProblem(self.call("POST", path, {"front": PNG_URL}), 409)
        self.poll_until_final(self.dossier, pid)
        portrait = self.call("GET", path + "?depiction=portrait")
        self.assertEqual((portrait.status, portrait.body), (200, JPEG))
        self.assertProblem(self.call("GET", self.process_path(self.dossier, MISSING, "/images")
                                     + "?depiction=front"), 404)

    def test_fail(self) -> None:
        pid = self.new_process(self.dossier, "readid")["processId"]
        path = self.process_path(self.dossier, pid)
        answer = self.call("POST", path + "/fail")
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.json(), {
            "processId": pid, "status": "failed",
            "reason": {"category": "manual", "reason": "failedByClient",
                       "message": "Process failed by the client"}})
        self.assertProblem(self.call("POST", path + "/fail"), 409)
        doc = self.call("GET", path).json()
        self.assertEqual(doc["status"], "failed")
        self.assertEqual(doc["failReason"]["message"], "Process failed by the client")
        self.assertProblem(self.call("POST", self.process_path(self.dossier, MISSING, "/fail")),
                           404)

    def test_external_id(self) -> None:
        pid = self.new_process(self.dossier, "onfido")["processId"]
        doc = self.call("GET", self.process_path(self.dossier, pid, "/external-id")).json()
        self.assertEqual(doc, {"externalId": "onfido-" + pid[:8]})
        fid = self.new_process(self.dossier, "facetec")["processId"]
        doc = self.call("GET", self.process_path(self.dossier, fid, "/external-id")).json()
        self.assertEqual(doc, {"externalId": "n/a"})
        self.assertProblem(self.call("GET", self.process_path(self.dossier, MISSING,
                                                              "/external-id")), 404)

    def test_video(self) -> None:
        pid = self.new_process(self.dossier, "eid")["processId"]
        path = self.process_path(self.dossier, pid, "/video")
        self.assertProblem(self.call("GET", path), 404)
        self.call("POST", self.process_path(self.dossier, pid))
        answer = self.call("GET", path)
        self.assertEqual((answer.status, answer.content_type), (200, "video/mp4"))
        self.assertTrue(answer.body.startswith(b"\x00\x00\x00\x18ftypmp42"))

    def test_download(self) -> None:
        d, p = self.started_process()
        path = self.process_path(d, p, "/download")
        self.assertEmpty(self.call("GET", path), 204)
        self.assertProblem(self.call("GET", path + "?includeTimestamps=yes"), 400,
                           "includeTimestamps")
        self.poll_until_final(d, p)
        answer = self.call("GET", path)
        self.assertEqual((answer.status, answer.content_type), (200, "application/zip"))
        with zipfile.ZipFile(io.BytesIO(answer.body)) as archive:
            self.assertEqual(archive.namelist(), ["process.json", "front.png", "selfie.jpg"])
            self.assertEqual(json.loads(archive.read("process.json"))["status"], "accepted")
            self.assertEqual(archive.read("front.png"), PNG)
            self.assertEqual(archive.getinfo("front.png").date_time, (2020, 1, 1, 0, 0, 0))
        self.assertEqual(self.call("GET", path).body, answer.body)  # deterministic
        with_stamps = self.call("GET", path + "?includeTimestamps=true")
        with zipfile.ZipFile(io.BytesIO(with_stamps.body)) as archive:
            self.assertIn("timestamps.json", archive.namelist())
        self.assertProblem(self.call("GET", self.process_path(d, MISSING, "/download")), 404)


class ProcessListTests(MockCase):
    START = "startCreationDate=2000-01-01T00:00:00Z"

    def list(self, query: str) -> Answer:
        return self.call("GET", "/assure/processes?" + query)

    def test_validation(self) -> None:
        cases = [("", "startCreationDate"), ("startCreationDate=2026-01-01", "startCreationDate"),
                 ("startCreationDate=yesterday", "startCreationDate"),
                 (self.START + "&endCreationDate=1999-01-01T00:00:00Z", "endCreationDate"),
                 (self.START + "&status=done", "status"), (self.START + "&offset=-1", "offset"),
                 (self.START + "&offset=200001", "offset"), (self.START + "&limit=0", "limit"),
                 (self.START + "&limit=2001", "limit"), (self.START + "&limit=ten", "limit"),
                 (self.START + "&order=newest", "order")]
        for query, field in cases:
            self.assertProblem(self.list(query), 400, field)
        self.assertEqual(self.list("startCreationDate=2000-01-01T00:00:00%2B02:00").status, 200)

    def test_paging_and_order(self) -> None:
        seeded = self.control("POST", "seed-processes", {"count": 250})
        self.assertEqual(seeded["count"], 250)
        seen = []
        for offset in (0, 100, 200, 300):
            doc = self.list(self.START + "&limit=100&offset=%d" % offset).json()
            self.assertEqual(doc["totalResults"], 250)
            self.assertEqual(doc["filters"], {"startCreationDate": "2000-01-01T00:00:00Z",
                                              "statusList": [], "offset": offset,
                                              "limit": 100, "order": "createdAtDescending"})
            seen += [p["processId"] for p in doc["processes"]]
        self.assertEqual(seen, list(reversed(seeded["processIds"])))
        first = self.list(self.START + "&order=createdAtAscending&limit=1").json()
        item = first["processes"][0]
        self.assertEqual(item["processId"], seeded["processIds"][0])
        self.assertEqual(set(item), {"processId", "dossier", "provider", "status",
                                     "processType", "createdAt", "updatedAt", "externalId"})
        self.assertEqual(item["dossier"]["dossierId"], seeded["dossierId"])
        self.assertEqual(item["status"], "accepted")
        self.assertEqual(len(self.list(self.START).json()["processes"]), 100)  # default limit

    def test_filters(self) -> None:
        accepted = self.control("POST", "seed-processes", {"count": 3})
        rejected = self.control("POST", "seed-processes",
                                {"count": 2, "status": "rejected", "provider": "readid"})
        doc = self.list(self.START + "&status=rejected").json()
        self.assertEqual(doc["totalResults"], 2)
        self.assertEqual({p["provider"] for p in doc["processes"]}, {"readid"})
        both = self.list(self.START + "&status=rejected&status=accepted").json()
        self.assertEqual(both["totalResults"], 5)
        self.assertEqual(both["filters"]["statusList"], ["rejected", "accepted"])
        # createdAt window: only the first accepted process.
        created = self.list(self.START + "&order=createdAtAscending").json()["processes"]
        stamp = created[0]["createdAt"]
        window = self.list("startCreationDate=%s&endCreationDate=%s" % (stamp, stamp)).json()
        self.assertEqual([p["processId"] for p in window["processes"]],
                         accepted["processIds"][:1])
        self.assertEqual(window["filters"]["endCreationDate"], stamp)
        later = self.list("startCreationDate=2999-01-01T00:00:00Z").json()
        self.assertEqual((later["processes"], later["totalResults"]), ([], 0))
        self.assertEqual(len(rejected["processIds"]), 2)

    def test_bare_format(self) -> None:
        self.control("POST", "seed-processes", {"count": 2})
        self.control("POST", "config", {"process_list_format": "bare"})
        doc = self.list(self.START).json()
        self.assertIsInstance(doc, list)
        self.assertEqual(len(doc), 2)

    def test_lists_real_processes(self) -> None:
        dossier = self.new_dossier("ref-9")
        pid = self.new_process(dossier, "facetec")["processId"]
        item = self.list(self.START).json()["processes"][0]
        self.assertEqual((item["processId"], item["externalId"], item["status"]),
                         (pid, "n/a", "pending"))
        self.assertEqual(item["dossier"]["externalReference"], "ref-9")


# ============================================================================================
# Faults
# ============================================================================================

class FaultTests(MockCase):

    def fault(self, **spec: Any) -> dict:
        answer = self.call("POST", "/__mock/faults", spec, token=False)
        self.assertEqual(answer.status, 201, answer)
        return answer.json()

    def fresh_call(self, method: str, path: str, timeout: float = 5.0, **kw: Any) -> Answer:
        conn = self.connect(timeout)
        try:
            return self.call(method, path, conn=conn, **kw)
        finally:
            conn.close()

    def test_status_with_retry_after_then_normal(self) -> None:
        self.fault(operation="assure_list_dossiers", status=503, retry_after="2")
        answer = self.call("GET", "/assure/dossiers")
        doc = self.assertProblem(answer, 503)
        self.assertEqual(doc["title"], "Service Unavailable")
        self.assertEqual(answer.headers["retry-after"], "2")
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)
        self.assertEqual(self.control("GET", "faults"), [])
        ops = [e["operation"] for e in self.control("GET", "requests?operation="
                                                           "assure_list_dossiers")]
        self.assertEqual(len(ops), 2)  # the faulted request is logged too

    def test_problem_merge_and_raw_body(self) -> None:
        self.fault(operation="assure_create_dossier", status=400,
                   problem={"title": "Custom", "code": "X1"})
        doc = self.assertProblem(self.call("POST", "/assure/dossiers", {}), 400)
        self.assertEqual((doc["title"], doc["code"], doc["instance"]),
                         ("Custom", "X1", "/assure/dossiers"))
        self.fault(operation="assure_create_dossier", status=502, body="<html>bad</html>",
                   content_type="text/html")
        answer = self.call("POST", "/assure/dossiers", {})
        self.assertEqual((answer.status, answer.content_type, answer.body),
                         (502, "text/html", b"<html>bad</html>"))
        self.assertEqual(self.call("GET", "/assure/dossiers").json(), [])  # no side effect

    def test_count_order_wildcard_and_clear(self) -> None:
        self.fault(operation="*", status=500, count=-1)
        self.fault(operation="assure_list_dossiers", status=429)
        for _ in range(3):
            self.assertProblem(self.call("GET", "/assure/dossiers"), 500)
        self.assertEqual(self.get_token_status(), 500)
        listed = self.control("GET", "faults")
        self.assertEqual([(f["operation"], f["count"]) for f in listed],
                         [("*", -1), ("assure_list_dossiers", 1)])
        self.assertEqual(listed[0]["fired"], 4)
        self.control("GET", "health")  # control routes are never faulted
        self.assertProblem(self.call("GET", "/__mock/nope", token=False), 404)
        self.assertNotIn("/__mock/nope", [e["path"] for e in self.control("GET", "requests")])
        self.control("DELETE", "faults")
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)

    def get_token_status(self) -> int:
        return self.token_request({"grant_type": "client_credentials"},
                                  ("test-client", "test-secret")).status

    def test_token_fault(self) -> None:
        self.fault(operation="token", status=500, count=2)
        self.assertEqual(self.get_token_status(), 500)
        self.assertEqual(self.get_token_status(), 500)
        self.assertEqual(self.get_token_status(), 200)

    def test_invalid_fault_specs(self) -> None:
        for spec in ({"status": 500}, {"operation": "assure_nope"},
                     {"operation": "*", "count": 0}, {"operation": "*", "colour": "red"},
                     {"operation": "*", "hang": "yes"}, {"operation": "*", "status": 99},
                     [{"operation": "*"}, {"operation": "bad"}]):
            answer = self.call("POST", "/__mock/faults", spec, token=False)
            self.assertProblem(answer, 400)
        self.assertEqual(self.control("GET", "faults"), [])
        added = self.call("POST", "/__mock/faults",
                          [{"operation": "token"}, {"operation": "unknown", "status": 418}],
                          token=False).json()
        self.assertEqual(len(added), 2)

    def test_delay(self) -> None:
        self.fault(operation="assure_list_dossiers", delay_ms=300)
        began = time.monotonic()
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)
        self.assertGreaterEqual(time.monotonic() - began, 0.29)

    def test_hang_until_client_leaves(self) -> None:
        self.fault(operation="assure_list_dossiers", hang=True)
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.fresh_call("GET", "/assure/dossiers", timeout=0.3)
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)

    def test_hang_released_by_reset(self) -> None:
        self.fault(operation="assure_list_dossiers", hang=True)
        outcome: dict = {}

        def hung_call() -> None:
            began = time.monotonic()
            try:
                self.fresh_call("GET", "/assure/dossiers", timeout=10)
            except Exception as exc:  # noqa: BLE001 - any connection error is the point
                outcome["error"] = exc
            outcome["elapsed"] = time.monotonic() - began

        thread = threading.Thread(target=hung_call)
        thread.start()
        time.sleep(0.2)
        self.control("POST", "reset")
        thread.join(5)
        self.assertIsInstance(outcome.get("error"), http.client.RemoteDisconnected)
        self.assertLess(outcome["elapsed"], 3)

    def test_drop(self) -> None:
        self.fault(operation="assure_create_dossier", drop=True)
        with self.assertRaises(http.client.RemoteDisconnected):
            self.fresh_call("POST", "/assure/dossiers", body={})
        self.assertEqual(self.call("GET", "/assure/dossiers").json(), [])  # never processed

    def test_drop_mid_body(self) -> None:
        self.fault(operation="assure_list_dossiers", drop_mid_body=True, status=500)
        with self.assertRaises(http.client.IncompleteRead):
            self.fresh_call("GET", "/assure/dossiers")

    def test_truncated_json(self) -> None:
        self.fault(operation="assure_create_dossier", truncated_json=True)
        conn = self.connect()
        try:
            conn.request("POST", "/assure/dossiers", body="{}",
                         headers={"Authorization": "Bearer " + self.token,
                                  "Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            with self.assertRaises(http.client.IncompleteRead) as caught:
                resp.read()
            partial = caught.exception.partial
            self.assertTrue(partial.startswith(b'{"dossierId":"'), partial)
        finally:
            conn.close()
        self.assertEqual(len(self.call("GET", "/assure/dossiers").json()), 1)  # processed

    def test_malformed_json(self) -> None:
        self.fault(operation="assure_list_dossiers", malformed_json=True)
        answer = self.call("GET", "/assure/dossiers")
        self.assertEqual((answer.status, answer.body), (200, b'{"broken": '))
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)  # still alive

    def test_oversized(self) -> None:
        for size in (5, 100000):
            self.fault(operation="assure_list_dossiers", oversized_bytes=size)
            answer = self.call("GET", "/assure/dossiers")
            self.assertEqual((answer.status, len(answer.body)), (200, size))
            json.loads(answer.body)

    def test_header_bytes(self) -> None:
        # (http.client reads header lines of at most 64 kB)
        self.fault(operation="assure_list_dossiers", header_bytes=60000)
        answer = self.call("GET", "/assure/dossiers")
        self.assertEqual(answer.status, 200)
        self.assertEqual(answer.headers["x-padding"], "x" * 60000)
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)  # once

    def test_drip(self) -> None:
        self.fault(operation="assure_create_dossier", drip_ms=3)
        began = time.monotonic()
        answer = self.call("POST", "/assure/dossiers", {"externalReference": "drip"})
        elapsed = time.monotonic() - began
        self.assertEqual(answer.status, 201)
        self.assertEqual(answer.json()["externalReference"], "drip")
        self.assertGreaterEqual(elapsed, len(answer.body) * 0.0025)


# ============================================================================================
# Control interface
# ============================================================================================

class ControlTests(MockCase):

    def test_health(self) -> None:
        self.assertEqual(self.control("GET", "health"), {"ok": True})

    def test_request_log(self) -> None:
        dossier = self.new_dossier("pii")
        self.call("GET", "/assure/dossiers?x=1&x=2")
        self.call("POST", "/assure/dossiers/%s/files" % dossier, {"front": PNG_URL})
        self.call("GET", "/assure/dossiers/%s/files?depiction=front" % dossier)
        log = self.control("GET", "requests")
        self.assertEqual([e["seq"] for e in log], [1, 2, 3, 4, 5])
        self.assertEqual([e["operation"] for e in log],
                         ["token", "assure_create_dossier", "assure_list_dossiers",
                          "assure_set_dossier_files", "assure_get_dossier_file"])
        token_entry, create, listing = log[0], log[1], log[2]
        self.assertEqual(token_entry["headers"]["authorization"], "Basic ***")
        self.assertEqual(create["headers"]["authorization"], "Bearer ***")
        self.assertEqual(create["body"], {"externalReference": "pii"})
        self.assertEqual(create["method"], "POST")
        self.assertEqual(listing["query"], {"x": ["1", "2"]})
        self.assertIsNone(listing["body"])
        self.assertNotIn(self.token, json.dumps(log))
        since = self.control("GET", "requests?since=3")
        self.assertEqual([e["seq"] for e in since], [4, 5])
        only = self.control("GET", "requests?operation=assure_list_dossiers")
        self.assertEqual([e["seq"] for e in only], [3])
        self.control("DELETE", "requests")
        self.assertEqual(self.control("GET", "requests"), [])

    def test_token_log_redaction(self) -> None:
        self.token_request({"grant_type": "client_credentials", "client_id": "test-client",
                            "client_secret": "test-secret"})
        entry = self.control("GET", "requests?operation=token")[-1]
        self.assertEqual(entry["body"],
                         "grant_type=client_credentials&client_id=test-client&client_secret=***")
        self.assertNotIn("test-secret", json.dumps(self.control("GET", "requests")))

    def test_binary_body_logged_as_length(self) -> None:
        self.call("POST", "/assure/dossiers", b"\xff\xfe\x00", {"Content-Type": "image/png"})
        self.assertEqual(self.control("GET", "requests")[-1]["body"], {"bytes": 3})

    def test_config(self) -> None:
        defaults = self.control("GET", "config")
        self.assertEqual(defaults, {"final_status": "accepted", "process_polls_until_final": 2,
                                    "process_list_format": "object",
                                    "token_expires_in": 3600})
        merged = self.control("POST", "config", {"final_status": "canceled"})
        self.assertEqual(merged["final_status"], "canceled")
        self.assertEqual(merged["process_polls_until_final"], 2)
        for body, field in (({"final_status": "pending"}, "final_status"),
                            ({"process_polls_until_final": -1}, "process_polls_until_final"),
                            ({"process_list_format": "xml"}, "process_list_format"),
                            ({"token_expires_in": "1h"}, "token_expires_in"),
                            ({"nope": 1}, "nope")):
            self.assertProblem(self.call("POST", "/__mock/config", body, token=False), 400,
                               field)
        self.control("POST", "config", {"token_expires_in": 60})
        self.assertEqual(self.token_request({"grant_type": "client_credentials"},
                                            ("test-client", "test-secret")).json()["expires_in"],
                         60)

    def test_reset(self) -> None:
        self.new_dossier()
        self.control("POST", "config", {"final_status": "rejected"})
        self.call("POST", "/__mock/faults", {"operation": "token", "count": -1}, token=False)
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "requests"), [])
        self.assertEqual(self.control("GET", "faults"), [])
        self.assertEqual(self.control("GET", "config")["final_status"], "accepted")
        self.assertEqual(self.call("GET", "/assure/dossiers").json(), [])
        self.assertEqual(self.control("GET", "requests")[0]["seq"], 1)

    def test_seed_validation(self) -> None:
        for body in ({"count": 0}, {"count": 1, "status": "done"}, {"provider": "acme"}):
            self.assertProblem(self.call("POST", "/__mock/seed-processes", body, token=False),
                               400)
        seeded = self.control("POST", "seed-processes", {"count": 2, "status": "failed"})
        doc = self.call("GET", self.process_path(seeded["dossierId"],
                                                 seeded["processIds"][0])).json()
        self.assertEqual(doc["status"], "failed")
        self.assertIn("failReason", doc)


# ============================================================================================
# Moved routes (/__mock/moves)
# ============================================================================================

class MoveTests(MockCase):

    def move(self, **spec: Any) -> Answer:
        return self.call("POST", "/__mock/moves", spec, token=False)

    def test_moved_route_serves_only_at_the_new_path(self) -> None:
        dossier = self.new_dossier("moved")
        answer = self.move(operation="assure_get_dossier", path="/assure/v2/dossier/{dossierId}")
        self.assertEqual(answer.status, 201, answer)
        self.assertEqual(answer.json(), {"operation": "assure_get_dossier", "method": "GET",
                                         "path": "/assure/v2/dossier/{dossierId}"})
        self.control("DELETE", "requests")
        new_path = "/assure/v2/dossier/%s" % dossier.upper()
        doc = self.call("GET", new_path).json()
        self.assertEqual((doc["dossierId"], doc["externalReference"]), (dossier, "moved"))
        old = self.assertProblem(self.call("GET", "/assure/dossiers/" + dossier), 404)
        self.assertEqual(old["detail"], "No route for GET /assure/dossiers/%s." % dossier)
        self.assertProblem(self.call("GET", "/assure/v2/dossier/%s" % dossier, token=False), 401)
        log = self.control("GET", "requests")
        self.assertEqual([(e["operation"], e["path"]) for e in log],
                         [("assure_get_dossier", new_path),
                          ("unknown", "/assure/dossiers/" + dossier),
                          ("assure_get_dossier", "/assure/v2/dossier/" + dossier)])
        raw_path = "/assure/v2/dossier/%s%%%02X" % (dossier[:-1], ord(dossier[-1]))
        encoded = self.call("GET", raw_path)
        self.assertEqual(encoded.status, 200, encoded)
        entry = self.control("GET", "requests")[-1]
        self.assertEqual((entry["operation"], entry["path"], entry["raw_path"]),
                         ("assure_get_dossier", "/assure/v2/dossier/" + dossier, raw_path))
        # the other routes are untouched
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)

    def test_method_change_and_other_routes_matching_the_old_path(self) -> None:
        self.assertEqual(self.move(operation="assure_create_dossier", method="put",
                                   path="/assure/create-dossier").json()["method"], "PUT")
        created = self.call("PUT", "/assure/create-dossier", {"externalReference": "r"})
        self.assertEqual(created.status, 201, created)
        self.assertProblem(self.call("POST", "/assure/dossiers", {}), 404)
        self.assertProblem(self.call("POST", "/assure/create-dossier", {}), 404)
        self.assertEqual(len(self.call("GET", "/assure/dossiers").json()), 1)
        # DELETE /assure/dossiers/all moved: its old path now reaches DELETE .../{dossierId}
        self.move(operation="assure_delete_all_dossiers", path="/assure/purge")
        self.assertProblem(self.call("DELETE", "/assure/dossiers/all"), 400, "dossierId")
        self.assertEmpty(self.call("DELETE", "/assure/purge"), 204)
        self.assertEqual(self.call("GET", "/assure/dossiers").json(), [])

    def test_moved_route_wins_over_an_equally_literal_one(self) -> None:
        dossier = self.new_dossier()
        self.assertEmpty(self.call("POST", "/assure/dossiers/%s/userdata" % dossier,
                                   {"userData": {"firstName": "Ada"}}), 201)
        self.move(operation="assure_get_user_data", path="/assure/dossiers/{dossierId}/files")
        doc = self.call("GET", "/assure/dossiers/%s/files" % dossier).json()
        self.assertEqual(doc["userData"], {"firstName": "Ada"})
        self.assertProblem(self.call("GET", "/assure/dossiers/%s/userdata" % dossier), 404)
        # the more literal template still wins: /assure/dossiers/all over the moved route
        self.move(operation="assure_get_dossier", path="/assure/{dossierId}")
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)
        self.assertEqual(self.call("GET", "/assure/" + dossier).json()["dossierId"], dossier)

    def test_faults_follow_the_operation(self) -> None:
        self.move(operation="assure_list_dossiers", path="/list")
        self.call("POST", "/__mock/faults", {"operation": "assure_list_dossiers",
                                             "status": 503, "count": 1}, token=False)
        self.assertProblem(self.call("GET", "/list"), 503)
        self.assertEqual(self.call("GET", "/list").status, 200)
        self.call("POST", "/__mock/faults", {"operation": "assure_list_dossiers",
                                             "path_contains": "/list", "status": 502},
                  token=False)
        self.assertProblem(self.call("GET", "/list"), 502)

    def test_token_endpoint_can_move(self) -> None:
        self.move(operation="token", path="/oauth2/token")
        self.assertEqual(self.token_request({"grant_type": "client_credentials"}).status, 404)
        answer = self.call("POST", "/oauth2/token", "grant_type=client_credentials",
                           {"Content-Type": "application/x-www-form-urlencoded",
                            "Authorization": "Basic " + base64.b64encode(
                                b"test-client:test-secret").decode()}, token=False)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(self.control("GET", "requests")[-1]["operation"], "token")

    def test_list_replace_clear_and_reset(self) -> None:
        self.assertEqual(self.control("GET", "moves"), [])
        both = self.call("POST", "/__mock/moves", [
            {"operation": "assure_get_dossier", "path": "/a/{dossierId}"},
            {"operation": "assure_list_dossiers", "method": "POST", "path": "/b"}],
            token=False)
        self.assertEqual(both.status, 201, both)
        self.assertEqual(len(both.json()), 2)
        self.move(operation="assure_get_dossier", path="/c/{dossierId}")  # replaces
        self.assertEqual(self.control("GET", "moves"),
                         [{"operation": "assure_list_dossiers", "method": "POST", "path": "/b"},
                          {"operation": "assure_get_dossier", "method": "GET",
                           "path": "/c/{dossierId}"}])
        dossier = self.new_dossier()
        self.assertProblem(self.call("GET", "/a/" + dossier), 404)
        self.assertEqual(self.call("GET", "/c/" + dossier).status, 200)
        self.assertEqual(self.control("DELETE", "moves"), {"ok": True})
        self.assertEqual(self.control("GET", "moves"), [])
        self.assertEqual(self.call("GET", "/assure/dossiers/" + dossier).status, 200)
        self.assertProblem(self.call("GET", "/c/" + dossier), 404)
        self.move(operation="assure_list_dossiers", path="/b")
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "moves"), [])
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)
        self.assertEqual(self.control("GET", "requests")[0]["operation"], "assure_list_dossiers")

    def test_validation(self) -> None:
        cases = [({"path": "/x"}, "operation"),
                 ({"operation": "assure_nope", "path": "/x"}, "operation"),
                 ({"operation": "unknown", "path": "/x"}, "operation"),
                 ({"operation": "control", "path": "/x"}, "operation"),
                 ({"operation": 7, "path": "/x"}, "operation"),
                 ({"operation": "assure_list_dossiers"}, "path"),
                 ({"operation": "assure_list_dossiers", "path": "x"}, "path"),
                 ({"operation": "assure_list_dossiers", "path": ""}, "path"),
                 ({"operation": "assure_list_dossiers", "path": 5}, "path"),
                 ({"operation": "assure_list_dossiers", "path": "/__mock/x"}, "path"),
                 ({"operation": "assure_list_dossiers", "path": "/x?y=1"}, "path"),
                 ({"operation": "assure_list_dossiers", "path": "/x/{id}"}, "path"),
                 ({"operation": "assure_get_dossier", "path": "/x"}, "path"),
                 ({"operation": "assure_get_dossier", "path": "/x/{id}"}, "path"),
                 ({"operation": "assure_get_dossier", "path": "/x/d-{dossierId}"}, "path"),
                 ({"operation": "assure_get_dossier",
                   "path": "/x/{dossierId}/{dossierId}"}, "path"),
                 ({"operation": "assure_get_process", "path": "/p/{processId}"}, "path"),
                 ({"operation": "assure_list_dossiers", "path": "/x", "method": "BREW"},
                  "method"),
                 ({"operation": "assure_list_dossiers", "path": "/x", "method": 1}, "method"),
                 ({"operation": "assure_list_dossiers", "path": "/x", "extra": 1}, "extra")]
        for spec, field in cases:
            self.assertProblem(self.call("POST", "/__mock/moves", spec, token=False), 400,
                               field)
        self.assertProblem(self.call("POST", "/__mock/moves", ["x"], token=False), 400)
        # one bad move in an array: none is applied
        self.assertProblem(self.call("POST", "/__mock/moves", [
            {"operation": "assure_list_dossiers", "path": "/ok"},
            {"operation": "assure_get_dossier", "path": "/bad"}], token=False), 400, "path")
        self.assertEqual(self.control("GET", "moves"), [])
        # the parameters may come in another order
        self.assertEqual(self.move(operation="assure_get_process",
                                   path="/p/{processId}/in/{dossierId}").status, 201)
        dossier, process = self.started_process()
        doc = self.call("GET", "/p/%s/in/%s" % (process, dossier)).json()
        self.assertEqual(doc["processId"], process)


# ============================================================================================
# HTTP behaviour: keep-alive, concurrency, chunked bodies, TLS, CLI
# ============================================================================================

class HttpTests(MockCase):

    def test_keep_alive_many_requests(self) -> None:
        self.call("GET", "/assure/dossiers")
        sock = self.conn.sock
        for i in range(200):
            method = ("POST", "GET", "DELETE")[i % 3]
            path = "/assure/dossiers/all" if method == "DELETE" else "/assure/dossiers"
            answer = self.call(method, path, {} if method == "POST" else None)
            self.assertIn(answer.status, (200, 201, 204))
            self.assertIn("content-length", answer.headers)
        self.assertIs(self.conn.sock, sock)

    def test_concurrent_connections(self) -> None:
        errors: list = []

        def worker() -> None:
            conn = self.connect()
            try:
                for _ in range(15):
                    if self.call("POST", "/assure/dossiers", {}, conn=conn).status != 201:
                        errors.append("status")
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(len(self.call("GET", "/assure/dossiers").json()), 100)
        self.assertEqual(len(self.server.mock.states["assure"].dossiers), 180)

    def test_chunked_request_body(self) -> None:
        self.conn.putrequest("POST", "/assure/dossiers")
        self.conn.putheader("Authorization", "Bearer " + self.token)
        self.conn.putheader("Content-Type", "application/json")
        self.conn.putheader("Transfer-Encoding", "chunked")
        self.conn.endheaders()
        payload = b'{"externalReference":"chunky"}'
        self.conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
        resp = self.conn.getresponse()
        self.assertEqual(resp.status, 201)
        self.assertEqual(json.loads(resp.read())["externalReference"], "chunky")

    @unittest.skipUnless(shutil.which("openssl"), "openssl not available")
    def test_tls(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                           check=True, capture_output=True)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            with RunningMock(apis=[], ssl_context=context) as tls:
                self.assertTrue(tls.url.startswith("https://"))
                client = ssl.create_default_context(cafile=cert)
                client.check_hostname = False
                conn = http.client.HTTPSConnection("127.0.0.1", tls.port, context=client,
                                                   timeout=5)
                try:
                    for _ in range(3):  # keep-alive over TLS
                        answer = self.call("POST", "/auth/open/connect/token",
                                           "grant_type=client_credentials&client_id=test-client"
                                           "&client_secret=test-secret",
                                           {"Content-Type": "application/x-www-form-urlencoded"},
                                           token=False, conn=conn)
                        self.assertEqual(answer.status, 200)
                finally:
                    conn.close()

    def test_cli(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            port_file = os.path.join(tmp, "port")
            proc = subprocess.Popen([sys.executable, MOCK_PY, "--host", "127.0.0.1", "--port",
                                     "0", "--port-file", port_file, "--client-id", "cli",
                                     "--client-secret", "s3cret", "--token-expires-in", "77"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                line = proc.stdout.readline()
                with open(port_file, encoding="ascii") as f:
                    content = f.read()
                self.assertRegex(content, r"^\d+\n$")
                port = int(content)
                self.assertEqual(line, "signicat mock listening on http://127.0.0.1:%d\n" % port)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                try:
                    answer = self.token_request({"grant_type": "client_credentials",
                                                 "client_id": "cli",
                                                 "client_secret": "s3cret"}, conn=conn)
                    self.assertEqual(answer.json()["expires_in"], 77)
                    token = answer.json()["access_token"]
                    answer = self.call("POST", "/assure/dossiers", {}, token=token, conn=conn)
                    self.assertEqual(answer.status, 201)  # the assure module is loaded
                finally:
                    conn.close()
            finally:
                proc.send_signal(signal.SIGTERM)
                _out, err = proc.communicate(timeout=10)
            self.assertEqual(proc.returncode, 0, err)
            self.assertEqual(err, "")


class PluginTests(unittest.TestCase):
    """The plug-in interface without HTTP."""

    def test_literal_segments_win(self) -> None:
        api = signicat_mock.Api("demo")
        api.route("GET", "/demo/{id}", "demo_get")(lambda req: None)
        api.route("GET", "/demo/all", "demo_all")(lambda req: None)
        server = signicat_mock.MockServer(apis=[api])
        route, params = server.find_route("GET", "/demo/all")
        self.assertEqual(route.operation_id, "demo_all")
        route, params = server.find_route("GET", "/demo/a%20b")
        self.assertEqual((route.operation_id, params), ("demo_get", {"id": "a b"}))
        self.assertEqual(server.find_route("POST", "/demo/x"), (None, {}))

    def test_bad_templates(self) -> None:
        api = signicat_mock.Api("demo")
        with self.assertRaises(ValueError):
            api.route("GET", "demo", "x")(lambda req: None)
        with self.assertRaises(ValueError):
            api.route("GET", "/demo/x{id}", "x")(lambda req: None)
        with self.assertRaises(ValueError):
            api.control_route("POST", "/demo/control")

    def test_default_modules(self) -> None:
        names = [api.name for api in load_api_modules()]
        self.assertIn("assure", names)


if __name__ == "__main__":
    unittest.main()
