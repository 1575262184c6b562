"""Build the antsibull-docs site of the collection, with the guides in docs/ and the playbooks as extra docs.

usage: python .ci/docsite.py DEST_DIR

antsibull-docs takes extra docs in reStructuredText only, from docs/docsite/rst/ of the collection, so the
Markdown guides are converted into a copy of the collection under DEST_DIR (nothing is generated in the
working tree): headings, paragraphs, lists, fenced code and tables, inline code and links, as the guides
use them. Then `antsibull-docs sphinx-init` and the build script it writes build the HTML into
DEST_DIR/site/build/html. No network is needed; Sphinx only warns that the intersphinx inventories of
docs.ansible.com and docs.python.org can't be fetched.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ISSUES = yaml.safe_load((REPO / "galaxy.yml").read_text())["issues"]
REPOSITORY = yaml.safe_load((REPO / "galaxy.yml").read_text())["repository"]
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`]+)`")
_HEADING = re.compile(r"^(#{1,4}) (.+)$")
_UNDERLINES = "=-~^"


def inline(text: str, guides: set[str]) -> str:
    """Inline Markdown as reStructuredText: `code`, [text](link), and | escaped."""
    pieces, position = [], 0
    for match in re.finditer(f"{_CODE.pattern}|{_LINK.pattern}", text):
        pieces.append(_escape(text[position:match.start()]))
        if match.group(1) is not None:
            pieces.append(f"``{match.group(1)}``" if "`" not in match.group(1) else match.group(1))
        else:
            label, target = match.group(2), match.group(3)
            pieces.append(f"`{_CODE.sub(lambda code: code.group(1), label)} <{_target(target, guides)}>`__")
        position = match.end()
    pieces.append(_escape(text[position:]))
    # RST inline markup must not touch a word on either side.
    return re.sub(r"(?<=\w)(``|`__)(?=\w)", r"\1\\ ", "".join(pieces))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*") if "**" not in text else \
        text.replace("|", "\\|")


def _target(target: str, guides: set[str]) -> str:
    if re.match(r"^[a-z]+://", target):
        return target
    page, _hash, anchor = target.partition("#")
    name = Path(page).stem
    if page.endswith(".md") and Path(page).parent == Path(".") and name in guides:
        return f"{name}.html" + (f"#{anchor}" if anchor else "")
    # Anything else in the repository: its page there.
    resolved = (Path("docs") / page).as_posix()
    while "/../" in f"/{resolved}":
        resolved = re.sub(r"(^|/)[^/]+/\.\./", r"\1", resolved, count=1)
    return f"{REPOSITORY}/blob/main/{resolved}" + (f"#{anchor}" if anchor else "")


def table(rows: list[str], guides: set[str]) -> list[str]:
    cells = [[cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))] for row in rows]
    header, body = cells[0], cells[2:]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *body]:
        for index, cell in enumerate(row):
            out.append(("   * - " if index == 0 else "     - ") + (inline(cell, guides) or "\\"))
    return [*out, ""]


def convert(markdown: str, guides: set[str]) -> str:
    lines, out, index = markdown.splitlines(), [], 0
    while index < len(lines):
        line = lines[index]
        heading = _HEADING.match(line)
        if line.startswith("```"):
            language = line[3:].strip() or "text"
            index += 1
            block = []
            while index < len(lines) and not lines[index].startswith("```"):
                block.append(lines[index])
                index += 1
            language = {"yml": "yaml", "csv": "text", "sh": "shell"}.get(language, language)
            out += [f".. code-block:: {language}", ""]
            out += [f"   {code}" if code else "" for code in block] + [""]
        elif line.startswith("|"):
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                rows.append(lines[index])
                index += 1
            out += table(rows, guides)
            continue
        elif heading:
            title = inline(heading.group(2), guides)
            out += [title, _UNDERLINES[len(heading.group(1)) - 1] * max(len(title), 3), ""]
        elif not line.strip():
            out.append("")
        else:
            block = []
            while index < len(lines) and lines[index].strip() and not _HEADING.match(lines[index]) \
                    and not lines[index].startswith(("```", "|")):
                block.append(lines[index])
                index += 1
            out += _paragraphs(inline("\n".join(block), guides).split("\n"))
            continue
        index += 1
    return "\n".join(out) + "\n"


_ITEM = re.compile(r"^(?:[-*]|\d+\.) ")


def _paragraphs(lines: list[str]) -> list[str]:
    """Markdown lets a list follow a paragraph directly (and a nested list its item); RST wants a blank line."""
    out, previous = [], None
    for line in lines:
        indented = line.startswith(" ")
        if _ITEM.match(line.lstrip()):
            kind = "subitem" if indented else "item"
        elif indented and previous in ("subitem", "submore"):
            kind = "submore"
        elif indented and previous in ("item", "more"):
            kind = "more"
        else:
            kind = "text"
        if (kind == "item" and previous in ("text", "subitem", "submore")) \
                or (kind == "subitem" and previous in ("item", "more")) \
                or (kind == "text" and previous not in (None, "text")):
            out.append("")
        out.append(line)
        previous = kind
    return out


def playbooks_page() -> str:
    out = ["Playbooks", "=========", "",
           "Run them by name, for example ``ansible-playbook hybrid.identity.audit -e @vars.yml``.", ""]
    for playbook in sorted((REPO / "playbooks").glob("*.yml")):
        if playbook.name == "demo.yml":  # the lab demo: not in the tarball
            continue
        comment = [line[1:].strip() for line in playbook.read_text().splitlines()[1:] if line.startswith("#")]
        out += [f"hybrid.identity.{playbook.stem}", "-" * (len(playbook.stem) + 16), ""]
        out += [_escape(line) for line in comment[:1]] + [""]
        if comment[1:]:
            out += ["::", ""] + [f"   {line}" for line in comment[1:]] + [""]
    return "\n".join(out) + "\n"


def main(dest: str) -> None:
    dest_dir = Path(dest).resolve()
    shutil.rmtree(dest_dir, ignore_errors=True)
    collection = dest_dir / "collections" / "ansible_collections" / "hybrid" / "identity"
    files = subprocess.run([shutil.which("git"), "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file() and not name.startswith(("tests/", ".ci/")):
            (collection / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, collection / name)
    guides = {path.stem for path in (REPO / "docs").glob("*.md")}
    rst = collection / "docs" / "docsite" / "rst"
    rst.mkdir(parents=True, exist_ok=True)
    for guide in sorted(guides):
        (rst / f"{guide}.rst").write_text(convert((REPO / "docs" / f"{guide}.md").read_text(), guides))
    (rst / "playbooks.rst").write_text(playbooks_page())
    (collection / "docs" / "docsite" / "extra-docs.yml").write_text(yaml.safe_dump({"sections": [
        {"title": "Guides", "toctree": sorted(guides)}, {"title": "Playbooks", "toctree": ["playbooks"]}]}))
    (collection / "docs" / "docsite" / "links.yml").write_text(yaml.safe_dump({
        "edit_on_github": {"repository": REPOSITORY.removeprefix("https://github.com/"), "branch": "main",
                           "path_prefix": ""},
        "extra_links": [{"description": "Repository", "url": REPOSITORY},
                        {"description": "Report an issue", "url": ISSUES}],
    }, sort_keys=False))
    env = {"ANSIBLE_COLLECTIONS_PATH": str(dest_dir / "collections"), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    site = dest_dir / "site"
    site.mkdir(mode=0o755)
    subprocess.run([str(Path(sys.executable).with_name("antsibull-docs")), "sphinx-init", "--use-current", "--lenient",
                    "--dest-dir", str(site), "hybrid.identity"], env=env, check=True)
    subprocess.run(["./build.sh"], cwd=site, env=env, check=True)
    print(f"the site: {site / 'build' / 'html' / 'index.html'}")


if __name__ == "__main__":
    main(*sys.argv[1:])
