"""Experiment configs: validation messages, overrides, sweeps, and dry runs of every shipped config."""

from __future__ import annotations

from pathlib import Path

import pytest

from miex.cli.main import main
from miex.errors import MiexError
from miex.train.experiment import (
    config_from_dict,
    dry_run,
    expand_sweep,
    load_config,
    parse_value,
    read_toml,
    validate,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = sorted(p.name for p in CONFIGS.glob("*.toml"))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


MINIMAL = '[data]\ndataset = "casme2"\n[model]\nname = "ststnet"\n'


def test_defaults_and_schedules(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL))
    assert cfg.mode == "real" and cfg.protocol["cv"] == "kfold" and cfg.protocol["repeats"] == 3
    assert (cfg.train["schedule"], cfg.train["epochs"], cfg.train["decay_epochs"]) == ("real", 80, 0)
    assert (cfg.train["lr"], cfg.train["weight_decay"], cfg.train["clip"]) == (1e-4, 5e-4, 1.0)
    direct = load_config(_write(tmp_path, MINIMAL + '[protocol]\nmode = "direct"\n'),
                         ['data.synthetic="set"'])
    assert (direct.train["schedule"], direct.train["epochs"], direct.train["decay_epochs"]) == ("synthetic", 10, 10)
    pf = load_config(_write(tmp_path, MINIMAL + '[protocol]\nmode = "pretrain_finetune"\n[train]\nbatch_size = 8\n'),
                     ['data.synthetic="set"'])
    assert (pf.pretrain["epochs"], pf.pretrain["decay_epochs"], pf.pretrain["batch_size"]) == (10, 10, 8)
    assert (pf.train["epochs"], pf.train["decay_epochs"]) == (80, 0)
    # a resolved config validates to itself (what run folders store and compare)
    again = validate(read_toml(_write(tmp_path, pf.to_toml())), "again")
    assert again.raw == pf.raw


@pytest.mark.parametrize(
    "text, message",
    [
        (MINIMAL + "[train]\nbacth_size = 3\n", r"exp.toml: unknown key \[train\] bacth_size"),
        (MINIMAL + "[train]\nbatch_size = \"big\"\n", r"exp.toml: \[train\] batch_size must be an integer"),
        (MINIMAL + "[train]\nlr = 0\n", r"\[train\] lr must be > 0"),
        (MINIMAL + "[protocol]\nmode = \"magic\"\n", r"\[protocol\] mode must be one of real, direct"),
        (MINIMAL + "[protocol]\ncv = \"holdout\"\n", r"\[protocol\] cv must be one of loso, kfold"),
        (MINIMAL + "[protocol]\nmode = \"direct\"\n", r"needs \[data\] synthetic"),
        (MINIMAL + "[protocol]\nval_fraction = 1.5\n", r"val_fraction must be in \[0, 1\)"),
        (MINIMAL + "[model.x]\ny = 1\n", r"unknown key \[model\] x"),
        ('[data]\ndataset = "casme2"\n[model]\nname = "ststnet"\nwidht = 3\n', r"unknown key \[model\] widht"),
        ('[data]\ndataset = "casme9"\n[model]\nname = "ststnet"\n', r"\[data\] unknown dataset 'casme9'"),
        ('[model]\nname = "ststnet"\n', r"\[data\] dataset is required"),
        ('[data]\ndataset = "casme2"\n', r"\[model\] name is required"),
        (MINIMAL + "[model]\n", "invalid TOML"),
        (MINIMAL + "[trian]\n", r"unknown section \[trian\]"),
        (MINIMAL + '[train]\nschedule = "custom"\n', r"schedule = \"custom\" needs epochs"),
        (MINIMAL + '[sweep]\n"train.epochs" = 3\n', r"\[sweep\] train.epochs must be a non-empty list"),
        (MINIMAL + '[sweep]\n"train.epochs" = [3, -1]\n', r"\[train\] epochs must be >= 0"),
        ('[data]\ndataset = "casme2"\n[model]\nname = "ststnet"\nbackbone_weights = "r.pth"\n', "no ResNet backbone"),
    ],
)
def test_validation_names_file_and_key(tmp_path, text, message):
    with pytest.raises(MiexError, match=message):
        load_config(_write(tmp_path, text))


