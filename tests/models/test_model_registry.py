"""The model registry: create by name, list, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from miex.errors import MiexError
from miex.models import ClassicalModel, create, is_classical, list_models, register_model
from miex.models.spec import InputSpec
from tests.models.zoo import SMALL

ALL = ["apexme", "atnet", "bi_woof", "branches", "dssn", "dtscnn", "elrcn", "htnet", "lbp_top", "miacnet",
       "micro_attention", "microexp_fusenet", "microexp_stcnn", "offapexnet", "resnet18", "ststnet"]
CLASSICAL = ("bi_woof", "lbp_top")


def test_list_models() -> None:
    assert list_models() == ALL
    assert list_models("*net") == ["atnet", "htnet", "miacnet", "microexp_fusenet", "offapexnet", "ststnet"]


@pytest.mark.parametrize("name", ALL)
def test_create_every_model_has_an_input_spec_and_config(name: str) -> None:
    model = create(name, num_classes=5, **SMALL[name])
    assert isinstance(model, ClassicalModel if name in CLASSICAL else nn.Module)
    assert is_classical(name) == (name in CLASSICAL) == is_classical(model)
    assert isinstance(model.input_spec, InputSpec)
    assert model.num_classes == 5
    assert model.miex_config["name"] == name and model.miex_config["num_classes"] == 5


def test_names_are_forgiving_about_case_and_dashes() -> None:
    assert type(create("OFF-ApexNet")).__name__ == "OFFApexNet"
    assert type(create("STSTNet")).__name__ == "STSTNet"


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(MiexError, match=r"unknown model 'resnet50'; known models: apexme, atnet, bi_woof, branches"):
        create("resnet50")


def test_unknown_option_and_bad_num_classes() -> None:
    with pytest.raises(MiexError, match=r"'ststnet' has no option\(s\) width; options: image_size"):
        create("ststnet", width=8)
    with pytest.raises(MiexError, match="num_classes"):
        create("branches", num_classes=0)


def test_register_model_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_model("branches")
        def other(num_classes: int = 3) -> nn.Module:  # pragma: no cover - never called
            return nn.Linear(1, num_classes)


def test_seed_gives_identical_weights_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = create("ststnet", seed=3).state_dict()
    b = create("ststnet", seed=3).state_dict()
    c = create("ststnet", seed=4).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
