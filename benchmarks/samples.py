"""The generated samples and configs the benchmarks share, made once per size."""

import json
from pathlib import Path
from typing import Any

from heplearn.generate.run import METADATA_NAME, generate_sample
from heplearn.generate.samples import GenerateOptions

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "top-vs-qcd"
SAMPLE = Path("data/bench/top-vs-qcd")
WORKERS = 2


def top_vs_qcd_sample(events: int) -> Path:
    """The benchmark's top-vs-qcd sample, generated once per size with :data:`WORKERS`."""
    folder = SAMPLE.with_name(f"top-vs-qcd-{events}")
    if not (folder / METADATA_NAME).is_file():
        generate_sample(
            "top-vs-qcd", GenerateOptions(events=events), folder, workers=WORKERS, overwrite=True
        )
    return folder


def generation_cost(folder: Path) -> str:
    """``generated once in 2,100 s (2 workers, 2026-12-06 02:00 UTC), cached in ...``.

    From the sample's ``metadata.json``, which records the generation's wall time.
    """
    metadata = json.loads((folder / METADATA_NAME).read_text())
    created = metadata["created"][:16].replace("T", " ")
    return (
        f"generated once in {metadata['seconds']:,.0f} s ({WORKERS} workers, {created} UTC), "
        f"cached in `{folder}`"
    )


def top_vs_qcd_config(model: str, folder: Path, extra: list[str], copies: int = 1) -> Any:
    """The run config of ``configs/top-vs-qcd/<model>.yaml`` on ``folder``, with overrides.

    With ``copies`` > 1 the sample is read that many times (one source per copy), so an
    epoch has as many steps as on a sample that much larger: for speed measurements.
    """
    from heplearn.training.config import load_run_config

    source = f"{{files: ['{folder}/*.root'], tree: Events}}"
    files = f"data.sources=[{', '.join([source] * copies)}]"
    return load_run_config(
        CONFIGS / f"{model}.yaml", [files, "training.progress_bar=false", *extra]
    )


def sample_size(folder: Path) -> str:
    """How large a generated sample is, for the benchmark tables."""
    metadata = json.loads((folder / METADATA_NAME).read_text())
    per_class = metadata["options"]["events"]
    return f"{per_class} jets per class, split 60/20/20"
