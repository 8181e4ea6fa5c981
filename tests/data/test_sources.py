"""Reading every input format through one layer: round trips, streaming, memory, bad input."""

from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uproot

from helpers import read_events, read_metadata
from heplearn.data.readers import (
    FORMATS,
    SourceFile,
    available_columns,
    check_option_names,
    chunk_ranges,
    cluster_starts,
    entries_for_memory,
    expand_files,
    iterate_columns,
    open_source,
    read_columns,
    read_ranges,
)
from heplearn.errors import ConfigError, InputError

N = 11
JET_PT = np.linspace(500.0, 700.0, N).astype(np.float32)
IS_SIGNAL = (np.arange(N) % 2).astype(np.int32)
JET_SDMASS = np.linspace(10.0, 200.0, N)
PART_PX = ak.Array([[float(i + j) for j in range(i % 4)] for i in range(N)])
PART_ETA = PART_PX * 0.1


def write_ttree(path: Path, tree: str = "Events", start: int = 0, stop: int = N) -> Path:
    """A tree like the generator's: scalars and jagged ``part_*`` sharing the counter ``npart``."""
    branches = {
        "jet_pt": JET_PT[start:stop],
        "is_signal": IS_SIGNAL[start:stop],
        "jet_sdmass": JET_SDMASS[start:stop],
        "part": ak.zip({"px": PART_PX[start:stop], "eta": PART_ETA[start:stop]}),
    }
    with uproot.recreate(path) as file:
        types = {
            name: values.type if isinstance(values, ak.Array) else values.dtype
            for name, values in branches.items()
        }
        file.mktree(tree, types).extend(branches)
    return path


def write_parquet(path: Path, start: int = 0, stop: int = N, row_group_size: int = 4) -> Path:
    events = ak.zip(
        {
            "jet_pt": JET_PT[start:stop],
            "is_signal": IS_SIGNAL[start:stop],
            "jet_sdmass": JET_SDMASS[start:stop],
            "part_px": PART_PX[start:stop],
        },
        depth_limit=1,
    )
    ak.to_parquet(events, path, row_group_size=row_group_size)
    return path


def write_hdf5(path: Path, start: int = 0, stop: int = N, group: str | None = None) -> Path:
    with h5py.File(path, "w") as file:
        target = file if group is None else file.create_group(group)
        target["jet_pt"] = JET_PT[start:stop]
        target["is_signal"] = IS_SIGNAL[start:stop]
        target["jet_sdmass"] = JET_SDMASS[start:stop]
        target["four_vector"] = np.arange(4 * N, dtype=np.float32).reshape(N, 4)[start:stop]
    return path


def assert_columns(columns, start: int = 0, stop: int = N) -> None:
    assert isinstance(columns["jet_pt"], np.ndarray)
    assert columns["jet_pt"].dtype == np.float32
    np.testing.assert_array_equal(columns["jet_pt"], JET_PT[start:stop])
    np.testing.assert_array_equal(columns["is_signal"], IS_SIGNAL[start:stop])
    assert columns["is_signal"].dtype == np.int32


# --------------------------------------------------------------------------------------
# Round trips


def test_root_ttree_round_trip(tmp_path):
    source = open_source(write_ttree(tmp_path / "events.root"))
    assert source == SourceFile(tmp_path / "events.root", "root", "Events", N)
    assert available_columns(source) == [
        "jet_pt",
        "is_signal",
        "jet_sdmass",
        "npart",
        "part_px",
        "part_eta",
    ]
    columns = read_columns(source, ["jet_pt", "is_signal", "part_px", "npart"])
    assert list(columns) == ["jet_pt", "is_signal", "part_px", "npart"]
    assert_columns(columns)
    assert isinstance(columns["part_px"], ak.Array)
    assert str(columns["part_px"].type) == f"{N} * var * float64"
    assert ak.all(columns["part_px"] == PART_PX)
    np.testing.assert_array_equal(columns["npart"], ak.num(PART_PX))

    part = read_columns(source, ["jet_pt", "is_signal", "part_eta"], entry_start=3, entry_stop=7)
    assert_columns(part, 3, 7)
    assert ak.all(part["part_eta"] == PART_ETA[3:7])
    assert len(read_columns(source, ["jet_pt"], entry_start=9, entry_stop=100)["jet_pt"]) == 2


