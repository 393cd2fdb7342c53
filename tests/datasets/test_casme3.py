"""CAS(ME)^3 Part A on fixture trees in the distributed layout, with the quirks of the public
``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`` (text-stored numbers, several MEs per video, ``J`` /
``Others`` spellings, out-of-order rows), its label schemes, malformed rows and missing clips."""

from __future__ import annotations

import shutil
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from miex.datasets import Casme3, load_dataset
from miex.datasets.base import frame_number
from miex.errors import MiexError
from miex.testing import CASME3_MAE_ROWS, CASME3_ROWS, Casme3Row, tiny_frames, write_casme3_fixture

#: the test's own reading of the CAS(ME)^3 paper's schemes (independent of the loader's maps)
NEGATIVE = {"anger", "disgust", "fear", "sad"}
SEVEN = ("happy", "disgust", "fear", "anger", "sad", "surprise", "others")


def label3(emotion: str) -> int:
    e = emotion.lower()
    return 0 if e in NEGATIVE else {"happy": 1, "surprise": 2}.get(e, -1)


def label4(emotion: str) -> int:
    return 3 if emotion.lower() == "others" else label3(emotion)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_casme3_fixture(tmp_path_factory.mktemp("casme3") / "CASME3", frame_source=tiny_frames(8))


@pytest.fixture(scope="module")
def ds(tree) -> Casme3:
    return Casme3(tree.root)


def test_every_row_is_a_clip_named_video_onset(ds, tree):
    expected = {(f"casme3/{r.subject}", f"{r.video.lower()}_{r.onset}") for r in CASME3_ROWS}
    assert set(zip(ds.annotations["subject"], ds.annotations["clip"])) == expected
    assert len(ds.annotations) == len(CASME3_ROWS)
    assert ds.annotations_path == tree.annotation
    assert all(s.startswith("casme3/spNO.") for s in ds.annotations["subject"])
    # text cells become ints; the upper-case video J is read from folder j
    row = ds.annotations.set_index("clip").loc["j_8"]
    assert (row["onset"], row["apex"], row["offset"]) == (8, 10, 12)
    assert all(Path(f).parent == tree.root / "part_A/data/part_A/spNO.2/j/color" for f in row["frames"])


@pytest.mark.parametrize("scheme", ["3class", "4class", "7class", "native", "objective"])
def test_label_schemes(tree, scheme):
    ds = Casme3(tree.root, label_scheme=scheme)
    if scheme == "3class":
        want = Counter(label3(r.emotion) for r in CASME3_ROWS if label3(r.emotion) >= 0)
    elif scheme == "4class":
        want = Counter(label4(r.emotion) for r in CASME3_ROWS)
    elif scheme == "objective":
        want = Counter(["I", "II", "III", "IV", "V", "VI", "VII"].index(r.objective) for r in CASME3_ROWS)
    else:
        want = Counter(SEVEN.index(r.emotion.lower()) for r in CASME3_ROWS)
    assert Counter(ds.samples["label"].tolist()) == want
    assert len(ds.classes) == {"3class": 3, "4class": 4}.get(scheme, 7)
    if scheme == "4class":
        assert ds.classes[:3] == ("negative", "positive", "surprise")  # same indices as 3-class
    # "Others" and "others" are one class
    assert "Others" not in set(ds.samples["native_label"])


def test_clip_frames_are_the_annotated_range_of_the_video(ds, tree):
    rows = {f"{r.video.lower()}_{r.onset}": r for r in CASME3_ROWS}
    for rec in ds.annotations.itertuples():
        r = rows[rec.clip]
        numbers = [frame_number(f) for f in rec.frames]
        lo, hi = min(r.onset, r.apex, r.offset), max(r.onset, r.apex, r.offset)
        assert numbers == sorted(numbers) and all(lo <= n <= hi for n in numbers)
        folder = Path(rec.frames[0]).parent
        on_disk = [frame_number(p) for p in folder.iterdir()]
        assert len(on_disk) > len(numbers)  # the video folder holds frames outside the ME
    # two MEs of video e share frame 96 but are two clips
    e90, e96 = (ds.annotations.set_index("clip").loc[c, "frames"] for c in ("e_90", "e_96"))
    assert e90[-1] == e96[0] and frame_number(e90[-1]) == 96


