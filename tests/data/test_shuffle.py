"""The on-disk shuffle: every entry once, shuffled, deterministic, TTrees out, clean errors."""

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from heplearn.data import shuffle
from heplearn.data.shuffle import ShuffleReport, parse_memory, shuffle_files
from heplearn.errors import ConfigError, InputError, OutputError
from heplearn.io import TreeWriter, write_events

FILES = 3
ENTRIES = 2000
# About 0.9 MB of events in memory: small enough budgets force several buckets.
SMALL_MEMORY = 600_000
BRANCHES = ["event", "x", "npart", "part_pt", "part_eta"]


def _columns(first_id: int, entries: int, seed: int, mean_particles: float = 8.0) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(mean_particles, entries)
    total = int(counts.sum())
    return {
        "event": np.arange(first_id, first_id + entries, dtype=np.int64),
        "x": rng.normal(size=entries).astype(np.float32),
        "part_pt": ak.unflatten(rng.exponential(10.0, total).astype(np.float32), counts),
        "part_eta": ak.unflatten(rng.normal(0.0, 2.0, total), counts),
    }


def _write(path: Path, columns: dict, tree: str = "Events") -> Path:
    write_events(columns, path, "root", tree)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three files of 2000 events each; event ids are unique across files."""
    directory = tmp_path_factory.mktemp("shuffle-inputs")
    return [
        _write(directory / f"input_{index}.root", _columns(index * ENTRIES, ENTRIES, index))
        for index in range(FILES)
    ]


def _read(paths: list[Path], tree: str = "Events") -> ak.Array:
    return uproot.concatenate([f"{path}:{tree}" for path in paths], library="ak")


@pytest.fixture(scope="module")
def shuffled(
    inputs: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[ShuffleReport, ak.Array]:
    out_dir = tmp_path_factory.mktemp("shuffled") / "out"
    report = shuffle_files(inputs, out_dir, max_memory=SMALL_MEMORY, seed=7)
    return report, _read(report.output_files)


def test_parse_memory_units() -> None:
    assert parse_memory("1GB") == 10**9
    assert parse_memory("512MB") == 512 * 10**6
    assert parse_memory("1.5GiB") == int(1.5 * 2**30)
    assert parse_memory("200M") == 200 * 2**20
    assert parse_memory("64 kib") == 64 * 1024
    assert parse_memory("4096") == 4096


@pytest.mark.parametrize("text", ["", "lots", "1XB", "-1GB", "0MB", "1.2.3G", "GB"])
def test_parse_memory_rejects_nonsense(text: str) -> None:
    with pytest.raises(ConfigError, match="memory size"):
        parse_memory(text)


def test_every_entry_appears_exactly_once(
    inputs: list[Path], shuffled: tuple[ShuffleReport, ak.Array]
) -> None:
    report, output = shuffled
    original = _read(inputs)
    assert report.entries == len(output) == FILES * ENTRIES
    ids = ak.to_numpy(output["event"])
    np.testing.assert_array_equal(np.sort(ids), np.arange(FILES * ENTRIES))
    # Per id, every branch (scalars, counters and jagged contents) is unchanged.
    by_id = output[np.argsort(ids)]
    for branch in BRANCHES:
        assert ak.array_equal(by_id[branch], original[branch]), branch


def test_several_buckets_within_the_memory_budget(
    shuffled: tuple[ShuffleReport, ak.Array],
) -> None:
    report, _ = shuffled
    assert report.buckets > 1
    assert report.resplit_buckets == 0
    assert 0 < report.largest_bucket_bytes <= SMALL_MEMORY * shuffle.BUCKET_FRACTION
    # The first chunk is sized from ROOT's metadata, later ones from the measured size.
    assert report.largest_chunk_bytes <= 1.5 * SMALL_MEMORY * shuffle.CHUNK_FRACTION
    assert report.chunk_entries < ENTRIES


def test_outputs_are_ttrees_with_the_input_branches(
    inputs: list[Path], shuffled: tuple[ShuffleReport, ak.Array]
) -> None:
    report, _ = shuffled
    assert [path.name for path in report.output_files] == [
        f"shuffled_{index:04d}.root" for index in range(FILES)
    ]
    # Only the outputs are left: no buckets, no temporary names.
    assert sorted(report.output_files[0].parent.iterdir()) == report.output_files
    with uproot.open(inputs[0]) as source:
        expected = {b.name: (b.typename, str(b.interpretation)) for b in source["Events"].branches}
    for path in report.output_files:
        with uproot.open(path) as file:
            assert file.classname_of("Events") == "TTree"
            tree = file["Events"]
            assert tree.num_entries == ENTRIES
            found = {b.name: (b.typename, str(b.interpretation)) for b in tree.branches}
            assert found == expected
            assert tree["part_pt"].count_branch.name == "npart"
            assert tree["part_eta"].count_branch.name == "npart"


def test_order_is_shuffled_and_files_interleaved(
    shuffled: tuple[ShuffleReport, ak.Array],
) -> None:
    report, output = shuffled
    ids = ak.to_numpy(output["event"])
    # In the input, every entry is followed by id + 1; in a random order almost never.
    kept_successor = np.mean(np.diff(ids) == 1)
    assert kept_successor < 0.01
    for path in report.output_files:
        source = ak.to_numpy(_read([path])["event"]) // ENTRIES
        counts = np.bincount(source, minlength=FILES)
        assert np.all(counts > 0.2 * ENTRIES), counts
        # Neighbours come from different files about 2/3 of the time.
        assert np.mean(np.diff(source) != 0) > 0.5


def test_same_seed_same_output_other_seed_other_order(
    inputs: list[Path], shuffled: tuple[ShuffleReport, ak.Array], tmp_path: Path
) -> None:
    _, output = shuffled
    again = shuffle_files(inputs, tmp_path / "again", max_memory=SMALL_MEMORY, seed=7)
    assert ak.array_equal(_read(again.output_files), output)
    other = shuffle_files(inputs, tmp_path / "other", max_memory=SMALL_MEMORY, seed=8)
    other_ids = ak.to_numpy(_read(other.output_files)["event"])
    assert np.mean(other_ids == ak.to_numpy(output["event"])) < 0.01


def test_entries_per_file_and_a_single_bucket(inputs: list[Path], tmp_path: Path) -> None:
    report = shuffle_files(
        inputs, tmp_path / "out", max_memory=parse_memory("1GB"), entries_per_file=2500
    )
    assert report.buckets == 1
    sizes = [uproot.open(path)["Events"].num_entries for path in report.output_files]
    assert sizes == [2500, 2500, 1000]
    ids = ak.to_numpy(_read(report.output_files)["event"])
    np.testing.assert_array_equal(np.sort(ids), np.arange(FILES * ENTRIES))
    assert np.mean(np.diff(ids) == 1) < 0.01


def test_oversized_buckets_are_split_again(tmp_path: Path) -> None:
    """Events far larger than the first chunk's suggest: buckets overflow and are re-split."""
    small = _write(tmp_path / "small.root", _columns(0, 3000, 1, mean_particles=0.5))
    large = _write(tmp_path / "large.root", _columns(3000, 3000, 2, mean_particles=60.0))
    report = shuffle_files([small, large], tmp_path / "out", max_memory=SMALL_MEMORY)
    assert report.resplit_buckets > 0
    assert report.largest_bucket_bytes <= SMALL_MEMORY * shuffle.BUCKET_FRACTION
    # Chunks of the large file are sized from its own metadata, not from the small file.
    assert report.largest_chunk_bytes <= 1.5 * SMALL_MEMORY * shuffle.CHUNK_FRACTION
    output = _read(report.output_files)
    ids = ak.to_numpy(output["event"])
    np.testing.assert_array_equal(np.sort(ids), np.arange(6000))
    original = _read([small, large])
    assert ak.array_equal(output[np.argsort(ids)]["part_eta"], original["part_eta"])


