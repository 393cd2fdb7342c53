from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miex.au.pool import APEX_COLUMNS, ONSET_COLUMNS, POOL_COLUMNS, apex_matrix, onset_matrix
from miex.au.sources import (
    CLASS_EMOTIONS,
    DU2014_TABLE,
    MIEX_TABLE,
    Clip,
    ExpertSource,
    MaESource,
    MiESource,
    apex_bounds,
    draw_apex_index,
    expand_sequence,
    expert_probabilities,
    expert_sequence,
    parse_label,
)
from miex.au.space import AU_NAMES, au_index
from miex.errors import InputError, MiexError, SkipLog
from miex.seeding import rng

N_DRAWS = 10_000
SIGMAS = 5.0  # every binomial check allows 5 standard deviations (false alarm ~ 6e-7 per check)


def _binomial_tol(p: float, n: int) -> float:
    return SIGMAS * np.sqrt(p * (1.0 - p) / n)


# ------------------------------------------------------------------------------------------ expert


def _check_expert_pool(pool: pd.DataFrame, table: dict, class_emotions: dict, mu: float, nu: float) -> None:
    apex = apex_matrix(pool)
    assert np.all(onset_matrix(pool) == 0.0)
    assert np.all(apex[:, au_index(45)] == 0.0)
    active = apex > 0
    assert np.all((apex[active] >= mu) & (apex[active] <= nu))
    # intensities of active AUs are U[mu, nu]: mean within 5 sigma of (mu + nu) / 2
    values = apex[active]
    assert abs(values.mean() - (mu + nu) / 2) < SIGMAS * (nu - mu) / np.sqrt(12 * len(values))
    for label, emotions in class_emotions.items():
        rows = pool["label"].to_numpy() == label
        assert rows.sum() == N_DRAWS
        drawn = pool.loc[rows, "emotion"].to_numpy()
        assert set(drawn) == set(emotions)
        for emotion in emotions:  # sub-emotions drawn uniformly
            share = float(np.mean(drawn == emotion))
            assert abs(share - 1 / len(emotions)) <= _binomial_tol(1 / len(emotions), N_DRAWS) + 1e-12
        for emotion in emotions:
            mask = rows & (pool["emotion"].to_numpy() == emotion)
            n = int(mask.sum())
            for name in AU_NAMES:
                number = int(name[2:])
                p = 0.0 if number == 45 else table[emotion].get(number, 0.0)
                rate = float(active[mask, au_index(name)].mean())
                assert abs(rate - p) <= _binomial_tol(p, n) + 1e-12, (emotion, name, rate, p, n)


def test_expert_miex_table_10000_draws():
    pool = ExpertSource().sample(N_DRAWS, rng(0, "test-expert"))
    assert list(pool.columns) == list(POOL_COLUMNS)
    assert set(pool["source"]) == {"expert"}
    assert (pool[["au_dataset", "au_subject", "au_clip", "onset_frame", "apex_frame"]] == "").all().all()
    _check_expert_pool(pool, MIEX_TABLE, CLASS_EMOTIONS["miex"], 0.1, 0.3)
    assert set(CLASS_EMOTIONS["miex"][0]) == {"sadness", "fear", "anger", "disgust", "contempt"}


def test_expert_custom_intensity_range():
    pool = ExpertSource(mu=0.4, nu=0.9).sample(N_DRAWS, rng(1, "test-expert"))
    _check_expert_pool(pool, MIEX_TABLE, CLASS_EMOTIONS["miex"], 0.4, 0.9)


def test_expert_du2014_table():
    pool = ExpertSource(table="du2014").sample(N_DRAWS, rng(2, "test-expert"))
    _check_expert_pool(pool, DU2014_TABLE, CLASS_EMOTIONS["du2014"], 0.1, 0.3)
    assert "contempt" not in set(pool["emotion"])
    for rule in DU2014_TABLE.values():
        assert not {11, 24} & set(rule)
    probs = expert_probabilities("du2014")
    assert probs["happiness"][au_index(6)] == 0.51
    assert probs["anger"][au_index(4)] == probs["anger"][au_index(7)] == 1.0


def test_expert_rejects_bad_options():
    with pytest.raises(MiexError, match="mu"):
        ExpertSource(mu=0.5, nu=0.2)
    with pytest.raises(MiexError, match="table"):
        ExpertSource(table="ekman")


