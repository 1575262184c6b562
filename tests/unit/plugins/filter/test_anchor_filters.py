"""The immutable_id and object_guid filters as Jinja sees them."""

import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hybrid.identity.plugins.filter.anchor import FilterModule
from tests.integration._ansible import run_playbook


def test_filters_round_trip_the_published_example():
    filters = FilterModule().filters()
    assert filters["immutable_id"]("9a7ed32a-0ab4-4d46-aa48-2d7d273334f6") == "KtN+mrQKRk2qSC19JzM09g=="
    assert filters["object_guid"]("KtN+mrQKRk2qSC19JzM09g==") == "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"


def test_filter_error_is_an_ansible_error_with_the_hint():
    with pytest.raises(AnsibleFilterError, match="not a GUID"):
        FilterModule().filters()["immutable_id"]("alice")


TEMPLATE = """\
immutable_id: {{ guid | hybrid.identity.immutable_id }}
object_guid: {{ anchor | hybrid.identity.object_guid }}
round_trip: {{ guid | upper | hybrid.identity.immutable_id | hybrid.identity.object_guid }}
"""


def test_filters_by_fqcn_in_a_template_rendered_by_ansible_playbook(tmp_path):
    """The published example (rule book §3) through Jinja as a play renders it, and a bad value failing the task."""
    template = tmp_path / "anchors.j2"
    template.write_text(TEMPLATE)
    rendered, refused = tmp_path / "anchors.yml", tmp_path / "refused.json"
    play = {
        "name": "Render the anchor filters",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "guid": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
            "anchor": "KtN+mrQKRk2qSC19JzM09g==",
        },
        "tasks": [
            {"name": "Render", "ansible.builtin.template": {"src": str(template), "dest": str(rendered)}},
            {
                "name": "A value that is no GUID",
                "ansible.builtin.debug": {"msg": "{{ 'alice' | hybrid.identity.immutable_id }}"},
                "register": "bad",
                "ignore_errors": True,
            },
            {"name": "Keep it", "ansible.builtin.copy": {"content": "{{ bad | to_json }}", "dest": str(refused)}},
        ],
    }

    completed = run_playbook([play])

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert yaml.safe_load(rendered.read_text()) == {
        "immutable_id": "KtN+mrQKRk2qSC19JzM09g==",
        "object_guid": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
        "round_trip": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6",
    }
    bad = json.loads(refused.read_text())
    assert bad["failed"] is True
    assert "immutable_id: 'alice' is not a GUID. write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in bad["msg"]