def test_root_rntuple_round_trip(tmp_path):
    path = tmp_path / "events.root"
    with uproot.recreate(path) as file:
        file["Events"] = {
            "jet_pt": JET_PT,
            "is_signal": IS_SIGNAL,
            "part_px": PART_PX,
            "part": ak.zip({"eta": PART_ETA}),
        }
    with uproot.open(path) as file:
        assert file.classname_of("Events") == "ROOT::RNTuple"

    source = open_source(path)
    assert (source.format, source.tree, source.entries) == ("root", "Events", N)
    assert sorted(available_columns(source)) == ["is_signal", "jet_pt", "part.eta", "part_px"]
    columns = read_columns(source, ["jet_pt", "is_signal", "part_px", "part.eta"], 2, 9)
    assert_columns(columns, 2, 9)
    assert ak.all(columns["part_px"] == PART_PX[2:9])
    assert ak.all(columns["part.eta"] == PART_ETA[2:9])
    missing = r"RNTuple 'Events' of file .*has no field 'part_et'.*its fields are"
    with pytest.raises(InputError, match=missing):
        read_columns(source, ["part_et"])


def test_parquet_round_trip_across_row_groups(tmp_path):
    source = open_source(write_parquet(tmp_path / "events.parquet", row_group_size=4))
    assert source == SourceFile(tmp_path / "events.parquet", "parquet", None, N)
    assert available_columns(source) == ["jet_pt", "is_signal", "jet_sdmass", "part_px"]
    assert_columns(read_columns(source, ["jet_pt", "is_signal"]))
    for start, stop in [(0, 4), (3, 9), (4, 8), (10, 11), (5, 5)]:
        columns = read_columns(source, ["jet_pt", "is_signal", "part_px"], start, stop)
        assert_columns(columns, start, stop)
        assert columns["part_px"].tolist() == PART_PX[start:stop].tolist()

    other = open_source(write_parquet(tmp_path / "events.pq"))
    assert other.format == "parquet"


def test_parquet_nullable_columns(tmp_path):
    path = tmp_path / "nullable.parquet"
    table = pa.table(
        {
            "complete": pa.array([1.0, 2.0, 3.0]),
            "gaps": pa.array([1.0, None, 3.0]),
            "lists": pa.array([[1.0], [], [2.0, 3.0]]),
        }
    )
    pq.write_table(table, path)
    source = open_source(path)
    columns = read_columns(source, ["complete", "lists"])
    assert isinstance(columns["complete"], np.ndarray)
    np.testing.assert_array_equal(columns["complete"], [1.0, 2.0, 3.0])
    assert str(columns["lists"].type) == "3 * var * float64"
    with pytest.raises(InputError, match=r"column 'gaps' of file .*nullable.parquet.* 1 missing"):
        read_columns(source, ["gaps"])


def test_hdf5_round_trip_with_regular_columns_and_groups(tmp_path):
    source = open_source(write_hdf5(tmp_path / "events.h5"))
    assert source == SourceFile(tmp_path / "events.h5", "hdf5", None, N)
    assert sorted(available_columns(source)) == [
        "four_vector",
        "is_signal",
        "jet_pt",
        "jet_sdmass",
    ]
    columns = read_columns(source, ["jet_pt", "is_signal", "four_vector"], 2, 5)
    assert_columns(columns, 2, 5)
    vectors = columns["four_vector"]
    assert isinstance(vectors, ak.Array)
    assert str(vectors.type) == "3 * 4 * float32"
    np.testing.assert_array_equal(
        ak.to_numpy(vectors), np.arange(4 * N, dtype=np.float32).reshape(N, 4)[2:5]
    )

    grouped = open_source(write_hdf5(tmp_path / "grouped.hdf5", group="jets"), tree="jets")
    assert (grouped.format, grouped.tree, grouped.entries) == ("hdf5", "jets", N)
    assert_columns(read_columns(grouped, ["jet_pt", "is_signal"]))
    with pytest.raises(InputError, match=r"holds no datasets.*'jets'.*tree='GROUP'"):
        open_source(tmp_path / "grouped.hdf5")
    with pytest.raises(InputError, match=r"'jet' does not exist \(did you mean 'jets'\?\)"):
        open_source(tmp_path / "grouped.hdf5", tree="jet")


