"""Checks of the Assure operations added after the first 23: watermark, redact, document
types, matching and capture configurations, perform matching and start capture flow.

Reuses the server start-up and HTTP helpers of test_mock.MockCase (a fresh mock per test,
Assure only).  Run from the repository root:

    python3 -m unittest discover -s test/mock -p 'test_*.py' -v
"""

from __future__ import annotations

import base64
import os
import re
import sys
import unittest
from typing import Any, Optional
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import assure  # noqa: E402
from test_mock import (JPEG, JPEG_URL, MISSING, PNG, PNG_URL, STAMP_RE, UUID4_RE,  # noqa: E402
                       Answer, MockCase)

WATERMARK = {"title": "MyCompany", "description": "Loan", "date": "2024-01-10"}
REDACT = {"documentType": "passport", "documentCountry": "NLD",
          "fieldsToRedact": ["personalIdentificationNumber", "photo"]}
MATCHING = {"fields": [{"id": "given", "sourceField": "firstName", "targetField": "firstName",
                        "normalization": "upper", "algorithm": "levenshtein"},
                       {"id": "born", "sourceField": "dateOfBirth",
                        "targetField": "dateOfBirth", "normalization": "numeric",
                        "algorithm": "fuzzy"}]}
CAPTURE = {"pageTitle": "Verify", "documentTypes": ["passport", "identityCard"],
           "allowFileUpload": ["mobile"], "takeSelfie": True, "maxRetries": 3,
           "onfidoConfig": {}}
CAPTURE_URL_RE = re.compile(r"^https://api\.signicat\.com/assure/capture/#/artifact=[0-9a-z]+$")


def decode_data_url(url: str) -> tuple[str, bytes]:
    m = re.match(r"^data:([^;]+);base64,(.*)$", url)
    assert m, url
    return m.group(1), base64.b64decode(m.group(2))


class ExtraCase(MockCase):
    """MockCase plus shortcuts for the added Assure operations."""

    def final_process(self, user_data: Optional[dict] = None) -> tuple[str, str]:
        """A dossier (with ``user_data``) holding an accepted onfido process."""
        dossier = self.new_dossier()
        if user_data is not None:
            answer = self.call("POST", "/assure/dossiers/%s/userdata" % dossier,
                               {"userData": user_data})
            self.assertEmpty(answer, 201)
        process = self.new_process(dossier)["processId"]
        self.assertEmpty(self.call("POST", self.process_path(dossier, process, "/images"),
                                   {"front": PNG_URL, "selfie": JPEG_URL}), 201)
        self.assertEqual(self.call("POST", self.process_path(dossier, process)).status, 200)
        self.assertEqual(self.poll_until_final(dossier, process)["status"], "accepted")
        return dossier, process

    def config_path(self, kind: str, config_id: Optional[str] = None) -> str:
        path = "/assure/%s/configurations" % kind
        return path if config_id is None else path + "/" + quote(config_id, safe="")

    def match(self, dossier: str, body: dict) -> Answer:
        return self.call("POST", "/assure/dossiers/%s/match" % dossier, body)


# ============================================================================================
# Watermark and redact
# ============================================================================================

