"""Every family that declares itself padding-invariant gives the same outputs trimmed or padded.

Scoring groups jets of similar length and cuts each batch after its longest jet
(:mod:`heplearn.inference.buckets`), and training batches are cut the same way, only for
the families registered with ``padding_invariant=True``: this test holds them to it.
"""

import pytest
import torch

from heplearn.inference.buckets import filled_lengths
from heplearn.models.registry import MODELS

# a small configuration of every padding-invariant family, with the inputs it reads
SECTIONS: dict[str, dict[str, object]] = {
    "deepsets": {"inputs": ["particles", "jet"]},
    "pfn": {"inputs": ["particles", "jet"]},
    "efn": {"inputs": ["particles", "jet"]},
    "particlenet": {"inputs": ["particles", "jet"], "k": 4, "convs": [[8, 8], [16]], "fc": [16]},
    "particlenet-lite": {"inputs": ["particles"]},
    "part": {"inputs": ["particles", "jet"], "embed": [16], "heads": 2, "particle_blocks": 1},
    "part-small": {"vectors": "vectors"},
    "lorentznet": {"inputs": ["vectors", "jet"], "hidden": 8, "blocks": 2},
    "lgatr": {"inputs": ["vectors"], "blocks": 1, "multivectors": 4, "hidden_scalars": 8},
}
INVARIANT = [name for name, family in MODELS.items() if family.padding_invariant]


def test_the_padding_invariant_families() -> None:
    assert sorted(INVARIANT) == sorted(SECTIONS)


def trimmed(batch, zoo):
    """The batch cut after its longest jet."""
    names = zoo.particle_inputs(batch)
    longest = max(int(filled_lengths(batch[f"{name}_mask"].numpy()).max()) for name in names)
    out = dict(batch)
    for name in names:
        out[name] = batch[name][:, :longest]
        out[f"{name}_mask"] = batch[f"{name}_mask"][:, :longest]
    return out


@pytest.mark.parametrize("name", INVARIANT)
def test_outputs_do_not_change_when_the_padding_is_trimmed_or_grown(zoo, name: str) -> None:
    if name == "lgatr":
        pytest.importorskip("lgatr")
    schema = zoo.schema(particles=30, tabular=2, vectors=True)
    section = {"name": name, **SECTIONS[name]}
    if "dropout" in MODELS[name].params.model_fields:
        section["dropout"] = 0.0  # (training mode is compared too)
    model = zoo.build(section, schema, 2)
    short = zoo.batch(zoo.schema(particles=18, tabular=2, vectors=True), size=12)
    padded = zoo.with_more_padding(short, 12)  # 30 slots, the last 12 or more padded
    cut = trimmed(padded, zoo)
    assert cut["particles"].shape[1] <= 18 < padded["particles"].shape[1]
    reference = zoo.outputs(model, padded)
    for batch in (cut, zoo.with_more_padding(padded, 5)):
        torch.testing.assert_close(zoo.outputs(model, batch), reference, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        model.train()  # batch-norm statistics of real entries only
        torch.testing.assert_close(model(cut), model(padded), atol=1e-5, rtol=1e-5)
