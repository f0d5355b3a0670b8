"""requirements.lock pins every dependency that pyproject.toml names (the dev tools too) within its range, so that
`make` installs the same versions everywhere; `make lock` renews it."""

import re
import tomllib
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(settings.BASE_DIR)


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    found = (re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line) for line in lines)
    return {canonicalize_name(m[1]): m[2] for m in found if m}


def test_every_dependency_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(line) for line in project["dependencies"] + project["optional-dependencies"]["dev"]]
    pinned = pins()

    assert [str(r) for r in wanted if canonicalize_name(r.name) not in pinned] == []
    assert [
        f"{r.name}=={pinned[canonicalize_name(r.name)]} outside {r.specifier}"
        for r in wanted
        if not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ] == []


def test_make_installs_from_the_lock_and_reinstalls_when_it_changes():
    makefile = (ROOT / "Makefile").read_text()

    assert "$(STAMP): pyproject.toml $(LOCK)\n" in makefile
    assert "pip install --quiet --constraint $(LOCK) -e '.[dev]'" in makefile
    assert "\nlock:\n" in makefile