def test_fixed_size_bool_unsigned_and_own_counter_branches(tmp_path: Path) -> None:
    entries = 500
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, entries)
    data = {
        "id": np.arange(entries, dtype=np.uint32),
        "flag": rng.random(entries) > 0.5,
        "vec": rng.normal(size=(entries, 3)).astype(np.float32),
        "nhit": counts.astype(np.uint16),
        "hit": ak.unflatten(rng.integers(0, 100, int(counts.sum())).astype(np.int16), counts),
    }
    types = {name: values.dtype for name, values in data.items() if name != "hit"}
    types["vec"] = np.dtype((np.float32, (3,)))
    types["hit"] = data["hit"].type
    path = tmp_path / "odd.root"
    with uproot.recreate(path) as file:
        tree = file.mktree("T", types, counter_name=lambda name: "nhit")
        tree.extend({name: values for name, values in data.items() if name != "nhit"})
    report = shuffle_files([path], tmp_path / "out", max_memory=20_000, seed=1)
    assert report.buckets > 1
    with uproot.open(report.output_files[0]) as file:
        tree = file["T"]
        assert [b.name for b in tree.branches] == ["id", "flag", "vec", "nhit", "hit"]
        assert tree["vec"].typename == "float[3]"
        assert tree["flag"].typename == "bool"
        assert tree["hit"].count_branch.name == "nhit"
        output = tree.arrays(library="ak")
    order = np.argsort(ak.to_numpy(output["id"]))
    original = uproot.open(path)["T"].arrays(library="ak")
    for name in ("id", "flag", "vec", "nhit", "hit"):
        assert ak.array_equal(output[order][name], original[name]), name