def test_overrides_and_sweeps(tmp_path):
    assert parse_value("3") == 3 and parse_value("1e-4") == 1e-4 and parse_value("true") is True
    assert parse_value('["a", "b"]') == ["a", "b"] and parse_value("/data/CASME2") == "/data/CASME2"
    cfg = load_config(_write(tmp_path, MINIMAL), ["train.epochs=5", "data.roots.casme2=/x/casme2", "model.dropout=0.25"])
    assert cfg.train["epochs"] == 5 and cfg.data["roots"] == {"casme2": "/x/casme2"} and cfg.model["dropout"] == 0.25
    with pytest.raises(MiexError, match="--set epochs: keys are section.key"):
        load_config(_write(tmp_path, MINIMAL), ["epochs=5"])
    sweep = load_config(_write(tmp_path, MINIMAL + '[sweep]\n"train.lr" = [1e-3, 1e-4]\n"model.dropout" = [0.1, 0.2, 0.3]\n'))
    runs = expand_sweep(sweep)
    assert len(runs) == 6
    assert runs[0][0] == "00_lr=0.001_dropout=0.1" and runs[-1][0] == "05_lr=0.0001_dropout=0.3"
    assert [r[1].model["dropout"] for r in runs] == [0.1, 0.2, 0.3] * 2
    assert all("sweep" not in r[1].raw for r in runs)
    assert expand_sweep(cfg) == [("", cfg)]


def _fixture_overrides(name: str, composite442: dict, synthetic: Path) -> list[str]:
    roots = [f'data.roots.{k}="{composite442[k]}"' for k in ("casme2", "samm", "smic", "ckplus", "mmew", "casme3")]
    out = roots + [f'data.synthetic="{synthetic}"']
    cfg = load_config(CONFIGS / name)
    for key, values in cfg.sweep.items():
        out.append(f"sweep.{key}=[{', '.join(chr(34) + str(synthetic) + chr(34) for _ in values)}]")
    return out


#: (samples, subjects) of the datasets whose fixtures hold every published clip.
PUBLISHED_SIZES = {"megc2019": (442, 68), "samm": (133, 28)}


def _samples(config, name: str, options: dict):
    from miex.train.plan import load_samples

    return load_samples(name, config.data["roots"], options, config.data["label_scheme"])[0]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_dry_runs(name, composite442, synthetic_with_provenance):
    """Every config in configs/ validates and lists its folds on fixture trees in the real layouts."""
    config = load_config(CONFIGS / name, _fixture_overrides(name, composite442, synthetic_with_provenance))
    original = load_config(CONFIGS / name)
    table = dry_run(config)
    n_runs = len(expand_sweep(original))
    proto = config.protocol
    dataset = config.data["dataset"]
    test_set = _samples(config, dataset, config.data["options"])
    n_samples, n_subjects = len(test_set), test_set["subject"].nunique()
    if dataset in PUBLISHED_SIZES:  # the fixtures hold every clip of these: the published sizes
        assert (n_samples, n_subjects) == PUBLISHED_SIZES[dataset]
    per_repeat = {"loso": n_subjects, "kfold": proto["k"], "cross_dataset": 1}[proto["cv"]]
    if proto["cv"] == "cross_dataset":
        n_train = sum(len(_samples(config, name, {})) for name in config.data["train_datasets"])
        assert len(table) == proto["repeats"] and (table["test_samples"] == n_samples).all()
        assert ((table["train_samples"] + table["val_samples"]) == n_train).all()
        return
    assert table["run"].nunique() == n_runs
    assert len(table) == n_runs * proto["repeats"] * per_repeat
    for (_, repeat), folds in table.groupby(["run", "repeat"]):
        assert len(folds) == per_repeat
        assert folds["test_samples"].sum() == n_samples  # test folds partition the dataset
        assert folds["test_subjects"].sum() == n_subjects
        total = folds["train_samples"] + folds["val_samples"] + folds["test_samples"]
        assert (total == n_samples).all()
        if proto["val_fraction"] > 0:
            assert (folds["val_subjects"] >= 1).all()
    if config.mode in ("direct", "pretrain_finetune") and dataset == "megc2019":
        # the fixture set's z^MiE came from casme2/sub01, samm/006, smic/s1, casme2/sub02:
        # folds that test or validate on them lose those samples, the others keep all 18
        assert (table["pretrain"] == "per_fold").all()
        assert (table["synthetic_excluded"] > 0).any()
        assert ((table["synthetic_samples"] + table["synthetic_excluded"]) == 18).all()
    if "ckplus" in config.data["extra_train"]:
        assert (table["extra_samples"] == 5).all()  # the labelled CK+ fixture sequences


