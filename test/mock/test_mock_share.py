"""Checks of the mock's Secure Share API (secure_share.py).

Each test starts a fresh mock in-process (the helpers of test_mock.MockCase) with only the
secure_share module loaded. Run from the repository root:

    python3 -m unittest discover -s test/mock -p 'test_*.py' -v
"""

from __future__ import annotations

import hashlib
import os
import sys
import unittest
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_mock import MISSING, STAMP_RE, UUID4_RE, Answer, MockCase  # noqa: E402

BOUNDARY = "------------------------mockboundary7MA4YWxk"
BINARY = b"\x00\xff\r\n--not-the-boundary\r\n\r\n\x89PNG\r\nend\r\n"


def multipart(parts: list, boundary: str = BOUNDARY, preamble: bytes = b"") -> bytes:
    """A multipart/form-data body as libcurl builds it; each part is
    (name, filename or None, content type or None, data) or raw header bytes + data."""
    out = [preamble]
    for name, filename, content_type, data in parts:
        head = 'Content-Disposition: form-data; name="%s"' % name
        if filename is not None:
            head += '; filename="%s"' % filename
        if content_type is not None:
            head += "\r\nContent-Type: %s" % content_type
        out.append(b"--%s\r\n%s\r\n\r\n%s\r\n" % (boundary.encode(), head.encode("utf-8"), data))
    out.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(out)


class ShareCase(MockCase):
    """A fresh mock with the secure_share module, plus Secure Share shortcuts."""

    api_modules = ["secure_share"]

    def new_share(self, **fields: Any) -> dict:
        answer = self.call("POST", "/secure-share/shares", dict({"contactDetails": {}}, **fields))
        self.assertEqual(answer.status, 200, answer)
        return answer.json()

    def upload(self, share: str, parts: list, boundary: str = BOUNDARY,
               content_type: Optional[str] = None, **kwargs: Any) -> Answer:
        ctype = content_type or "multipart/form-data; boundary=%s" % boundary
        return self.call("POST", "/secure-share/shares/%s/files" % share,
                         multipart(parts, boundary, **kwargs), {"Content-Type": ctype})

    def stored_file(self, share: str, name: str = "a.txt", data: bytes = b"hello") -> str:
        answer = self.upload(share, [("files", name, "text/plain", data)])
        self.assertEqual(answer.json()[0]["status"], "Success", answer)
        return answer.json()[0]["id"]

    def new_recipient(self, share: str, **fields: Any) -> Answer:
        body = {"email": "ada@example.org",
                "authentication": [{"identityProvider": "otp-email"}]}
        body.update(fields)
        return self.call("POST", "/secure-share/shares/%s/recipients" % share, body)


class ShareTests(ShareCase):

    def test_create(self) -> None:
        doc = self.new_share(title="T", tags=["x"], contactDetails={"email": "o@example.org"},
                             expires="2099-05-20T12:06:52.2707919+00:00")
        self.assertRegex(doc["id"], UUID4_RE)
        self.assertEqual((doc["title"], doc["description"], doc["tags"]), ("T", None, ["x"]))
        self.assertEqual(doc["contactDetails"], {"email": "o@example.org"})
        self.assertEqual((doc["files"], doc["recipients"]), ([], []))
        self.assertEqual(doc["expires"], "2099-05-20T12:06:52.270Z")
        self.assertRegex(self.new_share()["expires"], STAMP_RE)  # default lifetime
        past = self.new_share(expires="2001-01-01T00:00:00Z")  # echoed, never enforced
        self.assertEqual(past["expires"], "2001-01-01T00:00:00.000Z")
        self.assertEqual(self.new_recipient(past["id"]).status, 200)

    def test_create_validation(self) -> None:
        for body, field in (({}, "contactDetails"), ({"contactDetails": None}, "contactDetails"),
                            ({"contactDetails": {}, "title": 1}, "title"),
                            ({"contactDetails": {}, "tags": [1]}, "tags"),
                            ({"contactDetails": {}, "expires": "tomorrow"}, "expires"),
                            ({"contactDetails": {}, "recipients": [{"email": "a@b"}]},
                             "recipients[0].authentication")):
            self.assertProblem(self.call("POST", "/secure-share/shares", body), 400, field)
        self.assertProblem(self.call("POST", "/secure-share/shares"), 400)

    def test_create_with_recipients(self) -> None:
        doc = self.new_share(recipients=[{"mobile": "+4771234567",
                                          "authentication": [{"identityProvider": "otp-sms"}]}])
        self.assertEqual(len(doc["recipients"]), 1)
        self.assertEqual(doc["recipients"][0]["mobile"], "+4771234567")

    def test_unknown_and_invalid_share(self) -> None:
        paths = [("POST", "/secure-share/shares/%s/recipients"),
                 ("GET", "/secure-share/shares/%s/recipients/" + MISSING),
                 ("PATCH", "/secure-share/shares/%s/recipients/" + MISSING),
                 ("DELETE", "/secure-share/shares/%s/recipients/" + MISSING),
                 ("POST", "/secure-share/shares/%s/recipients/%s/reminder" % ("%s", MISSING)),
                 ("DELETE", "/secure-share/shares/%s/files/" + MISSING)]
        for method, path in paths:
            self.assertProblem(self.call(method, path % MISSING, {}), 404)
            self.assertProblem(self.call(method, path % "nope", {}), 400, "shareId")
        self.assertProblem(self.upload(MISSING, [("files", "a.txt", "text/plain", b"x")]), 404)
        self.assertProblem(self.upload("nope", [("files", "a.txt", "text/plain", b"x")]), 400,
                           "shareId")

    def test_every_route_checks_the_token(self) -> None:
        routes = [r for r in self.server.mock.routes
                  if r.api.name == "secure_share" and r.kind != "control"]
        self.assertEqual(len(routes), 8)
        for route in routes:
            path = route.template
            for name in ("{shareId}", "{recipientId}", "{fileId}"):
                path = path.replace(name, MISSING)
            self.assertProblem(self.call(route.method, path, token=False), 401)