class WatermarkTests(ExtraCase):

    def watermark(self, **body: Any) -> Answer:
        body.setdefault("watermark", WATERMARK)
        return self.call("POST", "/assure/watermark", body)

    def test_inline_image(self) -> None:
        answer = self.watermark(image=PNG_URL)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.content_type, "image/png")
        self.assertEqual(answer.body, PNG + b"WATERMARK:MyCompany")
        answer = self.watermark(image=JPEG_URL, watermark=dict(WATERMARK, title="Bø"))
        self.assertEqual(answer.content_type, "image/jpeg")
        self.assertTrue(answer.body.endswith("WATERMARK:Bø".encode()))

    def test_stored_images(self) -> None:
        dossier, process = self.final_process()
        answer = self.watermark(dossierId=dossier, processId=process, imageDepiction="selfie")
        self.assertEqual((answer.status, answer.content_type), (200, "image/jpeg"), answer)
        self.assertEqual(answer.body, JPEG + b"WATERMARK:MyCompany")
        # without processId: the dossier's files
        self.assertProblem(self.watermark(dossierId=dossier, imageDepiction="front"), 404)
        self.assertEmpty(self.call("POST", "/assure/dossiers/%s/files" % dossier,
                                   {"processId": process}), 201)
        answer = self.watermark(dossierId=dossier.upper(), imageDepiction="front")
        self.assertEqual(answer.body, PNG + b"WATERMARK:MyCompany")
        self.assertProblem(self.watermark(dossierId=MISSING, imageDepiction="front"), 404)
        self.assertProblem(self.watermark(dossierId=dossier, processId=MISSING,
                                          imageDepiction="front"), 404)

    def test_validation(self) -> None:
        cases = [
            ({"image": PNG_URL, "watermark": "MyCompany"}, "watermark"),
            ({"image": PNG_URL, "watermark": {"description": "d", "date": "2024-01-10"}},
             "watermark.title"),
            ({"image": PNG_URL, "watermark": {"title": "t", "description": "d"}},
             "watermark.date"),
            ({"image": PNG_URL, "watermark": dict(WATERMARK, date="10.01.2024")},
             "watermark.date"),
            ({}, "image"),
            ({"image": "data:image/gif;base64,R0lG"}, "image"),
            ({"dossierId": "nope", "imageDepiction": "front"}, "dossierId"),
            ({"dossierId": MISSING}, "imageDepiction"),
            ({"dossierId": MISSING, "imageDepiction": "back"}, "imageDepiction"),
        ]
        for body, field in cases:
            self.assertProblem(self.watermark(**body), 400, field)
        doc = self.assertProblem(self.call("POST", "/assure/watermark", {"image": PNG_URL}),
                                 400, "watermark")
        self.assertEqual(doc["title"], "One or more validation errors occurred.")
        self.assertProblem(self.call("POST", "/assure/watermark",
                                     {"image": PNG_URL, "watermark": {}}), 400,
                           "watermark.description")

    def test_size_limit(self) -> None:
        limit = assure.MAX_WATERMARK_BYTES
        ok = "data:image/png;base64," + base64.b64encode(b"\x89" * limit).decode()
        self.assertEqual(self.watermark(image=ok).status, 200)
        big = "data:image/png;base64," + base64.b64encode(b"\x89" * (limit + 1)).decode()
        self.assertProblem(self.watermark(image=big), 400, "image")


class RedactTests(ExtraCase):

    def redact(self, **body: Any) -> Answer:
        return self.call("POST", "/assure/redact", dict(REDACT, **body))

    def test_inline_images(self) -> None:
        answer = self.redact(frontImage=PNG_URL, backImage=JPEG_URL, redactionLevel="high")
        self.assertEqual(answer.status, 200, answer)
        doc = answer.json()
        self.assertIs(doc["success"], True)
        self.assertEqual(decode_data_url(doc["redactedFrontImage"]),
                         ("image/png", PNG + b"REDACTED"))
        self.assertEqual(decode_data_url(doc["redactedBackImage"]),
                         ("image/jpeg", JPEG + b"REDACTED"))
        doc = self.redact(frontImage=PNG_URL).json()
        self.assertEqual(set(doc), {"success", "redactedFrontImage"})
        doc = self.redact(backImage=JPEG_URL).json()
        self.assertEqual(set(doc), {"success", "redactedBackImage"})

    def test_stored_images(self) -> None:
        dossier, process = self.final_process()
        doc = self.redact(dossierId=dossier, processId=process).json()
        self.assertEqual(set(doc), {"success", "redactedFrontImage"})
        self.assertEqual(decode_data_url(doc["redactedFrontImage"])[1], PNG + b"REDACTED")
        self.assertProblem(self.redact(dossierId=dossier), 404)  # no dossier files
        self.call("POST", "/assure/dossiers/%s/files" % dossier, {"back": JPEG_URL})
        doc = self.redact(dossierId=dossier).json()
        self.assertEqual(set(doc), {"success", "redactedBackImage"})
        self.assertProblem(self.redact(dossierId=MISSING), 404)
        self.assertProblem(self.redact(dossierId=dossier, processId=MISSING), 404)

    def test_validation(self) -> None:
        for body, field in (({"documentType": None}, "documentType"),
                            ({"documentType": "visa"}, "documentType"),
                            ({"documentCountry": "NOR"}, "documentCountry"),
                            ({"documentCountry": None}, "documentCountry"),
                            ({"fieldsToRedact": []}, "fieldsToRedact"),
                            ({"fieldsToRedact": None}, "fieldsToRedact"),
                            ({"fieldsToRedact": ["photo", "mrz"]}, "fieldsToRedact"),
                            ({"fieldsToRedact": "photo"}, "fieldsToRedact"),
                            ({"redactionLevel": "max"}, "redactionLevel"),
                            ({}, "frontImage"),
                            ({"frontImage": "data:text/plain;base64,eA=="}, "frontImage"),
                            ({"backImage": "not a data url"}, "backImage")):
            self.assertProblem(self.redact(**body), 400, field)
        doc = self.assertProblem(self.call("POST", "/assure/redact", {}), 400)
        self.assertEqual(set(doc["errors"]), {"documentType", "documentCountry",
                                              "fieldsToRedact"})


