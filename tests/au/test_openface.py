from __future__ import annotations

import numpy as np
import pytest

from miex.au.openface import DEFAULT_MIN_CONFIDENCE, read_openface_csv, read_openface_dir
from miex.au.space import AU_NAMES
from miex.errors import InputError, SkipLog


def _random_z(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, size=(n, 17))


@pytest.mark.parametrize("variant", ["2.2", "2.0", "no_c", "shuffled"])
def test_video_variants_round_trip(tmp_path, openface_csv, variant):
    z = _random_z(12)
    path = tmp_path / f"clip_{variant}.csv"
    expected = openface_csv(path, z, variant=variant, frames=list(range(5, 17)))
    if variant == "2.0":
        assert ", AU01_r, AU02_r" in path.read_text().splitlines()[0]
    table = read_openface_csv(path)
    assert list(table.columns) == ["frame", *AU_NAMES]
    assert table["frame"].dtype == np.int64
    assert table["frame"].tolist() == list(range(5, 17))
    np.testing.assert_allclose(table[list(AU_NAMES)].to_numpy(), expected, atol=1e-12)
    assert table.attrs["dropped"] == 0
    assert table.attrs["mode"] == "video"
    assert table.attrs["source"] == str(path)


def test_real_header_contains_all_blocks(tmp_path, openface_csv):
    path = tmp_path / "full.csv"
    openface_csv(path, _random_z(2), variant="2.2")
    header = path.read_text().splitlines()[0].split(",")
    assert header[:5] == ["frame", "face_id", "timestamp", "confidence", "success"]
    for name in ("gaze_angle_y", "eye_lmk_Z_55", "pose_Rz", "x_67", "Z_67", "p_33", "AU28_c", "AU45_c"):
        assert name in header
    assert header.index("AU45_r") + 1 == header.index("AU01_c")


def test_image_mode_uses_row_order_as_frame(tmp_path, openface_csv):
    z = _random_z(3, seed=2)
    path = tmp_path / "img.csv"
    expected = openface_csv(path, z, variant="image", confidence=[0.95, 0.5, 0.9])
    table = read_openface_csv(path)
    assert table.attrs["mode"] == "image"
    assert table["frame"].tolist() == [0, 2]  # row 1 dropped for low confidence, numbering kept
    np.testing.assert_allclose(table[list(AU_NAMES)].to_numpy(), expected[[0, 2]])
    assert table.attrs["dropped"] == 1


def test_dropped_rows_counted(tmp_path, openface_csv):
    n = 10
    success = [1] * n
    success[2] = success[7] = 0
    confidence = [0.98] * n
    confidence[4] = 0.3
    confidence[5] = DEFAULT_MIN_CONFIDENCE  # exactly at the threshold: kept
    path = tmp_path / "c.csv"
    openface_csv(path, _random_z(n), success=success, confidence=confidence)
    table = read_openface_csv(path)
    assert table.attrs["dropped"] == 3
    assert table.attrs["rows"] == n
    assert table["frame"].tolist() == [1, 2, 4, 6, 7, 9, 10]
    loose = read_openface_csv(path, min_confidence=0.0)
    assert loose.attrs["dropped"] == 2
    assert 5 in loose["frame"].tolist()


def test_all_rows_dropped_gives_empty_table(tmp_path, openface_csv):
    path = tmp_path / "lost.csv"
    openface_csv(path, _random_z(4), success=[0, 0, 0, 0])
    table = read_openface_csv(path)
    assert len(table) == 0 and table.attrs["dropped"] == 4
    assert list(table.columns) == ["frame", *AU_NAMES]


def test_intensity_above_five_is_clipped(tmp_path, openface_csv):
    path = tmp_path / "hot.csv"
    openface_csv(path, np.full((2, 17), 0.2), override={(0, "AU12_r"): "5.37"})
    table = read_openface_csv(path)
    assert table.loc[0, "AU12"] == 1.0
    assert table.loc[1, "AU12"] == pytest.approx(0.2)


def test_multiple_faces_keep_most_confident(tmp_path, openface_csv):
    z = np.array([[0.1] * 17, [0.6] * 17, [0.3] * 17])
    path = tmp_path / "multi.csv"
    openface_csv(path, z, frames=[1, 1, 2], face_id=[0, 1, 0], confidence=[0.85, 0.97, 0.9])
    table = read_openface_csv(path)
    assert table["frame"].tolist() == [1, 2]
    assert table.loc[0, "AU01"] == pytest.approx(0.6)


