"""Broken copies give named problems, never crashes."""

from __future__ import annotations

import shutil

import pytest

from miex.datasets import Casme2, CkPlus, Mmew, Samm, SmicHS, problems_frame
from miex.errors import InputError, MiexError
from miex.testing import ClipSpec


def _kinds(problems, clip):
    return sorted(p.kind for p in problems if p.clip == clip)


def test_casme2_slash_apex_is_reported(trees):
    problems = Casme2(trees["casme2"].root).validate()
    assert _kinds(problems, "sub04/EP12_01f") == ["missing_apex"]
    message = next(p.message for p in problems if p.clip == "sub04/EP12_01f")
    assert "'/'" in message and "row 8" in message  # header is row 1, EP12_01f the 7th clip
    assert not [p for p in problems if p.kind in ("frame_order", "unreadable_frame", "missing_frame")]


def test_samm_public_sheet_numbers_are_clean(trees):
    """The fixture holds the public v2 sheet's frame numbers: no apex outside onset..offset."""
    problems = Samm(trees["samm"].root).validate()
    assert not [p for p in problems if p.kind == "frame_order"]
    ds = Samm(trees["samm"].root)
    row = ds.samples.set_index("clip").loc["028_4_1"]
    assert (row["subject"], row["onset"], row["apex"], row["offset"]) == ("samm/028", 1071, 1113, 1134)


def test_samm_damaged_copy_apex_outside_is_reported(tmp_path):
    """A copy whose apex lies outside onset..offset (not the public sheet) is reported, not trusted."""
    from miex.testing import ClipSpec, tiny_frames, write_samm_fixture

    damaged = (ClipSpec("006", "006_1_2", "Anger", 100, 120, 110, "4"),  # apex after offset
               ClipSpec("007", "007_3_1", "Surprise", 50, 40, 55, "1+2"))  # apex before onset
    fx = write_samm_fixture(tmp_path / "samm", damaged, frame_source=tiny_frames(8))
    order = sorted(p.clip for p in Samm(fx.root).validate() if p.kind == "frame_order")
    assert order == ["006/006_1_2", "007/007_3_1"]


def test_unreadable_frames(tiny_tree):
    fx = tiny_tree("casme2")
    (fx.root / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img10.jpg").write_bytes(b"not a jpeg at all")
    apex = fx.root / "CASME2_RAW_selected" / "sub01" / "EP19_05f" / "img7.jpg"
    apex.write_bytes(apex.read_bytes()[: len(apex.read_bytes()) // 2])  # truncated JPEG
    ds = Casme2(fx.root)
    problems = ds.validate()
    assert _kinds(problems, "sub01/EP02_01f") == ["unreadable_frame"]
    assert _kinds(problems, "sub01/EP19_05f") == ["unreadable_frame"]
    assert "img10.jpg" in next(p.message for p in problems if p.clip == "sub01/EP02_01f")
    assert not [p for p in ds.validate(decode=False) if p.kind == "unreadable_frame"]
    i = int(ds.samples.index[ds.samples["clip"] == "EP02_01f"][0])
    with pytest.raises(InputError, match="img10.jpg"):
        ds[i]


def test_malformed_rows_are_skipped_and_named(tiny_tree):
    extra = [
        (7, "EP01_01", None, "abc", 5, 9, None, "4", "disgust"),  # non-numeric onset
        (7, "EP01_02", None, 3, "4.5", 9, None, "4", "disgust"),  # fractional apex
        ("seven", "EP01_03", None, 3, 4, 9, None, "4", "disgust"),  # bad subject
        (7, "EP01_04", None, 3, 4, None, None, "4", "disgust"),  # blank offset
    ]
    fx = tiny_tree("casme2", extra_rows=extra)
    ds = Casme2(fx.root)
    problems = ds.problems
    for clip in ("sub07/EP01_01", "sub07/EP01_02", "sub07/EP01_04"):
        assert _kinds(problems, clip) == ["malformed_row"], clip
    assert any(p.kind == "malformed_row" and "seven" in p.message for p in problems)
    assert "'abc'" in next(p.message for p in problems if p.clip == "sub07/EP01_01")
    assert len(ds.annotations) == 8  # the 8 good clips (the "/" row aside)


def test_missing_and_empty_clip_folders(tiny_tree):
    fx = tiny_tree("samm")
    shutil.rmtree(fx.root / "SAMM" / "006" / "006_1_2")
    empty = fx.root / "SAMM" / "007" / "007_3_1"
    for f in empty.iterdir():
        f.unlink()
    with pytest.warns(UserWarning, match="2 annotated clip"):
        ds = Samm(fx.root)
    problems = ds.validate()
    assert _kinds(problems, "006/006_1_2") == ["missing_clip"]
    assert _kinds(problems, "007/007_3_1") == ["empty_clip"]
    assert "006_1_2" not in set(ds.samples["clip"])
    table = problems_frame(problems)
    assert list(table.columns) == ["dataset", "clip", "kind", "message"]


def test_missing_frame_file_inside_clip(tiny_tree):
    fx = tiny_tree("casme2")
    (fx.root / "CASME2_RAW_selected" / "sub02" / "EP03_02f" / "img22.jpg").unlink()  # the apex
    problems = Casme2(fx.root).validate()
    assert _kinds(problems, "sub02/EP03_02f") == ["missing_frame"]
    assert "apex 22" in next(p.message for p in problems if p.clip == "sub02/EP03_02f")


def test_missing_annotation_file_is_a_clear_error(tiny_tree):
    fx = tiny_tree("mmew")
    fx.annotation.unlink()
    with pytest.raises(MiexError, match="MMEW_Micro_Exp"):
        Mmew(fx.root)


def test_corrupt_spreadsheet_is_a_clear_error(tiny_tree):
    fx = tiny_tree("samm")
    fx.annotation.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(MiexError, match="SAMM_Micro_FACS_Codes_v2.xlsx"):
        Samm(fx.root)


def test_samm_header_found_after_notes_only(tiny_tree):
    fx = tiny_tree("samm", clips=[ClipSpec("006", "006_1_2", "Anger", 10, 11, 12, "4")])
    ds = Samm(fx.root)
    assert list(ds.samples["clip"]) == ["006_1_2"] and not ds.problems
    with pytest.raises(MiexError, match="no header row"):
        Samm(fx.root, sheet="README")


def test_ckplus_bad_emotion_file(tiny_tree):
    fx = tiny_tree("ckplus")
    bad = next((fx.root / "Emotion" / "S011" / "002").glob("*_emotion.txt"))
    bad.write_text("   9.5000000e+00\n")
    ds = CkPlus(fx.root)
    assert _kinds(ds.problems, "S011/002") == ["malformed_row"]
    assert "S011_002" not in set(ds.samples["clip"])


def test_smic_without_hs_folder(tmp_path):
    (tmp_path / "smic").mkdir()
    with pytest.raises(MiexError, match="HS"):
        SmicHS(tmp_path / "smic")


def test_validate_survives_weird_records(tiny_tree):
    fx = tiny_tree("smic")
    ds = SmicHS(fx.root)
    ds.annotations.at[0, "frames"] = None  # a record no loader would produce
    problems = ds.validate()
    assert any(p.kind == "malformed_row" and p.clip.endswith("s1_ne_01") for p in problems)
