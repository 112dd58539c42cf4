"""``crmcore --help``, ``--version`` and errors: plain text, one style, every option explained."""

from __future__ import annotations

import argparse
import io
from importlib import metadata
from pathlib import Path

import pytest

from crmcore.cli import _parser, main, version
from crmcore.cli.console import Console
from crmcore.cli.text import PlainHelpFormatter, plain_text

COMMANDS = [
    "demo",
    "import",
    "dedupe",
    "segment",
    "export",
    "audit",
    "schema",
    "report",
    "subject",
    "db",
]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), console=Console(out, err))
    return code, out.getvalue(), err.getvalue()


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


@pytest.mark.parametrize(
    ("marked", "plain"),
    [
        ("``crmcore demo``: build", "crmcore demo: build"),
        ("see :func:`crmcore.matching.dedupe`", "see crmcore.matching.dedupe"),
        ("see :func:`~crmcore.matching.dedupe`", "see dedupe"),
        (":mod:`crmcore.serialization` reads it", "crmcore.serialization reads it"),
        ("the `cli` extra", "the cli extra"),
        (":class:`the store <crmcore.adapters.sql.SqlStore>`", "the store"),
        ("**clean** before loading", "clean before loading"),
        ("*.csv files, a_b and 3 * 4", "*.csv files, a_b and 3 * 4"),
    ],
)
def test_plain_text_shows_rest_markup_as_words(marked: str, plain: str) -> None:
    assert plain_text(marked) == plain


def test_every_sub_command_formats_its_help_as_plain_text() -> None:
    formatters = {name: p.formatter_class for name, p in subparsers().items()}
    assert formatters == dict.fromkeys(COMMANDS, PlainHelpFormatter)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_no_rest_markup(command: str) -> None:
    code, out, err = run_cli(*([command] if command else []), "--help")
    assert (code, err) == (0, "")
    assert "usage: crmcore" in out
    assert [marker for marker in ("``", ":func:", ":mod:", ":class:", "`") if marker in out] == []


def test_every_sub_command_has_a_description() -> None:
    missing = [name for name, parser in subparsers().items() if not parser.description]
    assert missing == []


def test_every_option_of_every_command_has_a_help_text() -> None:
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in {"crmcore": _parser(), **subparsers()}.items()
        for action in parser._actions
        if action.help != argparse.SUPPRESS and not (action.help or "").strip()
    ]
    assert missing == []


def test_version_prints_the_installed_version() -> None:
    code, out, _ = run_cli("--version")
    assert (code, out) == (0, f"crmcore {metadata.version('crmcore')}\n")


def test_version_falls_back_to_the_package_version_without_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import crmcore  # noqa: PLC0415 - the attribute compared with

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert version() == crmcore.__version__


def test_a_usage_error_names_the_command_and_exits_1() -> None:
    code, out, err = run_cli("segment", "--db", "crm.sqlite")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        "crmcore segment: error: the following arguments are required: --rule"
    )


def test_an_input_error_uses_the_same_prefix_and_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    code, _, err = run_cli("segment", "--db", str(tmp_path / "crm.sqlite"), "--rule", str(missing))
    assert (code, err) == (
        2,
        f"crmcore segment: error: cannot read rule file {missing}: No such file or directory\n",
    )


def test_an_unreadable_import_file_uses_the_same_prefix(tmp_path: Path) -> None:
    code, _, err = run_cli("import", str(tmp_path / "none.csv"), "--db", str(tmp_path / "x.db"))
    assert (code, err.startswith("crmcore import: error: ")) == (2, True)


def test_ctrl_c_exits_130_and_says_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmcore.cli import export  # noqa: PLC0415 - the command interrupted

    def interrupted(args: argparse.Namespace, console: Console) -> int:
        del args, console
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "run", interrupted)
    code, _, err = run_cli("export", "--db", str(tmp_path / "crm.sqlite"))
    assert (code, err) == (130, "crmcore export: interrupted\n")
