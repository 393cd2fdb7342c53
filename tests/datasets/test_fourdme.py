"""4DME (2D grey frames) on fixture trees in the released layout: multi-label emotions mapped to
the 3-class scheme by the documented rule, header spellings, flat and renumbered clip folders,
malformed rows and missing clips."""

from __future__ import annotations

import shutil
import warnings
from collections import Counter

import numpy as np
import pytest

from miex.datasets import FourDME, load_dataset
from miex.datasets.base import frame_number
from miex.datasets.fourdme import emotion_parts, label3_of
from miex.errors import MiexError
from miex.testing import FOURDME_CLIPS, tiny_frames, write_fourdme_fixture


def rule(cell: str, first: bool = False) -> int:
    """The documented rule, written out again: parts -> {neg, pos, sur}; repression is negative,
    others adds nothing; one class -> it, several -> excluded (or the first listed)."""
    table = {"negative": 0, "repression": 0, "positive": 1, "surprise": 2}
    classes = [table[p.strip().lower()] for p in cell.split("+") if p.strip().lower() in table]
    if not classes:
        return -1
    return classes[0] if first or len(set(classes)) == 1 else -1


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_fourdme_fixture(tmp_path_factory.mktemp("4dme") / "4DME", frame_source=tiny_frames(8))


def test_clips_subjects_and_the_three_class_rule(tree):
    ds = FourDME(tree.root)
    assert len(ds.annotations) == len(FOURDME_CLIPS)
    want = {(f"4dme/{c.subject}", c.clip): rule(c.emotion) for c in FOURDME_CLIPS if rule(c.emotion) >= 0}
    got = dict(zip(zip(ds.samples["subject"], ds.samples["clip"]), ds.samples["label"]))
    assert got == want
    # the multi-label cells with two different classes are outside the scheme, not guessed
    assert "Surprise+Positive" not in set(ds.samples["native_label"])
    assert "Negative+Others" in set(ds.samples["native_label"])
    assert ds.validate() == []


def test_first_listed_class_when_asked(tree):
    ds = FourDME(tree.root, multi_label="first")
    want = {c.clip: rule(c.emotion, first=True) for c in FOURDME_CLIPS if rule(c.emotion, first=True) >= 0}
    assert dict(zip(ds.samples["clip"], ds.samples["label"])) == want
    assert want["S02_2nd_003_02_1"] == 2  # Surprise+Positive -> surprise


def test_native_scheme_holds_single_label_clips(tree):
    ds = FourDME(tree.root, label_scheme="native")
    singles = [c for c in FOURDME_CLIPS if "+" not in c.emotion]
    assert sorted(ds.samples["clip"]) == sorted(c.clip for c in singles)
    assert [ds.classes[i] for i in ds.samples["label"]] == [c.emotion.lower() for c in singles]


def test_emotion_parts_split_and_spell():
    assert emotion_parts("Surprise+Positive") == ["surprise", "positive"]
    assert emotion_parts(" negative / others ") == ["negative", "others"]
    assert label3_of("Happiness") == 1 and label3_of("Others") == -1 and label3_of("fear+Negative") == 0


def test_getitem_and_aus_keep_the_static_marks(tree):
    ds = FourDME(tree.root, mode="clip")
    row = ds.samples.set_index("clip").loc["S01_1st_001_01_1"]
    assert row["aus"] == "AU4+AU7(k)"
    sample = ds[int(np.flatnonzero(ds.samples["clip"] == "S01_1st_001_01_1")[0])]
    assert sample["frames"].shape[0] == 128 - 120 + 1 and sample["subject"] == "4dme/S01"
    onset = sample["onset"]
    assert np.array_equal(onset[..., 0], onset[..., 1])  # grey frames read as RGB


def test_apostrophe_headers_flat_folders_and_renumbered_frames(tmp_path):
    renumbered = "S01_1st_002_01_1"
    fx = write_fourdme_fixture(tmp_path / "4d", frame_source=tiny_frames(8), apostrophes=True, flat=True,
                               renumbered=[renumbered])
    ds = FourDME(fx.root)
    assert len(ds.annotations) == len(FOURDME_CLIPS)
    row = ds.annotations.set_index("clip").loc[renumbered]
    spec = next(c for c in FOURDME_CLIPS if c.clip == renumbered)
    assert (row["video_onset"], row["video_apex"], row["video_offset"]) == (spec.onset, spec.apex, spec.offset)
    assert frame_number(ds.frame_path(row, row["onset"])) == 1  # the first file is the onset
    assert frame_number(ds.frame_path(row, row["apex"])) == spec.apex - spec.onset + 1
    assert ds.validate() == []


def test_malformed_rows_and_missing_clips_are_counted(tmp_path):
    extra = [
        ("S09", "S09_1st_001_01_1", "x", 3, 5, "AU1", "Surprise"),  # onset not a number
        (None, "S09_1st_002_01_1", 1, 3, 5, "AU1", "Surprise"),  # no subject
        ("S09", "S09_1st_003_01_1", 1, 3, 5, "AU1", "Surprise"),  # no such clip folder
        ("S01", "S01_1st_001_01_1", 120, 124, 128, "AU4", "Negative"),  # duplicate
        ("S01", "S01_1st_009_01_1", 1, 2, 3, "AU4", None),  # no emotion
    ]
    fx = write_fourdme_fixture(tmp_path / "4d", frame_source=tiny_frames(8), extra_rows=extra)
    shutil.rmtree(fx.root / "gray_micro" / "S02" / "S02_1st_001_01_1")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ds = FourDME(fx.root)
    kinds = Counter(p.kind for p in ds.validate(decode=False))
    assert kinds == {"malformed_row": 3, "missing_clip": 2, "duplicate": 1}
    assert len(ds.annotations) == len(FOURDME_CLIPS) - 1


def test_layout_errors_are_one_line(tmp_path, tree):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MiexError, match="4DME_Labelling_Micro"):
        FourDME(empty)
    no_frames = tmp_path / "no-frames"
    no_frames.mkdir()
    shutil.copy(tree.annotation, no_frames / tree.annotation.name)
    with pytest.raises(MiexError, match="gray_micro"):
        FourDME(no_frames)
    with pytest.raises(MiexError, match="multi_label"):
        FourDME(tree.root, multi_label="vote")
    assert len(load_dataset("fourdme", tree.root)) == len(FourDME(tree.root))
