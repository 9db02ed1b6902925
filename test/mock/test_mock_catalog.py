"""The mock serves exactly the catalog: every operation id of
api/signicat-openapi.json has a route with the same method and path
template, and the mock has no API route the catalog does not know."""
from __future__ import annotations

import json
import os
import re
import sys
import unittest

MOCK_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, MOCK_DIR)

import signicat_mock  # noqa: E402

SPEC = os.path.join(MOCK_DIR, "..", "..", "api", "signicat-openapi.json")


def normalise(template: str) -> str:
    """Path template with parameter names erased: /a/{x}/b -> /a/{}/b."""
    return re.sub(r"\{[^}]+\}", "{}", template.rstrip("/"))


class CatalogCoverage(unittest.TestCase):
    def test_routes_match_the_catalog(self) -> None:
        with open(SPEC, encoding="utf-8") as f:
            spec = json.load(f)
        catalog = {}
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    catalog[op["operationId"]] = (method.upper(), normalise(path))
        server = signicat_mock.MockServer(apis=signicat_mock.load_api_modules())
        served = {}
        for route in server.routes:
            if route.kind == "api":
                served[route.operation_id] = (route.method, normalise(route.template))
        self.assertEqual(sorted(set(catalog) - set(served)), [], "catalog operations the mock lacks")
        self.assertEqual(sorted(set(served) - set(catalog)), [], "mock routes outside the catalog")
        for op, where in catalog.items():
            self.assertEqual(served[op], where, op)


if __name__ == "__main__":
    unittest.main()
