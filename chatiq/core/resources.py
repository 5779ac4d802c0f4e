"""Files that ship with the package: sql/, widget/ and admin/.

Installed, they sit inside the package (see setup.cfg's package_dir); in a source
checkout they sit at the repository's top level.
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # chatiq/


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource, e.g. resource_path("sql") or ("widget", "widget.js")."""
    installed = _PACKAGE.joinpath(*parts)
    if installed.exists():
        return installed
    return _PACKAGE.parent.joinpath(*parts)
