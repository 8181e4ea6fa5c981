"""Training: the framework's cost, data loading, inference and memory.

**Speed.** For each model, one process loads the generated ``top-vs-qcd`` sample into
memory and trains twice on the same tensors with the same batch size: with
``heplearn``'s Lightning loop (a callback times the training part of each epoch), and
with a bare PyTorch loop (``AdamW``, forward, backward, step over slices of a random
permutation). The ratio of jets/s is the cost of the framework; the first epoch of each
is a warm-up and is not counted. The data-loading share is the time the training loader
alone takes for an epoch's batches, over the epoch's training time. Inference jets/s
is :class:`heplearn.inference.Scorer` on the test split. Peak resident memory
(``ru_maxrss``) is that of the whole process.
"""

import multiprocessing
import resource
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from benchmarks.report import Section
from benchmarks.samples import sample_size, top_vs_qcd_config, top_vs_qcd_sample

# Copies of the sample each model trains on, so that an epoch has tens of steps (as on a
# real sample) for the fast models, and the per-epoch costs do not dominate their timing.
SPEED_MODELS = {
    "logistic": 20,
    "mlp": 20,
    "cnn": 4,
    "pfn": 4,
    "efn": 8,
    "particlenet-lite": 1,
    "part-small": 1,
}


class TrainTimer(L.Callback):
    """Training time per epoch (validation excluded) and events trained on; on a GPU the
    device is synchronised at the epoch's start and after its last batch."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self._start = self._batch_end = 0.0
        self._events = 0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._start = self._batch_end = _synchronised_clock()
        self._events = 0

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._events += len(batch["label"])

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._batch_end = _synchronised_clock() if trainer.is_last_batch else time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # (after the validation, which does not move the end of the last training batch)
        self.epochs.append({"seconds": self._batch_end - self._start, "events": self._events})


def _synchronised_clock() -> float:
    """``time.perf_counter()`` once the GPU's queued work is done (where there is one)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def _loading_seconds(data: Any, epochs: int) -> float:
    """Least time to draw one epoch of training batches from the loader, and nothing else."""
    loader = data.train_dataloader()
    best = float("inf")
    for _ in range(epochs):
        started = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, time.perf_counter() - started)
    return best