def test_crlf_and_bom(tmp_path, openface_csv):
    path = tmp_path / "win.csv"
    expected = openface_csv(path, _random_z(3), variant="2.0")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    table = read_openface_csv(path)
    np.testing.assert_allclose(table[list(AU_NAMES)].to_numpy(), expected)


# ------------------------------------------------------------------------------------------ bad inputs


def _error(path):
    with pytest.raises(InputError) as info:
        read_openface_csv(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    return info.value.reason


def test_missing_file(tmp_path):
    assert "not found" in _error(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "empty" in _error(path)


def test_header_only(tmp_path, openface_csv):
    path = tmp_path / "header.csv"
    openface_csv(path, np.zeros((0, 17)))
    assert "no data rows" in _error(path)


def test_no_au_columns(tmp_path):
    path = tmp_path / "pose.csv"
    path.write_text("frame, face_id, timestamp, confidence, success, pose_Tx\n1, 0, 0.000, 0.98, 1, 3.1\n")
    assert "no AU intensity columns" in _error(path)


def test_only_presence_columns_is_not_enough(tmp_path):
    path = tmp_path / "c_only.csv"
    cols = ", ".join(f"{a}_c" for a in AU_NAMES)
    path.write_text(f"frame, confidence, success, {cols}\n1, 0.98, 1, " + ", ".join(["1"] * 17) + "\n")
    assert "no AU intensity columns" in _error(path)


def test_partial_au_columns(tmp_path, openface_csv):
    path = tmp_path / "partial.csv"
    openface_csv(path, _random_z(2), variant="no_c")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    drop = header.index("AU45_r")
    path.write_text("\n".join(",".join(v for j, v in enumerate(line.split(",")) if j != drop) for line in lines) + "\n")
    assert "AU45_r" in _error(path)


def test_non_numeric_value(tmp_path, openface_csv):
    path = tmp_path / "text.csv"
    openface_csv(path, _random_z(4), override={(2, "AU12_r"): "abc"})
    reason = _error(path)
    assert "non-numeric" in reason and "AU12_r" in reason and "line 4" in reason


def test_non_numeric_confidence(tmp_path, openface_csv):
    path = tmp_path / "conf.csv"
    openface_csv(path, _random_z(2), override={(0, "confidence"): "high"})
    assert "confidence" in _error(path)


def test_binary_garbage(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 4)
    _error(path)


# ------------------------------------------------------------------------------------------ folders


def test_read_folder_with_skips(tmp_path, openface_csv):
    openface_csv(tmp_path / "b.csv", _random_z(3))
    openface_csv(tmp_path / "a.csv", _random_z(2), variant="2.0")
    (tmp_path / "bad.csv").write_text("")
    (tmp_path / "notes.txt").write_text("not a csv")
    skips = SkipLog(echo=False)
    tables = read_openface_dir(tmp_path, skips=skips)
    assert list(tables) == ["a", "b"]
    assert len(tables["b"]) == 3
    assert len(skips) == 1 and skips.items[0][0].endswith("bad.csv")
    with pytest.raises(InputError, match="bad.csv"):
        read_openface_dir(tmp_path)


def test_miex_au_table_confidence_and_success_filter(tmp_path):
    """The built-in estimator's tables (frame, AUs, confidence, success) are filtered like
    OpenFace files; tables without those columns keep every row."""
    import pandas as pd

    from miex.au.space import AU_NAMES

    z = np.linspace(0.0, 0.5, 4)[:, None] * np.ones((1, len(AU_NAMES)))
    table = pd.DataFrame(z, columns=list(AU_NAMES))
    table.insert(0, "frame", [3, 4, 5, 6])
    table["confidence"] = [0.95, 0.5, 0.9, 0.85]
    table["success"] = [1, 1, 0, 1]
    path = tmp_path / "clip.csv"
    table.to_csv(path, index=False)
    df = read_openface_csv(path)
    assert df["frame"].tolist() == [3, 6] and df.attrs["dropped"] == 2 and df.attrs["mode"] == "au_table"
    assert list(df.columns) == ["frame", *AU_NAMES]
    assert read_openface_csv(path, min_confidence=0.0)["frame"].tolist() == [3, 4, 6]
    table.drop(columns=["confidence", "success"]).to_csv(path, index=False)
    assert read_openface_csv(path)["frame"].tolist() == [3, 4, 5, 6]