def test_cli_dry_run_prints_folds(composite442, synthetic_with_provenance, capsys):
    name = "table1_mie_x_only.toml"
    args = ["train", str(CONFIGS / name), "--dry-run"]
    for item in _fixture_overrides(name, composite442, synthetic_with_provenance):
        args += ["--set", item]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "synthetic_excluded" in out and "test_subjects" in out
    assert "9 fold(s) in 1 run(s)" in out
    assert main(["train", str(CONFIGS / name), "--set", "train.epochs=-1", "--dry-run"]) == 2
    assert "[train] epochs must be >= 0" in capsys.readouterr().err
    assert main(["train", str(CONFIGS / name)]) == 2
    assert "--out RUN is required" in capsys.readouterr().err


def test_config_from_dict_source_in_errors():
    with pytest.raises(MiexError, match="<mine>: unknown section"):
        config_from_dict({"bogus": {}}, "<mine>")


def test_model_options_are_type_checked_before_the_run_folder(tmp_path, capsys):
    path = _write(tmp_path, MINIMAL.replace('name = "ststnet"', 'name = "branches"\nimage_size = "224"'))
    with pytest.raises(MiexError, match=r"\[model\] image_size must be an integer, got '224'"):
        load_config(path)
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "image_size must be an integer" in err and "Traceback" not in err and not out.exists()
    with pytest.raises(MiexError, match=r"\[model\] channels must be a list of 3 values"):
        load_config(_write(tmp_path, MINIMAL + 'channels = ["u", "v"]\n'))
    assert load_config(_write(tmp_path, MINIMAL + "dropout = 0\n")).model["dropout"] == 0.0


def test_defaults_follow_the_published_protocols(tmp_path):
    """No validation carve-out by default: every fold trains on all its training subjects, and
    the face is cropped from raw recordings."""
    cfg = load_config(_write(tmp_path, MINIMAL))
    assert cfg.protocol["val_fraction"] == 0.0
    assert (cfg.data["crop"], cfg.data["crop_size"], cfg.data["allow_partial"]) == ("auto", 0, False)
    with pytest.raises(MiexError, match=r"\[data\] crop must be one of auto, meb, mie-x, none"):
        load_config(_write(tmp_path, MINIMAL.replace('[model]', 'crop = "face"\n[model]')))


def test_dry_run_checks_init_weights(composite442, tmp_path, capsys):
    """Every [model] init_weights is loaded into the model by --dry-run: a junk or mismatched
    file is one line naming it, before anything runs."""
    import torch

    from miex.models import create

    roots = [f'data.roots.{k}="{composite442[k]}"' for k in ("casme2", "samm", "smic")]
    config = _write(tmp_path, '[data]\ndataset = "megc2019"\n[model]\nname = "ststnet"\n[protocol]\ncv = "loso"\n'
                              'repeats = 1\n')
    good = tmp_path / "good.pt"
    torch.save({"model": create("ststnet", seed=1).state_dict()}, good)
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": create("offapexnet", seed=1).state_dict()}, wrong)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    base = ["train", str(config), "--dry-run", *(a for r in roots for a in ("--set", r))]
    assert main([*base, "--set", f'model.init_weights="{good}"']) == 0
    capsys.readouterr()
    for path, message in ((junk, "not a readable PyTorch checkpoint"), (wrong, "do not fit model 'ststnet'"),
                          (tmp_path / "absent.pt", "file not found")):
        assert main([*base, "--set", f'model.init_weights="{path}"']) == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out), *(a for r in roots for a in ("--set", r)),
                 "--set", f'model.init_weights="{junk}"']) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err
    assert not out.exists()  # refused before the run folder is created
