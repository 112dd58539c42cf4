"""No file in the repository refers to a document outside it.

Whoever clones crmcore gets everything a reference points to: the architecture is
``docs/architecture.md``, not a design document kept elsewhere. The scan covers every
text file git knows (tracked, or new and not ignored).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Assembled from pieces, so that this file does not match itself.
_NAMES = ("DESIGN", "REQUIREMENTS", "STYLE")
OUTSIDE = re.compile(
    "|".join(
        [
            *(rf"\b{name}\.md\b" for name in _NAMES),
            r"\.\./" + "shared",
            r"/" + r"work/",
        ]
    )
)


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def outside_references(text: str) -> list[str]:
    """Return each line of ``text`` that points outside the repository, with its number."""
    return [
        f"{number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE.search(line)
    ]


def test_the_scanner_finds_each_kind_of_outside_reference() -> None:
    text = "\n".join(
        [
            "see " + "DESIGN" + ".md §4",
            "per " + "REQUIREMENTS" + ".md",
            "the house " + "STYLE" + ".md",
            "open ../" + "shared/notes.txt",
            "cd /" + "work/main",
            "docs/architecture.md and CHANGELOG.md are ours",
            "a design decision; style rules",
        ]
    )
    assert [line.split(":", 1)[0] for line in outside_references(text)] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]


def test_no_file_refers_to_a_document_outside_the_repository() -> None:
    files = repository_files()
    assert any(f.name == "architecture.md" for f in files)
    found: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a binary file (test data) is no document
            continue
        found.extend(f"{path.relative_to(ROOT)}:{hit}" for hit in outside_references(text))
    assert found == []
