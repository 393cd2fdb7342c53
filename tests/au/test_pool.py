from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from miex.au.plot import plot_pool_profile
from miex.au.pool import (
    APEX_COLUMNS,
    POOL_COLUMNS,
    concat_pools,
    read_pool,
    summarize_pool,
    write_pool,
)
from miex.au.sources import Clip, ExpertSource, MiESource
from miex.au.space import AU_NAMES
from miex.errors import InputError
from miex.seeding import rng


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mie_pool(make_ramp_table, seed=0):
    clips = [
        Clip(clip=f"c{k}", subject=f"sub{k % 3}", label=k % 3, aus=make_ramp_table(8 + k), dataset="casme2", apex=4)
        for k in range(9)
    ]
    return MiESource(clips).sample(30, rng(seed, "pool"))


def test_pool_bytes_reproducible(tmp_path, make_ramp_table):
    for name, make in [
        ("expert", lambda s: ExpertSource().sample(500, rng(s, "aus", "expert"))),
        ("mie", lambda s: _mie_pool(make_ramp_table, s)),
    ]:
        a, b, c = tmp_path / f"{name}_a.parquet", tmp_path / f"{name}_b.parquet", tmp_path / f"{name}_c.parquet"
        write_pool(make(0), a)
        write_pool(make(0), b)
        write_pool(make(1), c)
        assert _sha(a) == _sha(b)
        assert _sha(a) != _sha(c)


def test_round_trip_with_sequence(tmp_path, make_ramp_table):
    pool = _mie_pool(make_ramp_table)
    path = write_pool(pool, tmp_path / "sub" / "mie.parquet")
    back = read_pool(path)
    assert list(back.columns) == [*POOL_COLUMNS, "sequence"]
    pd.testing.assert_frame_equal(back.drop(columns="sequence"), pool.drop(columns="sequence"))
    for a, b in zip(back["sequence"], pool["sequence"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert back["label"].dtype == np.int64
    assert not list(tmp_path.joinpath("sub").glob(".*tmp*"))  # atomic write leaves no temp files


def test_concat_drops_sequence_unless_all_have_it(make_ramp_table):
    mixed = concat_pools([ExpertSource().sample(3, rng(0, "e")), _mie_pool(make_ramp_table)])
    assert list(mixed.columns) == list(POOL_COLUMNS)
    both = concat_pools([_mie_pool(make_ramp_table, 1), _mie_pool(make_ramp_table, 2)])
    assert both.columns[-1] == "sequence"


def _broken(tmp_path, name, df):
    path = tmp_path / name
    df.to_parquet(path, index=False)
    with pytest.raises(InputError) as info:
        read_pool(path)
    assert str(path) in str(info.value)
    return info.value.reason


def test_read_pool_errors(tmp_path):
    pool = ExpertSource().sample(4, rng(0, "bad"))
    with pytest.raises(InputError, match="not found"):
        read_pool(tmp_path / "missing.parquet")
    text = tmp_path / "text.parquet"
    text.write_text("source,label\n")
    with pytest.raises(InputError, match="text.parquet"):
        read_pool(text)
    assert "missing apex_AU12" in _broken(tmp_path, "cols.parquet", pool.drop(columns="apex_AU12"))
    assert "out of order" in _broken(tmp_path, "order.parquet", pool[list(reversed(pool.columns))])
    bad_label = pool.copy()
    bad_label.loc[0, "label"] = 3
    assert "label" in _broken(tmp_path, "label.parquet", bad_label)
    bad_range = pool.copy()
    bad_range.loc[1, "apex_AU12"] = 1.5
    assert "outside [0, 1]" in _broken(tmp_path, "range.parquet", bad_range)
    bad_source = pool.copy()
    bad_source.loc[2, "source"] = "gan"
    assert "gan" in _broken(tmp_path, "source.parquet", bad_source)
    with pytest.raises(InputError, match="out.parquet"):
        write_pool(bad_range, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_summarize_pool_matches_groupby(make_ramp_table):
    pool = concat_pools([ExpertSource().sample(200, rng(0, "s")), _mie_pool(make_ramp_table)])
    summary = summarize_pool(pool)
    assert summary[["source", "label"]].values.tolist() == [
        ["expert", 0], ["expert", 1], ["expert", 2], ["mie", 0], ["mie", 1], ["mie", 2]
    ]
    grouped = pool.groupby(["source", "label"])[list(APEX_COLUMNS)].mean()
    counts = pool.groupby(["source", "label"]).size()
    for _, row in summary.iterrows():
        key = (row["source"], row["label"])
        assert row["n"] == counts[key]
        np.testing.assert_allclose(row[list(AU_NAMES)].to_numpy(float), grouped.loc[key].to_numpy())
    assert (summary.loc[summary["source"] == "expert", "clips"] == 0).all()
    assert (summary.loc[summary["source"] == "mie", "clips"] == 3).all()


def test_plot_writes_png(tmp_path, make_ramp_table):
    from PIL import Image

    pool = concat_pools([ExpertSource().sample(100, rng(0, "p")), _mie_pool(make_ramp_table)])
    out = plot_pool_profile(pool, tmp_path / "profile.png")
    with Image.open(out) as img:
        assert img.format == "PNG"
        width, height = img.size
        pixels = np.asarray(img.convert("RGB"))
    assert width > 600 and height > 500
    assert pixels.std() > 20  # a real picture, not a blank canvas