class DocumentTypeTests(ExtraCase):

    def test_providers(self) -> None:
        keys = {"country", "countryName", "type", "id", "name", "subType", "icao"}
        for provider in ("onfido", "signicatpaper", "signicatpictureid", "signicatvideoid"):
            answer = self.call("GET", "/assure/%s/document-types" % provider)
            self.assertEqual(answer.status, 200, answer)
            entries = answer.json()
            self.assertGreaterEqual(len(entries), 2)
            for entry in entries:
                self.assertLessEqual(set(entry), keys)
                self.assertIn(entry["type"], assure.DOCUMENT_TYPES)
                self.assertRegex(entry["country"], r"^[A-Z]{3}$")
        self.assertEmpty(self.call("GET", "/assure/eid/document-types"), 204)
        for provider in ("readid", "ONFIDO"):
            self.assertProblem(self.call("GET", "/assure/%s/document-types" % provider), 400,
                               "providerName")
        ops = [e["operation"] for e in self.control("GET", "requests")]
        self.assertEqual(set(ops), {"token", "assure_list_document_types"})


# ============================================================================================
# Matching and capture configurations
# ============================================================================================

class ConfigurationTests(ExtraCase):

    def test_matching_lifecycle(self) -> None:
        path = self.config_path("matching", "Configuration 1/x")
        answer = self.call("POST", path, MATCHING)
        self.assertEqual(answer.status, 201, answer)
        created = answer.json()
        self.assertEqual(created["configuration"], MATCHING)
        self.assertEqual((created["id"], created["configurationId"]),
                         ("Configuration 1/x", "Configuration 1/x"))
        self.assertRegex(created["createdAt"], STAMP_RE)
        self.assertEqual(created["createdAt"], created["updatedAt"])
        self.assertProblem(self.call("POST", path, MATCHING), 409)
        self.assertEqual(self.call("GET", path).json(), created)
        update = {"fields": [MATCHING["fields"][0]]}
        answer = self.call("PUT", path, update)
        self.assertEqual(answer.status, 200, answer)
        updated = answer.json()
        self.assertEqual(updated["configuration"], update)
        self.assertEqual(updated["createdAt"], created["createdAt"])
        self.assertGreater(updated["updatedAt"], created["updatedAt"])
        self.call("POST", self.config_path("matching", "second"), {})
        listed = self.call("GET", self.config_path("matching")).json()
        self.assertEqual([c["id"] for c in listed], ["Configuration 1/x", "second"])
        self.assertEqual(listed[0], updated)
        self.assertEqual(listed[1]["configuration"], {})
        self.assertEmpty(self.call("DELETE", path), 204)
        for method in ("GET", "DELETE"):
            self.assertProblem(self.call(method, path), 404)
        self.assertProblem(self.call("PUT", path, update), 404)
        self.assertEqual(len(self.call("GET", self.config_path("matching")).json()), 1)

    def test_matching_validation(self) -> None:
        path = self.config_path("matching", "c1")
        for body, field in (({"fields": {}}, "fields"),
                            ({"fields": ["x"]}, "fields[0]"),
                            ({"fields": [{"id": "a", "normalization": "lower"}]},
                             "fields[0].normalization"),
                            ({"fields": [{"id": "a"}, {"id": "b", "algorithm": "soundex"}]},
                             "fields[1].algorithm"),
                            ({"fields": [{"id": 7}]}, "fields[0].id"),
                            ({"fields": [{"normalization": "upper"}]}, "fields[0].id")):
            self.assertProblem(self.call("POST", path, body), 400, field)
            self.assertProblem(self.call("PUT", path, body), 400, field)
        self.assertProblem(self.call("POST", path), 400)  # a body is required
        self.assertProblem(self.call("POST", path, [MATCHING]), 400)
        self.assertEqual(self.call("POST", self.config_path("matching", "x" * 100),
                                   {}).status, 201)
        for method in ("POST", "GET", "PUT", "DELETE"):
            self.assertProblem(self.call(method, self.config_path("matching", "x" * 101), {}),
                               400, "configurationId")

    def test_capture_lifecycle(self) -> None:
        path = self.config_path("capture", "Configuration1")
        answer = self.call("POST", path, CAPTURE)
        self.assertEqual(answer.status, 201, answer)
        created = answer.json()
        self.assertEqual({k: created[k] for k in CAPTURE}, CAPTURE)
        self.assertEqual((created["id"], created["configurationId"]),
                         ("Configuration1", "Configuration1"))
        self.assertRegex(created["updatedAt"], STAMP_RE)
        self.assertProblem(self.call("POST", path, {}), 409)
        self.assertEqual(self.call("GET", path).json(), created)
        answer = self.call("PUT", path, {"pageTitle": "New"})
        self.assertEqual(answer.status, 200, answer)
        updated = answer.json()
        self.assertEqual(updated["pageTitle"], "New")
        self.assertNotIn("takeSelfie", updated)  # PUT replaces the configuration
        listed = self.call("GET", self.config_path("capture")).json()
        self.assertEqual(listed, [{"id": "Configuration1", "configurationId": "Configuration1",
                                   "createdAt": created["createdAt"],
                                   "updatedAt": updated["updatedAt"]}])
        self.assertEmpty(self.call("DELETE", path), 204)
        self.assertProblem(self.call("GET", path), 404)
        self.assertProblem(self.call("PUT", path, {}), 404)
        self.assertEqual(self.call("GET", self.config_path("capture")).json(), [])

    def test_capture_validation(self) -> None:
        path = self.config_path("capture", "c1")
        for body, field in (({"pageTitle": "x" * 61}, "pageTitle"),
                            ({"pageTitle": 5}, "pageTitle"),
                            ({"documentTypes": ["passport", "library card"]}, "documentTypes"),
                            ({"allowTakePhoto": ["tablet"]}, "allowTakePhoto"),
                            ({"mobileHandoverModes": "sms"}, "mobileHandoverModes"),
                            ({"takeSelfie": "yes"}, "takeSelfie"),
                            ({"maxRetries": 1.5}, "maxRetries"),
                            ({"maxRetries": True}, "maxRetries"),
                            ({"languages": ["en", 1]}, "languages"),
                            ({"onfidoConfig": []}, "onfidoConfig")):
            self.assertProblem(self.call("POST", path, body), 400, field)
        self.assertEqual(self.call("POST", path, {"pageTitle": "x" * 60,
                                                  "twoSidedPassports": "all",
                                                  "detectGlare": True}).status, 201)

    def test_kinds_are_separate_and_reset(self) -> None:
        self.call("POST", self.config_path("matching", "same"), MATCHING)
        self.assertProblem(self.call("GET", self.config_path("capture", "same")), 404)
        self.assertEqual(self.call("POST", self.config_path("capture", "same"), {}).status, 201)
        self.control("POST", "reset")
        for kind in ("matching", "capture"):
            self.assertEqual(self.call("GET", self.config_path(kind)).json(), [])

    def test_operations_logged(self) -> None:
        self.call("POST", self.config_path("matching", "a"), {})
        self.call("GET", self.config_path("capture"))
        ops = [e["operation"] for e in self.control("GET", "requests")][1:]
        self.assertEqual(ops, ["assure_create_matching_configuration",
                               "assure_list_capture_configurations"])


