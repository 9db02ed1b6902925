"""Checks of the mock's MobileID Admin API (mobileid.py).

Each test starts a fresh mock in-process (the helpers of test_mock.MockCase) with only the
mobileid module loaded. Run from the repository root:

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

from test_mock import STAMP_RE, UUID4_RE, Answer, MockCase  # noqa: E402

ACCOUNT = "a-sdge-abcdefghijk123456789"
OTHER = "a-sdge-other0000000000000000"
BASE = "/mobileid/admin"
HASH = "wBHQ4HC3yLEUvEwnX5EBTBAbKkCia35WwO1dxqiFvYo="
PLUS_HASH = "k3+Jd9/VwYt1mQ0c2ZfR8sLxB7nEoHaP4uGiTjKlMnA="
KEY_ID_RE = re.compile(r"^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$")
APNS_BODY = {"name": "Test app APNs token", "description": "d",
             "privateKey": base64.b64encode(b"-----BEGIN PRIVATE KEY-----x").decode(),
             "keyId": "ABCD1234", "teamId": "EDFG5678"}


class MobileIdCase(MockCase):
    """A fresh mock with the mobileid module; ``mid()`` calls as ACCOUNT (header)."""

    api_modules = ["mobileid"]

    def mid(self, method: str, tail: str, body: Any = None, account: Optional[str] = ACCOUNT,
            headers: Optional[dict] = None, **kwargs: Any) -> Answer:
        headers = dict(headers or {})
        if account is not None:
            headers["Signicat-AccountId"] = account
        return self.call(method, BASE + tail, body, headers, **kwargs)

    def add_account(self, account: str = ACCOUNT) -> dict:
        answer = self.mid("POST", "/accounts", account=account)
        self.assertEqual(answer.status, 201, answer)
        return answer.json()


class AccountSelectionTests(MobileIdCase):

    def test_missing(self) -> None:
        for headers in ({}, {"Signicat-AccountId": "  "}):
            answer = self.mid("GET", "/accounts", account=None, headers=headers)
            doc = self.assertProblem(answer, 400)
            self.assertEqual(doc["code"], "account_id_missing")
            self.assertEqual(doc["title"], "An Account ID must be specified for this request")
            self.assertIn("more than one account ID", doc["detail"])

    def test_query_parameter_any_case(self) -> None:
        self.add_account()
        for name in ("signicat-accountid", "signicat-accountId", "Signicat-AccountId"):
            answer = self.call("GET", "%s/accounts?%s=%s" % (BASE, name, ACCOUNT))
            self.assertEqual(answer.status, 200, answer)
            self.assertEqual(answer.json()["id"], ACCOUNT)

    def test_both_or_twice(self) -> None:
        self.add_account()
        doc = self.assertProblem(self.mid("GET", "/accounts?signicat-accountid=" + ACCOUNT), 400)
        self.assertNotIn("code", doc)
        self.assertProblem(self.call("GET", "%s/accounts?signicat-accountid=%s"
                                            "&signicat-accountId=%s" % (BASE, ACCOUNT, ACCOUNT)),
                           400)
        self.assertProblem(self.mid("GET", "/accounts", account="bad id!"), 400,
                           "signicat-accountid")

    def test_every_route(self) -> None:
        routes = [r for r in self.server.mock.routes if r.api.name == "mobileid"]
        self.assertEqual(len(routes), 28)
        self.assertTrue(all(r.operation_id.startswith("mobileid_") for r in routes))
        for route in routes:
            path = route.template.replace("{apnsTokenId}", "x").replace("{e2eKeyId}", "x")
            self.assertProblem(self.call(route.method, path, token=False), 401)
            doc = self.assertProblem(self.call(route.method, path, {}), 400)
            self.assertEqual(doc.get("code"), "account_id_missing", route.operation_id)

    def test_account_routes_need_the_account_added(self) -> None:
        for method, tail in (("GET", "/accounts"), ("PATCH", "/accounts"),
                             ("GET", "/application-config"),
                             ("GET", "/application-config/properties"),
                             ("GET", "/signing-certificates"), ("GET", "/e2e-keys"),
                             ("GET", "/risk-indicators"), ("GET", "/statistics/days?nrOfDays=1")):
            self.assertProblem(self.mid(method, tail), 404)
        self.assertEqual(self.mid("GET", "/apns-tokens").json(), {"apnsTokens": []})


class AccountTests(MobileIdCase):

    def test_add_get_update(self) -> None:
        added = self.add_account()
        self.assertEqual((added["id"], added["type"], added["state"]),
                         (ACCOUNT, "SANDBOX", "ENABLED"))
        self.assertRegex(added["created"], STAMP_RE)
        self.assertNotIn("modified", added)
        self.assertEqual(added["statistics"],
                         {"numberOfActiveDevices": "0", "numberOfActiveUsers": "0"})
        config = added["configurations"][0]
        self.assertEqual((config["accountId"], config["default"]), (ACCOUNT, True))
        self.assertTrue(added["onboardedForMobileId"])
        self.assertProblem(self.mid("POST", "/accounts"), 409)
        got = self.mid("GET", "/accounts").json()
        self.assertIn("statistics", got)
        self.assertRegex(got["modified"], STAMP_RE)
        self.assertNotIn("statistics", self.mid("GET", "/accounts?statistics=false").json())
        self.assertProblem(self.mid("GET", "/accounts?statistics=maybe"), 400, "statistics")
        answer = self.mid("PATCH", "/accounts", {"state": "DISABLED"})
        self.assertEqual(answer.status, 200, answer)
        doc = answer.json()
        self.assertEqual((doc["id"], doc["state"]), (ACCOUNT, "DISABLED"))
        self.assertTrue(doc["encapApiKey"])
        self.assertEqual(self.mid("GET", "/accounts").json()["state"], "DISABLED")
        self.assertProblem(self.mid("PATCH", "/accounts", {"state": "OFF"}), 400, "state")

    def test_state_is_per_account(self) -> None:
        self.add_account()
        self.assertProblem(self.mid("GET", "/accounts", account=OTHER), 404)
        self.add_account(OTHER)
        keys = self.mid("GET", "/e2e-keys").json()["e2eKeys"]
        other = self.mid("GET", "/e2e-keys", account=OTHER).json()["e2eKeys"]
        self.assertEqual((len(keys), len(other)), (1, 1))
        self.assertNotEqual(keys[0]["id"], other[0]["id"])
        self.control("POST", "reset")
        self.assertProblem(self.mid("GET", "/accounts"), 404)


class ApnsTokenTests(MobileIdCase):

    def test_lifecycle_shared_by_accounts(self) -> None:
        answer = self.mid("POST", "/apns-tokens", APNS_BODY)
        self.assertEqual(answer.status, 201, answer)
        token = answer.json()
        self.assertRegex(token["id"], UUID4_RE)
        self.assertNotIn("privateKey", token)
        self.assertRegex(token["sha256Fingerprint"], r"^([0-9a-f]{2}:){31}[0-9a-f]{2}$")
        self.assertRegex(token["sha1Fingerprint"], r"^([0-9a-f]{2}:){19}[0-9a-f]{2}$")
        self.assertEqual(self.mid("GET", "/apns-tokens", account=OTHER).json(),
                         {"apnsTokens": [token]})
        self.assertEqual(self.mid("GET", "/apns-tokens/" + token["id"]).json(), token)
        self.assertEmpty(self.mid("DELETE", "/apns-tokens/" + token["id"]), 204)
        self.assertProblem(self.mid("GET", "/apns-tokens/" + token["id"]), 404)
        self.assertProblem(self.mid("DELETE", "/apns-tokens/" + token["id"]), 404)

    def test_validation_and_list_limit(self) -> None:
        for field in ("name", "privateKey", "keyId", "teamId"):
            body = dict(APNS_BODY)
            del body[field]
            self.assertProblem(self.mid("POST", "/apns-tokens", body), 400, field)
        self.assertProblem(self.mid("POST", "/apns-tokens", dict(
            APNS_BODY, privateKey="replace with base64 encoded private key")), 400, "privateKey")
        for _ in range(21):
            self.assertEqual(self.mid("POST", "/apns-tokens", APNS_BODY).status, 201)
        self.assertEqual(len(self.mid("GET", "/apns-tokens").json()["apnsTokens"]), 20)


class OnboardedCase(MobileIdCase):
    """MobileIdCase with ACCOUNT added; ``self.account`` is the Add account answer."""

    def setUp(self) -> None:
        super().setUp()
        self.account = self.add_account()


class ApplicationConfigTests(OnboardedCase):

    def test_config_and_state(self) -> None:
        doc = self.mid("GET", "/application-config").json()
        self.assertEqual(doc["uuid"], self.account["configurations"][0]["id"])
        self.assertEqual((doc["appId"], doc["state"]), (ACCOUNT, "ENABLED"))
        self.assertEqual(doc["properties"]["amountFailuresAllowed"], "3")
        self.assertEqual(self.mid("GET", "/application-config/state").json(),
                         {"state": "ENABLED"})
        self.assertEqual(self.mid("PUT", "/application-config/state",
                                  {"state": "DISABLED"}).json(), {"state": "DISABLED"})
        self.assertEqual(self.mid("GET", "/application-config").json()["state"], "DISABLED")
        for body in ({}, {"state": "enabled"}):
            self.assertProblem(self.mid("PUT", "/application-config/state", body), 400, "state")

    def test_apns_uuid(self) -> None:
        self.assertEqual(self.mid("GET", "/application-config/apns-uuid").json(),
                         {"apnsUuid": None})
        self.assertProblem(self.mid("PUT", "/application-config/apns-uuid",
                                    {"apnsUuid": "12ef6f3a-a12a-4c5e-bb1b-1d75a9f37d59"}),
                           400, "apnsUuid")
        token = self.mid("POST", "/apns-tokens", APNS_BODY).json()["id"]
        answer = self.mid("PUT", "/application-config/apns-uuid", {"apnsUuid": token})
        self.assertEqual(answer.json(), {"apnsUuid": token})
        self.assertEqual(self.mid("GET", "/application-config/apns-uuid").json(),
                         {"apnsUuid": token})

    def test_properties(self) -> None:
        before = self.mid("GET", "/application-config/properties").json()
        self.assertEqual(before["allowedAuthMethodsForAuthAndActivate"], ["DEVICE:PIN"])
        answer = self.mid("PATCH", "/application-config/properties",
                          {"amountFailuresAllowed": "5", "recoveryEnabled": "true",
                           "apnsBundleId": "com.example.app",
                           "enabledRiskData": ["deviceHash"]})
        self.assertEqual(answer.status, 200, answer)
        after = answer.json()
        self.assertEqual((after["amountFailuresAllowed"], after["recoveryEnabled"],
                          after["apnsBundleId"], after["enabledRiskData"]),
                         ("5", "true", "com.example.app", ["deviceHash"]))
        self.assertEqual(after["maximumSessionExpiry"], before["maximumSessionExpiry"])
        self.assertEqual(self.mid("GET", "/application-config/properties").json(), after)
        cases = [({"maximumSessionExpiry": "1"}, "maximumSessionExpiry"),
                 ({"clientDebugDataEnabledOsTypes": "IOS"}, "clientDebugDataEnabledOsTypes"),
                 ({"amountFailuresAllowed": 3}, "amountFailuresAllowed"),
                 ({"activationCodeType": "HEX"}, "activationCodeType"),
                 ({"recoveryCodeFormat": "numeric"}, "recoveryCodeFormat"),
                 ({"attestationIosAppAttestEnvironment": "SANDBOX"},
                  "attestationIosAppAttestEnvironment"),
                 ({"nativePushEnabled": True}, "nativePushEnabled"),
                 ({"apnsNotificationSoundEnabled": "yes"}, "apnsNotificationSoundEnabled"),
                 ({"allowedAuthMethods": "DEVICE"}, "allowedAuthMethods"),
                 ({"allowedAuthMethodsForAuthAndActivate": ["DEVICE:FACE"]},
                  "allowedAuthMethodsForAuthAndActivate"),
                 ({"noSuchProperty": "1"}, "noSuchProperty")]
        for body, field in cases:
            self.assertProblem(self.mid("PATCH", "/application-config/properties", body), 400,
                               field)
        self.assertEqual(self.mid("GET", "/application-config/properties").json(), after)


class KeysAndCertificatesTests(OnboardedCase):

    def test_signing_certificates(self) -> None:
        certs = self.mid("GET", "/signing-certificates").json()["signingCertificates"]
        self.assertEqual([c["state"] for c in certs], ["ACTIVE", "DEACTIVATED"])
        self.assertTrue(certs[0]["certificate"].startswith("-----BEGIN CERTIFICATE-----\n"))
        self.assertIn("deactivatedAt", certs[1])
        self.assertEqual(self.mid("GET", "/signing-certificates").json()["signingCertificates"],
                         certs)  # fixed
        active = self.mid("GET", "/signing-certificates?state=ACTIVE").json()
        self.assertEqual(active["signingCertificates"], certs[:1])
        self.assertProblem(self.mid("GET", "/signing-certificates?state=OLD"), 400, "state")

    def test_e2e_keys(self) -> None:
        keys = self.mid("GET", "/e2e-keys").json()["e2eKeys"]
        self.assertEqual(len(keys), 1)
        self.assertIn(ACCOUNT, keys[0]["name"])
        answer = self.mid("POST", "/e2e-keys", {"name": "QA key", "description": "for QA"})
        self.assertEqual(answer.status, 201, answer)
        key = answer.json()
        self.assertRegex(key["id"], KEY_ID_RE)
        self.assertEqual((key["name"], key["state"]), ("QA key", "ENABLED"))
        self.assertTrue(base64.b64decode(key["publicKey"]))
        self.assertRegex(key["created"], STAMP_RE)
        self.assertEqual(self.mid("GET", "/e2e-keys/" + key["id"]).json(), key)
        path = "/e2e-keys/%s/state" % key["id"]
        self.assertEqual(self.mid("PUT", path, {"state": "DISABLED"}).json(),
                         {"state": "DISABLED"})
        self.assertProblem(self.mid("PUT", path, {"state": "GONE"}), 400, "state")
        disabled = self.mid("GET", "/e2e-keys?state=DISABLED").json()["e2eKeys"]
        self.assertEqual([k["id"] for k in disabled], [key["id"]])
        self.assertEqual(len(self.mid("GET", "/e2e-keys?state=ENABLED").json()["e2eKeys"]), 1)
        self.assertProblem(self.mid("GET", "/e2e-keys?state=ON"), 400, "state")
        self.assertEmpty(self.mid("DELETE", "/e2e-keys/" + key["id"]), 204)
        for method in ("GET", "DELETE"):
            self.assertProblem(self.mid(method, "/e2e-keys/" + key["id"]), 404)
        self.assertProblem(self.mid("PUT", path, {"state": "ENABLED"}), 404)
        self.assertProblem(self.mid("POST", "/e2e-keys", {"name": ""}), 400, "name")

    def test_e2e_key_algorithm(self) -> None:
        answer = self.mid("POST", "/e2e-keys", {"name": "EC key", "algorithm": "EC_P256"})
        self.assertEqual(answer.status, 201, answer)
        key = answer.json()
        self.assertEqual(key["algorithm"], "EC_P256")
        self.assertEqual(self.mid("GET", "/e2e-keys/" + key["id"]).json(), key)
        listed = self.mid("GET", "/e2e-keys").json()["e2eKeys"]
        self.assertEqual([k.get("algorithm") for k in listed], [None, "EC_P256"])
        # any non-empty string: the allowed values are not public
        odd = self.mid("POST", "/e2e-keys", {"name": "k", "algorithm": "made-up algo ÆØÅ"})
        self.assertEqual(odd.json()["algorithm"], "made-up algo ÆØÅ")
        # absent or null: no algorithm member
        for body in ({"name": "plain"}, {"name": "null", "algorithm": None}):
            self.assertNotIn("algorithm", self.mid("POST", "/e2e-keys", body).json())
        for value in (1, True, ["EC_P256"], {"name": "EC"}, ""):
            self.assertProblem(self.mid("POST", "/e2e-keys", {"name": "bad", "algorithm": value}),
                               400, "algorithm")
        self.assertEqual(len(self.mid("GET", "/e2e-keys").json()["e2eKeys"]), 5)

    def test_at_most_20_keys(self) -> None:
        for i in range(19):
            self.assertEqual(self.mid("POST", "/e2e-keys", {"name": "k%d" % i}).status, 201)
        self.assertProblem(self.mid("POST", "/e2e-keys", {"name": "one too many"}), 400)
        self.assertEqual(len(self.mid("GET", "/e2e-keys").json()["e2eKeys"]), 20)


class RiskAndStatisticsTests(OnboardedCase):

    def test_risk_indicators(self) -> None:
        key = "allowedNrOfUsersWithSameDeviceHash"
        self.assertEqual(self.mid("GET", "/risk-indicators").json(),
                         {"riskIndicatorsConfiguration": {key: "1"}})
        body = {"riskIndicatorsConfiguration": {key: "4"}}
        self.assertEqual(self.mid("PATCH", "/risk-indicators", body).json(), body)
        self.assertEqual(self.mid("GET", "/risk-indicators").json(), body)
        for value in (4, "four", "0"):
            self.assertProblem(self.mid("PATCH", "/risk-indicators", {
                "riskIndicatorsConfiguration": {key: value}}), 400,
                "riskIndicatorsConfiguration." + key)
        deleted = self.mid("PATCH", "/risk-indicators",
                           {"riskIndicatorsConfiguration": {key: None}}).json()
        self.assertEqual(deleted, {"riskIndicatorsConfiguration": {}})

    def test_statistics_days_and_range(self) -> None:
        doc = self.mid("GET", "/statistics/days?nrOfDays=150").json()
        self.assertEqual(set(doc), {"fromDate", "toDate", "users", "devices"})
        self.assertEqual(set(doc["users"]), {"total", "withActivatedState", "withLockedState"})
        self.assertIsInstance(doc["devices"]["total"], int)
        self.assertRegex(doc["fromDate"], r"^\d{4}-\d{2}-\d{2}$")
        one = self.mid("GET", "/statistics/days?nrOfDays=1").json()
        self.assertEqual(one["fromDate"], one["toDate"])
        for query in ("", "?nrOfDays=0", "?nrOfDays=366", "?nrOfDays=x"):
            self.assertProblem(self.mid("GET", "/statistics/days" + query), 400, "nrOfDays")
        doc = self.mid("GET", "/statistics/date-range?fromDate=2024-04-04&toDate=2026-06-06")
        self.assertEqual((doc.json()["fromDate"], doc.json()["toDate"]),
                         ("2024-04-04", "2026-06-06"))
        for query, field in (("fromDate=2024-04-04", "toDate"),
                             ("fromDate=2024-02-30&toDate=2024-03-01", "fromDate"),
                             ("fromDate=2024-05-01&toDate=2024-04-01", "toDate"),
                             ("fromDate=04.04.2024&toDate=2024-05-01", "fromDate")):
            self.assertProblem(self.mid("GET", "/statistics/date-range?" + query), 400, field)

    def test_detailed_devices(self) -> None:
        doc = self.mid("GET", "/statistics/devices/detailed?type=allbasic").json()
        self.assertEqual(doc["accountId"], ACCOUNT)
        self.assertEqual(doc["total"], sum(p["count"] for p in doc["platforms"]))
        self.assertEqual(doc["total"], sum(v["count"] for v in doc["sdkversions"]))
        android = self.mid("GET", "/statistics/devices/detailed?type=allbasic"
                                  "&platform=android").json()
        self.assertEqual(android["platforms"], [{"name": "Android", "count": android["total"],
                                                 "percentage": 100}])
        self.assertProblem(self.mid("GET", "/statistics/devices/detailed"), 400, "type")
        self.assertProblem(self.mid("GET", "/statistics/devices/detailed?type=allbasic"
                                           "&platform=Symbian"), 400, "platform")

    def test_device_hashes(self) -> None:
        doc = self.mid("GET", "/statistics/device-hashes").json()
        self.assertEqual(set(doc["count"]), {"total", "uniqueDeviceHashes", "activeUsers"})
        self.assertEqual([h["deviceHash"] for h in doc["suspiciousDeviceHashes"]],
                         [HASH, PLUS_HASH])
        self.assertNotIn("devices", doc["suspiciousDeviceHashes"][0]["users"][0])
        detailed = self.mid("GET", "/statistics/device-hashes?detailed=true"
                                   "&allowedNrOfUsersWithSameDeviceHash=2").json()
        self.assertEqual([h["deviceHash"] for h in detailed["suspiciousDeviceHashes"]],
                         [PLUS_HASH])
        device = detailed["suspiciousDeviceHashes"][0]["users"][0]["devices"][0]
        self.assertIsInstance(device["state"], int)
        self.assertRegex(device["lastUsed"], r"^\d{4}-\d{2}-\d{2}T[\d:.]+$")  # no zone
        self.mid("PATCH", "/risk-indicators",
                 {"riskIndicatorsConfiguration": {"allowedNrOfUsersWithSameDeviceHash": "3"}})
        self.assertEqual(self.mid("GET", "/statistics/device-hashes").json()
                         ["suspiciousDeviceHashes"], [])
        for query in ("?detailed=yes", "?allowedNrOfUsersWithSameDeviceHash=0"):
            self.assertProblem(self.mid("GET", "/statistics/device-hashes" + query), 400)

    def test_devices_by_hash_and_lock(self) -> None:
        users = self.mid("GET", "/statistics/device-hashes/devices?deviceHash=" + HASH).json()
        self.assertEqual(len(users), 2)
        device = users[0]["devices"][1]
        self.assertEqual((device["state"], device["lastUsed"], device["accountId"]),
                         ("ACTIVE", "2026-03-31 08:21:40.584", ACCOUNT))
        escaped = self.mid("GET", "/statistics/device-hashes/devices?deviceHash="
                           + quote(PLUS_HASH, safe="")).json()
        self.assertEqual(len(escaped), 3)
        self.assertProblem(self.mid("GET", "/statistics/device-hashes/devices?deviceHash="
                                    + PLUS_HASH), 400, "deviceHash")  # '+' read as a space
        self.assertProblem(self.mid("GET", "/statistics/device-hashes/devices"), 400,
                           "deviceHash")
        self.assertEqual(self.mid("GET", "/statistics/device-hashes/devices?deviceHash=AAAA")
                         .json(), [])
        locked = self.mid("POST", "/statistics/device-hashes/lock", {"deviceHash": HASH}).json()
        self.assertEqual(locked["lockedDevices"],
                         [d["deviceId"] for u in users for d in u["devices"]])
        self.assertProblem(self.mid("POST", "/statistics/device-hashes/lock", {}), 400,
                           "deviceHash")


if __name__ == "__main__":
    unittest.main()
