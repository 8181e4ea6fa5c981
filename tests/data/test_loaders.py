"""Batches: the in-memory batches and the streaming loader agree on every event."""

import pickle
from glob import glob
from pathlib import Path

import numpy as np
import pytest
import torch
import uproot

import heplearn.data.loaders
from heplearn.config import parse_spec
from heplearn.data.dataset import load_dataset
from heplearn.data.loaders import (
    OpenFiles,
    StreamingDataset,
    _ranges,
    fit_streaming_preprocessing,
    scan_stream,
    streaming_loader,
)
from heplearn.data.spec import DatasetSpec
from heplearn.errors import ConfigError
from heplearn.training.sampling import EpochBatches, EpochSampler


def _spec(directory):
    return parse_spec(
        DatasetSpec,
        {
            "sources": [{"files": [f"{directory}/*.root"]}],
            "label": "is_signal",
            "classes": ["qcd", "top"],
            "inputs": {
                "particles": {
                    "kind": "particles",
                    "columns": ["part_deta", "part_dphi", "log(part_pt)"],
                    "length": 40,
                    "sort_by": "part_pt",
                },
                "ids": {"kind": "tabular", "columns": ["event", "is_signal", "jet_sdmass"]},
            },
            "standardise": {"ids": "none"},
        },
    )


@pytest.fixture(scope="module")
def spec(generated_sample):
    """One file of 300 jets."""
    return _spec(generated_sample("top-vs-qcd", events=150))


@pytest.fixture(scope="module")
def several_files_spec(generated_sample):
    """Three files of 20 jets: several chunks to stream and shard."""
    directory = generated_sample(
        "top-vs-qcd", events=30, events_per_file=20, pt_min=500.0, pt_max=700.0, seed=7
    )
    return _spec(directory)


def _rows(batches):
    """Event identity (event number, label) -> (particles, weight) over all batches."""
    rows = {}
    for batch in batches:
        for i in range(len(batch["label"])):
            key = (int(batch["ids"][i, 0]), int(batch["ids"][i, 1]))
            assert key not in rows, "an event was delivered twice"
            rows[key] = (batch["particles"][i].numpy(), float(batch["weight"][i]))
    return rows


def in_memory_batches(dataset, split, batch_size, seed=0):
    """The batches training takes from an in-memory dataset."""
    arrays = dataset.arrays(split)
    sampler = EpochSampler(len(arrays["label"]), seed=seed)
    return EpochBatches(arrays, batch_size, sampler=sampler)


def test_in_memory_batches(spec):
    dataset = load_dataset(spec, seed=4)
    batches = list(in_memory_batches(dataset, "train", batch_size=64, seed=1))
    first = batches[0]
    assert set(first) == {"particles", "particles_mask", "ids", "label", "weight"}
    assert first["particles"].shape == (64, 40, 3)
    assert first["particles"].dtype == torch.float32
    assert first["particles_mask"].dtype == torch.bool
    assert first["label"].dtype == torch.int64
    assert sum(len(b["label"]) for b in batches) == len(dataset.arrays("train")["label"])
    again = list(in_memory_batches(dataset, "train", batch_size=64, seed=1))
    assert torch.equal(again[0]["ids"], first["ids"])


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("use_several_files", [False, True])
def test_streaming_delivers_the_same_events_as_memory(
    spec, several_files_spec, workers, use_several_files
):
    spec = several_files_spec if use_several_files else spec
    dataset = load_dataset(spec, seed=4)
    expected = _rows(in_memory_batches(dataset, "validation", batch_size=50))
    preprocessing = fit_streaming_preprocessing(spec, seed=4, chunk_entries=70)
    assert preprocessing.class_scales == pytest.approx(dataset.preprocessing.class_scales)
    np.testing.assert_allclose(
        preprocessing.standardisation["particles"]["mean"],
        dataset.preprocessing.standardisation["particles"]["mean"],
        rtol=1e-5,
    )
    stream = StreamingDataset(
        spec,
        preprocessing,
        "validation",
        batch_size=16,
        seed=4,
        chunk_entries=70,
        shuffle_buffer=40,
    )
    delivered = _rows(streaming_loader(stream, num_workers=workers))
    assert delivered.keys() == expected.keys()
    for key, (particles, weight) in expected.items():
        np.testing.assert_allclose(delivered[key][0], particles, rtol=1e-5, atol=1e-6)
        assert delivered[key][1] == pytest.approx(weight, rel=1e-5)