# ============================================================================================
# Perform matching
# ============================================================================================

class MatchingTests(ExtraCase):

    def test_default_fields(self) -> None:
        dossier, process = self.final_process({"firstName": "Åse-Marie", "lastName": "Smith",
                                               "dateOfBirth": "1990-01-01"})
        body = {"source": {"dataNode": "userData"},
                "target": {"dataNode": "finalResult", "processId": process}}
        answer = self.match(dossier, body)
        self.assertEqual(answer.status, 200, answer)
        doc = answer.json()
        self.assertEqual(doc["dossierId"], dossier)
        self.assertRegex(doc["createdAt"], STAMP_RE)
        self.assertEqual(doc["source"]["dataNode"], "userData")
        self.assertEqual((doc["target"]["dataNode"], doc["target"]["processId"]),
                         ("finalResult", process))
        self.assertRegex(doc["target"]["updatedAt"], STAMP_RE)
        self.assertEqual(set(doc["matchResult"]), {"firstName", "lastName", "dateOfBirth"})
        first = doc["matchResult"]["firstName"]
        self.assertEqual(first["sourceNormalized"], "AASE MARIE")
        self.assertEqual((first["exactMatch"], first["partialMatch"], first["editDistance"]),
                         (True, True, 0))
        self.assertEqual(doc["matchResult"]["dateOfBirth"]["targetNormalized"], "19900101")

    def test_mismatch_after_user_data_change(self) -> None:
        dossier, process = self.final_process({"firstName": "Christopher",
                                               "lastName": "Smith"})
        self.assertEmpty(self.call("PUT", "/assure/dossiers/%s/userdata" % dossier,
                                   {"userData": {"firstName": "Kristopher",
                                                 "lastName": "Jones"}}), 204)
        # the process's finalResult was fixed when it became final
        final = self.call("GET", self.process_path(dossier, process)).json()["finalResult"]
        self.assertEqual(final["firstName"], "Christopher")
        doc = self.match(dossier, {"source": {"dataNode": "userData"},
                                   "target": {"dataNode": "finalResult",
                                              "processId": process}}).json()
        first, last = doc["matchResult"]["firstName"], doc["matchResult"]["lastName"]
        self.assertEqual((first["exactMatch"], first["partialMatch"]), (False, False))
        self.assertEqual(first["editDistance"], 2)
        self.assertEqual((last["exactMatch"], last["partialMatch"]), (False, False))
        born = doc["matchResult"]["dateOfBirth"]  # only in the process result
        self.assertIn("error", born)
        self.assertEqual((born["exactMatch"], born["partialMatch"]), (False, False))
        self.assertEqual(born["targetValue"], "1986-07-24")
        self.assertNotIn("sourceValue", born)

    def test_with_configuration(self) -> None:
        dossier, process = self.final_process({"firstName": "john michael",
                                               "dateOfBirth": "1986-07-24"})
        self.call("PUT", "/assure/dossiers/%s/userdata" % dossier,
                  {"userData": {"firstName": "John"}})
        self.call("POST", self.config_path("matching", "cfg"), {"fields": [
            {"id": "given", "sourceField": "firstName", "targetField": "firstName",
             "normalization": "upper", "algorithm": "fuzzy"},
            {"id": "exact", "sourceField": "firstName", "normalization": "none"},
            {"id": "initials", "sourceField": "firstName", "normalization": "initialsUpper"},
            {"id": "born", "sourceField": "dateOfBirth", "normalization": "numeric"}]})
        answer = self.match(dossier, {"source": {"dataNode": "userData"},
                                      "target": {"dataNode": "userInfo",
                                                 "processId": process},
                                      "configurationId": "cfg"})
        self.assertEqual(answer.status, 200, answer)
        results = answer.json()["matchResult"]
        self.assertEqual(list(results), ["given", "exact", "initials", "born"])
        given = results["given"]
        self.assertEqual((given["sourceNormalized"], given["targetNormalized"]),
                         ("JOHN", "JOHN MICHAEL"))
        self.assertEqual((given["exactMatch"], given["partialMatch"], given["editDistance"],
                          given["algorithm"], given["normalization"]),
                         (False, True, 8, "fuzzy", "upper"))
        self.assertEqual((results["exact"]["exactMatch"], results["exact"]["partialMatch"]),
                         (False, False))
        self.assertEqual(results["initials"]["sourceNormalized"], "J")
        self.assertEqual(results["initials"]["targetNormalized"], "JM")
        self.assertIs(results["born"]["exactMatch"], True)
        self.assertEqual(results["born"]["algorithm"], "levenshtein")

    def test_process_to_process(self) -> None:
        dossier, process = self.final_process({"firstName": "Ada"})
        doc = self.match(dossier, {"source": {"dataNode": "ocr", "processId": process},
                                   "target": {"dataNode": "finalResult",
                                              "processId": process.upper()}}).json()
        self.assertTrue(all(r["exactMatch"] for r in doc["matchResult"].values()))

    def test_errors(self) -> None:
        dossier, process = self.final_process({"firstName": "Ada"})
        good = {"source": {"dataNode": "userData"},
                "target": {"dataNode": "finalResult", "processId": process}}
        for body, field in (({"target": good["target"]}, "source"),
                            ({"source": good["source"]}, "target"),
                            (dict(good, source={"dataNode": "selfie"}), "source.dataNode"),
                            (dict(good, source={}), "source.dataNode"),
                            (dict(good, target={"dataNode": "finalResult"}),
                             "target.processId"),
                            (dict(good, target={"dataNode": "ocr", "processId": "p1"}),
                             "target.processId"),
                            (dict(good, configurationId=5), "configurationId")):
            self.assertProblem(self.match(dossier, body), 400, field)
        self.assertProblem(self.match(dossier, dict(good, configurationId="nope")), 404)
        self.assertProblem(self.match(MISSING, good), 404)
        self.assertProblem(self.match(dossier, dict(good, target={
            "dataNode": "finalResult", "processId": MISSING})), 404)
        pending = self.new_process(dossier)["processId"]
        doc = self.assertProblem(self.match(dossier, dict(good, target={
            "dataNode": "finalResult", "processId": pending})), 409)
        self.assertIn("pending", doc["detail"])
        other = self.new_dossier()
        self.assertProblem(self.match(other, {"source": {"dataNode": "userData"},
                                              "target": {"dataNode": "userData"}}), 404)


