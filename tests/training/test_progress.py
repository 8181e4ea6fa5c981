"""The progress bar counts epochs as people do: 1 to N."""

from types import SimpleNamespace

from heplearn.training.progress import EpochProgressBar


def test_epochs_count_from_one_to_n():
    bar = EpochProgressBar()
    bar._trainer = SimpleNamespace(max_epochs=30)
    assert bar._get_train_description(0).strip() == "Epoch 1/30"
    assert bar._get_train_description(29).strip() == "Epoch 30/30"
