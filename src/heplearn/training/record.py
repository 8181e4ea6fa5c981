"""``run.json`` and ``preprocessing.json``: written once the data of a run are known."""

import time

from heplearn.models.schema import input_schema
from heplearn.run_directory import PREPROCESSING, RunDirectory
from heplearn.training.config import RunConfig
from heplearn.training.data_module import RunDataModule
from heplearn.training.task import Task
from heplearn.versions import package_versions


def record_run(run: RunDirectory, config: RunConfig, data: RunDataModule, task: Task) -> None:
    """Write ``run.json`` and ``preprocessing.json`` once the data are known."""
    assert data.preprocessing is not None
    data.preprocessing.save(run.path / PREPROCESSING)
    run.write_info(
        {
            "status": "running",
            "model": config.model.name,
            "task": task.to_dict(),
            "class_names": config.data.classes,
            "inputs": [info.to_dict() for info in input_schema(data.spec).values()],
            "versions": package_versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
