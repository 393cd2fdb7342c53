"""The plan of a run on real data: loud partial data, missing annotated frames, the crop note."""

from __future__ import annotations

import pytest

from miex.errors import MiexError
from miex.train.experiment import config_from_dict, dry_run
from miex.train.plan import build_plan


def _composite_config(roots: dict, **data) -> dict:
    return {"data": {"dataset": "megc2019", "roots": roots, **data}, "model": {"name": "ststnet"},
            "protocol": {"cv": "loso", "repeats": 1}}


def test_a_missing_part_is_an_error_unless_partial_is_allowed(composite442, tmp_path):
    roots = {"casme2": composite442["casme2"], "samm": str(tmp_path / "SAMM-typo"), "smic": composite442["smic"]}
    with pytest.raises(MiexError, match=r"dataset megc2019 is incomplete: 133 configured clip\(s\) not found "
                                        r"\(samm 133.*allow_partial = true"):
        dry_run(config_from_dict(_composite_config(roots)))
    notes: list[str] = []
    plan = build_plan(config_from_dict(_composite_config(roots, allow_partial=True)), preprocess=False,
                      log=notes.append)
    assert len(plan.samples) == 309 and plan.samples["subject"].nunique() == 40
    assert plan.notes["partial_missing"] == 133 and plan.notes["parts"] == {"casme2": 145, "smic": 164}
    assert any("PARTIAL data" in n and "samm 133" in n for n in notes)


def test_complete_composite_and_crop_note(composite442):
    roots = {k: composite442[k] for k in ("casme2", "samm", "smic")}
    table = dry_run(config_from_dict(_composite_config(roots)))
    assert table["test_samples"].sum() == 442
    assert "crop auto: meb face crops of 128 px for 442 sample(s)" in table.attrs["notes"]
    none = dry_run(config_from_dict(_composite_config(roots, crop="none")))
    assert "crop none: whole frames for all 442 samples" in none.attrs["notes"]


def test_missing_annotated_frame_is_one_warning_per_clip(tmp_path):
    from miex.testing import tiny_frames, write_casme2_fixture

    fx = write_casme2_fixture(tmp_path / "casme2", frame_source=tiny_frames(8))
    row = fx.clips.iloc[0]
    apex = next(p for p in (tmp_path / "casme2").rglob(f"img{int(row['apex'])}.jpg") if row["clip"] in str(p))
    apex.unlink()
    notes: list[str] = []
    raw = {"data": {"dataset": "casme2", "roots": {"casme2": str(fx.root)}}, "model": {"name": "ststnet"},
           "protocol": {"cv": "kfold", "k": 2, "repeats": 1}}
    plan = build_plan(config_from_dict(raw), preprocess=False, log=notes.append)
    warned = [n for n in notes if n.startswith("warning:") and "not on disk" in n]
    assert len(warned) == 1 and row["clip"] in warned[0] and f"apex {int(row['apex'])}" in warned[0]
    assert plan.notes["missing_frames"] == 1
