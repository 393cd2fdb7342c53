"""The MEGC2019 composite from the shipped official list against an all-442-clip fixture."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from miex.datasets import Megc2019Composite, load_dataset, read_official_list
from miex.datasets.megc2019 import official_list_path
from miex.errors import MiexError

# design.md section 3 (the MEGC2019 organisers' table): part -> samples, subjects, neg, pos, sur
DESIGN_TABLE = {
    "smic": (164, 16, 70, 51, 43),
    "casme2": (145, 24, 88, 32, 25),
    "samm": (133, 28, 92, 26, 15),
    "all": (442, 68, 250, 109, 83),
}


def _composite(roots, **kw) -> Megc2019Composite:
    return Megc2019Composite(roots["casme2"], roots["samm"], roots["smic"], **kw)


def test_shipped_list_is_the_official_file():
    path = official_list_path()
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == "adf1de4a088d4c3b3bd01cc8d061e836264d0e05140266eb15d8dc1050f484a7"
    assert data.count(b"\r\n") == 442
    official = read_official_list()
    assert list(official.columns) == ["dataset", "subject", "filename", "label"]
    assert len(official) == 442


def test_counts_table_matches_design(megc_roots):
    comp = _composite(megc_roots)
    got = {}
    for part in ("smic", "casme2", "samm", "all"):
        df = comp.samples if part == "all" else comp.samples[comp.samples["part"] == part]
        counts = df["label"].value_counts()
        got[part] = (len(df), df["subject"].nunique(), counts.get(0, 0), counts.get(1, 0), counts.get(2, 0))
    assert got == DESIGN_TABLE
    table = comp.counts()
    assert tuple(table.loc["all"]) == DESIGN_TABLE["all"]


def test_subjects_are_qualified_and_unique(megc_roots):
    comp = _composite(megc_roots)
    subjects = set(comp.samples["subject"])
    assert len(subjects) == 68
    assert {"casme2/sub01", "samm/006", "smic/s1"} <= subjects
    assert all(s.split("/")[0] in ("casme2", "samm", "smic") for s in subjects)
    assert (comp.samples["dataset"] == comp.samples["part"]).all()
    row = comp.samples[comp.samples["list_filename"] == "s01_ne_01"].iloc[0]
    assert (row["subject"], row["clip"], row["list_subject"]) == ("smic/s1", "s1_ne_01", "s01")
    samm = comp.samples[comp.samples["list_filename"] == "006_1_2"].iloc[0]
    assert (samm["subject"], samm["list_subject"]) == ("samm/006", "6")


def test_labels_come_from_the_list_and_annotations_agree(megc_roots):
    comp = _composite(megc_roots)
    official = read_official_list()
    merged = comp.samples.merge(
        official, left_on=["part", "list_subject", "list_filename"], right_on=["dataset", "subject", "filename"]
    )
    assert len(merged) == 442 and (merged["label_x"] == merged["label_y"]).all()
    assert not [p for p in comp.problems if p.kind == "label_mismatch"]
    casme2 = comp.samples[comp.samples["part"] == "casme2"]
    assert set(casme2.loc[casme2["label"] == 0, "native_label"]) == {"disgust", "repression"}
    assert not {"fear", "sadness", "others"} & set(casme2["native_label"])
    samm = comp.samples[comp.samples["part"] == "samm"]
    assert "Other" not in set(samm["native_label"])
    # the two disgust clips the official list leaves out stay out
    keys = set(zip(casme2["subject"], casme2["clip"]))
    assert ("casme2/sub04", "EP12_01f") not in keys and ("casme2/sub05", "EP09_05f") not in keys


def test_smic_apex_is_the_middle_frame(megc_roots):
    comp = _composite(megc_roots)
    for row in comp.samples[comp.samples["part"] == "smic"].head(20).itertuples():
        n = len(row.frames)
        middle = int(Path(row.frames[n // 2]).stem.removeprefix("image"))
        assert row.apex == middle and row.onset < row.apex < row.offset
    first = _composite(megc_roots, smic_apex="first").samples
    smic = first[first["part"] == "smic"]
    assert (smic["apex"] == smic["onset"]).all()


def test_validate_is_clean_on_a_complete_copy(megc_roots):
    comp = _composite(megc_roots)
    problems = comp.validate()
    assert not [p for p in problems if p.kind in ("frame_order", "missing_clip", "unreadable_frame", "malformed_row")]
    sample = comp[int(comp.samples.index[comp.samples["clip"] == "032_3_1"][0])]
    assert sample["apex"].shape == (8, 8, 3)


def test_missing_clips_are_named(megc_copy):
    shutil.rmtree(megc_copy["casme2"] / "CASME2_RAW_selected" / "sub01" / "EP02_01f")
    shutil.rmtree(megc_copy["smic"] / "HS" / "s3" / "micro" / "negative" / "s3_ne_01")
    shutil.rmtree(megc_copy["samm"] / "SAMM" / "035")
    with pytest.warns(UserWarning, match="not found"):
        comp = _composite(megc_copy)
    missing = {(p.dataset, p.clip) for p in comp.problems if p.kind == "missing_clip"}
    samm_035 = read_official_list().query("dataset == 'samm' and subject == '35'")
    assert ("casme2", "sub01/EP02_01f") in missing
    assert ("smic", "s3/s3_ne_01") in missing
    assert {("samm", f"035/{f}") for f in samm_035["filename"]} <= missing
    assert len(missing) == 2 + len(samm_035)
    assert len(comp) == 442 - len(missing)
    with pytest.raises(MiexError, match="listed clips found"):
        _composite(megc_copy, strict=True)


def test_unavailable_part_does_not_crash(megc_roots, tmp_path):
    with pytest.warns(UserWarning, match="133 of 442"):
        comp = Megc2019Composite(megc_roots["casme2"], tmp_path / "no-samm", megc_roots["smic"])
    kinds = pd.Series([p.kind for p in comp.validate(decode=False) if p.dataset == "samm"]).value_counts()
    assert kinds["missing_root"] == 1 and kinds["missing_clip"] == 133
    assert len(comp) == 442 - 133
    with pytest.warns(UserWarning, match="297 of 442"):
        only_casme2 = Megc2019Composite(megc_roots["casme2"])  # samm and smic not configured
    assert set(only_casme2.samples["part"]) == {"casme2"} and len(only_casme2) == 145


def test_composite_from_configured_roots(megc_roots, monkeypatch):
    monkeypatch.setenv("MIEX_CASME2_ROOT", str(megc_roots["casme2"]))
    monkeypatch.setenv("MIEX_SAMM_ROOT", str(megc_roots["samm"]))
    monkeypatch.setenv("MIEX_SMIC_ROOT", str(megc_roots["smic"]))
    comp = load_dataset("megc2019")
    assert len(comp) == 442 and comp.samples["subject"].nunique() == 68


def test_label_mismatch_is_reported(megc_copy):
    from openpyxl import load_workbook

    sheet = megc_copy["casme2"] / "CASME2-coding-20190701.xlsx"
    wb = load_workbook(sheet)
    ws = wb.worksheets[0]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == 1 and row[1].value == "EP02_01f":  # happiness in the list (label 1)
            row[8].value = "surprise"
    wb.save(sheet)
    comp = _composite(megc_copy)
    mismatch = [p for p in comp.problems if p.kind == "label_mismatch"]
    assert [p.clip for p in mismatch] == ["sub01/EP02_01f"]
    assert comp.samples.set_index(["subject", "clip"]).loc[("casme2/sub01", "EP02_01f"), "label"] == 1
