"""A plain `pip install .` ships everything the server reads at run time."""

from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def installed_files() -> set[str]:
    # Only an installed wheel has a RECORD: a checkout's chatiq.egg-info (on sys.path
    # through the working directory) lists sources, not what was installed.
    installed = [d for d in metadata.distributions()
                 if d.metadata["Name"] == "chatiq" and d.read_text("RECORD")]
    if not installed:
        pytest.skip("chatiq is not installed (bash .ci/run installs it)")
    dist = installed[0]
    if any(str(f).endswith(".pth") or "__editable__" in str(f) for f in dist.files or ()):
        pytest.skip("an editable install does not show the wheel's contents")
    return {str(f) for f in dist.files or ()}


def shipped_from_repo() -> set[str]:
    wanted = set()
    for top, pattern in (("sql", "*.sql"), ("widget", "*.js"), ("admin", "templates/**/*.html"),
                         ("admin", "static/**/*")):
        for path in (ROOT / top).glob(pattern):
            if path.is_file() and not path.name.startswith("."):
                wanted.add(f"chatiq/{top}/{path.relative_to(ROOT / top)}")
    return wanted


def test_runtime_files_are_in_the_installed_distribution():
    files = installed_files()
    wanted = shipped_from_repo()
    assert "chatiq/sql/0001_initial.sql" in wanted and "chatiq/widget/widget.js" in wanted
    assert wanted <= files, sorted(wanted - files)
    assert "chatiq/cli.py" in files


def test_every_subpackage_is_declared_in_setup_cfg():
    """A package missing from setup.cfg's list imports from a checkout but not when installed."""
    declared = set()
    in_list = False
    for line in (ROOT / "setup.cfg").read_text().splitlines():
        if line.startswith("packages ="):
            in_list = True
            continue
        if in_list:
            if not line.startswith("    "):
                break
            declared.add(line.strip())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "chatiq").rglob("__init__.py")}
    assert found <= declared, sorted(found - declared)


def test_console_script_is_declared():
    eps = metadata.entry_points(group="console_scripts")
    if not any(ep.name == "chatiq" for ep in eps):
        pytest.skip("chatiq is not installed (bash .ci/run installs it)")
    (ep,) = [ep for ep in eps if ep.name == "chatiq"]
    assert ep.value == "chatiq.cli:main"
