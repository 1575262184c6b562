"""The immutable_id and object_guid filters as Jinja sees them."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybrid.identity.plugins.filter.anchor import FilterModule


def test_filters_round_trip_the_published_example():
    filters = FilterModule().filters()
    assert filters["immutable_id"]("9a7ed32a-0ab4-4d46-aa48-2d7d273334f6") == "KtN+mrQKRk2qSC19JzM09g=="
    assert filters["object_guid"]("KtN+mrQKRk2qSC19JzM09g==") == "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"


def test_filter_error_is_an_ansible_error_with_the_hint():
    with pytest.raises(AnsibleFilterError, match="not a GUID"):
        FilterModule().filters()["immutable_id"]("alice")
