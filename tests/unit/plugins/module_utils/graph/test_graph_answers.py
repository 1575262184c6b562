"""What makes a Graph answer a page of a listing, a $batch answer, or neither (rule book §8), with plain data."""

import pytest
import requests

from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    answer_problem,
    batch_problem,
    page_problem,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_retry import retryable


def answer(body: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(("body", "content_type", "problem"), [
    (b'{"value": []}', "application/json", None),
    (b"", "application/json", "an empty body"),
    (b'{"value": [{"id": "1"}, {"id"', "application/json", "not JSON (application/json, 29 bytes"),
    (b"<html>502 Bad Gateway</html>", "text/html", "not JSON (text/html"),
    (b'[{"id": "1"}]', "application/json", "JSON that is not an object (list)"),
])
def test_an_answer_is_a_json_object_or_says_what_it_is(body, content_type, problem):
    found, parsed = answer_problem(answer(body, content_type))
    if problem is None:
        assert found is None and parsed == {"value": []}
    else:
        assert problem in found and parsed == {}


@pytest.mark.parametrize(("page", "problem"), [
    ({"value": []}, None),
    ({"value": [{"id": "1"}], "@odata.nextLink": "https://graph/next"}, None),
    ({}, "a JSON object without a value list"),
    ({"value": None}, "a JSON object without a value list"),
    ({"value": {"id": "1"}}, "a JSON object without a value list"),
    (None, "an empty body"),
    ("<html>", "a str instead of a JSON object"),
])
def test_rule_8_a_page_of_a_listing_holds_a_value_list(page, problem):
    assert page_problem(page) == problem


@pytest.mark.parametrize(("reply", "problem"), [
    ({"responses": [{"id": "0", "status": 200, "body": {}}]}, None),
    ({}, "a $batch answer without responses"),
    ({"responses": []}, "a $batch answer without responses"),
    ({"responses": [{"status": 200}]}, "a $batch answer whose responses lack an id or a status"),
    ({"responses": [{"id": "0"}]}, "a $batch answer whose responses lack an id or a status"),
])
def test_a_batch_answer_lists_responses_with_id_and_status(reply, problem):
    assert batch_problem(reply) == problem


@pytest.mark.parametrize(("status", "read", "write"), [
    (429, True, True), (503, True, True), (504, True, True),
    (500, True, False), (502, True, False),          # a write may have been done before the answer broke
    (400, False, False), (404, False, False), (200, False, False),
])
def test_rule_8_which_statuses_are_retried_for_reads_and_for_writes(status, read, write):
    assert retryable(status, replay_safe=True) is read
    assert retryable(status, replay_safe=False) is write