class UploadTests(ShareCase):

    def setUp(self) -> None:
        super().setUp()
        self.share = self.new_share()["id"]

    def test_results_and_storage(self) -> None:
        answer = self.upload(self.share, [("files", "report.pdf", "application/pdf", BINARY),
                                          ("files", "EICAR-test.txt", "text/plain", b"X5O!"),
                                          ("files", "empty.bin", "application/octet-stream",
                                           b"")])
        self.assertEqual(answer.status, 200, answer)
        results = answer.json()
        self.assertEqual([(r["name"], r["status"], r["size"], r["message"]) for r in results],
                         [("report.pdf", "Success", len(BINARY), None),
                          ("EICAR-test.txt", "VirusFound", 4, "Virus found"),
                          ("empty.bin", "Failed", 0, "Empty file")])
        for result in results:
            self.assertRegex(result["id"], UUID4_RE)
        share = self.control("GET", "secure-share/shares/" + self.share)
        self.assertEqual([f["id"] for f in share["files"]], [results[0]["id"]])
        self.assertEqual(share["files"][0]["sha256"], hashlib.sha256(BINARY).hexdigest())

    def test_last_upload(self) -> None:
        self.assertEqual(self.control("GET", "secure-share/last-upload"), [])
        self.upload(self.share, [("files", "r\u00e6k.bin", "image/png", BINARY),
                                 ("files", "b.txt", None, b"")], preamble=b"ignored\r\n")
        expected = [{"name": "files", "filename": "r\u00e6k.bin", "content_type": "image/png",
                     "size": len(BINARY), "sha256": hashlib.sha256(BINARY).hexdigest()},
                    {"name": "files", "filename": "b.txt", "content_type": None, "size": 0,
                     "sha256": hashlib.sha256(b"").hexdigest()}]
        self.assertEqual(self.control("GET", "secure-share/last-upload"), expected)
        self.assertEqual(self.control("GET", "secure-share/last-upload?shareId=" + self.share),
                         expected)
        entry = self.control("GET", "requests?operation=share_upload_files")[-1]
        self.assertEqual(entry["headers"]["authorization"], "Bearer ***")
        self.assertIn("bytes", entry["body"])

    def test_quoted_boundary_and_escapes(self) -> None:
        body = (b'--b"x\r\nContent-Disposition: form-data; name=files; filename="a\\"q.txt"\r\n'
                b'\r\ndata\r\n--b"x--')
        answer = self.call("POST", "/secure-share/shares/%s/files" % self.share, body,
                           {"Content-Type": 'multipart/form-data; boundary="b\\"x"'})
        self.assertEqual(answer.status, 200, answer)
        self.assertEqual(answer.json()[0]["name"], 'a"q.txt')

    def test_rejections(self) -> None:
        path = "/secure-share/shares/%s/files" % self.share
        self.assertProblem(self.call(path=path, method="POST", body={"files": []}), 415)
        self.assertProblem(self.call("POST", path, b"x", {"Content-Type": "text/plain"}), 415)
        self.assertProblem(self.call("POST", path), 415)
        self.assertProblem(self.call("POST", path, b"", {"Content-Type": "multipart/form-data"}),
                           400, "Content-Type")
        self.assertProblem(self.upload(self.share, []), 400, "files")
        self.assertProblem(self.call("POST", path, b"no parts here", {
            "Content-Type": "multipart/form-data; boundary=" + BOUNDARY}), 400)
        unclosed = multipart([("files", "a.txt", "text/plain", b"x")])[:-30]
        self.assertProblem(self.call("POST", path, unclosed, {
            "Content-Type": "multipart/form-data; boundary=" + BOUNDARY}), 400)
        doc = self.assertProblem(self.upload(self.share, [("files", "a.txt", "text/plain", b"x"),
                                                          ("files", None, "text/plain", b"y")]),
                                 400, "files[1]")
        self.assertIn("Part 2", doc["errors"]["files[1]"][0])
        self.assertProblem(self.upload(self.share, [("file", "a.txt", "text/plain", b"x")]),
                           400, "parts[0]")
        self.assertEqual(self.control("GET", "secure-share/shares/" + self.share)["files"], [])
        self.assertEqual(self.control("GET", "secure-share/last-upload")[0]["name"], "file")

    def test_remove_file(self) -> None:
        file_id = self.stored_file(self.share)
        path = "/secure-share/shares/%s/files/%s" % (self.share, file_id)
        self.assertEmpty(self.call("DELETE", path), 204)
        self.assertProblem(self.call("DELETE", path), 404)
        self.assertProblem(self.call("DELETE", path[:-36] + "x"), 400, "fileId")

    def test_faults_apply(self) -> None:
        self.control("POST", "faults", {"operation": "share_upload_files", "status": 503})
        self.assertProblem(self.upload(self.share, [("files", "a", "text/plain", b"x")]), 503)