def test_missing_input_is_named(inputs: list[Path], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.root"
    with pytest.raises(InputError, match=r"nowhere\.root does not exist"):
        shuffle_files([inputs[0], missing], tmp_path / "out", max_memory=SMALL_MEMORY)


def test_mismatched_branches_name_file_and_branch(inputs: list[Path], tmp_path: Path) -> None:
    columns = _columns(0, 100, 5)
    columns["y"] = columns.pop("x")
    odd = _write(tmp_path / "odd.root", columns)
    with pytest.raises(InputError, match=r"odd\.root lacks x and has extra y"):
        shuffle_files([inputs[0], odd], tmp_path / "out", max_memory=SMALL_MEMORY)


def test_branch_of_another_type_is_named(inputs: list[Path], tmp_path: Path) -> None:
    columns = _columns(0, 100, 5)
    columns["x"] = columns["x"].astype(np.float64)
    odd = _write(tmp_path / "double.root", columns)
    with pytest.raises(InputError, match=r"double\.root has branches of a different type.*x"):
        shuffle_files([inputs[0], odd], tmp_path / "out", max_memory=SMALL_MEMORY)


def test_ambiguous_and_missing_tree(tmp_path: Path) -> None:
    path = tmp_path / "two.root"
    with uproot.recreate(path) as file:
        file.mktree("Signal", {"a": np.float32}).extend({"a": np.ones(3, np.float32)})
        file.mktree("Background", {"a": np.float32}).extend({"a": np.ones(3, np.float32)})
    listing = r"'Signal' \(TTree\), 'Background' \(TTree\)"  # the readers' message
    with pytest.raises(InputError, match=rf"two\.root' holds several trees: {listing}"):
        shuffle_files([path], tmp_path / "out", max_memory=SMALL_MEMORY)
    with pytest.raises(InputError, match=rf"two\.root' has no tree 'Events'.*trees are: {listing}"):
        shuffle_files([path], tmp_path / "out", max_memory=SMALL_MEMORY, tree="Events")
    report = shuffle_files([path], tmp_path / "out", max_memory=SMALL_MEMORY, tree="Signal")
    assert report.entries == 3
    assert report.tree == "Signal"


def test_rntuple_is_not_taken_for_a_ttree(tmp_path: Path) -> None:
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as file:
        file["ntuple"] = {"a": np.arange(3.0)}  # uproot writes an RNTuple here
    refused = r"tree 'ntuple' of ROOT file '.*rntuple\.root' is a ROOT::RNTuple, not a TTree"
    with pytest.raises(InputError, match=refused):
        shuffle_files([path], tmp_path / "out", max_memory=SMALL_MEMORY)
    with pytest.raises(InputError, match=refused):
        shuffle_files([path], tmp_path / "out", max_memory=SMALL_MEMORY, tree="ntuple")


def test_inputs_among_the_outputs_are_refused(inputs: list[Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    victim = out_dir / "shuffled_0000.root"
    victim.write_bytes(inputs[0].read_bytes())
    with pytest.raises(OutputError, match=r"shuffled_0000\.root would be overwritten"):
        shuffle_files([victim], out_dir, max_memory=SMALL_MEMORY, overwrite=True)
    assert victim.read_bytes() == inputs[0].read_bytes()


def test_non_empty_out_dir_needs_overwrite(inputs: list[Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"out is not empty.*notes\.txt.*overwrite"):
        shuffle_files(inputs, out_dir, max_memory=SMALL_MEMORY)
    first = shuffle_files(
        inputs, out_dir, max_memory=SMALL_MEMORY, entries_per_file=1000, overwrite=True
    )
    assert len(first.output_files) == 6
    second = shuffle_files(inputs, out_dir, max_memory=SMALL_MEMORY, overwrite=True, seed=3)
    # Stale outputs of the first run are gone; the user's own file is left alone.
    assert sorted(path.name for path in out_dir.iterdir()) == [
        "notes.txt",
        "shuffled_0000.root",
        "shuffled_0001.root",
        "shuffled_0002.root",
    ]
    assert len(_read(second.output_files)) == FILES * ENTRIES


def test_bad_numbers_are_config_errors(inputs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_memory"):
        shuffle_files(inputs, tmp_path / "out", max_memory=0)
    with pytest.raises(ConfigError, match="entries_per_file"):
        shuffle_files(inputs, tmp_path / "out", max_memory=SMALL_MEMORY, entries_per_file=0)


def test_failure_mid_way_leaves_nothing_behind(
    inputs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = []
    original = TreeWriter._create

    def fail_on_second(writer: TreeWriter, branches: object) -> object:
        created.append(writer.path)
        if len(created) == 2:
            raise OSError("disk full (injected)")
        return original(writer, branches)  # type: ignore[arg-type]

    monkeypatch.setattr(TreeWriter, "_create", fail_on_second)
    out_dir = tmp_path / "out"
    with pytest.raises(OSError, match="injected"):
        shuffle_files(inputs, out_dir, max_memory=SMALL_MEMORY)
    assert len(created) == 2
    # Not the finished first file, not its temporary name, not the buckets.
    assert list(out_dir.iterdir()) == []


def test_failure_in_the_first_pass_leaves_nothing_behind(
    inputs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = shuffle._Buckets.scatter

    def fail_on_third(self: shuffle._Buckets, *arguments: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        original(self, *arguments)  # type: ignore[arg-type]

    monkeypatch.setattr(shuffle._Buckets, "scatter", fail_on_third)
    out_dir = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        shuffle_files(inputs, out_dir, max_memory=SMALL_MEMORY)
    assert list(out_dir.iterdir()) == []
