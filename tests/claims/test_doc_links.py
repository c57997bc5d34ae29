"""The README and the pages it points to keep their links true (issue 25.10): every relative
link names a file of the repository, every `#anchor` a heading of the page it points into, and
every page in docs/ is reachable from the README by following links.

    .venv/bin/pytest -q tests/claims/test_doc_links.py
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import ROOT

PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def links_of(page: Path) -> list[str]:
    """The link targets of a Markdown page, code blocks left out (a `[x](y)` there is code)."""
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(match) for match in re.findall(r"^#+ (.+)$", text, re.M)}


def local_target(page: Path, target: str) -> tuple[Path, str] | None:
    """(file, anchor) of a relative link; None for a web address or a mail link."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target):
        return None
    path, _, anchor = target.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_names_an_existing_file_and_heading(page):
    broken = []
    for target in links_of(page):
        local = local_target(page, target)
        if local is None:
            continue
        path, anchor = local
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors_of(path):
            broken.append(f"{target}: no heading '#{anchor}' in {path.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_every_docs_page_is_reachable_from_the_readme():
    seen, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md" or not page.exists():
            continue
        seen.add(page)
        todo += [local[0] for target in links_of(page) if (local := local_target(page, target))]
    unreachable = [str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md") if p.resolve() not in seen]
    assert not unreachable, f"docs pages no link from the README leads to: {unreachable}"


def test_the_readme_stays_a_front_page():
    """What a newcomer needs is in the README; the rest is a link away (issue 25.10: under 250 lines)."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 250, f"README.md has {lines} lines"
