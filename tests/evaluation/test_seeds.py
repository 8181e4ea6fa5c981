"""train --seeds: several trainings on one split, mean ± spread of AUC and 1/ε_B."""

import json
import math

import numpy as np
import pytest
import yaml

from helpers import run_config, run_heplearn
from heplearn.evaluation.evaluate import write_metrics
from heplearn.evaluation.limits import lower_limit_number
from heplearn.evaluation.metrics import auc, roc_curve
from heplearn.evaluation.report import format_number
from heplearn.evaluation.run_data import run_predictions
from heplearn.evaluation.seeds import binary_metrics, rejection_text, summarise_seeds
from heplearn.run_directory import RunDirectory


@pytest.fixture(scope="module")
def top(generated_sample):
    return generated_sample("top-vs-qcd", events=300, workers=2)


def test_train_with_seeds_reports_mean_and_spread_over_trainings_on_one_split(top, tmp_path):
    config = run_config(top, {"name": "mlp", "inputs": ["jet"], "widths": [16]}, epochs=2)
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "seeds"
    result = run_heplearn("train", str(path), "--out", str(out), "--seeds", "3")
    assert result.returncode == 0, result.stderr
    assert "(mean ± standard deviation over seeds)" in result.stdout
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [3, 4, 5]  # from the config's seed
    runs = [RunDirectory(out / f"seed_{seed}") for seed in summary["seeds"]]
    assert [run.config().training.seed for run in runs] == [3, 4, 5]
    tests = [run_predictions(run, splits=("test",))["test"] for run in runs]
    for test in tests[1:]:  # the same test events, scored differently
        np.testing.assert_array_equal(test.labels, tests[0].labels)
        np.testing.assert_array_equal(test.weights, tests[0].weights)
        assert not np.allclose(test.scores, tests[0].scores)
    aucs = [entry["auc"] for entry in summary["runs"]]
    for test, value in zip(tests, aucs, strict=True):
        assert value == pytest.approx(auc(roc_curve(test.scores, test.labels == 1, test.weights)))
    assert len(set(aucs)) == 3
    assert summary["auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert summary["auc"]["std"] == pytest.approx(np.std(aucs, ddof=1))
    assert set(summary["runs"][0]["background_passing"]) == {"0.3", "0.5", "0.8"}
    for efficiency, entry in summary["rejection"].items():
        runs_at = [
            (
                run["rejection"][efficiency],
                run["rejection_limit"][efficiency],
                run["background_passing"][efficiency]["events"],
            )
            for run in summary["runs"]
        ]
        assert entry["background_events"] == [events for _, _, events in runs_at]
        assert entry["limit"] == pytest.approx(min(limit for _, limit, _ in runs_at))
        if min(entry["background_events"]) >= 10:
            assert entry["mean"] == pytest.approx(np.mean([r for r, _, _ in runs_at]))
        else:  # a limit (the mean is null), printed as such
            assert entry["mean"] is None and entry["std"] is None
            assert f"> {lower_limit_number(entry['limit'])} (95 % CL lower limit" in result.stdout
    assert all(run["training_seconds"] > 0 for run in summary["runs"])
    assert summary["runs"][0]["test_events"]["background"] == int((tests[0].labels == 0).sum())

    refused = run_heplearn("train", str(path), "--out", str(tmp_path / "one"), "--seeds", "1")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: --seeds 1: a spread needs at least 2 trainings"


def _seed(seed: int, scores: np.ndarray, is_signal: np.ndarray) -> dict:
    return {"seed": seed, **binary_metrics(scores, is_signal, None)}


@pytest.fixture
def scored_events() -> tuple[np.ndarray, np.ndarray]:
    """1,000 signal and 4,000 background test events, with scores of a middling tagger."""
    rng = np.random.default_rng(7)
    is_signal = np.repeat([True, False], [1000, 4000])
    return rng.normal(is_signal * 2.0, 1.0), is_signal


def test_a_rejection_measured_on_enough_background_for_every_seed_is_mean_and_spread(
    scored_events,
) -> None:
    scores, is_signal = scored_events
    noise = np.random.default_rng(8).normal(0.0, 0.3, scores.size)
    per_seed = [_seed(1, scores, is_signal), _seed(2, scores + noise, is_signal)]
    summary = summarise_seeds(per_seed)
    aucs = [entry["auc"] for entry in per_seed]
    assert summary["auc"] == {
        "mean": pytest.approx(np.mean(aucs)),
        "std": pytest.approx(np.std(aucs, ddof=1)),
    }
    entry = summary["rejection"]["0.3"]
    events = [seed["background_passing"]["0.3"]["events"] for seed in per_seed]
    assert min(events) >= 10 and entry["background_events"] == events
    rejections = [seed["rejection"]["0.3"] for seed in per_seed]
    assert entry["mean"] == pytest.approx(np.mean(rejections))
    assert entry["std"] == pytest.approx(np.std(rejections, ddof=1))
    assert rejection_text(entry) == format_number(entry["mean"], entry["std"])


def test_a_seed_with_no_background_passing_turns_the_rejection_into_the_smallest_limit(
    scored_events, tmp_path
) -> None:
    scores, is_signal = scored_events
    # the second seed separates the 30 % most signal-like signal events from all background
    sharper = scores.copy()
    top = np.argsort(-np.where(is_signal, scores, -np.inf))[:400]
    sharper[top] += 100.0
    per_seed = [_seed(1, scores, is_signal), _seed(2, sharper, is_signal)]
    assert per_seed[1]["background_passing"]["0.3"]["events"] == 0
    assert per_seed[1]["rejection"]["0.3"] == math.inf
    summary = summarise_seeds(per_seed)
    entry = summary["rejection"]["0.3"]
    assert entry["mean"] is None and entry["std"] is None  # not ∞, not a mean over seeds
    first, second = (seed["rejection_limit"]["0.3"] for seed in per_seed)
    assert entry["limit"] == min(first, second) == first  # the weaker seed's limit
    assert entry["background_events"] == [per_seed[0]["background_passing"]["0.3"]["events"], 0]
    assert rejection_text(entry) == (
        f"> {math.floor(first):,} (95 % CL lower limit, the smallest over seeds; "
        f"background events passing per seed: {entry['background_events'][0]}, 0)"
    )
    # the file holds null for the mean, the limit and the counts
    path = write_metrics(summary, tmp_path / "seeds.json")
    written = json.loads(path.read_text())["rejection"]["0.3"]
    assert written == {
        "mean": None,
        "std": None,
        "limit": pytest.approx(first),
        "background_events": entry["background_events"],
    }


def test_identical_seeds_with_no_background_passing_claim_no_more_than_one_test_sample(
    scored_events,
) -> None:
    """The same events scored twice: two seeds carry the information of one test sample."""
    scores, is_signal = scored_events
    perfect = np.where(is_signal, 10.0 + scores, scores)
    one = _seed(1, perfect, is_signal)
    assert one["background_passing"]["0.3"]["events"] == 0
    entry = summarise_seeds([one, {**one, "seed": 2}])["rejection"]["0.3"]
    assert entry["mean"] is None
    assert entry["limit"] == one["rejection_limit"]["0.3"]
    # 4,000 background events, none passing: 1 / (1 - 0.05^(1/4000)) ≈ 4000 / 3
    assert entry["limit"] == pytest.approx(1 / (1 - 0.05 ** (1 / 4000)))


def test_nine_background_events_are_a_limit_and_ten_a_measurement() -> None:
    def seed(number: int, events: int) -> dict:
        return {
            "seed": number,
            "auc": 0.9,
            "rejection": {"0.5": 400.0 / events},
            "rejection_limit": {"0.5": 200.0 / events},
            "background_passing": {"0.5": {"events": events}},
        }

    assert summarise_seeds([seed(1, 10), seed(2, 12)])["rejection"]["0.5"]["mean"] == (
        pytest.approx((40.0 + 400 / 12) / 2)
    )
    limited = summarise_seeds([seed(1, 9), seed(2, 12)])["rejection"]["0.5"]
    assert limited["mean"] is None
    assert limited["limit"] == pytest.approx(200.0 / 12)
    one = summarise_seeds([seed(1, 12)])  # one seed: the value, no spread
    assert one["rejection"]["0.5"]["mean"] == pytest.approx(400 / 12)
    assert math.isnan(one["rejection"]["0.5"]["std"]) and math.isnan(one["auc"]["std"])
