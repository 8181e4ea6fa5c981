"""The normalizing flow: parameters, input selection, likelihood, learning, sampling."""

import math

import pytest
import torch
from typer.testing import CliRunner

from heplearn.cli import USER_ERROR_EXIT_CODE, app
from heplearn.errors import ConfigError
from heplearn.models.base import LearnsInputs, Samples
from heplearn.models.flow import Flow
from heplearn.models.registry import build_model, model_family, model_params, select_inputs
from heplearn.models.schema import InputInfo, InputSchema
from heplearn.training.config import parse_run_config

SCHEMA: InputSchema = {
    "jet": InputInfo("jet", "tabular", ("jet_mass", "jet_tau21", "jet_tau32"), (3,)),
    "conditions": InputInfo("conditions", "tabular", ("jet_pt",), (1,)),
    "image": InputInfo("image", "image", ("image",), (1, 8, 8)),
}
SMALL = {"transforms": 2, "hidden": [32, 32]}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: small flows are slower with two on a busy two-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _flow(**params: object) -> Flow:
    torch.manual_seed(0)
    section = {"name": "flow", "features": "jet", "condition": "conditions", **SMALL, **params}
    model = build_model(model_params(section), SCHEMA, 1)
    assert isinstance(model, Flow)
    return model


def _correlated(count: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Three features that follow the condition (x₀ ≈ 2c) plus correlated noise."""
    generator = torch.Generator().manual_seed(seed)
    condition = torch.rand(count, 1, generator=generator) * 2 - 1
    noise = 0.3 * torch.randn(count, 3, generator=generator)
    features = torch.cat(
        [2 * condition, 0.5 * noise[:, :1], condition**2], dim=1
    ) + noise @ torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.3]])
    return {"jet": features, "conditions": condition}


def test_the_flow_is_a_generative_family():
    family = model_family("flow")
    assert family.objective == "generative"
    assert family.accepts == {"tabular"}
    model = _flow()
    assert isinstance(model, LearnsInputs)
    assert isinstance(model, Samples)


@pytest.mark.parametrize("transform", ["nsf", "maf"])
def test_forward_is_the_negative_log_likelihood_per_event(transform):
    model = _flow(transform=transform).eval()
    batch = _correlated(16)
    outputs = model(batch)
    assert outputs.shape == (16, 1)
    assert torch.isfinite(outputs).all()
    expected = -model.flow(batch["conditions"]).log_prob(batch["jet"])
    torch.testing.assert_close(outputs[:, 0], expected)
    torch.testing.assert_close(model.event_losses(batch), expected)


@pytest.mark.parametrize("transform", ["nsf", "maf"])
def test_a_few_steps_lower_the_loss(transform):
    model = _flow(transform=transform)
    batch = _correlated(256)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.event_losses(batch).mean().item()
    for _ in range(40):
        loss = model.event_losses(batch).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    last = model.event_losses(batch).mean().item()
    assert math.isfinite(last)
    assert last < first - 1.0, (first, last)


@pytest.mark.parametrize("transform", ["nsf", "maf"])
def test_conditional_samples_have_the_right_shape(transform):
    conditions = torch.linspace(-1, 1, 100).unsqueeze(1)
    drawn = _flow(transform=transform).eval().sample(100, {"conditions": conditions})
    assert set(drawn) == {"jet"}
    assert drawn["jet"].shape == (100, 3)
    assert drawn["jet"].dtype == torch.float32
    assert torch.isfinite(drawn["jet"]).all()
    assert not drawn["jet"].requires_grad


def test_conditional_samples_follow_the_condition():
    model = _flow(transform="maf")
    batch = _correlated(512)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        loss = model.event_losses(batch).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    conditions = torch.linspace(-1, 1, 400).unsqueeze(1)
    drawn = model.eval().sample(400, {"conditions": conditions})
    assert torch.isfinite(drawn["jet"]).all()
    # x₀ ≈ 2c: the drawn events follow the condition they were drawn for
    correlation = torch.corrcoef(torch.stack([drawn["jet"][:, 0], conditions[:, 0]]))[0, 1]
    assert correlation > 0.8


def test_unconditional_samples():
    schema = {"jet": SCHEMA["jet"]}
    torch.manual_seed(0)
    model = build_model(model_params({"name": "flow", **SMALL}), schema, 1)
    drawn = model.sample(50)
    assert drawn["jet"].shape == (50, 3)
    assert torch.isfinite(drawn["jet"]).all()
    assert model(_correlated(8)).shape == (8, 1)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(5, {"conditions": torch.zeros(5, 1)})


def test_conditional_sampling_needs_one_condition_per_event():
    model = _flow()
    with pytest.raises(ValueError, match="conditioned on the input 'conditions'"):
        model.sample(5)
    with pytest.raises(ValueError, match="3 rows of conditions for 5 events"):
        model.sample(5, {"conditions": torch.zeros(3, 1)})


def test_the_same_seed_draws_the_same_events():
    model = _flow().eval()
    conditions = {"conditions": torch.zeros(20, 1)}
    torch.manual_seed(5)
    first = model.sample(20, conditions)["jet"]
    torch.manual_seed(5)
    torch.testing.assert_close(model.sample(20, conditions)["jet"], first)


def test_the_flow_reads_its_features_and_its_condition():
    params = model_params({"name": "flow", "features": "jet", "condition": "conditions"})
    assert list(select_inputs(params, SCHEMA)) == ["jet", "conditions"]
    # the features default to the only tabular input that is not the condition
    params = model_params({"name": "flow", "condition": "conditions"})
    assert list(select_inputs(params, SCHEMA)) == ["jet", "conditions"]
    assert list(select_inputs(model_params({"name": "flow"}), {"jet": SCHEMA["jet"]})) == ["jet"]


@pytest.mark.parametrize(
    ("section", "fragments"),
    [
        (
            {"condition": "pt"},
            ["model.condition: 'pt' is not an input", "jet (tabular), conditions (tabular)"],
        ),
        ({"features": "jets"}, ["model.features: 'jets' is not an input", "image (image)"]),
        ({"condition": "image", "features": "jet"}, ["model.condition: 'image'", "image"]),
        ({"condition": "jet", "features": "jet"}, ["cannot be conditioned on what it learns"]),
        ({}, ["model.features: name the tabular input", "candidates: jet, conditions"]),
        (
            {"features": "jet", "inputs": ["jet", "image"]},
            ["model.inputs: a flow reads its features ('jet')", "['image']"],
        ),
    ],
)
def test_inputs_that_do_not_fit_are_named(section, fragments):
    params = model_params({"name": "flow", **section})
    with pytest.raises(ConfigError) as error:
        select_inputs(params, SCHEMA)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_unknown_parameters_are_refused():
    with pytest.raises(ConfigError, match="bin"):
        model_params({"name": "flow", "bin": 8})
    with pytest.raises(ConfigError, match="transform"):
        model_params({"name": "flow", "transform": "realnvp"})


def _config(data_dir: str, **model: object) -> dict[str, object]:
    return {
        "data": {
            "sources": [{"files": [f"{data_dir}/*.root"]}],
            "label": "is_signal",
            "classes": ["qcd", "top"],
            "inputs": {
                "jet": {"kind": "tabular", "columns": ["jet_mass", "jet_tau21"]},
                "conditions": {"kind": "tabular", "columns": ["jet_pt"]},
            },
        },
        "model": {"name": "flow", **model},
    }


def test_a_config_conditioned_on_an_unknown_input_is_refused():
    with pytest.raises(ConfigError, match=r"model.condition: 'jet_pt' is not an input"):
        parse_run_config(_config("data", condition="jet_pt"))
    config = parse_run_config(_config("data", condition="conditions"))
    assert set(config.model_data().inputs) == {"jet", "conditions"}


def test_train_refuses_an_unknown_condition_before_writing_anything(tmp_path):
    import yaml

    config = tmp_path / "flow.yaml"
    config.write_text(yaml.safe_dump(_config(str(tmp_path / "nowhere"), condition="pt")))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", str(config), "--out", str(out)])
    assert result.exit_code == USER_ERROR_EXIT_CODE, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "model.condition: 'pt' is not an input of the data" in lines[0]
    assert "jet (tabular)" in lines[0]
    assert "conditions (tabular)" in lines[0]
    assert not out.exists()
