"""Fixture trees for the dataset tests (written by miex.testing, never real licensed data)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from miex.datasets.config import ROOT_NAMES, env_var
from miex.testing import (
    default_frame_source,
    tiny_frames,
    write_casme2_fixture,
    write_ckplus_fixture,
    write_megc_composite_fixture,
    write_mmew_fixture,
    write_oulu_fixture,
    write_samm_fixture,
    write_smic_fixture,
    write_synthetic_fixture,
)

WRITERS = {
    "casme2": write_casme2_fixture,
    "samm": write_samm_fixture,
    "smic": write_smic_fixture,
    "mmew": write_mmew_fixture,
    "ckplus": write_ckplus_fixture,
    "oulu": write_oulu_fixture,
}


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory, monkeypatch):
    """No test reads the user's real dataset config or MIEX_*_ROOT variables."""
    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("MIEX_CONFIG", raising=False)
    for name in ROOT_NAMES:
        monkeypatch.delenv(env_var(name), raising=False)
    return home


@pytest.fixture(scope="session")
def trees(tmp_path_factory) -> dict:
    """Every dataset layout with frames rendered from the astronaut photo (warp generator when
    available): {name: Fixture}. Read-only: tests that break things use ``tiny_tree``."""
    root = tmp_path_factory.mktemp("datasets")
    source = default_frame_source(96)
    out = {name: writer(root / name, frame_source=source) for name, writer in WRITERS.items()}
    out["miex"] = write_synthetic_fixture(root / "miex", frame_source=source)
    return out


@pytest.fixture
def tiny_tree(tmp_path):
    """Factory: a fresh, writable fixture tree of one dataset with 8x8 frames."""

    def make(name: str, **kw):
        return WRITERS[name](tmp_path / name, frame_source=tiny_frames(8), **kw)

    return make


@pytest.fixture(scope="session")
def megc_roots(tmp_path_factory) -> dict[str, Path]:
    """All 442 clips of the official MEGC2019 list (8x8 noise frames). Read-only."""
    return write_megc_composite_fixture(tmp_path_factory.mktemp("megc"))


@pytest.fixture
def megc_copy(tmp_path):
    """A writable all-442 composite fixture."""
    return write_megc_composite_fixture(tmp_path / "megc")


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``miex ARGV`` in this process: (exit code, stdout, stderr)."""
    from miex.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()