class MatchingFunctionTests(unittest.TestCase):
    """The normalizations and the edit distance, without HTTP."""

    def test_normalize(self) -> None:
        cases = [("Ærøskøbing-Jensen", "cleanUpper", "AEROESKOEBING JENSEN"),
                 ("José  d'Ávila", "clean", "Jose d Avila"),
                 ("josé", "upper", "JOSÉ"),
                 ("José", "none", "José"),
                 ("john michael smith", "initialsUpper", "JM"),
                 ("1986-07-24", "numeric", "19860724"),
                 ("Straße", "cleanUpper", "STRASSE")]
        for text, how, expected in cases:
            self.assertEqual(assure.normalize(text, how), expected, (text, how))

    def test_edit_distance(self) -> None:
        for a, b, d in (("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3),
                        ("JOHN", "JOHN MICHAEL", 8)):
            self.assertEqual(assure.edit_distance(a, b), d)
            self.assertEqual(assure.edit_distance(b, a), d)


# ============================================================================================
# Start capture flow
# ============================================================================================

class CaptureFlowTests(ExtraCase):

    BODY = {"providers": [{"provider": "onfido", "processType": "documentSelfie"}],
            "sdk": "native", "redirectUrl": "https://customer.example/done"}

    def capture(self, dossier: str, **changes: Any) -> Answer:
        return self.call("POST", "/assure/dossiers/%s/capture" % dossier,
                         dict(self.BODY, **changes))

    def test_flow_creates_processing_process(self) -> None:
        self.call("POST", "/assure/capture/configurations/Configuration1", CAPTURE)
        dossier = self.new_dossier("ref mock-final=rejected")
        answer = self.capture(dossier, captureParameters={"uiProfile": "Configuration1",
                                                          "smsSender": "Signicat"})
        self.assertEqual(answer.status, 201, answer)
        self.assertRegex(answer.json()["url"], CAPTURE_URL_RE)
        other = self.capture(dossier).json()["url"]
        self.assertNotEqual(other, answer.json()["url"])
        processes = self.call("GET", "/assure/dossiers/%s" % dossier).json()["processes"]
        self.assertEqual(len(processes), 2)
        first = processes[0]
        self.assertRegex(first["processId"], UUID4_RE)
        self.assertEqual((first["provider"], first["processType"], first["status"]),
                         ("onfido", "documentSelfie", "processing"))
        doc = self.poll_until_final(dossier, first["processId"])
        self.assertEqual(doc["status"], "rejected")
        self.assertIn("finalResult", doc)

    def test_default_process_type(self) -> None:
        dossier = self.new_dossier()
        self.assertEqual(self.capture(dossier, providers=[{"provider": "eid"}],
                                      sdk="capture").status, 201)
        process = self.call("GET", "/assure/dossiers/%s" % dossier).json()["processes"][0]
        self.assertEqual(process["processType"], "unattended")

    def test_validation(self) -> None:
        dossier = self.new_dossier()
        two = [{"provider": "onfido"}, {"provider": "eid"}]
        for changes, field in (({"providers": []}, "providers"),
                               ({"providers": two}, "providers"),
                               ({"providers": {"provider": "onfido"}}, "providers"),
                               ({"providers": [{"provider": "facetec"}]},
                                "providers[0].provider"),
                               ({"providers": [{}]}, "providers[0].provider"),
                               ({"providers": [{"provider": "onfido", "processType": "x"}]},
                                "providers[0].processType"),
                               ({"providers": [{"provider": "readid"}]},
                                "providers[0].processType"),
                               ({"sdk": "web"}, "sdk"),
                               ({"sdk": None}, "sdk"),
                               ({"redirectUrl": None}, "redirectUrl"),
                               ({"redirectUrl": ""}, "redirectUrl"),
                               ({"captureParameters": "Configuration1"}, "captureParameters"),
                               ({"captureParameters": {"uiProfile": 1}},
                                "captureParameters.uiProfile"),
                               ({"captureParameters": {"smsSender": "Too long sender"}},
                                "captureParameters.smsSender"),
                               ({"captureParameters": {"smsMessage": "x" * 201}},
                                "captureParameters.smsMessage"),
                               ({"eventTags": "tag"}, "eventTags")):
            self.assertProblem(self.capture(dossier, **changes), 400, field)
        doc = self.assertProblem(self.capture(dossier, captureParameters={
            "uiProfile": "unknown"}), 404)
        self.assertIn("uiProfile", doc["detail"])
        self.assertProblem(self.capture(MISSING), 404)
        self.assertEqual(self.call("GET", "/assure/dossiers/%s" % dossier).json()["processes"],
                         [])


# ============================================================================================
# Get raw result
# ============================================================================================

class RawResultTests(ExtraCase):

    def raw(self, dossier: str, process: str, **kw: Any) -> Answer:
        return self.call("GET", self.process_path(dossier, process, "/raw"), **kw)

    def test_final_process(self) -> None:
        dossier, process = self.final_process({"firstName": "Kari", "lastName": "Nordmann",
                                               "dateOfBirth": "1990-02-03"})
        answer = self.raw(dossier, process)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.content_type, "application/json")
        doc = answer.json()
        self.assertEqual((doc["provider"], doc["processId"], doc["status"]),
                         ("onfido", process, "accepted"))
        raw = doc["raw"]
        self.assertEqual(raw["holder"], {"givenNames": "Kari", "surname": "Nordmann",
                                         "dateOfBirth": "1990-02-03",
                                         "nameInNationalCharacters": "Ærlig Øst"})
        self.assertEqual((raw["documentNumber"], raw["chipVerified"]), ("C1234567", True))
        self.assertIsNone(raw["expiryDate"])
        self.assertEqual(raw["checks"][1], {"name": "faceMatch", "passed": True, "score": 0.97})
        self.assertIn("documentVerification", raw["providerSpecific"])
        # the non-ASCII text travels as UTF-8, not as \u escapes
        self.assertIn("Ærlig Øst".encode("utf-8"), answer.body)
        self.assertIn("Øst-Finnmark".encode("utf-8"), answer.body)
        self.assertEqual(self.raw(dossier, process).body, answer.body)  # deterministic
        # the result is fixed once final, like finalResult
        self.assertEmpty(self.call("PUT", "/assure/dossiers/%s/userdata" % dossier,
                                   {"userData": {"firstName": "Other"}}), 204)
        self.assertEqual(self.raw(dossier, process).body, answer.body)

    def test_no_content_until_final_and_counts_as_poll(self) -> None:
        dossier = self.new_dossier()
        process = self.new_process(dossier, "readid")["processId"]
        self.assertEmpty(self.raw(dossier, process), 204)  # pending
        self.assertEmpty(self.call("POST", self.process_path(dossier, process)), 204)
        # processing: each raw GET counts as a GET of the process (2 until final)
        self.assertEmpty(self.raw(dossier, process), 204)
        answer = self.raw(dossier, process)
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.json()["raw"]["providerSpecific"],
                         {"consolidatedIdentityData": {"documentType": "passport",
                                                       "documentNumber": "C1234567"}})
        self.assertEqual(self.call("GET", self.process_path(dossier, process)).json()["status"],
                         "accepted")
        # polls are shared with Get process: one of each makes it final
        dossier, process = self.started_process()
        self.assertEqual(self.call("GET", self.process_path(dossier, process)).json()["status"],
                         "processing")
        self.assertEqual(self.raw(dossier, process).status, 200)

    def test_statuses_without_result(self) -> None:
        dossier, process = self.started_process("x mock-final=rejected")
        self.poll_until_final(dossier, process)
        doc = self.raw(dossier, process).json()
        self.assertEqual((doc["status"], doc["raw"]["chipVerified"]), ("rejected", False))
        for final in ("failed", "canceled"):
            dossier, process = self.started_process("x mock-final=" + final)
            self.assertEqual(self.poll_until_final(dossier, process)["status"], final)
            self.assertEmpty(self.raw(dossier, process), 204)
        dossier = self.new_dossier()
        process = self.new_process(dossier)["processId"]
        self.assertEqual(self.call("POST", self.process_path(dossier, process, "/fail")).status,
                         200)
        self.assertEmpty(self.raw(dossier, process), 204)

    def test_errors_and_log(self) -> None:
        dossier, process = self.final_process()
        self.assertProblem(self.raw(dossier, MISSING), 404)
        self.assertProblem(self.raw(MISSING, process), 404)
        self.assertProblem(self.raw(dossier, "x"), 400, "processId")
        self.assertProblem(self.raw(dossier, process, token=False), 401)
        self.control("DELETE", "requests")
        self.raw(dossier, process)
        entry = self.control("GET", "requests")[-1]
        self.assertEqual((entry["operation"], entry["path"]),
                         ("assure_get_process_raw_result",
                          self.process_path(dossier, process, "/raw")))


class RouteTests(ExtraCase):

    def test_new_routes_check_the_token(self) -> None:
        added = [r for r in self.server.mock.routes
                 if r.kind == "api" and r.operation_id in {
                     "assure_watermark_image", "assure_redact_images",
                     "assure_list_document_types", "assure_perform_matching",
                     "assure_start_capture_flow"} | {
                     "assure_%s_%s_configuration" % (verb, kind)
                     for verb in ("create", "get", "update", "delete")
                     for kind in ("matching", "capture")} | {
                     "assure_list_matching_configurations",
                     "assure_list_capture_configurations"}]
        self.assertEqual(len(added), 15)
        for route in added:
            path = re.sub(r"\{[A-Za-z]+\}", MISSING, route.template)
            self.assertEqual(self.call(route.method, path, token=False).status, 401, path)

    def test_dossier_paths_still_win(self) -> None:
        # /assure/{providerName}/document-types must not shadow the dossier routes
        self.assertProblem(self.call("GET", "/assure/dossiers/document-types"), 400,
                           "dossierId")
        self.assertEqual(self.call("GET", "/assure/dossiers").status, 200)


if __name__ == "__main__":
    unittest.main()
