"""Run every benchmark and write docs/benchmarks.md: ``python -m benchmarks [--quick]``."""

import argparse
from pathlib import Path

from benchmarks import (
    bench_anomaly,
    bench_distributed,
    bench_export,
    bench_generate,
    bench_generative,
    bench_gpu,
    bench_images,
    bench_loading,
    bench_physics,
    bench_predict,
    bench_shuffle,
    bench_training,
)
from benchmarks.report import write_report

MODULES = (
    bench_generate,
    bench_images,
    bench_loading,
    bench_shuffle,
    bench_training,
    bench_physics,
    bench_export,
    bench_predict,
    bench_distributed,
    bench_gpu,
    bench_anomaly,
    bench_generative,
)


def main() -> None:
    """Run the benchmark modules in order and write their report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the code runs")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="MODULE",
        help="run only these modules (e.g. training export); the other sections of --out "
        "are kept, with the date they were measured",
    )
    arguments = parser.parse_args()
    chosen = [
        m for m in MODULES if not arguments.only or m.__name__.split("_", 1)[1] in arguments.only
    ]
    sections, skipped = [], False
    for module in chosen:
        measured = module.run(quick=arguments.quick)
        sections.extend(measured)
        skipped = skipped or not measured  # (bench_gpu where no GPU is)
    # a module that measures nothing on this machine leaves its last section in place
    write_report(sections, arguments.out, keep_others=bool(arguments.only) or skipped)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