def test_streaming_shards_are_disjoint_and_cover_the_chunks(several_files_spec):
    spec = several_files_spec
    preprocessing = fit_streaming_preprocessing(spec, seed=4, chunk_entries=70)
    shards = [
        StreamingDataset(spec, preprocessing, "train", 16, seed=4, rank=rank, world_size=2)
        for rank in (0, 1)
    ]
    chunks = [set(shard.my_chunks()) for shard in shards]
    assert chunks[0].isdisjoint(chunks[1])
    assert chunks[0] | chunks[1] == set(shards[0].chunks)
    assert len(shards[0].chunks) == 3


def test_chunks_follow_basket_clusters():
    assert _ranges(100, 30, None) == [(0, 30), (30, 60), (60, 90), (90, 100)]
    # clusters of 20 entries: chunks of about 30 become whole clusters of 40
    assert _ranges(100, 30, [0, 20, 40, 60, 80]) == [(0, 40), (40, 80), (80, 100)]
    # a cluster larger than the chunk stays whole
    assert _ranges(100, 30, [0, 90]) == [(0, 90), (90, 100)]


@pytest.mark.parametrize("shuffle_buffer", [0, 1000])
def test_streaming_without_and_with_a_large_shuffle_buffer(spec, shuffle_buffer):
    """Buffer off (file order) or larger than the data: still every event once, as in memory."""
    dataset = load_dataset(spec, seed=4)
    expected = _rows(in_memory_batches(dataset, "train", batch_size=50))
    preprocessing = fit_streaming_preprocessing(spec, seed=4, chunk_entries=70)

    def stream(epoch):
        dataset = StreamingDataset(
            spec,
            preprocessing,
            "train",
            32,
            seed=4,
            chunk_entries=70,
            shuffle_buffer=shuffle_buffer,
        )
        dataset.set_epoch(epoch)
        return list(streaming_loader(dataset))

    batches = stream(0)
    assert all(len(batch["label"]) == 32 for batch in batches[:-1])
    delivered = _rows(batches)
    assert delivered.keys() == expected.keys()
    for key, (particles, weight) in expected.items():
        np.testing.assert_allclose(delivered[key][0], particles, rtol=1e-5, atol=1e-6)
        assert delivered[key][1] == pytest.approx(weight, rel=1e-5)
    order = [key for batch in batches for key in _rows([batch])]
    again = [key for batch in stream(0) for key in _rows([batch])]
    other_epoch = [key for batch in stream(1) for key in _rows([batch])]
    assert order == again
    if shuffle_buffer:
        assert order != other_epoch
    else:  # file order, whatever the epoch
        assert order == other_epoch


def test_streamed_shares_of_global_ranks_are_disjoint_balanced_and_give_equal_steps(
    several_files_spec,
):
    spec = several_files_spec
    scan = scan_stream(spec, seed=4, chunk_entries=70)
    assert scan.split_counts.sum() == len(load_dataset(spec, seed=4).events.label)
    expected = _rows(in_memory_batches(load_dataset(spec, seed=4), "train", batch_size=50))

    def rank(number, epoch, workers=0):
        dataset = StreamingDataset(
            spec, scan.preprocessing, "train", 4, seed=4, chunk_entries=70,
            shuffle_buffer=8, rank=number, world_size=2, split_counts=scan.split_counts,
        )  # fmt: skip
        dataset.set_epoch(epoch)
        return dataset, list(streaming_loader(dataset, workers))

    for epoch in (0, 1):
        (first, batches0), (second, batches1) = rank(0, epoch), rank(1, epoch)
        shares = first.shares()
        assert shares == second.shares()  # every rank computes the same deal
        assert sorted(shares[0] + shares[1]) == [0, 1, 2]  # disjoint, covering the chunks
        assert len(batches0) == len(batches1) == first.steps_per_epoch()
        rows0, rows1 = _rows(batches0), _rows(batches1)
        assert not rows0.keys() & rows1.keys()
        assert rows0.keys() | rows1.keys() <= expected.keys()
        # what the larger share leaves out is less than one chunk's events
        left_out = len(expected) - len(rows0) - len(rows1)
        assert 0 <= left_out < scan.split_counts[:, 0].max()
    # workers of a rank split its chunks; the rank still runs the common number of steps
    with_workers, batches = rank(1, 0, workers=2)
    assert len(batches) == with_workers.steps_per_epoch(2)