def test_expert_reproducible_and_seed_dependent():
    a = ExpertSource().sample(50, rng(7, "x"))
    b = ExpertSource().sample(50, rng(7, "x"))
    c = ExpertSource().sample(50, rng(8, "x"))
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(apex_matrix(a), apex_matrix(c))


def test_expert_sequence_ramp():
    apex = np.linspace(0.05, 0.3, 17)
    seq = expert_sequence(apex, 10)
    assert seq.shape == (10, 17)
    for i in range(10):
        np.testing.assert_allclose(seq[i], apex * i / 9, atol=1e-15)
    pool = ExpertSource().sample(3, rng(0, "seq"), n_frames=10)
    assert pool.columns[-1] == "sequence"
    for _, row in pool.iterrows():
        seq = np.array(row["sequence"])
        np.testing.assert_allclose(seq, expert_sequence(row[list(APEX_COLUMNS)].to_numpy(float), 10))


# ------------------------------------------------------------------------------------------ sequences


def test_expand_sequence_linear_resampling():
    seq = np.outer(np.arange(5) / 4.0, np.ones(17))  # 0, .25, .5, .75, 1
    out = expand_sequence(seq, 9)
    np.testing.assert_allclose(out[:, 0], np.arange(9) / 8.0, atol=1e-12)
    down = expand_sequence(seq, 3)
    np.testing.assert_allclose(down[:, 3], [0.0, 0.5, 1.0])
    single = expand_sequence(seq[:1] + 0.2, 4)
    assert single.shape == (4, 17) and np.all(single == 0.2)
    with pytest.raises(MiexError):
        expand_sequence(seq, 1)
    with pytest.raises(MiexError):
        expand_sequence(np.zeros((3, 5)), 4)


def test_expand_sequence_of_pool_row_without_sequence():
    pool = ExpertSource().sample(2, rng(0, "rows"))
    row = pool.iloc[0]
    apex = row[list(APEX_COLUMNS)].to_numpy(float)
    np.testing.assert_allclose(expand_sequence(row, 10), expert_sequence(apex, 10))


# ------------------------------------------------------------------------------------------ labels


@pytest.mark.parametrize(
    "value,label",
    [(0, 0), ("1", 1), (2.0, 2), ("Anger", 0), ("contempt", 0), ("disgust", 0), ("fear", 0), ("sadness", 0),
     ("repression", 0), ("negative", 0), ("Happiness", 1), ("happy", 1), ("positive", 1), ("surprise", 2)],
)
def test_parse_label(value, label):
    assert parse_label(value)[0] == label


def test_parse_label_unknown_names_clip():
    with pytest.raises(MiexError, match="EP01_01"):
        parse_label("others", clip="EP01_01")
    with pytest.raises(MiexError, match="EP01_02"):
        parse_label(3, clip="EP01_02")
    assert parse_label("Disgust") == (0, "disgust")
    assert parse_label(1) == (1, "positive")


# ------------------------------------------------------------------------------------------ MaE


def test_apex_bounds_every_length():
    gen = rng(0, "apex")
    for n in range(1, 201):
        lo, hi = apex_bounds(n, 0.3, 0.5)
        assert 0 <= lo <= hi <= n - 1
        if int(0.5 * n) <= n - 1:
            assert (lo, hi) == (int(np.floor(0.3 * n)), int(np.floor(0.5 * n)))
        draws = [draw_apex_index(n, gen) for _ in range(20)]
        assert all(lo <= d <= hi for d in draws)
    assert apex_bounds(1) == (0, 0)
    assert apex_bounds(2) == (0, 1)
    assert apex_bounds(10, 0.0, 1.0) == (0, 9)  # beta = 1 clamps to the last frame
    with pytest.raises(MiexError):
        apex_bounds(0)


def test_apex_draws_cover_window():
    gen = rng(1, "apex")
    draws = {draw_apex_index(100, gen) for _ in range(2000)}
    assert draws == set(range(30, 51))


def _mk(make_ramp_table, name, subject, label, n, *, dataset="ckplus", start=1, **kw) -> Clip:
    return Clip(clip=name, subject=subject, label=label, aus=make_ramp_table(n, start_frame=start),
                dataset=dataset, **kw)


