"""smtp_align's pairs_file: every way a file can be wrong gets a message that says what to fix."""

import json

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment_io import read_pairs_file
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError


def written(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("name", "content"), [
    ("pairs.csv", "onprem,cloud\nalex,awilber@contoso.com\n"),
    ("pairs.csv", b"\xef\xbb\xbfonprem,cloud\r\nalex,awilber@contoso.com\r\n"),  # Excel's UTF-8 with BOM
    ("pairs.yml", "pairs:\n  - {onprem: alex, cloud: awilber@contoso.com}\n"),
    ("pairs.yaml", "- onprem: alex\n  cloud: awilber@contoso.com\n"),
    ("pairs.json", json.dumps([{"onprem": "alex", "cloud": "awilber@contoso.com"}])),
    ("pairs.json", json.dumps({"pairs": [{"onprem": "alex", "cloud": "awilber@contoso.com"}]})),
])
def test_each_format_gives_the_pairs(tmp_path, name, content):
    [row] = read_pairs_file(written(tmp_path, name, content))
    assert (row.onprem, row.cloud) == ("alex", "awilber@contoso.com")


@pytest.mark.parametrize(("name", "content", "message", "hint"), [
    ("pairs.csv", "onprem,cloud\nZo\xeb,zoe@contoso.com\n".encode("latin-1"), "is not UTF-8 text (byte 0xeb at offset",
     "UTF-8"),
    ("pairs.yml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text", "UTF-8"),
    ("pairs.yml", b"pairs:\n  - {onprem: alex,\x00 cloud: a@contoso.com}\n", "holds NUL bytes", "CSV, JSON or YAML"),
    ("pairs.json", '[{"onprem": "alex", "cloud": "awil', "is not valid JSON: Unterminated string", "cut short"),
    ("pairs.json", '[{"onprem": "alex"', "is not valid JSON", "cut short"),
    ("pairs.yml", "pairs:\n  - {onprem: alex, cloud: awil", "is not valid YAML at line", "cut short"),
    ("pairs.yml", "pairs:\n  - onprem: alex\n   cloud: x\n", "is not valid YAML at line 3", "cut short"),
    ("pairs.yml", "", "is empty", "leave pairs_file out"),
    ("pairs.json", "  \n", "is empty", "leave pairs_file out"),
    ("pairs.yml", "42\n", "holds int, not a list of pairs", "onprem: <identity>"),
    ("pairs.yml", "just some words\n", "holds str, not a list of pairs", "onprem: <identity>"),
    ("pairs.yml", "pair:\n  - {onprem: alex, cloud: a@contoso.com}\n", "holds the key(s) pair, not pairs", "pairs"),
    ("pairs.yml", "pairs: []\n", "lists no pairs", "leave pairs_file out"),
    ("pairs.yml", "pairs:\n", "holds nothing, not a list of pairs", "onprem"),
    ("pairs.json", '["alex"]', "pair 1 is 'alex', not a mapping", "onprem"),
    ("pairs.csv", "user,target\nalex,a@contoso.com\n", "needs the columns onprem and cloud", "onprem,cloud"),
])
def test_a_wrong_file_says_what_is_wrong_and_what_to_do(tmp_path, name, content, message, hint):
    with pytest.raises(HybridIdentityError) as refused:
        read_pairs_file(written(tmp_path, name, content))
    assert message in str(refused.value)
    assert hint in refused.value.hint


def test_a_missing_file_and_a_directory_are_named(tmp_path):
    with pytest.raises(HybridIdentityError, match="does not exist"):
        read_pairs_file(str(tmp_path / "gone.csv"))
    with pytest.raises(HybridIdentityError, match="is a directory"):
        read_pairs_file(str(tmp_path))
