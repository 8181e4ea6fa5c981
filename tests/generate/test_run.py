"""Running ``generate``: determinism across workers and dask, files, metadata, weights."""

import awkward as ak
import numpy as np
import pytest
import uproot

from helpers import read_events, read_metadata
from heplearn.generate.plan import BLOCK_EVENTS, blocks_per_process, plan_files
from heplearn.generate.run import generate_sample
from heplearn.generate.samples import GenerateOptions, Process

# Small enough to be quick, split so that there are several files and blocks.
SMALL = {"events": 30, "events_per_file": 20, "pt_min": 500.0, "pt_max": 700.0, "seed": 7}


def _assert_same_events(first, second):
    assert read_metadata(first)["files"] == read_metadata(second)["files"]
    for entry in read_metadata(first)["files"]:
        one = uproot.open(first / entry["name"])["Events"].arrays()
        other = uproot.open(second / entry["name"])["Events"].arrays()
        assert one.fields == other.fields
        for field in one.fields:
            assert ak.all(ak.ravel(one[field]) == ak.ravel(other[field])), field


def test_plan_covers_every_event_once():
    processes = [
        Process("a", 0, (), "mixed"),
        Process("b", 1, (), "mixed"),
        Process("c", 0, (), "own"),
    ]
    files = plan_files(processes, events_per_process=1000, events_per_file=300, seed=1)
    for index in range(3):
        ranges = sorted(
            (block.first_event, block.n_events)
            for output in files
            for block in output.blocks
            if block.process_index == index
        )
        starts = [start for start, _ in ranges]
        assert starts == sorted(set(starts))
        assert sum(count for _, count in ranges) == 1000
        assert all(count <= BLOCK_EVENTS for _, count in ranges)
    for output in files:
        assert sum(block.n_events for block in output.blocks) <= 300
    assert blocks_per_process(files) == {0: 7, 1: 7, 2: 4}
    seeds = [block.seed for output in files for block in output.blocks]
    assert len(set(seeds)) == len(seeds)


def test_same_seed_same_events_with_one_and_two_workers(generated_sample):
    one = generated_sample("top-vs-qcd", workers=1, **SMALL)
    two = generated_sample("top-vs-qcd", workers=2, **SMALL)
    assert len(read_metadata(one)["files"]) == 3
    _assert_same_events(one, two)


def test_another_seed_gives_other_events(generated_sample):
    one = generated_sample("top-vs-qcd", workers=1, **SMALL)
    other = generated_sample("top-vs-qcd", workers=1, **{**SMALL, "seed": 8})
    first = read_events(one)
    second = read_events(other)
    assert not np.array_equal(ak.to_numpy(first.jet_pt), ak.to_numpy(second.jet_pt))


@pytest.mark.slow
def test_dask_cluster_gives_the_same_events(generated_sample, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        generate_sample(
            "top-vs-qcd", GenerateOptions(**SMALL), tmp_path, scheduler=cluster.scheduler_address
        )
    _assert_same_events(generated_sample("top-vs-qcd", workers=1, **SMALL), tmp_path)


def test_metadata_describes_the_sample(generated_sample):
    sample_dir = generated_sample("top-vs-qcd", workers=1, **SMALL)
    metadata = read_metadata(sample_dir)
    assert metadata["sample"] == "top-vs-qcd"
    assert metadata["tree"] == "Events"
    assert metadata["classes"] == ["qcd", "top"]
    assert [process["name"] for process in metadata["processes"]] == ["qcd", "ttbar"]
    for process in metadata["processes"]:
        assert process["accepted"] == SMALL["events"]
        assert process["generated"] >= process["accepted"]
        assert process["cross_section_pb"] > 0
    qcd, ttbar = metadata["processes"]
    assert qcd["cross_section_pb"] > 100 * ttbar["cross_section_pb"]
    assert {"python", "numpy", "pythia8mc", "fastjet", "uproot"} <= metadata["versions"].keys()
    assert len(metadata["seeds"]) == 6
    assert sum(entry["entries"] for entry in metadata["files"]) == 2 * SMALL["events"]
    assert sorted(path.name for path in sample_dir.iterdir()) == sorted(
        [entry["name"] for entry in metadata["files"]] + ["metadata.json"]
    )


def test_files_are_ttrees_not_rntuples(generated_sample):
    sample_dir = generated_sample("top-vs-qcd", workers=1, **SMALL)
    with uproot.open(sample_dir / "top-vs-qcd_0000.root") as file:
        assert file.classname_of("Events") == "TTree"


def test_xs_weights_sum_to_the_fiducial_cross_section(generated_sample):
    sample_dir = generated_sample("top-vs-qcd", workers=1, **SMALL)
    events = read_events(sample_dir)
    for label, process in enumerate(read_metadata(sample_dir)["processes"]):
        weights = ak.to_numpy(events.XSWeight[events.is_signal == label])
        assert np.all(weights > 0)
        fiducial = process["cross_section_pb"] * process["efficiency"]
        assert weights.sum() == pytest.approx(fiducial, rel=0.5)


def test_event_numbers_are_unique_per_process(generated_sample):
    events = read_events(generated_sample("top-vs-qcd", workers=1, **SMALL))
    for label in (0, 1):
        numbers = np.sort(ak.to_numpy(events.event[events.is_signal == label]))
        np.testing.assert_array_equal(numbers, np.arange(SMALL["events"]))


def test_parquet_output(generated_sample):
    sample_dir = generated_sample("top-vs-qcd", workers=1, **{**SMALL, "format": "parquet"})
    metadata = read_metadata(sample_dir)
    assert metadata["tree"] is None
    events = ak.concatenate([ak.from_parquet(sample_dir / e["name"]) for e in metadata["files"]])
    root_events = read_events(generated_sample("top-vs-qcd", workers=1, **SMALL))
    assert ak.all(events.jet_pt == root_events.jet_pt)
    assert ak.all(ak.num(events.part_pt) == root_events.npart)