def test_mae_source(make_ramp_table):
    clips = [
        _mk(make_ramp_table, "S005_001", "S005", "disgust", 1),
        _mk(make_ramp_table, "S010_002", "S010", "happy", 2, start=10),
        _mk(make_ramp_table, "S011_004", "S011", "surprise", 40),
        _mk(make_ramp_table, "S014_003", "S014", 0, 17),
    ]
    source = MaESource(clips)
    pool = source.sample(150, rng(0, "mae"))
    assert list(pool.columns) == [*POOL_COLUMNS, "sequence"]
    assert len(pool) == 450 and set(pool["source"]) == {"mae"}
    tables = {c.clip: c.aus.set_index("frame") for c in clips}
    for _, row in pool.iterrows():
        table = tables[row["au_clip"]]
        frames = table.index.to_list()
        n = len(frames)
        assert int(row["onset_frame"]) == frames[0]
        k = frames.index(int(row["apex_frame"]))
        lo, hi = apex_bounds(n, 0.3, 0.5)
        assert lo <= k <= hi
        np.testing.assert_allclose(row[list(ONSET_COLUMNS)].to_numpy(float), table.iloc[0].to_numpy())
        np.testing.assert_allclose(row[list(APEX_COLUMNS)].to_numpy(float), table.iloc[k].to_numpy())
        seq = np.array([np.asarray(v) for v in row["sequence"]])
        np.testing.assert_allclose(seq, table.iloc[: k + 1].to_numpy())
        assert row["au_subject"].startswith("ckplus/")
        assert row["au_dataset"] == "ckplus"
    neg = pool[pool["label"] == 0]
    assert set(neg["au_clip"]) == {"S005_001", "S014_003"}
    assert set(neg.loc[neg["au_clip"] == "S005_001", "emotion"]) == {"disgust"}
    assert set(pool.loc[pool["au_clip"] == "S005_001", "apex_frame"]) == {"1"}
    assert set(pool.loc[pool["au_clip"] == "S010_002", "apex_frame"]) == {"10", "11"}


def test_mae_onset_offset_trim(make_ramp_table):
    clip = _mk(make_ramp_table, "c", "s", 2, 30, onset=11, offset=20)
    others = [_mk(make_ramp_table, f"x{k}", "t", k, 5) for k in (0, 1)]
    pool = MaESource([clip, *others]).sample(50, rng(0, "trim"))
    sur = pool[pool["label"] == 2]
    assert set(sur["onset_frame"]) == {"11"}
    assert all(11 + 3 <= int(f) <= 11 + 5 for f in sur["apex_frame"])


# ------------------------------------------------------------------------------------------ MiE


def _mie_clips(make_ramp_table):
    return [
        _mk(make_ramp_table, "EP02_01f", "sub01", "happiness", 40, dataset="casme2", start=46, onset=50, apex=59),
        _mk(make_ramp_table, "EP03_02f", "sub02", "disgust", 30, dataset="casme2", onset=1, apex=10),
        _mk(make_ramp_table, "EP05_03f", "sub03", "repression", 20, dataset="casme2", apex=5),
        _mk(make_ramp_table, "006_1_2", "006", "surprise", 25, dataset="samm", onset=3, apex=12),
        _mk(make_ramp_table, "s1_ne_01", "s1", "negative", 21, dataset="smic", start=100),  # no apex: middle
        _mk(make_ramp_table, "s1_po_01", "s1", "positive", 11, dataset="smic", start=100, onset=101, offset=105),
        _mk(make_ramp_table, "s2_sur_01", "s2", "surprise", 9, dataset="smic"),
    ]


def test_mie_pairs_and_provenance(make_ramp_table):
    pool = MiESource(_mie_clips(make_ramp_table), reuse=1).sample(40, rng(0, "mie"))
    assert list(pool.columns) == [*POOL_COLUMNS, "sequence"]
    got = pool.drop_duplicates("au_clip").set_index("au_clip")
    assert (got.loc["EP02_01f", ["onset_frame", "apex_frame", "au_subject"]] == ["50", "59", "casme2/sub01"]).all()
    assert (got.loc["EP05_03f", ["onset_frame", "apex_frame"]] == ["1", "5"]).all()
    assert got.loc["EP05_03f", "emotion"] == "repression" and got.loc["EP05_03f", "label"] == 0
    assert (got.loc["s1_ne_01", ["onset_frame", "apex_frame"]] == ["100", "110"]).all()  # middle of 100..120
    assert (got.loc["s1_po_01", ["onset_frame", "apex_frame"]] == ["101", "103"]).all()  # middle of 101..105
    assert (got.loc["s2_sur_01", ["onset_frame", "apex_frame"]] == ["1", "5"]).all()
    assert got.loc["006_1_2", "au_subject"] == "samm/006"
    row = got.loc["EP02_01f"]
    seq = np.array([np.asarray(v) for v in row["sequence"]])
    assert seq.shape == (10, 17)  # frames 50..59 inclusive
    np.testing.assert_allclose(seq[0], row[list(ONSET_COLUMNS)].to_numpy(float))
    np.testing.assert_allclose(seq[-1], row[list(APEX_COLUMNS)].to_numpy(float))