def _first_rank_of(spec, chunk_entries, world_size):
    """The training stream of rank 0 of ``world_size``, as a distributed run makes it."""
    scan = scan_stream(spec, seed=4, chunk_entries=chunk_entries)
    return StreamingDataset(
        spec, scan.preprocessing, "train", 4, seed=4, chunk_entries=chunk_entries,
        rank=0, world_size=world_size, split_counts=scan.split_counts,
    )  # fmt: skip


def test_streaming_on_more_ranks_than_chunks_is_refused(several_files_spec):
    with pytest.raises(ConfigError, match=r"train split has events in 3 chunk.*4 ranks") as error:
        _first_rank_of(several_files_spec, chunk_entries=70, world_size=4)
    # each file is one basket cluster: smaller chunks cannot be cut, more files can
    assert "3 chunk(s) of 20 entries" in str(error.value)
    assert "write the data in more files" in str(error.value)
    assert "lower training.streaming.chunk_entries" not in str(error.value)


def test_the_refusal_asks_for_smaller_chunks_where_they_can_be_cut(several_files_spec, tmp_path):
    # the three files' events in one file of three basket clusters, read as one chunk
    (directory,) = {Path(path).parent for path in glob(several_files_spec.sources[0].files[0])}
    with uproot.recreate(tmp_path / "joined.root") as joined:
        for index, path in enumerate(sorted(directory.glob("*.root"))):
            events = uproot.open(path)["Events"].arrays()
            if index == 0:
                joined.mktree("Events", {name: events[name].type for name in events.fields})
            joined["Events"].extend({name: events[name] for name in events.fields})
    with pytest.raises(ConfigError, match=r"1 chunk\(s\) of 60 entries") as error:
        _first_rank_of(_spec(tmp_path), chunk_entries=100, world_size=2)
    assert "lower training.streaming.chunk_entries" in str(error.value)


def test_files_kept_open_between_passes_give_the_same_batches(several_files_spec, monkeypatch):
    spec = several_files_spec
    opened = []
    opening = heplearn.data.loaders.reader_for

    def counted(source):
        opened.append(source.path.name)
        return opening(source)

    monkeypatch.setattr(heplearn.data.loaders, "reader_for", counted)
    files = OpenFiles()
    scan = scan_stream(spec, seed=4, chunk_entries=70, open_files=files)
    assert len(opened) == 3  # the scan opens each file, and they stay open

    def passes(split, open_files):
        dataset = StreamingDataset(
            spec, scan.preprocessing, split, 4, seed=4, chunk_entries=70, shuffle_buffer=8,
            split_counts=scan.split_counts, chunks=scan.chunks, open_files=open_files,
        )  # fmt: skip
        dataset.set_epoch(1)
        return list(streaming_loader(dataset))

    for split in ("train", "validation"):
        kept = passes(split, files)
        assert len(opened) == 3  # no file opened again
        fresh = passes(split, None)
        assert len(opened) == 6  # without open files, every file is
        del opened[3:]
        assert len(kept) == len(fresh)
        for first, second in zip(kept, fresh, strict=True):
            assert first.keys() == second.keys()
            for key in first:
                torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)
    files.close()
    assert not files._idle
    bounded = OpenFiles(most=1)
    scan_stream(spec, seed=4, chunk_entries=70, open_files=bounded)
    assert len(bounded._idle) == 1  # the others were closed
    assert isinstance(pickle.loads(pickle.dumps(files)), OpenFiles)  # (for worker processes)
