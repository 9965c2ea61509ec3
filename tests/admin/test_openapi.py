"""docs/openapi.json is the admin service's OpenAPI document as the code states it, and the
service serves the same at /openapi.json."""

from __future__ import annotations

import json
from pathlib import Path

from memberflow.admin.app import openapi_document

EXPORT_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_checked_in_document_is_current():
    assert DOC.read_text(encoding="utf-8") == openapi_document(), "run: memberflow admin openapi"


def test_the_service_serves_it_and_every_operation_states_its_responses(client):
    served = client.get("/openapi.json").json()
    assert served == json.loads(openapi_document())
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            ok = next((operation["responses"][c] for c in ("200", "201", "202") if c in operation["responses"]), None)
            if path.startswith("/tenants/{tenant_id}/exports/"):
                assert set(ok["content"]) >= {"text/csv; charset=utf-8", EXPORT_XLSX}, path
            elif path.endswith("/report.html"):
                assert "text/html" in ok["content"], path
            else:
                assert ok and ok["content"]["application/json"]["schema"], (method, path)