class RecipientTests(ShareCase):

    def setUp(self) -> None:
        super().setUp()
        self.share = self.new_share()["id"]
        self.file = self.stored_file(self.share)

    def path(self, recipient: str, tail: str = "") -> str:
        return "/secure-share/shares/%s/recipients/%s%s" % (self.share, recipient, tail)

    def test_lifecycle(self) -> None:
        answer = self.new_recipient(self.share, firstName="Ada", fileRestrictions=[self.file],
                                    notification={"sendEmail": True, "language": "En"})
        self.assertEqual(answer.status, 200, answer)
        doc = answer.json()
        self.assertRegex(doc["id"], UUID4_RE)
        self.assertEqual(doc["authentication"],
                         [{"identityProvider": "otp-email", "idpId": None, "nin": None}])
        self.assertEqual(doc["notification"],
                         {"sendEmail": True, "sendSms": False, "language": "En"})
        self.assertEqual((doc["fileRestrictions"], doc["fileAccessInfos"]), ([self.file], []))
        self.assertEqual((doc["loggedInTime"], doc["mobile"], doc["remindersSent"]),
                         (None, None, 0))
        self.assertEqual(doc["url"], "https://mock.signicat/share/" + doc["id"])
        self.assertEqual(self.call("GET", self.path(doc["id"])).json(), doc)
        for _ in range(2):
            self.assertEmpty(self.call("POST", self.path(doc["id"], "/reminder")), 204)
        self.assertEqual(self.call("GET", self.path(doc["id"])).json()["remindersSent"], 2)
        self.assertEmpty(self.call("DELETE", self.path(doc["id"])), 204)
        self.assertProblem(self.call("GET", self.path(doc["id"])), 404)
        self.assertProblem(self.call("POST", self.path(doc["id"], "/reminder")), 404)
        self.assertProblem(self.call("GET", self.path("nope")), 400, "recipientId")

    def test_create_validation(self) -> None:
        cases = [({"authentication": []}, "authentication"),
                 ({"authentication": None}, "authentication"),
                 ({"authentication": [{"idpId": "x"}]}, "authentication[0].identityProvider"),
                 ({"email": "no-at-sign"}, "email"),
                 ({"email": None}, "email"),
                 ({"email": None, "mobile": "+47", "authentication": [
                     {"identityProvider": "otp-email"}]}, "email"),
                 ({"notification": {"sendSms": True}}, "mobile"),
                 ({"notification": {"sendSms": "yes"}}, "notification.sendSms"),
                 ({"fileRestrictions": [MISSING]}, "fileRestrictions[0]"),
                 ({"fileRestrictions": ["x"]}, "fileRestrictions[0]")]
        for fields, field in cases:
            self.assertProblem(self.new_recipient(self.share, **fields), 400, field)
        self.assertProblem(self.call("POST", "/secure-share/shares/%s/recipients" % self.share),
                           400)

    def test_partial_update(self) -> None:
        rid = self.new_recipient(self.share, firstName="Ada", mobile="+4711111111",
                                 notification={"sendEmail": True, "sendSms": False,
                                               "language": "En"}).json()["id"]
        answer = self.call("PATCH", self.path(rid), {
            "lastName": "Lovelace", "firstName": None,
            "notification": {"sendSms": True, "language": None},
            "authentication": [{"identityProvider": "sbid", "nin": "10234567893"}]})
        self.assertEqual(answer.status, 200, answer)
        doc = answer.json()
        self.assertEqual((doc["firstName"], doc["lastName"], doc["email"]),
                         ("Ada", "Lovelace", "ada@example.org"))
        self.assertEqual(doc["notification"],
                         {"sendEmail": True, "sendSms": True, "language": "En"})
        self.assertEqual(doc["authentication"][0]["nin"], "10234567893")
        self.assertEqual(self.call("PATCH", self.path(rid), {}).json(), doc)
        for body, field in (({"email": "bad"}, "email"), ({"authentication": []},
                                                          "authentication"),
                            ({"fileRestrictions": [MISSING]}, "fileRestrictions[0]")):
            self.assertProblem(self.call("PATCH", self.path(rid), body), 400, field)
        self.assertEqual(self.call("GET", self.path(rid)).json(), doc)
        self.assertProblem(self.call("PATCH", self.path(MISSING), {}), 404)


if __name__ == "__main__":
    unittest.main()
