"""Each loader on its fixture tree: columns, subjects, frame order, label maps, indexing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from miex.datasets import (
    SAMPLE_COLUMNS,
    Casme2,
    CkPlus,
    MiexSynthetic,
    Mmew,
    OuluCasia,
    Samm,
    SmicHS,
    load_dataset,
    read_frame,
)
from miex.errors import MiexError

CLASSES = {"casme2": Casme2, "samm": Samm, "smic": SmicHS, "mmew": Mmew, "ckplus": CkPlus, "oulu": OuluCasia}


def _frame_no(path: str) -> int:
    import re

    return int(re.findall(r"\d+", Path(path).stem)[-1])


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_samples_table_contract(trees, name):
    ds = CLASSES[name](trees[name].root)
    df = ds.samples
    assert list(df.columns[: len(SAMPLE_COLUMNS)]) == list(SAMPLE_COLUMNS)
    assert len(df) > 0 and len(ds) == len(df)
    assert (df["dataset"] == name).all()
    assert df["subject"].str.startswith(f"{name}/").all()
    assert set(df["label"]) <= {0, 1, 2}
    for row in df.itertuples():
        numbers = [_frame_no(f) for f in row.frames]
        assert numbers == sorted(numbers), f"{row.clip}: frames not in numeric order"
        assert all(Path(f).is_file() for f in row.frames)
    # written frames (independent record of the fixture) are exactly the listed ones
    clips = trees[name].clips
    if "modality" in clips:  # Oulu: the default recording only
        clips = clips[(clips["modality"] == "VL") & (clips["illumination"] == "Strong")]
    written = {(r.subject, r.clip): sorted(r.frames) for r in clips.itertuples()}
    for row in df.itertuples():
        local = row.subject.split("/", 1)[1]
        assert sorted(row.frames) == written[(local, row.clip)]


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_getitem_pair_and_clip(trees, name):
    ds = CLASSES[name](trees[name].root)
    sample = ds[0]
    assert set(sample) == {"onset", "apex", "label", "subject", "clip", "dataset"}
    for key in ("onset", "apex"):
        assert sample[key].dtype == np.uint8 and sample[key].ndim == 3 and sample[key].shape[2] == 3
    row = ds.samples.iloc[0]
    onset_file = next(f for f in row.frames if _frame_no(f) == row.onset)
    assert np.array_equal(sample["onset"], read_frame(onset_file))
    clip = CLASSES[name](trees[name].root, mode="clip")[0]
    expected = [f for f in row.frames if row.onset <= _frame_no(f) <= row.offset]
    assert clip["frames"].shape == (len(expected), *sample["onset"].shape)
    assert np.array_equal(clip["frames"][0], sample["onset"])


def test_numeric_frame_sort_not_lexical(trees):
    ds = Casme2(trees["casme2"].root)
    row = ds.samples.set_index("clip").loc["EP02_01f"]
    names = [Path(f).name for f in row["frames"]]
    assert names == ["img8.jpg", "img9.jpg", "img10.jpg", "img11.jpg", "img12.jpg"]
    assert sorted(names) != names  # lexical order would differ
    smic = SmicHS(trees["smic"].root).samples.set_index("clip").loc["s1_ne_01"]
    assert [Path(f).name for f in smic["frames"]][:3] == ["image998.bmp", "image999.bmp", "image1000.bmp"]


def test_casme2_labels_and_quirks(trees):
    ds = Casme2(trees["casme2"].root)
    by_clip = ds.samples.set_index(["subject", "clip"])
    assert by_clip.loc[("casme2/sub01", "EP02_01f"), "label"] == 1  # happiness
    assert by_clip.loc[("casme2/sub01", "EP19_05f"), "label"] == 0  # disgust
    assert by_clip.loc[("casme2/sub02", "EP01_11f"), "label"] == 0  # repression
    assert by_clip.loc[("casme2/sub02", "EP03_02f"), "label"] == 2  # surprise
    assert set(ds.samples["native_label"]) == {"happiness", "disgust", "repression", "surprise"}  # fear/sadness/others out
    row = by_clip.loc[("casme2/sub01", "EP02_01f")]
    assert (row["onset"], row["apex"], row["offset"], row["aus"]) == (8, 10, 12, "12")
    # the "/" apex row is skipped and named; apex = onset is legal
    assert ("casme2/sub04", "EP12_01f") not in by_clip.index
    assert by_clip.loc[("casme2/sub05", "EP09_05f"), "apex"] == 10
    assert [p.kind for p in ds.problems if p.clip == "sub04/EP12_01f"] == ["missing_apex"]
    middle = Casme2(trees["casme2"].root, missing_apex="middle").samples.set_index("clip")
    assert middle.loc["EP12_01f", "apex"] == 32
    native = Casme2(trees["casme2"].root, label_scheme="native")
    assert native.classes == ("happiness", "disgust", "repression", "surprise", "others")
    assert dict(zip(native.samples["native_label"], native.samples["label"])) == {
        "happiness": 0,
        "disgust": 1,
        "repression": 2,
        "surprise": 3,
        "others": 4,
    }


def test_casme2_cropped_variant(tiny_tree):
    fx = tiny_tree("casme2", variant="cropped")
    ds = Casme2(fx.root)
    assert ds.variant_found == "cropped"
    assert all(Path(f).name.startswith("reg_img") for f in ds.samples["frames"].iloc[0])


def test_samm_labels_subjects_and_header(trees):
    ds = Samm(trees["samm"].root)
    assert set(ds.samples["subject"]) == {"samm/006", "samm/007", "samm/009", "samm/028", "samm/032"}
    labels = dict(zip(ds.samples["native_label"].str.lower(), ds.samples["label"]))
    assert labels == {"anger": 0, "contempt": 0, "disgust": 0, "fear": 0, "sadness": 0, "happiness": 1, "surprise": 2}
    assert "007_6_1" not in set(ds.samples["clip"])  # "Other" dropped from 3 classes
    assert "007_6_1" in set(ds.annotations["clip"])
    row = ds.samples.set_index("clip").loc["006_1_2"]
    assert (row["onset"], row["apex"], row["offset"]) == (5560, 5562, 5565)
    assert Path(row["frames"][2]).name == "006_05562.jpg"
    assert ds.samples.set_index("clip").loc["007_3_1", "aus"] == "A1+2?"
    native = Samm(trees["samm"].root, label_scheme="native")
    assert native.classes == ("anger", "contempt", "happiness", "surprise", "other")
    assert set(native.samples["native_label"]) == {"Anger", "Contempt", "Happiness", "Surprise", "Other"}


def test_samm_text_subjects_and_missing_apex_frame(tmp_path):
    """Subjects stored as text ('006') load; an annotated apex that is not on disk falls back to
    the nearest frame (and is reported as missing_frame)."""
    from miex.testing import ClipSpec, tiny_frames, write_samm_fixture

    fx = write_samm_fixture(tmp_path / "samm", (ClipSpec("006", "006_1_2", "Anger", 100, 120, 110, "4"),),
                            frame_source=tiny_frames(8))
    ds = Samm(fx.root)
    assert list(ds.samples["subject"]) == ["samm/006"]
    sample = ds[0]  # apex 120 is not on disk: the nearest frame (110) is used
    assert np.array_equal(sample["apex"], read_frame(ds.samples.iloc[0]["frames"][-1]))
    assert "missing_frame" in {p.kind for p in ds.validate()}


def test_smic_apex_rules_and_non_micro(trees):
    ds = SmicHS(trees["smic"].root)
    assert set(ds.samples["subject"]) == {"smic/s1", "smic/s2", "smic/s3"}
    assert not any("nm" in c for c in ds.samples["clip"])
    row = ds.samples.set_index("clip").loc["s1_ne_01"]  # frames 998..1003
    assert (row["onset"], row["apex"], row["offset"]) == (998, 1001, 1003)
    first = SmicHS(trees["smic"].root, apex="first").samples.set_index("clip").loc["s1_ne_01"]
    assert first["apex"] == 998
    frac = SmicHS(trees["smic"].root, apex=1.0).samples.set_index("clip").loc["s1_ne_01"]
    assert frac["apex"] == 1003
    assert dict(zip(ds.samples["native_label"], ds.samples["label"])) == {"negative": 0, "positive": 1, "surprise": 2}
    with pytest.raises(MiexError):
        SmicHS(trees["smic"].root, apex="peak")


def test_mmew_labels_and_parts(trees):
    ds = Mmew(trees["mmew"].root)
    labels = dict(zip(ds.samples["native_label"], ds.samples["label"]))
    assert labels == {"anger": 0, "disgust": 0, "fear": 0, "sadness": 0, "happiness": 1, "surprise": 2}
    assert set(ds.samples["subject"]) == {"mmew/S01", "mmew/S02", "mmew/S03"}
    row = ds.samples.set_index("clip").loc["S01-01-001"]
    assert [Path(f).name for f in row["frames"]] == ["8.jpg", "9.jpg", "10.jpg", "11.jpg", "12.jpg"]
    native = Mmew(trees["mmew"].root, label_scheme="native")
    assert len(native.classes) == 6 and "anger" not in native.classes
    assert "others" in set(native.samples["native_label"])
    macro = Mmew(trees["mmew"].root, part="macro")
    assert set(macro.samples["clip"]) == {"S01_happiness_1", "S02_sadness_1"}
    for row in macro.samples.itertuples():
        assert row.onset == _frame_no(row.frames[0]) and row.apex == row.offset == _frame_no(row.frames[-1])
    assert dict(zip(macro.samples["native_label"], macro.samples["label"])) == {"happiness": 1, "sadness": 0}


def test_ckplus_labels_sadness_is_negative(trees):
    ds = CkPlus(trees["ckplus"].root)
    by_clip = ds.samples.set_index("clip")
    assert by_clip.loc["S010_006", "native_label"] == "sadness"
    assert by_clip.loc["S010_006", "emotion_code"] == 6
    assert by_clip.loc["S010_006", "label"] == 0  # 6 -> negative, not the MiE-X code's positive
    assert by_clip.loc["S011_002", "label"] == 1  # 5 happy
    assert by_clip.loc["S014_003", "label"] == 2  # 7 surprise
    assert by_clip.loc["S005_001", "label"] == 0  # 3 disgust
    assert by_clip.loc["S022_001", "label"] == 0  # 2 contempt
    assert "S026_002" not in by_clip.index  # unlabelled: skipped by default
    assert by_clip.loc["S005_001", "aus"] == "9D+14+17B"
    row = by_clip.loc["S005_001"]  # 11 frames, peak = last
    assert (row["onset"], row["apex"], row["offset"]) == (1, 11, 11)
    assert Path(row["frames"][-1]).name == "S005_001_00000011.png"
    assert _frame_no(row["frames"][9]) == 10
    everything = CkPlus(trees["ckplus"].root, labelled_only=False)
    assert "S026_002" in set(everything.annotations["clip"]) and len(everything) == len(ds)
    native = CkPlus(trees["ckplus"].root, label_scheme="native")
    assert native.samples.set_index("clip").loc["S010_006", "label"] == native.classes.index("sadness")


def test_oulu_defaults_and_recordings(trees):
    ds = OuluCasia(trees["oulu"].root)
    assert len(ds) == 6
    assert all("/VL/Strong/" in f[0] for f in ds.samples["frames"])
    labels = dict(zip(ds.samples["native_label"], ds.samples["label"]))
    assert labels == {"Anger": 0, "Disgust": 0, "Fear": 0, "Sadness": 0, "Happiness": 1, "Surprise": 2}
    row = ds.samples.set_index("clip").loc["P001_Happiness"]
    assert (row["onset"], row["apex"], row["offset"]) == (0, 11, 11)
    ni = OuluCasia(trees["oulu"].root, modality="NI", illumination="Weak")
    assert all("/NI/Weak/" in f[0] for f in ni.samples["frames"])
    with pytest.raises(MiexError, match="Dark"):
        OuluCasia(trees["oulu"].root, illumination="Dark")


def test_fixture_frames_show_the_known_motion(trees):
    """Frames come from a real photo; with the warp generator the apex moves away from the onset."""
    from miex.testing import has_warp_generator

    ds = Casme2(trees["casme2"].root)
    sample = ds[int(np.flatnonzero(ds.samples["clip"] == "EP02_01f")[0])]
    assert sample["onset"].std() > 20  # a photo, not a flat frame
    if not has_warp_generator(96):
        pytest.skip("miex.generators warp backend not available: frames are static photo crops")
    diff = np.abs(sample["apex"].astype(int) - sample["onset"].astype(int)).mean()
    assert diff > 0.5


def test_transform_gets_the_sample(trees):
    def flip(sample):
        sample["onset"] = sample["onset"][:, ::-1]
        sample["flipped"] = True
        return sample

    plain = Samm(trees["samm"].root)[0]
    flipped = Samm(trees["samm"].root, transform=flip)[0]
    assert flipped["flipped"] and np.array_equal(flipped["onset"], plain["onset"][:, ::-1])


def test_synthetic_reads_miex_synth_output(trees):
    ds = MiexSynthetic(trees["miex"].root)
    manifest = trees["miex"].clips
    assert len(ds) == len(manifest)
    assert set(ds.samples["subject"]) == {f"miex/{f}" for f in manifest["face_id"]}
    assert {"au_subject", "au_dataset", "source", "face_id"} <= set(ds.samples.columns)
    assert ds.samples.set_index("clip")["label"].to_dict() == manifest.set_index("dir")["label"].to_dict()
    sample = ds[0]
    row = ds.samples.iloc[0]
    assert np.array_equal(sample["onset"], read_frame(Path(trees["miex"].root) / row["clip"] / "0.jpg"))
    assert np.array_equal(sample["apex"], read_frame(Path(trees["miex"].root) / row["clip"] / "1.jpg"))
    kept = ds.exclude_au_subjects(["casme2/sub01"])
    assert "casme2/sub01" not in set(kept["au_subject"]) and len(kept) < len(ds)


def test_synthetic_without_manifest(tmp_path):
    from miex.testing import write_synthetic_fixture

    fx = write_synthetic_fixture(tmp_path / "synth", n_frames=10)
    (fx.root / "manifest.parquet").unlink()
    ds = MiexSynthetic(fx.root)
    assert len(ds) == len(fx.clips)
    assert set(ds.samples["apex"]) == {9}


def test_registry(trees):
    ds = load_dataset("CK+", trees["ckplus"].root)
    assert isinstance(ds, CkPlus)
    assert isinstance(load_dataset("smic-hs", trees["smic"].root), SmicHS)
    with pytest.raises(MiexError, match="unknown dataset"):
        load_dataset("casme9", trees["casme2"].root)
    with pytest.raises(MiexError, match="no root configured for casme2"):
        load_dataset("casme2")
    with pytest.raises(MiexError, match="does not exist"):
        load_dataset("samm", trees["samm"].root / "nope")


def test_ckplus_archive_folder_names(tiny_tree):
    """The CK+ zips unpack to Emotion_labels/Emotion/... and FACS_labels/FACS/..."""
    fx = tiny_tree("ckplus")
    plain = CkPlus(fx.root).samples.drop(columns=["frames"])
    for name in ("Emotion", "FACS"):
        (fx.root / f"{name}_labels").mkdir()
        (fx.root / name).rename(fx.root / f"{name}_labels" / name)
    nested = CkPlus(fx.root).samples.drop(columns=["frames"])
    assert nested.equals(plain)
