"""The OpenAPI description stays in step with the app: routes, methods, fields and limits."""

from __future__ import annotations

import re

import pytest

from fakes import fake_reader
from spaceqa.openapi import ERROR_CODES, PAGE_ROUTES

OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
AUTOMATIC = {"HEAD", "OPTIONS"}  # Flask adds these to every rule; the spec documents the methods we wrote


@pytest.fixture
def spec(tiny_client):
    response = tiny_client.get("/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def openapi_path(rule: str) -> str:
    """Werkzeug's "/documents/<path:doc_id>" as OpenAPI's "/documents/{doc_id}"."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def app_routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule not in PAGE_ROUTES:
            routes.setdefault(openapi_path(rule.rule), set()).update(method.lower() for method in rule.methods - AUTOMATIC)
    return routes


def test_it_is_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    assert spec["info"]["title"] == "SpaceQA" and spec["info"]["version"]


def test_every_route_is_described_with_its_methods_and_nothing_more(tiny_app, spec):
    described = {path: set(item) & OPERATIONS for path, item in spec["paths"].items()}
    routes = app_routes(tiny_app)
    assert described == {path: methods for path, methods in routes.items() if methods}


def test_page_routes_left_out_are_real_routes(tiny_app):
    # The exclusions must name routes that exist, or they would hide nothing and rot.
    assert PAGE_ROUTES <= {rule.rule for rule in tiny_app.url_map.iter_rules()}


def test_every_path_parameter_is_declared(spec):
    for path, item in spec["paths"].items():
        for method in set(item) & OPERATIONS:
            declared = {p["name"] for p in item[method].get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), (method, path)


def test_every_reference_resolves(spec):
    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(spec):
        assert ref.startswith("#/")
        node = spec
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


def test_every_operation_has_a_success_response_and_an_id(spec):
    ids = []
    for item in spec["paths"].values():
        for method in set(item) & OPERATIONS:
            assert any(code.startswith("2") for code in item[method]["responses"])
            ids.append(item[method]["operationId"])
    assert len(ids) == len(set(ids))


def schema(spec, name) -> dict:
    return spec["components"]["schemas"][name]


def test_documented_fields_are_the_fields_of_real_responses(tiny_client, spec):
    body = tiny_client.post("/ask", json={"question": "When was Mir launched?"}).get_json()
    assert set(schema(spec, "AskResponse")["properties"]) == set(schema(spec, "AskResponse")["required"]) == set(body)
    assert set(schema(spec, "Answer")["properties"]) == set(schema(spec, "Answer")["required"]) == set(body["answers"][0])
    document = tiny_client.get(f"/documents/{body['answers'][0]['doc_id']}").get_json()
    assert set(schema(spec, "Document")["properties"]) == set(document)
    assert set(schema(spec, "Health")["properties"]) == set(tiny_client.get("/healthz").get_json())
    listed = tiny_client.get("/documents").get_json()
    assert set(schema(spec, "DocumentList")["properties"]) == set(listed)
    assert set(schema(spec, "DocumentSummary")["properties"]) == set(schema(spec, "DocumentSummary")["required"]) == set(listed["documents"][0])
    error = tiny_client.get("/documents/missing.txt").get_json()
    assert set(schema(spec, "Error")["properties"]) == set(error)
    assert set(schema(spec, "Error")["properties"]["error"]["properties"]) == set(error["error"])
    assert set(schema(spec, "AskRequest")["properties"]) == {"question", "history", "top_k"}


def test_limits_are_those_of_this_server(tmp_path, tiny_corpus, fake_embedder):
    from spaceqa import create_app

    app = create_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "max_question_chars": 123, "max_history": 4}, embedder=fake_embedder, reader=fake_reader())
    spec = app.test_client().get("/openapi.json").get_json()
    request = schema(spec, "AskRequest")["properties"]
    assert request["question"]["maxLength"] == 123
    assert request["history"]["maxItems"] == 4 and request["history"]["items"]["oneOf"][0]["maxLength"] == 123
    assert schema(spec, "PastTurn")["properties"]["answer"]["maxLength"] == 123
    client = app.test_client()
    assert client.post("/ask", json={"question": "x" * 124}).status_code == 400
    assert client.post("/ask", json={"question": "x" * 123}).status_code == 200


def test_the_error_codes_listed_are_the_ones_the_readme_documents():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    errors_section = readme.split("### Errors", 1)[1].split("\n## ", 1)[0]
    for code in ERROR_CODES:
        if code != "internal_error":  # the README says "never a 500" for bad input; the code exists for our bugs
            assert f"`{code}`" in errors_section, code


def test_the_admin_routes_document_their_security_and_report(tmp_path, tiny_corpus, fake_embedder):
    from spaceqa import create_app

    app = create_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "admin_token": "t", "reload_interval": 0}, embedder=fake_embedder, reader=fake_reader())
    client = app.test_client()
    spec = client.get("/openapi.json").get_json()
    for path, method in [("/documents", "post"), ("/documents/{doc_id}", "delete"), ("/admin/reindex", "post")]:
        assert spec["paths"][path][method]["security"] == [{"adminToken": []}]
    report = client.post("/admin/reindex", headers={"Authorization": "Bearer t"}).get_json()
    assert set(schema(spec, "BuildReport")["properties"]) == set(schema(spec, "BuildReport")["required"]) == set(report)
    added = client.post("/documents", data=b"Comets\n\nHalley's Comet returns every 76 years.", query_string={"filename": "c.txt"},
                        headers={"Authorization": "Bearer t"}, content_type="text/plain").get_json()
    assert set(schema(spec, "Added")["properties"]) == set(added)
    deleted = client.delete("/documents/c.txt", headers={"Authorization": "Bearer t"}).get_json()
    assert set(schema(spec, "Deleted")["properties"]) == set(deleted)