def test_getitem_reads_onset_apex_and_clip(tree):
    ds = Casme3(tree.root, mode="clip")
    i = ds.samples.index[ds.samples["clip"] == "b_166"][0]
    sample = ds[int(i)]
    assert sample["subject"] == "casme3/spNO.1" and sample["dataset"] == "casme3"
    assert sample["onset"].shape == (8, 8, 3) and sample["onset"].dtype == np.uint8
    assert sample["frames"].shape[0] == 179 - 166 + 1
    assert not np.array_equal(sample["onset"], sample["apex"])


def test_validate_reports_the_out_of_order_rows(ds):
    problems = ds.validate()
    kinds = Counter((p.clip, p.kind) for p in problems)
    bad = {f"{r.subject}/{r.video.lower()}_{r.onset}" for r in CASME3_ROWS if not r.onset <= r.apex <= r.offset}
    assert {c for c, k in kinds if k == "frame_order"} == bad
    # offset 0 names no frame on disk; every other annotated frame exists and decodes
    assert {c for c, k in kinds if k == "missing_frame"} == {"spNO.3/m_80"}
    assert not [p for p in problems if p.kind not in ("frame_order", "missing_frame")]


def test_malformed_rows_and_missing_clips_are_counted(tmp_path):
    extra = [
        ("spNO.1", "c", "abc", "5", "9", "4", "III", "disgust"),  # text that is no number
        ("", "d", "1", "2", "3", "4", "III", "disgust"),  # no subject
        ("subject 7", "d", "1", "2", "3", "4", "III", "disgust"),  # not a spNO id
        ("spNO.9", "a", "10", "12", "14", "4", "III", "fear"),  # no such subject folder
        ("spNO.1", "z", "10", "12", "14", "4", "III", "fear"),  # no such video
        ("spNO.1", "a", "900", "902", "904", "4", "III", "fear"),  # video there, no frames in range
        ("spNO.1", "b", "166", "175", "179", "4", "III", "disgust"),  # duplicate
        ("spNO.2", "c", "1", "2", "3", "4", "III", None),  # no emotion
    ]
    fx = write_casme3_fixture(tmp_path / "c3", frame_source=tiny_frames(8), extra_rows=extra, mae_rows=())
    shutil.rmtree(fx.root / "part_A/data/part_A/spNO.2/d")  # an annotated video lost
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = Casme3(fx.root)
    kinds = Counter(p.kind for p in ds.validate(decode=False))
    assert kinds["malformed_row"] == 4
    assert kinds["missing_clip"] == 3  # spNO.9, video z, the deleted d
    assert kinds["empty_clip"] == 1 and kinds["duplicate"] == 1
    assert len(ds.annotations) == len(CASME3_ROWS) - 1


def test_macro_part_reads_the_mae_file_with_its_column_names(tree):
    ds = Casme3(tree.root, part="macro", label_scheme="7class")
    assert len(ds) == len(CASME3_MAE_ROWS)
    words = {"happiness": "happy", "sadness": "sad"}
    assert sorted(ds.samples["native_label"]) == sorted(words.get(r.emotion, r.emotion) for r in CASME3_MAE_ROWS)
    from miex.datasets.extract import is_macro

    assert is_macro(ds) and not is_macro(Casme3(tree.root))


def test_annotation_and_frames_are_found_below_a_higher_root(tree, tmp_path):
    outer = tmp_path / "datasets"
    outer.mkdir()
    (outer / "CASME3").symlink_to(tree.root, target_is_directory=True)
    assert len(Casme3(outer)) == len(Casme3(tree.root))
    assert len(load_dataset("cas(me)^3", tree.root)) == len(Casme3(tree.root))