def test_mie_reuse_factor(make_ramp_table):
    clips = _mie_clips(make_ramp_table)
    for reuse in (1, 5, 7):
        pool = MiESource(clips, reuse=reuse).sample(37, rng(3, "reuse"))
        for label in (0, 1, 2):
            seq = pool.loc[pool["label"] == label, "au_clip"].tolist()
            n_pairs = len({c.clip for c in clips if parse_label(c.label)[0] == label})
            blocks = [seq[i : i + reuse] for i in range(0, len(seq), reuse)]
            assert all(len(set(b)) == 1 for b in blocks)  # each pair used for `reuse` consecutive samples
            heads = [b[0] for b in blocks]
            for start in range(0, len(heads) - n_pairs + 1, n_pairs):  # every pair once per pass
                assert len(set(heads[start : start + n_pairs])) == n_pairs


def test_mie_exclude_subjects(make_ramp_table):
    clips = _mie_clips(make_ramp_table)
    pool = MiESource(clips, exclude_subjects=["casme2/sub02", "smic/s1"]).sample(200, rng(0, "excl"))
    subjects = set(pool["au_subject"])
    assert not {"casme2/sub02", "smic/s1"} & subjects
    assert {"casme2/sub01", "casme2/sub03", "samm/006", "smic/s2"} <= subjects
    with pytest.raises(MiexError, match="class 1"):
        MiESource(clips, exclude_subjects=["casme2/sub01", "smic/s1"]).sample(5, rng(0, "excl"))
    # a subject already qualified in the clip matches its qualified entry exactly
    qualified = [_mk(make_ramp_table, "q", "casme2/sub07", 0, 6, dataset="casme2"), *clips]
    pool = MiESource(qualified, exclude_subjects=["casme2/sub07"]).sample(50, rng(0, "excl"))
    assert "casme2/sub07" not in set(pool["au_subject"])
    assert "casme2/sub01" in set(pool["au_subject"])
    # one identity rule: a bare entry is refused, never matched against every dataset
    with pytest.raises(MiexError, match="subject 's1' has no dataset"):
        MiESource(clips, exclude_subjects=["s1"])
    # and so is a clip without a dataset
    with pytest.raises(MiexError, match="has no dataset"):
        MiESource([_mk(make_ramp_table, "bare", "sub09", 0, 6, dataset=""), *clips])


def test_mae_exclude_subjects(make_ramp_table):
    clips = [_mk(make_ramp_table, f"S{k}_{lab}", f"S{k}", lab, 12) for k in range(3) for lab in (0, 1, 2)]
    pool = MaESource(clips, exclude_subjects=["ckplus/S1"]).sample(100, rng(0, "mae-excl"))
    assert set(pool["au_subject"]) == {"ckplus/S0", "ckplus/S2"}


def test_mie_bad_annotations(make_ramp_table):
    good = _mie_clips(make_ramp_table)
    missing = _mk(make_ramp_table, "bad_apex", "sub09", 1, 10, dataset="casme2", apex=99)
    backwards = _mk(make_ramp_table, "backwards", "sub09", 1, 10, dataset="casme2", onset=8, apex=3)
    with pytest.raises(InputError, match="bad_apex"):
        MiESource([*good, missing])
    skips = SkipLog(echo=False)
    source = MiESource([*good, missing, backwards], skips=skips)
    assert len(skips) == 2
    assert all("bad_apex" not in p.clip.clip for p in source.by_class[1])


def test_clip_sources_reproducible(make_ramp_table):
    clips = _mie_clips(make_ramp_table)
    a = MiESource(clips).sample(20, rng(5, "r"))
    b = MiESource(clips).sample(20, rng(5, "r"))
    pd.testing.assert_frame_equal(a, b)
    c = MaESource(clips).sample(20, rng(5, "r"))
    d = MaESource(clips).sample(20, rng(5, "r"))
    pd.testing.assert_frame_equal(c, d)
