"""The batch contract: mask keys, assembly and the dtypes fed to ONNX Runtime."""

import numpy as np

from heplearn.data.batch import LABEL, WEIGHT, batch_arrays, contiguous, is_mask_key, mask_key
from heplearn.models.schema import InputInfo, batch_keys


def test_mask_keys() -> None:
    assert mask_key("part") == "part_mask"
    assert is_mask_key(mask_key("part"))
    assert not is_mask_key("part")


def test_a_batch_holds_inputs_masks_label_and_weight_without_copies() -> None:
    particles = np.zeros((4, 3, 2), np.float32)
    mask = np.ones((4, 3), bool)
    jet = np.ones((4, 5), np.float32)
    label, weight = np.arange(4), np.full(4, 0.5, np.float32)
    batch = batch_arrays({"part": particles, "jet": jet}, {"part": mask}, label, weight)
    assert list(batch) == ["part", "jet", "part_mask", LABEL, WEIGHT]
    assert batch["part"] is particles and batch["part_mask"] is mask
    assert batch[LABEL] is label and batch[WEIGHT] is weight


def test_a_scoring_batch_has_no_label_or_weight() -> None:
    batch = batch_arrays({"jet": np.ones((2, 1))}, {})
    assert list(batch) == ["jet"]


def test_contiguous_gives_float32_inputs_and_bool_masks_in_the_order_asked() -> None:
    values = np.arange(12.0).reshape(3, 4)[:, ::2]  # float64, not contiguous
    batch = {"part": values, "part_mask": np.array([[1, 0], [1, 1], [0, 0]])}
    fed = contiguous(batch, ["part_mask", "part"])
    assert list(fed) == ["part_mask", "part"]
    assert fed["part"].dtype == np.float32 and fed["part"].flags.c_contiguous
    assert fed["part_mask"].dtype == np.bool_
    np.testing.assert_array_equal(fed["part"], values)
    np.testing.assert_array_equal(fed["part_mask"], batch["part_mask"].astype(bool))


def test_the_model_reads_each_mask_after_its_particles() -> None:
    schema = {
        "jet": InputInfo("jet", "tabular", ("mass",), (1,)),
        "part": InputInfo("part", "particles", ("pt", "eta"), (10, 2)),
        "image": InputInfo("image", "image", ("image",), (1, 8, 8)),
    }
    assert batch_keys(schema) == ["jet", "part", "part_mask", "image"]
