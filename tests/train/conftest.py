"""Session fixtures for the training tests: the learnable proof composite, a MiE-X set made by
``miex synth`` from other face photos, the 442-clip composite in the real layouts (tiny frames)
for config dry runs, and a shared feature cache. Everything is rendered once per session."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.train.fixtures import write_other_faces, write_proof_composite, write_synthetic_set

#: frames are rendered at 128 px; Branches runs at 112 px, STSTNet on 28x28 flow features
PROOF_SIZE = 128


@pytest.fixture(scope="session", autouse=True)
def _train_cache(tmp_path_factory) -> Iterator[Path]:
    """Face-detection cache outside the user's home (inherited by subprocesses)."""
    cache = tmp_path_factory.mktemp("miex-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIEX_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def _torch_threads(one_torch_thread: None) -> None:
    """One torch thread: the runs are small and a second spinning thread slows them down on 2 cores."""


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="session")
def proof_composite(tmp_path_factory) -> dict[str, str]:
    """72 clips (8 subjects x 3 classes x 3) in the CASME II / SAMM / SMIC-HS layouts."""
    return write_proof_composite(tmp_path_factory.mktemp("proof"), size=PROOF_SIZE, clips_per_class=3, n_frames=5)


@pytest.fixture(scope="session")
def proof_synthetic(tmp_path_factory) -> Path:
    """720 MiE-X samples (expert AUs, 240 identities reusing 6 other face photos)."""
    faces = write_other_faces(tmp_path_factory.mktemp("other-faces"))
    return write_synthetic_set(tmp_path_factory.mktemp("mie-x") / "set", faces, ids=240, size=PROOF_SIZE)


@pytest.fixture(scope="session")
def proof_config(proof_composite, proof_synthetic, feature_cache):
    """``make(model=..., **sections)`` -> a raw config dict over the proof fixture."""

    def make(model: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
        roots = {k: proof_composite[k] for k in ("casme2", "samm", "smic")}
        raw: dict[str, Any] = {
            "experiment": {"name": "proof"},
            "data": {"dataset": "megc2019", "roots": roots, "options": {"list_path": proof_composite["list_path"]},
                     "synthetic": str(proof_synthetic), "feature_cache": str(feature_cache), "preload": True,
                     "flow_method": "farneback"},
            "model": dict(model),
            "protocol": {"mode": "real", "cv": "loso", "k": 3, "repeats": 1, "val_fraction": 0.0, "seed": 0},
            "train": {"schedule": "custom", "epochs": 10, "batch_size": 16, "threads": 1},
        }
        for name, values in sections.items():
            raw.setdefault(name, {})
            for key, value in values.items():
                if isinstance(value, dict) and isinstance(raw[name].get(key), dict):
                    raw[name][key] = {**raw[name][key], **value}
                else:
                    raw[name][key] = copy.deepcopy(value)
        return raw

    return make


@pytest.fixture(scope="session")
def composite442(tmp_path_factory) -> dict[str, str]:
    """All 442 clips of the official MEGC2019 list (8x8 noise frames; its SAMM tree also serves
    as SAMM), a CK+ tree and a 10-subject MMEW tree, for dry runs of the shipped configs."""
    from miex.testing import (ClipSpec, tiny_frames, write_casme3_fixture, write_ckplus_fixture,
                              write_megc_composite_fixture, write_mmew_fixture)

    root = tmp_path_factory.mktemp("composite442")
    roots = write_megc_composite_fixture(root, frame_source=tiny_frames(8), n_frames=3)
    ck = write_ckplus_fixture(root / "ckplus", frame_source=tiny_frames(8))
    emotions = ("happiness", "surprise", "anger", "disgust", "fear", "sadness", "others")
    clips = [ClipSpec(f"S{s:02d}", f"S{s:02d}-0{k + 1}-00{k + 1}", emotions[(s + k) % len(emotions)], 1, 2, 3)
             for s in range(1, 11) for k in range(4)]
    mmew = write_mmew_fixture(root / "mmew", clips, frame_source=tiny_frames(8), macro=())
    casme3 = write_casme3_fixture(root / "casme3", frame_source=tiny_frames(8))
    three_class = sum(c.emotion != "others" for c in clips)
    return {**{k: str(v) for k, v in roots.items()}, "ckplus": str(ck.root), "mmew": str(mmew.root),
            "casme3": str(casme3.root), "mmew_samples": three_class}


@pytest.fixture(scope="session")
def synthetic_with_provenance(tmp_path_factory) -> Path:
    """A small miex-synth-like set whose MiE samples carry composite subjects as provenance."""
    from miex.testing import tiny_frames, write_synthetic_fixture

    root = tmp_path_factory.mktemp("synthetic-prov") / "set"
    write_synthetic_fixture(root, faces=("000000", "000001", "000002"), sources=("expert", "mie"),
                            frame_source=tiny_frames(16),
                            au_subjects=("casme2/sub01", "samm/006", "smic/s1", "casme2/sub02"))
    return root
