"""Training and evaluation protocols: ``miex train CONFIG.toml --out RUN``.

- :mod:`miex.train.experiment`: experiment config files (TOML), sweeps, :func:`dry_run`.
- :mod:`miex.train.protocols`: LOSO / subject k-fold splits, validation split, leakage control.
- :mod:`miex.train.data`: the torch Dataset (inputs per model ``input_spec``, MiE-X augmentation)
  and the seeded DataLoader factory.
- :mod:`miex.train.engine`: the resumable, deterministic training loop (plain PyTorch, DDP
  under torchrun).
- :mod:`miex.train.plan`: the data of a run (checked, face-cropped) and its folds.
- :mod:`miex.train.modes`: what a fold trains on (real, direct, pretrain_finetune).
- :mod:`miex.train.models`: the experiment's model (options, weights).
- :mod:`miex.train.rundir` / :mod:`miex.train.collect`: the run folder, per-fold results.
- :mod:`miex.train.runner`: runs an experiment into a run folder (docs/INTERFACES.md, "Runs").

Importing this package is cheap; torch is imported by the submodules that need it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExperimentConfig", "load_config", "config_from_dict", "dry_run", "run_experiment", "expand_sweep"]


def __getattr__(name: str) -> Any:
    if name in ("ExperimentConfig", "load_config", "config_from_dict", "dry_run", "expand_sweep"):
        from miex.train import experiment

        return getattr(experiment, name)
    if name == "run_experiment":
        from miex.train.runner import run_experiment

        return run_experiment
    raise AttributeError(f"module 'miex.train' has no attribute {name!r}")
