"""The warnings next to a run's numbers: overtraining, few events, no convergence."""

import numpy as np

from heplearn.evaluation.run_warnings import (
    convergence_warnings,
    few_events_warnings,
    overtraining_warnings,
    run_warnings,
)


def _binary(p_values=(0.5, 0.4), train_auc=0.93, auc=0.92, events=(250, 40, 9)):
    efficiencies = ("0.3", "0.5", "0.8")
    return {
        "task": "binary",
        "auc": auc,
        "auc_uncertainty": 0.004,
        "rejection": dict.fromkeys(efficiencies, 50.0),
        "rejection_limit": dict.fromkeys(efficiencies, 31.2),
        "background_passing": {
            e: {"events": n, "weighted": float(n), "effective": float(n)}
            for e, n in zip(efficiencies, events, strict=True)
        },
        "ks": {
            name: {"statistic": 0.1, "p_value": p}
            for name, p in zip(("qcd", "top"), p_values, strict=True)
        },
        "train": {"auc": train_auc},
    }


def test_a_healthy_run_gets_no_warning() -> None:
    history = [{"val_loss": v, "val_auc": a} for v, a in [(0.5, 0.9), (0.4, 0.92), (0.41, 0.91)]]
    assert run_warnings(_binary(events=(250, 400, 900)), history) == []


def test_a_small_ks_p_value_and_a_train_auc_far_above_test_flag_overtraining() -> None:
    (ks,) = overtraining_warnings(_binary(p_values=(0.5, 0.003)))
    assert ks.startswith("overtraining:") and "top" in ks and "p = 0.003 < 0.01" in ks
    (gap,) = overtraining_warnings(_binary(train_auc=0.997, auc=0.948))
    assert "train AUC 0.997" in gap and "test AUC 0.948" in gap
    # within max(0.01, three uncertainties) is not far
    assert overtraining_warnings(_binary(train_auc=0.929, auc=0.92)) == []
    multiclass = {"ks": {"top": {"qcd": {"p_value": 1e-4}, "top": {"p_value": 0.2}}}}
    (nested,) = overtraining_warnings(multiclass)
    assert "top / qcd" in nested


def test_a_working_point_on_fewer_than_ten_background_events_is_flagged() -> None:
    (warning,) = few_events_warnings(_binary(events=(1, 10, 300)))
    assert warning.startswith("few events: 1/ε_B at ε_S = 0.3 rests on 1 background event ")
    assert "> 31 (95 % CL lower limit" in warning
    nested = {"one_vs_rest": {"W": _binary(events=(0, 0, 12))}}
    assert [w.split(" rests")[0] for w in few_events_warnings(nested)] == [
        "few events: 1/ε_B at ε_S = 0.3 (one_vs_rest / W)",
        "few events: 1/ε_B at ε_S = 0.5 (one_vs_rest / W)",
    ]


def test_training_that_stopped_while_validation_improved_is_flagged() -> None:
    rising = [{"val_loss": 0.6 - 0.05 * i, "val_auc": 0.8 + 0.01 * i} for i in range(6)]
    (warning,) = convergence_warnings(rising)
    assert "epoch 6" in warning and "loss still falling and AUC still rising" in warning
    stopped = [*rising, {"val_loss": 0.5, "val_auc": 0.84}]
    assert convergence_warnings(stopped) == []
    assert convergence_warnings([{"val_loss": 0.3}]) == []  # a bdt's single row
    auc_only = [{"val_loss": v, "val_auc": a} for v, a in [(0.5, 0.8), (0.4, 0.85), (0.45, 0.9)]]
    assert "AUC still rising" in convergence_warnings(auc_only)[0]
    assert convergence_warnings([{"val_loss": np.nan}, {"val_loss": np.nan}]) == []
