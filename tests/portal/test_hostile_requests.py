"""Hostile or careless requests to the partner API get a 4xx with a message, never a 500."""

from __future__ import annotations

import io

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api import BoundedJSONParser, BoundedLimitOffsetPagination

LISTS = [
    "/api/v1/partner/settlements/",
    "/api/v1/partner/transactions/",
    "/api/v1/partner/settlements/{pk}/transactions/",
]
PARTNER_API = [
    "/api/v1/partner/settlements/",
    "/api/v1/partner/settlements/{pk}/",
    "/api/v1/partner/settlements/{pk}/statement.pdf",
    "/api/v1/partner/settlements/{pk}/transactions.csv",
    "/api/v1/partner/settlements/{pk}/transactions.xlsx",
    "/api/v1/partner/settlements/{pk}/transactions/",
    "/api/v1/partner/transactions/",
]
NESTED = "[" * 3000


@pytest.mark.parametrize("path", LISTS)
def test_a_huge_limit_is_clamped(api_x, settlement_x, path):
    response = api_x.get(path.format(pk=settlement_x.pk) + "?limit=99999999999999999999")
    assert response.status_code == 200


def test_the_limit_is_clamped_to_the_maximum():
    request = Request(APIRequestFactory().get("/", {"limit": "99999999999999999999"}))
    assert BoundedLimitOffsetPagination().get_limit(request) == 1000


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=1e3", "limit"),
        ("limit=" + "9" * 5000, "limit"),
        ("offset=abc", "offset"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999", "offset"),
    ],
)
def test_bad_paging_is_a_400_naming_the_parameter(api_x, settlement_x, path, query, parameter):
    response = api_x.get(path.format(pk=settlement_x.pk) + "?" + query)
    assert response.status_code == 400
    assert parameter in response.json()


def test_the_list_pages_at_most_1000(api_x, settlement_x, draft_x):
    body = api_x.get("/api/v1/partner/settlements/?limit=99999999999999999999&offset=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1


@pytest.mark.parametrize("path", PARTNER_API)
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_deeply_nested_json_body_is_a_4xx(api_x, settlement_x, path, method):
    response = getattr(api_x, method)(path.format(pk=settlement_x.pk), NESTED, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_the_token_endpoint_ignores_a_nested_body(api_x):
    response = api_x.delete("/api/v1/partner/token/", NESTED, content_type="application/json")
    assert response.status_code == 204


def test_the_json_parser_refuses_deep_nesting_with_a_parse_error():
    with pytest.raises(ParseError, match="nested too deeply"):
        BoundedJSONParser().parse(io.BytesIO(NESTED.encode()), "application/json", {})
    assert BoundedJSONParser().parse(io.BytesIO(b"[[1]]"), "application/json", {}) == [[1]]


def test_the_batch_api_refuses_deep_nesting(source_client):
    response = source_client.post("/api/v1/transactions/batch/", NESTED, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