def test_hdf5_datasets_of_different_lengths(tmp_path):
    path = tmp_path / "ragged.h5"
    with h5py.File(path, "w") as file:
        file["jet_pt"] = JET_PT
        file["bin_edges"] = np.linspace(0.0, 1.0, 5)
    with pytest.raises(InputError, match=r"different lengths \('bin_edges' 5, 'jet_pt' 11\)"):
        open_source(path)


def test_generated_sample_streams_like_uproot(generated_sample):
    # Same options as tests/generate/test_run.py, so a full run generates it only once.
    sample_dir = generated_sample(
        "top-vs-qcd", events=30, events_per_file=20, pt_min=500.0, pt_max=700.0, seed=7
    )
    metadata = read_metadata(sample_dir)
    paths = expand_files([sample_dir / "*.root"])
    assert [path.name for path in paths] == sorted(entry["name"] for entry in metadata["files"])
    sources = [open_source(path, tree=metadata["tree"]) for path in paths]
    names = ["is_signal", "XSWeight", "jet_sdmass", "npart", "part_px", "part_energy"]
    chunks = list(iterate_columns(sources, names, step_entries=7))
    merged = {name: ak.concatenate([chunk[name] for _, _, chunk in chunks]) for name in names}
    expected = read_events(sample_dir)
    for name in names:
        assert ak.all(ak.ravel(merged[name]) == ak.ravel(expected[name])), name
    assert ak.all(merged["npart"] == ak.num(merged["part_px"]))


# --------------------------------------------------------------------------------------
# File patterns


