"""The README's commands are the ones CI runs, so what CI proves is what a new user gets."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands(name: str = "README.md") -> list[str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    first_screen = text.split("## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", first_screen)


def test_readme_first_screen_has_the_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert "crmcore demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_both_readme_commands_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [c for c in readme_commands() if c in ci] == readme_commands()


def test_the_chinese_quick_start_has_the_same_two_commands() -> None:
    assert readme_commands("README.zh-CN.md") == readme_commands()


def test_readme_links_the_site_and_the_chinese_quick_start() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "mkdocs serve" in text
    assert "(README.zh-CN.md)" in text
    assert "(README.md)" in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
