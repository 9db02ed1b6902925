"""Checks of the Authentication REST and ReuseID Onboarding APIs of the mock.

Reuses the HTTP helpers of test_mock.MockCase; each test starts a fresh mock with the
auth_rest and reuseid modules.  Run from the repository root:

    python3 -m unittest discover -s test/mock -p 'test_*.py' -v
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import unittest
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from signicat_mock import load_api_modules  # noqa: E402
from test_mock import MISSING, STAMP_RE, UUID4_RE, Answer, MockCase  # noqa: E402

PREFILLED = {"nin": "07128312345", "firstName": "Bruce", "lastName": "Wayne",
             "dateOfBirth": "1973-12-07", "email": "bruce@example.com"}
SAMPLE_USER_DATA = {"firstName": "JANE", "lastName": "SMITH", "dateOfBirth": "1990-01-01",
                    "gender": "F", "nationality": "NOR"}


class ApisCase(MockCase):
    """MockCase serving the Authentication REST and ReuseID APIs instead of Assure."""

    api_modules = ["auth_rest", "reuseid"]


# ============================================================================================
# Authentication REST API
# ============================================================================================

class AuthSessionTests(ApisCase):

    def create(self, headers: Any = None, **fields: Any) -> Answer:
        body = {"flow": "redirect", "requestedAttributes": ["firstName", "lastName"]}
        body.update(fields)
        return self.call("POST", "/auth/rest/sessions", body, headers)

    def session(self, **fields: Any) -> dict:
        answer = self.create(**fields)
        self.assertEqual(answer.status, 200, answer)
        return answer.json()

    def get(self, session_id: str) -> Answer:
        return self.call("GET", "/auth/rest/sessions/" + session_id)

    def test_create_redirect(self) -> None:
        before = dt.datetime.now(dt.timezone.utc)
        doc = self.session(externalReference="order-1", tags=["a"], language="nb",
                           themeId="agkaa12", requestedLoa="substantial",
                           callbackUrls={"success": "https://x/ok", "abort": "https://x/ab",
                                         "error": None},
                           prefilledInput=PREFILLED,
                           additionalParameters={"sbid_flow": "QR"})
        self.assertRegex(doc["id"], UUID4_RE)
        self.assertEqual(doc["accountId"], "a-spge-mock")
        self.assertEqual(doc["authenticationUrl"], "https://mock.signicat/auth/" + doc["id"])
        self.assertEqual(doc["status"], "CREATED")
        self.assertEqual(doc["statusUrl"],
                         "https://api.signicat.com/auth/rest/sessions/" + doc["id"])
        self.assertNotIn("idpData", doc)
        self.assertNotIn("subject", doc)
        self.assertNotIn("loa", doc)
        for name, value in (("flow", "redirect"), ("requestedAttributes",
                                                   ["firstName", "lastName"]),
                            ("externalReference", "order-1"), ("tags", ["a"]),
                            ("language", "nb"), ("themeId", "agkaa12"),
                            ("requestedLoa", "substantial")):
            self.assertEqual(doc[name], value, name)
        self.assertEqual(doc["callbackUrls"]["success"], "https://x/ok")
        self.assertNotIn("prefilledInput", doc)
        self.assertRegex(doc["expiresAt"], STAMP_RE)
        expires = dt.datetime.fromisoformat(doc["expiresAt"].replace("Z", "+00:00"))
        self.assertAlmostEqual((expires - before).total_seconds(), 1200, delta=5)

    def test_create_other_flows_and_account(self) -> None:
        doc = self.create({"Signicat-AccountId": "a-acct-42"}, flow="headless",
                          requestedAttributes=[], sessionLifetime=60).json()
        self.assertEqual(doc["accountId"], "a-acct-42")
        self.assertRegex(doc["idpData"]["autoStartToken"], UUID4_RE)
        self.assertNotIn("authenticationUrl", doc)
        self.assertEqual(doc["requestedAttributes"], [])
        self.assertEqual(doc["sessionLifetime"], 300)  # raised to the soft minimum
        doc = self.session(flow="embedded", sessionLifetime=600,
                           expiresAt="2024-06-01T13:45:30",
                           embeddedParentDomains=["example.com"])
        self.assertIn("authenticationUrl", doc)
        self.assertEqual((doc["sessionLifetime"], doc["expiresAt"]),
                         (600, "2024-06-01T13:45:30"))

    def test_validation(self) -> None:
        cases = [({"flow": None}, "flow"), ({"flow": "popup"}, "flow"),
                 ({"requestedAttributes": None}, "requestedAttributes"),
                 ({"requestedAttributes": "firstName"}, "requestedAttributes"),
                 ({"requestedAttributes": [1]}, "requestedAttributes"),
                 ({"allowedProviders": ["x" * 31]}, "allowedProviders"),
                 ({"allowedProviders": "nbid"}, "allowedProviders"),
                 ({"requestedLoa": "medium"}, "requestedLoa"),
                 ({"tags": ["t"] * 101}, "tags"), ({"tags": ["x" * 101]}, "tags"),
                 ({"externalReference": "x" * 101}, "externalReference"),
                 ({"themeId": "x" * 11}, "themeId"),
                 ({"language": "nob"}, "language"), ({"language": 47}, "language"),
                 ({"sessionLifetime": "600"}, "sessionLifetime"),
                 ({"sessionLifetime": 1.5}, "sessionLifetime"),
                 ({"sessionLifetime": -1}, "sessionLifetime"),
                 ({"callbackUrls": {"success": 1}}, "callbackUrls"),
                 ({"callbackUrls": {"done": "https://x"}}, "callbackUrls"),
                 ({"callbackUrls": "https://x"}, "callbackUrls"),
                 ({"prefilledInput": {}}, "prefilledInput"),
                 ({"prefilledInput": "07128312345"}, "prefilledInput"),
                 ({"prefilledInput": {"nin": 7128312345}}, "prefilledInput.nin"),
                 ({"prefilledInput": {"shoeSize": "42"}}, "prefilledInput.shoeSize"),
                 ({"prefilledInput": {"dateOfBirth": "07.12.1973"}},
                  "prefilledInput.dateOfBirth"),
                 ({"additionalParameters": {"sbid_flow": 1}}, "additionalParameters"),
                 ({"embeddedParentDomains": "example.com"}, "embeddedParentDomains"),
                 ({"returnUrl": 5}, "returnUrl"),
                 ({"usageReference": ["u"]}, "usageReference"),
                 ({"requestDomain": 1}, "requestDomain"),
                 ({"expiresAt": "tomorrow"}, "expiresAt")]
        for fields, field in cases:
            self.assertProblem(self.create(**fields), 400, field)
        doc = self.assertProblem(self.call("POST", "/auth/rest/sessions", {}), 400)
        self.assertEqual(set(doc["errors"]), {"flow", "requestedAttributes"})
        self.assertProblem(self.call("POST", "/auth/rest/sessions"), 400)
        self.assertProblem(self.call("POST", "/auth/rest/sessions", ["redirect"]), 400)
        doc = self.assertProblem(self.create(encryptionPublicKey={"kty": "RSA"}), 400,
                                 "encryptionPublicKey")
        self.assertIn("not supported by the mock", doc["detail"])
        # null means absent, and the documented limits themselves are fine
        self.session(tags=["x" * 100] * 100, externalReference="x" * 100, themeId="x" * 10,
                     allowedProviders=["x" * 30], returnUrl=None, encryptionPublicKey=None,
                     prefilledInput={"nin": None, "mobile": "+4799716935"})

    def test_success_progression(self) -> None:
        session_id = self.session(prefilledInput=PREFILLED, allowedProviders=["sbid"])["id"]
        first = self.get(session_id).json()
        self.assertEqual(first["status"], "CREATED")
        second = self.get(session_id.upper()).json()
        self.assertEqual(second["status"], "SUCCESS")
        self.assertEqual(second["provider"], "sbid")
        subject = second["subject"]
        self.assertEqual((subject["name"], subject["firstName"], subject["lastName"],
                          subject["dateOfBirth"], subject["email"]),
                         ("Bruce Wayne", "Bruce", "Wayne", "1973-12-07", "bruce@example.com"))
        self.assertEqual(subject["nin"], {"value": "07128312345", "issuingCountry": "NOR",
                                          "type": "SOCIAL"})
        self.assertNotIn("error", second)
        self.assertEqual(second["loa"], "substantial")  # none requested: the default
        self.assertEqual(second["statusUrl"],
                         "https://api.signicat.com/auth/rest/sessions/" + session_id)
        self.assertEqual(self.get(session_id).json(), second)  # stable once final
        session_id = self.session(requestedLoa="high")["id"]
        self.get(session_id)
        self.assertEqual(self.get(session_id).json()["loa"], "high")

    def test_sample_subject(self) -> None:
        session_id = self.session(prefilledInput={"firstName": "Ada"})["id"]
        self.get(session_id)
        subject = self.get(session_id).json()["subject"]
        self.assertEqual((subject["name"], subject["dateOfBirth"], subject["nin"]["value"]),
                         ("Ada Doe", "2002-06-01", "123456789"))
        session_id = self.session()["id"]
        self.get(session_id)
        doc = self.get(session_id).json()
        self.assertEqual(doc["subject"]["name"], "John Doe")
        self.assertEqual(doc["provider"], "nbid")

    def test_final_status_from_reference_and_config(self) -> None:
        for reference, status in (("r mock-final=ERROR", "ERROR"),
                                  ("r mock-final=abort", "ABORT"),
                                  ("r mock-final=SUCCESS", "SUCCESS")):
            session_id = self.session(externalReference=reference)["id"]
            self.get(session_id)
            doc = self.get(session_id).json()
            self.assertEqual(doc["status"], status)
            self.assertEqual("subject" in doc, status == "SUCCESS")
            self.assertEqual("loa" in doc, status == "SUCCESS")
            self.assertEqual("error" in doc, status == "ERROR")
            self.assertIn("statusUrl", doc)
            if status == "ERROR":
                self.assertEqual(set(doc["error"]), {"title", "detail", "code"})
        self.control("POST", "config", {"auth_final_status": "ERROR",
                                        "auth_polls_until_final": 3})
        session_id = self.session()["id"]
        statuses = [self.get(session_id).json()["status"] for _ in range(3)]
        self.assertEqual(statuses, ["CREATED", "CREATED", "ERROR"])
        self.control("POST", "config", {"auth_polls_until_final": 0})
        self.assertEqual(self.get(self.session()["id"]).json()["status"], "ERROR")

    def test_cancel(self) -> None:
        session_id = self.session()["id"]
        self.get(session_id)  # one poll: still CREATED
        answer = self.call("POST", "/auth/rest/sessions/%s/cancel" % session_id)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.json()["status"], "CANCELLED")
        self.assertEqual(self.get(session_id).json()["status"], "CANCELLED")
        self.assertEqual(self.get(session_id).json()["status"], "CANCELLED")
        self.assertProblem(self.call("POST", "/auth/rest/sessions/%s/cancel" % session_id),
                           409)
        done = self.session()["id"]
        self.get(done)
        self.get(done)
        self.assertProblem(self.call("POST", "/auth/rest/sessions/%s/cancel" % done), 409)
        for path in ("/auth/rest/sessions/" + MISSING, "/auth/rest/sessions/nope"):
            self.assertProblem(self.call("GET", path), 404)
            self.assertProblem(self.call("POST", path + "/cancel"), 404)

    def test_waiting_status(self) -> None:
        self.control("POST", "config", {"auth_waiting_status": "WAITING_FOR_USER",
                                        "auth_polls_until_final": 3})
        created = self.session()
        self.assertEqual(created["status"], "CREATED")  # the create answer
        statuses = [self.get(created["id"]).json()["status"] for _ in range(4)]
        self.assertEqual(statuses, ["WAITING_FOR_USER", "WAITING_FOR_USER", "SUCCESS",
                                    "SUCCESS"])
        # an invented status, unknown to clients; the poll count is unchanged
        self.control("POST", "config", {"auth_waiting_status": "AWAITING_SECOND_FACTOR",
                                        "auth_polls_until_final": 2})
        session_id = self.session(externalReference="mock-final=ERROR")["id"]
        statuses = [self.get(session_id).json()["status"] for _ in range(3)]
        self.assertEqual(statuses, ["AWAITING_SECOND_FACTOR", "ERROR", "ERROR"])
        # 0 and 1: the first GET is final, the waiting status never shows
        for polls in (0, 1):
            self.control("POST", "config", {"auth_polls_until_final": polls})
            self.assertEqual(self.get(self.session()["id"]).json()["status"], "SUCCESS")
        # back to '': CREATED again until final
        self.control("POST", "config", {"auth_waiting_status": "",
                                        "auth_polls_until_final": 2})
        session_id = self.session()["id"]
        self.assertEqual([self.get(session_id).json()["status"] for _ in range(2)],
                         ["CREATED", "SUCCESS"])

    def test_cancel_while_waiting(self) -> None:
        self.control("POST", "config", {"auth_waiting_status": "WAITING_FOR_USER",
                                        "auth_polls_until_final": 5})
        session_id = self.session()["id"]
        self.assertEqual(self.get(session_id).json()["status"], "WAITING_FOR_USER")
        answer = self.call("POST", "/auth/rest/sessions/%s/cancel" % session_id)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.json()["status"], "CANCELLED")
        for _ in range(5):
            self.assertEqual(self.get(session_id).json()["status"], "CANCELLED")
        self.assertProblem(self.call("POST", "/auth/rest/sessions/%s/cancel" % session_id),
                           409)
        # a waiting status spelled like a final one is still only a waiting status
        self.control("POST", "config", {"auth_waiting_status": "SUCCESS"})
        session_id = self.session()["id"]
        doc = self.get(session_id).json()
        self.assertEqual(doc["status"], "SUCCESS")
        self.assertNotIn("subject", doc)
        self.assertEqual(self.call("POST", "/auth/rest/sessions/%s/cancel"
                                   % session_id).json()["status"], "CANCELLED")

    def test_log_and_token(self) -> None:
        self.session()
        self.assertEqual(self.create(flow="x").status, 400)
        self.assertEqual(self.call("GET", "/auth/rest/sessions/" + MISSING, token=False).status,
                         401)
        ops = [e["operation"] for e in self.control("GET", "requests")]
        self.assertEqual(ops, ["token", "auth_create_session", "auth_create_session",
                               "auth_get_session"])


# ============================================================================================
# ReuseID Onboarding API
# ============================================================================================

class ReuseIdTests(ApisCase):

    def start(self, kind: str, body: Any = None) -> Answer:
        return self.call("POST", "/reuseid/" + kind, {} if body is None else body)

    def started(self, kind: str, body: Any = None) -> dict:
        answer = self.start(kind, body)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(set(answer.json()), {"data"})
        return answer.json()["data"]

    def get(self, kind: str, transaction: str) -> dict:
        answer = self.call("GET", "/reuseid/%s/%s" % (kind, transaction))
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(set(answer.json()), {"data"})
        return answer.json()["data"]

    def step_up_body(self, **changes: Any) -> dict:
        body = {"userId": "0eb66632-88d0-4ef4-8126-495c64a0abd2",
                "deviceId": "f8d74181-9e00-41ba-ba4f-43aa6a3dfea5"}
        body.update(changes)
        return body

    def test_start_onboarding(self) -> None:
        data = self.started("onboarding", {"externalRef": "Empl10300469",
                                           "provider": "signicatvideoid",
                                           "videoidProviderOptions": {
                                               "docType": 138, "docTypes": [138, 123],
                                               "defaultId": 138}})
        self.assertEqual(data["status"], "Pending")
        for name in ("transactionId", "userId", "dossierId", "processId"):
            self.assertRegex(data[name], UUID4_RE, name)
        self.assertRegex(data["activationCode"], r"^\d{10}$")
        self.assertEqual((data["externalRef"], data["provider"]),
                         ("Empl10300469", "signicatvideoid"))
        self.assertRegex(data["createdAt"], STAMP_RE)
        self.assertNotIn("userData", data)
        self.assertNotIn("deviceId", data)
        bare = self.call("POST", "/reuseid/onboarding").json()["data"]  # no body at all
        self.assertEqual(bare["status"], "Pending")
        self.assertNotIn("externalRef", bare)
        self.assertNotEqual(bare["transactionId"], data["transactionId"])

    def test_onboarding_progression(self) -> None:
        start = self.started("onboarding", {"externalRef": {"any": "value"}})
        transaction = start["transactionId"]
        first = self.get("onboarding", transaction)
        self.assertEqual(first["status"], "Pending")
        done = self.get("onboarding", transaction.upper())
        self.assertEqual(done["status"], "Completed")
        self.assertEqual(done["userData"], SAMPLE_USER_DATA)
        for name in ("deviceId", "proofingId"):
            self.assertRegex(done[name], UUID4_RE)
        for name in ("userId", "activationCode", "dossierId", "processId", "externalRef"):
            self.assertEqual(done[name], start[name])
        self.assertEqual(self.get("onboarding", transaction), done)

    def test_final_status_from_reference_and_config(self) -> None:
        transaction = self.started("onboarding",
                                   {"externalRef": "x mock-final=Failed"})["transactionId"]
        self.get("onboarding", transaction)
        failed = self.get("onboarding", transaction)
        self.assertEqual(failed["status"], "Failed")
        self.assertNotIn("userData", failed)
        self.assertNotIn("proofingId", failed)
        self.control("POST", "config", {"reuseid_final_status": "Failed",
                                        "reuseid_polls_until_final": 1})
        transaction = self.started("step-up", self.step_up_body())["transactionId"]
        self.assertEqual(self.get("step-up", transaction)["status"], "Failed")
        transaction = self.started("step-up", self.step_up_body(
            externalRef="mock-final=completed"))["transactionId"]
        self.assertEqual(self.get("step-up", transaction)["status"], "Completed")

    def test_step_up(self) -> None:
        body = self.step_up_body(provider="signicatvideoid",
                                 videoidProviderOptions={"docTypes": [138]})
        data = self.started("step-up", body)
        self.assertEqual(data["status"], "Pending")
        self.assertEqual((data["userId"], data["deviceId"]), (body["userId"],
                                                              body["deviceId"]))
        self.assertNotIn("activationCode", data)
        self.get("step-up", data["transactionId"])
        done = self.get("step-up", data["transactionId"])
        self.assertEqual(done["status"], "Completed")
        self.assertEqual(done["deviceId"], body["deviceId"])
        self.assertRegex(done["proofingId"], UUID4_RE)
        self.assertEqual(done["userData"], SAMPLE_USER_DATA)

    def test_providers_videoid_and_readid(self) -> None:
        # Signicat's release note names videoid and readid; any string is taken
        for provider in ("videoid", "readid", "signicatvideoid", "acme-id 2"):
            options = {"docType": 138, "docTypes": [138, 123], "defaultId": 138}
            onboarding = self.started("onboarding", {"provider": provider,
                                                     "externalRef": "e-" + provider,
                                                     "videoidProviderOptions": options})
            self.assertEqual(onboarding["provider"], provider)
            self.get("onboarding", onboarding["transactionId"])
            done = self.get("onboarding", onboarding["transactionId"])
            self.assertEqual((done["status"], done["provider"]), ("Completed", provider))
            step_up = self.started("step-up", self.step_up_body(
                userId=onboarding["userId"], deviceId=done["deviceId"], provider=provider,
                videoidProviderOptions={"docTypes": [138]}))
            self.assertEqual(step_up["provider"], provider)
            self.get("step-up", step_up["transactionId"])
            done = self.get("step-up", step_up["transactionId"])
            self.assertEqual((done["status"], done["provider"], done["userData"]),
                             ("Completed", provider, SAMPLE_USER_DATA))
        # videoidProviderOptions are still checked for videoid (and for any provider)
        for kind, body in (("onboarding", {}), ("step-up", self.step_up_body())):
            for provider in ("videoid", "readid"):
                self.assertProblem(self.start(kind, dict(body, provider=provider,
                                                         videoidProviderOptions={
                                                             "docType": "138"})),
                                   400, "videoidProviderOptions.docType")
            for provider in (["videoid"], {"name": "videoid"}, True, 7):
                self.assertProblem(self.start(kind, dict(body, provider=provider)), 400,
                                   "provider")

    def test_validation(self) -> None:
        doc = self.assertProblem(self.start("step-up"), 400)
        self.assertEqual(set(doc["errors"]), {"userId", "deviceId"})
        self.assertProblem(self.call("POST", "/reuseid/step-up"), 400, "userId")
        for body, field in ((self.step_up_body(userId="user-1"), "userId"),
                            (self.step_up_body(deviceId=""), "deviceId"),
                            (self.step_up_body(deviceId=42), "deviceId"),
                            (self.step_up_body(provider=1), "provider")):
            self.assertProblem(self.start("step-up", body), 400, field)
        for options, field in (("138", "videoidProviderOptions"),
                               ({"docType": "138"}, "videoidProviderOptions.docType"),
                               ({"docType": True}, "videoidProviderOptions.docType"),
                               ({"docTypes": [138, "x"]}, "videoidProviderOptions.docTypes"),
                               ({"docTypes": 138}, "videoidProviderOptions.docTypes"),
                               ({"defaultId": 1.5}, "videoidProviderOptions.defaultId")):
            for kind, body in (("onboarding", {}), ("step-up", self.step_up_body())):
                self.assertProblem(self.start(kind, dict(body, videoidProviderOptions=options)),
                                   400, field)
        self.assertProblem(self.start("onboarding", ["x"]), 400)

    def test_unknown_transactions(self) -> None:
        onboarding = self.started("onboarding")["transactionId"]
        step_up = self.started("step-up", self.step_up_body())["transactionId"]
        for kind, transaction in (("onboarding", MISSING), ("onboarding", step_up),
                                  ("step-up", onboarding), ("step-up", "nope")):
            self.assertProblem(self.call("GET", "/reuseid/%s/%s" % (kind, transaction)), 404)


# ============================================================================================
# Config, reset and module loading
# ============================================================================================

class ConfigTests(ApisCase):

    api_modules = ["assure", "auth_rest", "reuseid"]

    def test_config_keys(self) -> None:
        config = self.control("GET", "config")
        self.assertEqual({k: config[k] for k in ("auth_final_status", "auth_polls_until_final",
                                                  "auth_waiting_status",
                                                  "reuseid_final_status",
                                                  "reuseid_polls_until_final")},
                         {"auth_final_status": "SUCCESS", "auth_polls_until_final": 2,
                          "auth_waiting_status": "",
                          "reuseid_final_status": "Completed",
                          "reuseid_polls_until_final": 2})
        for body in ({"auth_final_status": "CANCELLED"}, {"auth_final_status": "success"},
                     {"auth_polls_until_final": -1}, {"auth_polls_until_final": True},
                     {"auth_waiting_status": None}, {"auth_waiting_status": 1},
                     {"auth_waiting_status": "WAITING-FOR-USER"},
                     {"auth_waiting_status": "WAITING FOR USER"},
                     {"auth_waiting_status": "WAITING1"},
                     {"auth_waiting_status": "ÆRLIG"}, {"auth_waiting_status": "WAITING\n"},
                     {"auth_waiting_status": "W" * 65},
                     {"reuseid_final_status": "Pending"}, {"reuseid_polls_until_final": "2"}):
            self.assertProblem(self.call("POST", "/__mock/config", body, token=False), 400,
                               next(iter(body)))
        for value in ("W" * 64, "x", "waiting_for_user", ""):
            self.assertEqual(self.control("POST", "config",
                                          {"auth_waiting_status": value})
                             ["auth_waiting_status"], value)

    def test_reset(self) -> None:
        session = self.call("POST", "/auth/rest/sessions",
                            {"flow": "redirect", "requestedAttributes": []}).json()["id"]
        transaction = self.call("POST", "/reuseid/onboarding", {}).json()["data"]
        self.control("POST", "config", {"auth_final_status": "ABORT",
                                        "auth_waiting_status": "WAITING_FOR_USER",
                                        "reuseid_polls_until_final": 9})
        self.control("POST", "reset")
        config = self.control("GET", "config")
        self.assertEqual((config["auth_final_status"], config["auth_waiting_status"],
                          config["reuseid_polls_until_final"]), ("SUCCESS", "", 2))
        self.assertProblem(self.call("GET", "/auth/rest/sessions/" + session), 404)
        self.assertProblem(self.call("GET", "/reuseid/onboarding/"
                                     + transaction["transactionId"]), 404)

    def test_default_modules(self) -> None:
        names = [api.name for api in load_api_modules()]
        self.assertIn("auth_rest", names)
        self.assertIn("reuseid", names)


if __name__ == "__main__":
    unittest.main()