def test_missing_annotation_or_frames_is_one_clear_error(tmp_path, tree):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MiexError, match="cas\\(me\\)3_part_A_ME_label"):
        Casme3(empty)
    only_sheet = tmp_path / "sheet-only"
    (only_sheet / "annotation").mkdir(parents=True)
    shutil.copy(tree.annotation, only_sheet / "annotation" / tree.annotation.name)
    with pytest.raises(MiexError, match="spNO"):
        Casme3(only_sheet)
    with pytest.raises(MiexError, match="label_scheme"):
        Casme3(tree.root, label_scheme="5class")


def test_xls_needs_xlrd_or_says_so(tree, tmp_path):
    """v1 of the label file is ``.xls``: read with xlrd when installed, else a one-line error."""
    fake = tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v1.xls"
    fake.write_bytes(b"not an excel file")
    with pytest.raises(MiexError, match="JpgIndex_v1.xls"):
        Casme3(tree.root, annotations_file=fake)


def test_rows_of_one_subject_per_video_folder_case(tmp_path):
    """Folders spelled ``spNo.5`` on disk match ``spNO.5`` in the sheet."""
    rows = (Casme3Row("spNO.5", "a", 10, 12, 14, "12", "I", "happy"),)
    fx = write_casme3_fixture(tmp_path / "c3", rows, frame_source=tiny_frames(8), mae_rows=())
    base = fx.root / "part_A/data/part_A"
    (base / "spNO.5").rename(base / "spNo.5")
    ds = Casme3(fx.root)
    assert ds.samples["subject"].tolist() == ["casme3/spNO.5"] and ds.validate() == []


@pytest.mark.parametrize("spelling", ["spNO", "spNo"])
def test_clip_package_layout_gives_the_same_samples(tmp_path, ds, spelling):
    fx = write_casme3_fixture(tmp_path / "clips", frame_source=tiny_frames(8), layout="clips", folder_subject=spelling)
    assert (fx.root / "Part_A_ME_clip" / "frame" / f"{spelling}.1_a_355").is_dir()
    clips = Casme3(fx.root)
    assert clips.layout_found == "clips" and ds.layout_found == "videos"
    cols = ["subject", "clip", "label", "native_label", "onset", "apex", "offset", "objective_class"]
    pd_equal = clips.samples[cols].sort_values(["subject", "clip"]).reset_index(drop=True)
    assert pd_equal.equals(ds.samples[cols].sort_values(["subject", "clip"]).reset_index(drop=True))
    assert [len(f) for f in clips.samples.sort_values(["subject", "clip"])["frames"]] == \
        [len(f) for f in ds.samples.sort_values(["subject", "clip"])["frames"]]
    assert {p.kind for p in clips.validate()} == {"frame_order", "missing_frame"}


def test_clip_package_missing_clip_and_layout_errors(tmp_path, tree):
    fx = write_casme3_fixture(tmp_path / "clips", frame_source=tiny_frames(8), layout="clips")
    shutil.rmtree(fx.root / "Part_A_ME_clip" / "frame" / "spNO.1_b_166")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = Casme3(fx.root)
    assert [(p.clip, p.kind) for p in ds.problems] == [("spNO.1/b_166", "missing_clip")]
    with pytest.raises(MiexError, match="Part_A_ME_clip"):
        Casme3(tree.root, layout="clips")
    with pytest.raises(MiexError, match="layout"):
        Casme3(tree.root, layout="zip")


def test_part_a_subjects_win_over_part_b(tmp_path):
    """Part B's unlabelled videos use the same spNO names; the labelled Part A frames are read."""
    fx = write_casme3_fixture(tmp_path / "c3", frame_source=tiny_frames(8), mae_rows=())
    decoy = fx.root / "part_B" / "spNO.1" / "a" / "color"
    decoy.mkdir(parents=True)
    shutil.copy(next((fx.root / "part_A/data/part_A/spNO.1/a/color").iterdir()), decoy / "355.jpg")
    ds = Casme3(fx.root)
    assert all("part_A" in f for frames in ds.samples["frames"] for f in frames)