def test_expand_files_globs_sorted_and_deduplicated(tmp_path):
    for name in ["b.root", "a.root", "sub/c.root", "sub/deeper/d.root", "notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".e.root.123.part").write_bytes(b"")
    assert expand_files([tmp_path / "*.root"]) == [tmp_path / "a.root", tmp_path / "b.root"]
    assert expand_files([str(tmp_path / "**" / "*.root")]) == [
        tmp_path / "a.root",
        tmp_path / "b.root",
        tmp_path / "sub" / "c.root",
        tmp_path / "sub" / "deeper" / "d.root",
    ]
    assert expand_files([tmp_path / "b.root", tmp_path / "?.root", tmp_path / "sub/*.root"]) == [
        tmp_path / "b.root",
        tmp_path / "a.root",
        tmp_path / "sub" / "c.root",
    ]
    assert expand_files(str(tmp_path / "notes.txt")) == [tmp_path / "notes.txt"]


def test_expand_files_missing_file_suggests_close_match(tmp_path):
    (tmp_path / "signal.root").write_bytes(b"")
    with pytest.raises(InputError) as error:
        expand_files([tmp_path / "signl.root"])
    message = str(error.value)
    assert f"'{tmp_path / 'signl.root'}' does not exist" in message
    assert f"did you mean '{tmp_path / 'signal.root'}'" in message


def test_expand_files_names_every_pattern_matching_nothing(tmp_path):
    (tmp_path / "signal.root").write_bytes(b"")
    patterns = [str(tmp_path / "*.roo"), str(tmp_path / "nowhere" / "*.root")]
    with pytest.raises(InputError) as error:
        expand_files([*patterns, tmp_path / "signal.root"])
    message = str(error.value)
    assert f"pattern '{patterns[0]}' matches no file; '{tmp_path}' holds 'signal.root'" in message
    assert f"pattern '{patterns[1]}' matches no file: directory" in message
    with pytest.raises(ConfigError, match="no input files"):
        expand_files([])
    with pytest.raises(InputError, match="is a directory"):
        expand_files([tmp_path])


# --------------------------------------------------------------------------------------
# Streaming and memory


def test_iterate_columns_covers_every_entry_once_in_order(tmp_path):
    sources = [
        open_source(write_ttree(tmp_path / "first.root", start=0, stop=5)),
        open_source(write_parquet(tmp_path / "second.parquet", start=5, stop=8, row_group_size=2)),
        open_source(write_hdf5(tmp_path / "third.h5", start=8, stop=N)),
    ]
    chunks = list(iterate_columns(sources, ["jet_pt", "is_signal"], step_entries=2))
    assert [(source.path.name, start) for source, start, _ in chunks] == [
        ("first.root", 0),
        ("first.root", 2),
        ("first.root", 4),
        ("second.parquet", 0),
        ("second.parquet", 2),
        ("third.h5", 0),
        ("third.h5", 2),
    ]
    assert all(len(columns["jet_pt"]) <= 2 for _, _, columns in chunks)
    np.testing.assert_array_equal(
        np.concatenate([columns["jet_pt"] for _, _, columns in chunks]), JET_PT
    )
    np.testing.assert_array_equal(
        np.concatenate([columns["is_signal"] for _, _, columns in chunks]), IS_SIGNAL
    )
    whole = list(iterate_columns(sources, ["jet_pt"], step_entries=100))
    assert [len(columns["jet_pt"]) for _, _, columns in whole] == [5, 3, 3]


@pytest.mark.parametrize("name", ["events.root", "events.parquet"])
def test_read_ranges_reads_like_read_columns(tmp_path, name):
    write = write_ttree if name.endswith(".root") else write_parquet
    source = open_source(write(tmp_path / name))
    names = ["jet_pt", "part_px"]
    ranges = [(0, 4), (4, 9), (9, None), (20, 30)]
    for (start, stop), columns in zip(ranges, read_ranges(source, names, ranges), strict=True):
        expected = read_columns(source, names, start, stop)
        np.testing.assert_array_equal(columns["jet_pt"], expected["jet_pt"])
        assert ak.to_list(columns["part_px"]) == ak.to_list(expected["part_px"])
    with pytest.raises(InputError, match="part_pxx"):
        next(read_ranges(source, ["part_pxx"], ranges))
    with pytest.raises(ConfigError, match="must not be negative"):
        list(read_ranges(source, names, [(0, 2), (-1, 3)]))


def test_iterate_columns_checks_every_source_before_reading(tmp_path):
    good = open_source(write_ttree(tmp_path / "good.root"))
    path = tmp_path / "bad.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"jet_pt": np.float32}).extend({"jet_pt": JET_PT})
    chunks = iterate_columns([good, open_source(path)], ["jet_pt", "is_signal"], step_entries=3)
    with pytest.raises(InputError, match=r"tree 'Events' of file .*bad.root.* 'is_signal'"):
        next(chunks)
    for step in (0, -2, 1.5):
        with pytest.raises(ConfigError, match="step_entries"):
            next(iterate_columns([good], ["jet_pt"], step_entries=step))


@pytest.mark.parametrize(
    "write", [write_ttree, write_parquet, write_hdf5], ids=["root", "parquet", "hdf5"]
)
def test_entries_for_memory_is_sensible(tmp_path, write):
    suffix = {"write_ttree": ".root", "write_parquet": ".parquet", "write_hdf5": ".h5"}
    source = open_source(write(tmp_path / f"events{suffix[write.__name__]}"))
    names = ["jet_pt", "jet_sdmass"]  # 12 bytes per entry
    budgets = [1, 12, 40, 60, 120, 10_000]
    counts = [entries_for_memory(source, names, budget) for budget in budgets]
    assert all(count >= 1 for count in counts)
    assert counts == sorted(counts)
    assert counts[-1] == N
    assert 2 <= counts[3] <= 6  # 60 bytes ≈ 5 entries, allowing for basket overheads
    with pytest.raises(ConfigError, match="memory budget"):
        entries_for_memory(source, names, 0)


def test_chunk_ranges_stay_within_the_budget_and_end_on_basket_clusters(tmp_path):
    path = tmp_path / "events.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"jet_pt": np.float64})
        for start in range(0, 1000, 300):  # baskets of 300 entries (the last of 100)
            file["Events"].extend({"jet_pt": np.arange(start, min(start + 300, 1000.0))})
    source = open_source(path)
    assert cluster_starts(source) == [0, 300, 600, 900]
    fits = entries_for_memory(source, ["jet_pt"], 8 * 700)
    assert 600 <= fits <= 800  # 8 bytes per entry
    ranges = chunk_ranges(source, ["jet_pt"], 8 * 700)
    assert ranges == [(0, 600), (600, 1000)]  # cut on clusters, not at 700
    # what the caller adds per entry counts too; a range shorter than a cluster cuts it
    step = entries_for_memory(source, ["jet_pt"], 8 * 700, extra_bytes_per_entry=8 * 6)
    assert 80 <= step <= 100
    tight = chunk_ranges(source, ["jet_pt"], 8 * 700, extra_bytes_per_entry=8 * 6)
    assert max(stop - start for start, stop in tight) == step
    assert [start for start, _ in tight[1:]] == [stop for _, stop in tight[:-1]]
    assert tight[0][0] == 0 and tight[-1][1] == 1000
    assert {300, 600, 900} <= {stop for _, stop in tight}
    assert chunk_ranges(source, ["jet_pt"], 8 * 700, most_entries=250) == [
        (0, 250),
        (250, 300),
        (300, 550),
        (550, 600),
        (600, 850),
        (850, 1000),
    ]
    whole = chunk_ranges(source, ["jet_pt"], 1 << 30)
    assert whole == [(0, 1000)]
    parquet = open_source(write_parquet(tmp_path / "events.parquet"))
    assert chunk_ranges(parquet, ["jet_pt"], 1 << 30, most_entries=4) == [(0, 4), (4, 8), (8, 11)]


@pytest.mark.parametrize("layout", ["TTree", "RNTuple"])
def test_entries_for_memory_counts_jagged_content(tmp_path, layout):
    path = tmp_path / "events.root"
    branches = {"part_px": ak.Array([np.arange(100.0)] * 200), "jet_pt": np.ones(200)}
    with uproot.recreate(path) as file:
        if layout == "TTree":
            file.mktree("Events", {"part_px": branches["part_px"].type, "jet_pt": np.float64})
            file["Events"].extend(branches)
        else:
            file["Events"] = branches
    source = open_source(path)
    budget = 100 * 808  # 100 entries of 100 float64 values and an int64 offset
    assert 85 <= entries_for_memory(source, ["part_px"], budget) <= 115
    assert entries_for_memory(source, ["jet_pt"], budget) == 200


# --------------------------------------------------------------------------------------
# Bad input: each message names the file, tree or branch, and the fix


def test_missing_file_suggests_close_match(tmp_path):
    write_ttree(tmp_path / "signal.root")
    with pytest.raises(InputError) as error:
        open_source(tmp_path / "signl.root")
    assert f"file '{tmp_path / 'signl.root'}' does not exist" in str(error.value)
    assert f"did you mean '{tmp_path / 'signal.root'}'?" in str(error.value)


def test_a_missing_data_file_is_not_matched_with_a_config(tmp_path):
    (tmp_path / "signal.yaml").write_text("sources: []\n")
    with pytest.raises(InputError) as error:
        expand_files([tmp_path / "signal.root"])
    assert "signal.yaml" not in str(error.value)
    assert "no file in" in str(error.value)


def test_option_names_are_checked_naming_the_option(tmp_path):
    write_ttree(tmp_path / "events.root")
    source = open_source(tmp_path / "events.root")
    check_option_names(source, [], "--keep")
    with pytest.raises(InputError) as error:
        check_option_names(source, ["jet_pz", "nothing_alike"], "--keep")
    message = str(error.value)
    assert message.startswith("--keep 'jet_pz' (did you mean 'jet_pt'?), 'nothing_alike'")
    assert message.endswith("has no such branch; correct --keep")


def test_wrong_tree_lists_the_trees(tmp_path):
    path = write_ttree(tmp_path / "events.root")
    with pytest.raises(InputError) as error:
        open_source(path, tree="Event")
    message = str(error.value)
    assert f"ROOT file '{path}' has no tree 'Event' (did you mean 'Events'?)" in message
    assert "its trees are: 'Events' (TTree)" in message
    assert "--tree NAME on the command line" in message


def test_ambiguous_tree_lists_the_trees(tmp_path):
    path = tmp_path / "two.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"x": np.float64}).extend({"x": np.zeros(3)})
        file.mktree("Runs", {"run": np.int32}).extend({"run": np.ones(1, dtype=np.int32)})
    with pytest.raises(InputError) as error:
        open_source(path)
    message = str(error.value)
    assert f"'{path}' holds several trees: 'Events' (TTree), 'Runs' (TTree)" in message
    assert "choose one (tree: NAME in the data source" in message
    assert open_source(path, tree="Runs").entries == 1


def test_file_without_trees(tmp_path):
    path = tmp_path / "histograms.root"
    with uproot.recreate(path) as file:
        file["h"] = np.histogram(np.arange(5.0), bins=2)
    with pytest.raises(InputError, match=r"holds no TTree or RNTuple \(it holds: 'h;1' \(TH1D\)"):
        open_source(path)


def test_missing_branch_suggests_close_matches(tmp_path):
    path = write_ttree(tmp_path / "events.root")
    source = open_source(path)
    with pytest.raises(InputError) as error:
        read_columns(source, ["jet_pt", "jet_sdmas", "completely_else"])
    message = str(error.value)
    assert f"tree 'Events' of file '{path}' has no branch" in message
    assert "'jet_sdmas' (did you mean 'jet_sdmass'?)" in message
    assert "'completely_else' (no similar name)" in message
    assert "its branches are: 'jet_pt', 'is_signal', 'jet_sdmass'" in message
    assert "Correct the names in the inputs" in message

    with pytest.raises(InputError, match=r"has no column 'Jet_PT' \(did you mean 'jet_pt'\?\)"):
        read_columns(open_source(write_parquet(tmp_path / "e.parquet")), ["Jet_PT"])
    with pytest.raises(InputError, match=r"HDF5 file .* has no dataset 'jetpt' \(did you mean"):
        read_columns(open_source(write_hdf5(tmp_path / "e.h5")), ["jetpt"])


def test_non_numeric_columns_are_named_with_their_type(tmp_path):
    root_path = tmp_path / "strings.root"
    with uproot.recreate(root_path) as file:
        tree = file.mktree("Events", {"jet_pt": np.float32, "sample": "string"})
        tree.extend({"jet_pt": JET_PT[:3], "sample": ak.Array(["ttbar", "qcd", "qcd"])})
    with pytest.raises(InputError) as error:
        read_columns(open_source(root_path), ["jet_pt", "sample"])
    message = str(error.value)
    assert f"branch 'sample' of tree 'Events' of file '{root_path}' has type string" in message
    assert "not numeric" in message
    assert "remove it from the inputs" in message

    parquet_path = tmp_path / "strings.parquet"
    ak.to_parquet(ak.Array({"jet_pt": JET_PT[:2], "sample": ["a", "b"]}), parquet_path)
    with pytest.raises(InputError, match=r"column 'sample' of file .* has type string"):
        read_columns(open_source(parquet_path), ["sample"])

    hdf5_path = tmp_path / "strings.h5"
    with h5py.File(hdf5_path, "w") as file:
        file["jet_pt"] = JET_PT[:2]
        file["sample"] = np.array([b"ttbar", b"qcd"])
    with pytest.raises(InputError, match=r"dataset 'sample' of HDF5 file .* type bytes \(\|S5\)"):
        read_columns(open_source(hdf5_path), ["sample"])

    records = tmp_path / "records.parquet"
    ak.to_parquet(ak.Array({"part": [{"px": 1.0, "py": 2.0}]}), records)
    assert available_columns(open_source(records)) == ["part.px", "part.py"]


def test_unknown_format_lists_formats(tmp_path):
    path = write_ttree(tmp_path / "events.root")
    with pytest.raises(ConfigError) as error:
        open_source(path, format="roots")
    message = str(error.value)
    assert "unknown format 'roots' (did you mean 'root'?)" in message
    assert "choose one of " + ", ".join(FORMATS) in message


def test_unknown_extension_asks_for_a_format(tmp_path):
    path = tmp_path / "events.dat"
    path.write_bytes(b"not events")
    with pytest.raises(InputError, match=r"format of '.*events.dat' from its extension '.dat'"):
        open_source(path)
    with pytest.raises(InputError, match=r"cannot be opened as a ROOT file"):
        open_source(path, format="root")
    with pytest.raises(InputError, match=r"cannot be opened as an HDF5 file"):
        open_source(path, format="hdf5")
    with pytest.raises(InputError, match=r"cannot be read as a Parquet file"):
        open_source(path, format="parquet")


def test_negative_entry_range_is_a_config_error(tmp_path):
    source = open_source(write_ttree(tmp_path / "events.root"))
    with pytest.raises(ConfigError, match="must not be negative"):
        read_columns(source, ["jet_pt"], entry_start=-1)
