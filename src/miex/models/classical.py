"""Handcrafted features + a scikit-learn estimator: the base of the classical baselines
(LBP-TOP, Bi-WOOF). Not a torch module: training fits the estimator once per fold
(:mod:`miex.train.classical`) on the feature vectors that the model's ``input_spec`` describes.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import numpy as np

from miex.errors import MiexError
from miex.models.spec import InputSpec

F = TypeVar("F", bound=Callable[..., Any])


class ClassicalModel:
    """A feature spec (kind ``"lbp_top"`` / ``"bi_woof"``) and a linear SVM.

    ``fit(X, y, seed)`` trains a ``sklearn.svm.LinearSVC`` (one-vs-rest, squared hinge,
    ``C``; ``class_weight="balanced"`` optional) on standardised features when ``standardize``;
    ``scores(X)`` returns its decision values (n, num_classes), used as logits.
    """

    classical = True
    input_spec: InputSpec
    miex_config: dict

    def __init__(self, num_classes: int, spec: InputSpec, *, C: float = 1.0, class_weight: str | None = None,
                 standardize: bool = False, max_iter: int = 10000) -> None:
        if float(C) <= 0:
            raise MiexError(f"{spec.kind}: C must be positive, got {C}")
        if class_weight not in (None, "", "balanced"):
            raise MiexError(f"{spec.kind}: class_weight must be empty or 'balanced', got {class_weight!r}")
        self.num_classes = int(num_classes)
        self.input_spec = spec
        self.C = float(C)
        self.class_weight = class_weight or None
        self.standardize = bool(standardize)
        self.max_iter = int(max_iter)
        self.estimator: Any = None
        self.classes_: np.ndarray | None = None

    def fit(self, x: np.ndarray, y: np.ndarray, seed: int = 0) -> "ClassicalModel":
        """Fit the SVM on features ``x`` (n, D) and integer labels ``y``."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        x, y = self._check(x), np.asarray(y, dtype=np.int64)
        if len(np.unique(y)) < 2:
            raise MiexError(f"{self.input_spec.kind}: the SVM needs training samples of at least two classes")
        svm = LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                        random_state=int(seed) % (2**32))
        self.estimator = make_pipeline(StandardScaler(), svm) if self.standardize else svm
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator.fit(x, y)
        self.classes_ = np.asarray(self.estimator.classes_, dtype=np.int64)
        return self

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Decision values (n, num_classes) float32; classes absent from training get -1e3."""
        if self.estimator is None or self.classes_ is None:
            raise MiexError(f"{self.input_spec.kind}: fit the model before scoring")
        x = self._check(x)
        d = np.asarray(self.estimator.decision_function(x), dtype=np.float64)
        if d.ndim == 1:  # two classes: sklearn returns the score of the second one
            d = np.stack([-d, d], axis=1)
        out = np.full((len(x), self.num_classes), -1e3, dtype=np.float64)
        out[:, self.classes_] = d
        return out.astype(np.float32)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        want = self.input_spec.shape(1)[1]
        if x.ndim != 2 or x.shape[1] != want:
            raise MiexError(f"{self.input_spec.kind}: expected features (n, {want}), got {x.shape}")
        return x

    def load_state_dict(self, state: Any) -> None:  # noqa: ARG002 - the torch-model API of init_weights
        raise MiexError(f"{self.input_spec.kind}: [model] init_weights does not apply to a classical model "
                        "(features + SVM are fitted per fold)")

    def state(self) -> dict[str, Any]:
        return {"estimator": self.estimator, "classes": self.classes_}

    def load_state(self, state: dict[str, Any]) -> None:
        self.estimator, self.classes_ = state["estimator"], state["classes"]


def classical_factory(fn: F) -> F:
    """Mark a registered factory as building a :class:`ClassicalModel` (see :func:`is_classical`)."""
    fn.classical = True  # type: ignore[attr-defined]
    return fn


def is_classical(model: Any) -> bool:
    """True for a classical model, or the registered name of one: trained by
    :mod:`miex.train.classical`, not by the PyTorch engine."""
    if isinstance(model, str):
        from miex.models.registry import _lookup

        return bool(getattr(_lookup(model)[1], "classical", False))
    return bool(getattr(model, "classical", False))
