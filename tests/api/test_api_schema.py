"""The OpenAPI 3 schema at /api/schema/ is valid and describes every endpoint with its
request and response bodies, its 202s and its errors; Swagger UI and Redoc are served from
this site (the sidecar), not from a CDN."""

from __future__ import annotations

import pytest

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(anon):
    response = anon.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    from drf_spectacular.validation import validate_schema

    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "musicsite API"


def test_the_schema_lists_every_endpoint_and_only_the_api(schema):
    paths = set(schema["paths"])
    assert {
        "/api/v1/",
        "/api/v1/corpora/",
        "/api/v1/corpora/{id}/",
        "/api/v1/corpora/{id}/tunes/",
        "/api/v1/corpora/{id}/imports/",
        "/api/v1/tunes/",
        "/api/v1/tunes/{id}/",
        "/api/v1/imports/",
        "/api/v1/imports/{id}/",
        "/api/v1/runs/",
        "/api/v1/runs/{id}/",
        "/api/v1/runs/{id}/start/",
        "/api/v1/runs/{id}/cancel/",
        "/api/v1/runs/{id}/resume/",
        "/api/v1/runs/{id}/checkpoints/",
        "/api/v1/runs/{id}/report/",
        "/api/v1/checkpoints/",
        "/api/v1/checkpoints/{id}/",
        "/api/v1/pieces/",
        "/api/v1/pieces/{id}/",
        "/api/v1/pieces/{id}/reproduce/",
        "/api/v1/pieces/{id}/more/",
        "/api/v1/jobs/",
        "/api/v1/jobs/{id}/",
        "/api/v1/generate/",
        "/api/v1/surveys/{id}/results/",
    } == paths


def _operations(schema):
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def test_every_error_answer_is_described_with_the_one_error_format(schema):
    for path, method, op in _operations(schema):
        codes = {int(code) for code in op["responses"]}
        assert {401, 429} <= codes, (path, method)
        for code, response in op["responses"].items():
            if int(code) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == ERROR_REF, (path, method, code)
    error = schema["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"code", "message", "fields"}


def test_long_work_is_described_as_202_with_a_location(schema):
    for path in (
        "/api/v1/runs/",
        "/api/v1/runs/{id}/start/",
        "/api/v1/runs/{id}/resume/",
        "/api/v1/corpora/{id}/imports/",
        "/api/v1/generate/",
        "/api/v1/pieces/{id}/reproduce/",
    ):
        accepted = schema["paths"][path]["post"]["responses"]["202"]
        assert "Location" in accepted["headers"], path
        assert "$ref" in accepted["content"]["application/json"]["schema"]


def test_request_bodies_are_described(schema):
    generate = schema["paths"]["/api/v1/generate/"]["post"]["requestBody"]["content"]
    props = schema["components"]["schemas"]["GenerationRequestRequest"]["properties"]
    assert "application/json" in generate
    assert {
        "checkpoint",
        "run",
        "count",
        "temperature",
        "seed",
        "top_k",
        "max_length",
        "prime",
    } <= set(props)
    imports = schema["paths"]["/api/v1/corpora/{id}/imports/"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(imports)
    upload = schema["components"]["schemas"]["ImportRequestRequest"]["properties"]["file"]
    assert upload["format"] == "binary"


def test_the_piece_filters_and_cursor_are_described(schema):
    params = {p["name"]: p for p in schema["paths"]["/api/v1/pieces/"]["get"]["parameters"]}
    assert {"way", "corpus", "run", "key", "meter", "valid", "q", "sort", "epoch_samples"} <= set(
        params
    )
    assert {"cursor", "per_page"} <= set(params)
    assert {"newest", "oldest", "rating", "novelty"} <= set(params["sort"]["schema"]["enum"])
    page = schema["components"]["schemas"]["PaginatedPieceList"]
    assert {"next", "previous", "results", "sort"} <= set(page["properties"])


def test_token_and_session_authentication_are_described(schema):
    schemes = schema["components"]["securitySchemes"]
    assert (
        schemes["tokenAuth"]["in"] == "header" and schemes["tokenAuth"]["name"] == "Authorization"
    )
    assert "cookieAuth" in schemes


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_are_served_from_this_site(anon, url):
    response = anon.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    assert "/api/schema/" in html