def _bare_loop(config: Any, data: Any, epochs: int) -> float:
    """Jets/s of a plain PyTorch loop over the same training tensors (warm-up epoch excluded)."""
    from heplearn.models.registry import build_model
    from heplearn.models.schema import input_schema
    from heplearn.training.task import Task

    torch.manual_seed(config.seed)
    task = Task.of(data.spec, data.n_classes)
    model = build_model(config.model, input_schema(data.spec), task.n_outputs).train()
    settings = config.training.optimizer
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    arrays = data.arrays("train")
    tensors = {name: torch.from_numpy(values) for name, values in arrays.items()}
    size, batch = len(arrays["label"]), config.training.batch_size
    rates = []
    for _ in range(epochs):
        order = torch.randperm(size)
        started = time.perf_counter()
        for first in range(0, size, batch):
            index = order[first : first + batch]
            batch_tensors = {name: tensor[index] for name, tensor in tensors.items()}
            loss = task.weighted_loss(
                model(batch_tensors), batch_tensors["label"], batch_tensors["weight"]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        rates.append(size / (time.perf_counter() - started))
    return max(rates[1:]) if len(rates) > 1 else rates[0]


class _LinearModule(L.LightningModule):
    """A 4 → 1 linear regression: a step that costs almost nothing, to time Lightning alone."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: dict[str, torch.Tensor], index: int) -> torch.Tensor:
        return torch.nn.functional.mse_loss(self.layer(batch["x"])[:, 0], batch["label"])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters())


class _Batches:
    """Fixed batches, iterated like a loader of known length."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]) -> None:
        self.batches = batches

    def __iter__(self) -> Any:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _lightning_alone(
    steps: int, batch_size: int, epochs: int, queue: multiprocessing.Queue
) -> None:
    """In a fresh process: jets/s of Lightning's loop and of a bare loop for a 4 → 1 model."""
    torch.manual_seed(0)
    inputs, targets = torch.randn(steps * batch_size, 4), torch.randn(steps * batch_size)
    batches = [
        {"x": inputs[first : first + batch_size], "label": targets[first : first + batch_size]}
        for first in range(0, len(targets), batch_size)
    ]
    timer = TrainTimer()
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(_LinearModule(), train_dataloaders=_Batches(batches))
    lightning_rate = max(e["events"] / e["seconds"] for e in timer.epochs[1:] or timer.epochs)
    model = _LinearModule()
    optimizer = torch.optim.AdamW(model.parameters())
    rates = []
    for _ in range(epochs):
        started = time.perf_counter()
        for batch in batches:
            loss = model.training_step(batch, 0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        rates.append(len(targets) / (time.perf_counter() - started))
    queue.put((len(targets), lightning_rate, max(rates[1:] or rates)))


def _speed_of(model: str, folder: str, epochs: int, out: str, queue: multiprocessing.Queue) -> None:
    """In a fresh process: Lightning and bare-loop training, inference, peak memory."""
    from heplearn.inference import Scorer, ScoringOptions
    from heplearn.training.data_module import RunDataModule
    from heplearn.training.fit import train

    config = top_vs_qcd_config(
        model, Path(folder), [f"training.epochs={epochs}"], copies=SPEED_MODELS[model]
    )
    timer = TrainTimer()
    run = train(config, Path(out) / model, overwrite=True, callbacks=[timer])
    counted = timer.epochs[1:] or timer.epochs
    lightning_rate = max(e["events"] / e["seconds"] for e in counted)
    data = RunDataModule(config)
    data.prepare()
    bare_rate = _bare_loop(config, data, epochs)
    training_jets = len(data.arrays("train")["label"])
    loading = _loading_seconds(data, epochs) / (training_jets / lightning_rate)
    test = data.arrays("test")
    scorer = Scorer(run, ScoringOptions(batch_size=512))
    scorer.scores(test)  # warm-up
    started = time.perf_counter()
    scorer.scores(test)
    inference_rate = len(test["label"]) / (time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    step_cost = config.training.batch_size * (1 / lightning_rate - 1 / bare_rate)
    queue.put((training_jets, lightning_rate, bare_rate, step_cost, loading, inference_rate, peak))


def _speed_section(folder: Path, quick: bool, out: Path) -> Section:
    epochs = 2 if quick else 4  # the first is a warm-up
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    floor_batch = 256
    process = context.Process(target=_lightning_alone, args=(200, floor_batch, epochs, queue))
    process.start()
    floor_events, lightning_rate, bare_rate = queue.get()
    process.join()
    rows = [
        [
            "*Lightning alone* (4 → 1 linear)",
            f"{floor_events:,} random",
            f"{lightning_rate:,.0f}",
            f"{bare_rate:,.0f}",
            f"{lightning_rate / bare_rate:.2f}",
            f"{1e3 * floor_batch * (1 / lightning_rate - 1 / bare_rate):+.2f} ms",
            "—",
            "—",
            "—",
        ]
    ]
    for model in SPEED_MODELS:
        queue = context.Queue()
        process = context.Process(
            target=_speed_of, args=(model, str(folder), epochs, str(out), queue)
        )
        process.start()
        training_jets, lightning_rate, bare_rate, step_cost, loading, inference_rate, peak = (
            queue.get()
        )
        process.join()
        rows.append(
            [
                model,
                f"{SPEED_MODELS[model]} × → {training_jets:,}",
                f"{lightning_rate:,.0f}",
                f"{bare_rate:,.0f}",
                f"{lightning_rate / bare_rate:.2f}",
                f"{1e3 * step_cost:+.2f} ms",
                f"{100 * loading:.1f} %",
                f"{inference_rate:,.0f}",
                f"{peak:,.0f} MiB",
            ]
        )
    return Section(
        "Training speed: Lightning loop vs a bare PyTorch loop, inference, memory",
        "Training jets/s on the CPU with the config of each model (its batch size), on the "
        f"training split of a generated top-vs-qcd sample ({sample_size(folder)}), read "
        "several times (*copies*, giving the training jets shown) so that an epoch of the "
        "fast models has tens of steps, as on a real sample, rather than the handful whose "
        "per-epoch costs (data-loader start, hooks) would dominate; best epoch after a "
        "warm-up epoch. *ratio* = heplearn / bare loop (target ≥ 0.9). *cost per step* is "
        "the extra time per training step, from the two speeds: Lightning's loop (hooks, "
        "progress tracking, the schedule) costs a fixed fraction of a millisecond per step, "
        "which shows only for models whose step takes about a millisecond; on this noisy "
        "machine a few percent either way is noise. The first row times Lightning's loop "
        "by itself: a 4 → 1 linear model on random batches of 256, without callbacks, "
        "logging or validation, against the same bare loop; no framework built on "
        "Lightning costs less per step. *data loading* is "
        "the time the training loader takes to deliver an epoch's batches on its own (best "
        "of as many epochs), as a share of the epoch's training time (target < 10 %). "
        "Inference uses batches of 512. Peak RSS is that of the process (data, both "
        "trainings and inference).",
        [
            "model",
            "copies → training jets",
            "heplearn jets/s",
            "bare loop jets/s",
            "ratio",
            "cost per step",
            "data loading",
            "inference jets/s",
            "peak RSS",
        ],
        rows,
    )


def run(quick: bool = False) -> list[Section]:
    """Speed and memory of every model on a generated top-vs-qcd sample."""
    out = Path("runs/bench")
    return [_speed_section(top_vs_qcd_sample(300 if quick else 1000), quick, out)]
