"""Public jet data sets (top-tagging landscape, JetClass, hls4ml) read from tiny local copies."""

from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from heplearn.data.readers import (
    available_columns,
    entries_for_memory,
    iterate_columns,
    open_source,
    read_columns,
)
from heplearn.data.readers.hls4ml import HLS4ML_CLASSES
from heplearn.data.readers.jetclass import JETCLASS_CLASSES, JETCLASS_LABEL_BRANCHES
from heplearn.data.readers.registry import PUBLIC_FORMATS, class_names, label_branch
from heplearn.errors import ConfigError, InputError

# --------------------------------------------------------------------------------------
# Top-tagging landscape: pandas fixed-format store, written here with h5py

SLOTS = 5  # the published files have 200 constituent slots per jet
TOP_COUNTS = np.array([3, 0, 5, 1, 2, 4])
TOP_JETS = len(TOP_COUNTS)


def top_constituents(prefix: str) -> np.ndarray:
    """Zero-padded (jets × slots) values; E is positive wherever a constituent exists."""
    scale = {"E": 10.0, "PX": 1.0, "PY": -2.0, "PZ": 0.5}[prefix]
    values = np.zeros((TOP_JETS, SLOTS), dtype=np.float32)
    for jet, count in enumerate(TOP_COUNTS):
        values[jet, :count] = scale * (1 + jet + np.arange(count, dtype=np.float32) / 10)
    return values


def write_top_landscape(
    path: Path, is_signal: tuple[int, ...] = (0, 1, 1, 0, 1, 0), key: str = "table"
) -> Path:
    """The layout of train.h5/val.h5/test.h5: a float block and an int64 block."""
    float_items = [
        f"{prefix}_{slot}" for prefix in ("E", "PX", "PY", "PZ") for slot in range(SLOTS)
    ]
    float_items += ["truthE", "truthPX", "truthPY", "truthPZ", "ttv"]
    float_values = np.concatenate(
        [top_constituents(prefix) for prefix in ("E", "PX", "PY", "PZ")]
        + [
            np.linspace(1.0, 2.0, TOP_JETS, dtype=np.float32)[:, None] * np.ones((1, 4)),
            np.array([[0], [1], [2], [0], [1], [2]], dtype=np.float32),
        ],
        axis=1,
    ).astype(np.float32)
    int_items = ["is_signal_new"]
    int_values = np.array(is_signal, dtype=np.int64)[:, None]
    with h5py.File(path, "w") as file:
        table = file.create_group(key)
        table.attrs["pandas_type"] = "frame"
        table["axis0"] = np.array([name.encode() for name in float_items + int_items])
        table["axis1"] = np.arange(TOP_JETS, dtype=np.int64)
        for index, (items, values) in enumerate(
            [(float_items, float_values), (int_items, int_values)]
        ):
            table[f"block{index}_items"] = np.array([name.encode() for name in items])
            table[f"block{index}_values"] = values
            table[f"block{index}_values"].attrs["transposed"] = True
    return path


def test_top_landscape_round_trip(tmp_path):
    source = open_source(write_top_landscape(tmp_path / "train.h5"), format="top-landscape")
    assert (source.format, source.tree, source.entries) == ("top-landscape", "table", TOP_JETS)
    assert source.class_names == ("qcd", "top")
    assert source.label_branch == "is_signal"
    assert available_columns(source) == [
        "part_energy",
        "part_px",
        "part_py",
        "part_pz",
        "npart",
        "truthE",
        "truthPX",
        "truthPY",
        "truthPZ",
        "ttv",
        "is_signal",
    ]
    columns = read_columns(source, ["part_px", "part_energy", "npart", "is_signal", "ttv"])
    assert columns["is_signal"].dtype == np.int32
    np.testing.assert_array_equal(columns["is_signal"], [0, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(columns["ttv"], [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(columns["npart"], TOP_COUNTS)
    assert str(columns["part_px"].type) == f"{TOP_JETS} * var * float32"
    for name, prefix in [("part_px", "PX"), ("part_energy", "E")]:
        padded = top_constituents(prefix)
        assert columns[name].tolist() == [
            padded[jet, :count].tolist() for jet, count in enumerate(TOP_COUNTS)
        ]

    part = read_columns(source, ["part_pz", "truthPX"], entry_start=2, entry_stop=5)
    assert ak.num(part["part_pz"]).tolist() == TOP_COUNTS[2:5].tolist()
    assert part["part_pz"][0].tolist() == top_constituents("PZ")[2, :5].tolist()
    np.testing.assert_allclose(part["truthPX"], np.linspace(1.0, 2.0, TOP_JETS)[2:5], rtol=1e-6)

    chunks = list(iterate_columns([source], ["part_py", "is_signal"], step_entries=4))
    assert [len(chunk["is_signal"]) for _, _, chunk in chunks] == [4, 2]
    assert entries_for_memory(source, ["part_px"], 10**9) == TOP_JETS
    # E_* and PX_* are read padded (10 float32 per jet) before the padding is removed.
    assert entries_for_memory(source, ["part_px"], 40 * TOP_JETS) < TOP_JETS


def test_top_landscape_columns_first_block(tmp_path):
    """A block stored as (items × entries), marked transposed=False, reads the same."""
    path = write_top_landscape(tmp_path / "val.h5")
    with h5py.File(path, "a") as file:
        values = file["table/block0_values"][()]
        del file["table/block0_values"]
        file["table/block0_values"] = values.T
        file["table/block0_values"].attrs["transposed"] = False
    columns = read_columns(open_source(path, format="top-landscape"), ["npart", "part_py"])
    np.testing.assert_array_equal(columns["npart"], TOP_COUNTS)
    assert columns["part_py"][0].tolist() == top_constituents("PY")[0, :3].tolist()


def test_top_landscape_bad_files(tmp_path):
    path = write_top_landscape(tmp_path / "test.h5", key="jets")
    with pytest.raises(InputError) as error:
        open_source(path, format="top-landscape")
    message = str(error.value)
    assert f"'{path}' is not a top-tagging landscape file: it has no group 'table'" in message
    assert "top-level keys: 'jets'" in message
    assert "pass tree='KEY'" in message
    assert open_source(path, format="top-landscape", tree="jets").entries == TOP_JETS

    with pytest.raises(InputError, match=r"top-tagging landscape file: it has no group 'table'"):
        open_source(path, format="top-landscape")

    table_format = tmp_path / "table_format.h5"
    with h5py.File(table_format, "w") as file:
        file.create_group("table")["table"] = np.zeros(3, dtype=[("index", "i8"), ("E_0", "f4")])
    with pytest.raises(
        InputError, match=r"pandas 'table' format; re-save it with .*format='fixed'"
    ):
        open_source(table_format, format="top-landscape")

    bad_label = write_top_landscape(tmp_path / "bad.h5", is_signal=(0, 1, 2, 0, 1, 0))
    source = open_source(bad_label, format="top-landscape")
    with pytest.raises(InputError) as error:
        read_columns(source, ["is_signal"])
    message = str(error.value)
    assert "column 'is_signal_new' of top-tagging landscape store 'table'" in message
    assert f"'{bad_label}'" in message
    assert "entry 2 is 2" in message
    with pytest.raises(InputError, match=r"has no column 'part_e' \(did you mean 'part_energy' or"):
        read_columns(source, ["part_e"])


# --------------------------------------------------------------------------------------
# JetClass: ROOT tree "tree" with one-hot float labels

JETCLASS_LABELS = np.array([0, 3, 9, 8, 1, 0, 5], dtype=np.int32)
JETCLASS_JETS = len(JETCLASS_LABELS)


def write_jetclass(path: Path, labels: np.ndarray = JETCLASS_LABELS) -> Path:
    one_hot = np.eye(len(JETCLASS_CLASSES), dtype=np.float32)[np.maximum(labels, 0)]
    one_hot[np.flatnonzero(labels < 0)] = 0.0  # a negative label: no class set
    counts = np.arange(JETCLASS_JETS) % 3 + 1
    part = ak.zip(
        {
            name: ak.unflatten(np.arange(counts.sum(), dtype=np.float32) * scale, counts)
            for name, scale in [("px", 1.0), ("py", 2.0), ("pz", 3.0), ("energy", 4.0)]
        }
    )
    branches = {
        "part": part,
        "jet_pt": np.linspace(500.0, 1000.0, JETCLASS_JETS),
        "jet_sdmass": np.linspace(10.0, 200.0, JETCLASS_JETS),
        "jet_nparticles": counts.astype(np.float32),
        **{name: one_hot[:, index] for index, name in enumerate(JETCLASS_LABEL_BRANCHES)},
    }
    with uproot.recreate(path) as file:
        types = {
            name: values.type if isinstance(values, ak.Array) else values.dtype
            for name, values in branches.items()
        }
        file.mktree("tree", types).extend(branches)
    return path


def test_jetclass_round_trip(tmp_path):
    source = open_source(write_jetclass(tmp_path / "HToBB_120.root"), format="jetclass")
    assert (source.format, source.tree, source.entries) == ("jetclass", "tree", JETCLASS_JETS)
    assert source.class_names == JETCLASS_CLASSES
    assert source.label_branch == "label"
    columns = available_columns(source)
    assert columns[-1] == "label"
    assert {"part_px", "part_energy", "jet_sdmass", "label_Tbl"} <= set(columns)

    values = read_columns(source, ["label", "part_px", "jet_sdmass"])
    assert values["label"].dtype == np.int32
    np.testing.assert_array_equal(values["label"], JETCLASS_LABELS)
    assert [JETCLASS_CLASSES[i] for i in values["label"][:3]] == ["QCD", "Hgg", "Tbl"]
    assert ak.num(values["part_px"]).tolist() == (np.arange(JETCLASS_JETS) % 3 + 1).tolist()
    assert isinstance(values["jet_sdmass"], np.ndarray)

    chunks = list(iterate_columns([source], ["label"], step_entries=3))
    np.testing.assert_array_equal(
        np.concatenate([chunk["label"] for _, _, chunk in chunks]), JETCLASS_LABELS
    )
    assert [start for _, start, _ in chunks] == [0, 3, 6]
    assert 1 <= entries_for_memory(source, ["label", "part_px"], 100) <= JETCLASS_JETS


def test_jetclass_malformed_one_hot(tmp_path):
    labels = JETCLASS_LABELS.copy()
    labels[4] = -1
    path = write_jetclass(tmp_path / "broken.root", labels)
    source = open_source(path, format="jetclass")
    assert len(read_columns(source, ["jet_pt"])["jet_pt"]) == JETCLASS_JETS
    with pytest.raises(InputError) as error:
        read_columns(source, ["label"])
    message = str(error.value)
    assert f"entry 4 of JetClass tree 'tree' of file '{path}' is not one-hot" in message
    assert "label_QCD=0" in message
    assert "1 of the entries 0-6 are affected" in message
    assert "format='root'" in message
    np.testing.assert_array_equal(read_columns(source, ["label"], 0, 4)["label"], labels[:4])


def test_jetclass_needs_label_branches(tmp_path):
    path = tmp_path / "plain.root"
    with uproot.recreate(path) as file:
        file.mktree("tree", {"jet_pt": np.float64}).extend({"jet_pt": np.ones(2)})
    with pytest.raises(InputError, match=r"is not a JetClass file: it lacks the label branches"):
        open_source(path, format="jetclass")


# --------------------------------------------------------------------------------------
# hls4ml jet images: HDF5 with jetImage, jets + jetFeatureNames, jetConstituentList

JET_FEATURES = ["j_ptfrac", "j_pt", "j_eta", "j_mass_mmdt", "j_tau32_b1"]
JET_FEATURES += ["j_g", "j_q", "j_w", "j_z", "j_t", "j_undef"]
PARTICLE_FEATURES = ["j1_px", "j1_py", "j1_pz", "j1_e", "j1_etarel", "j1_pdgid"]
HLS4ML_LABELS = np.array([4, 0, 2, 1, 3], dtype=np.int32)  # t, g, W, q, Z
HLS4ML_JETS = len(HLS4ML_LABELS)
PARTICLES = 6
PIXELS = 8  # the published images are 100 × 100


def write_hls4ml(path: Path, one_hot: np.ndarray | None = None) -> Path:
    if one_hot is None:
        one_hot = np.eye(5)[HLS4ML_LABELS]
    jets = np.zeros((HLS4ML_JETS, len(JET_FEATURES)))
    jets[:, 1] = np.linspace(900.0, 1100.0, HLS4ML_JETS)
    jets[:, 3] = np.linspace(10.0, 180.0, HLS4ML_JETS)
    jets[:, 4] = np.linspace(0.2, 0.9, HLS4ML_JETS)
    jets[:, 5:10] = one_hot
    particles = np.zeros((HLS4ML_JETS, PARTICLES, len(PARTICLE_FEATURES)), dtype=np.float32)
    for jet in range(HLS4ML_JETS):
        count = jet + 1
        particles[jet, :count] = np.arange(count * len(PARTICLE_FEATURES)).reshape(count, -1) + 1
    images = np.arange(HLS4ML_JETS * PIXELS * PIXELS, dtype=np.float64).reshape(
        HLS4ML_JETS, PIXELS, PIXELS
    )
    with h5py.File(path, "w") as file:
        file["jetImage"] = images
        file["jets"] = jets
        file["jetFeatureNames"] = np.array([name.encode() for name in JET_FEATURES])
        file["jetConstituentList"] = particles
        file["particleFeatureNames"] = np.array([name.encode() for name in PARTICLE_FEATURES])
    return path


def test_hls4ml_round_trip(tmp_path):
    source = open_source(write_hls4ml(tmp_path / "jetImage_0.h5"), format="hls4ml-images")
    assert (source.format, source.tree, source.entries) == ("hls4ml-images", None, HLS4ML_JETS)
    assert source.class_names == HLS4ML_CLASSES == ("g", "q", "W", "Z", "t")
    assert available_columns(source) == [
        "image",
        *JET_FEATURES,
        "label",
        "part_px",
        "part_py",
        "part_pz",
        "part_energy",
        "part_etarel",
        "part_pdgid",
        "npart",
    ]
    columns = read_columns(
        source, ["image", "label", "j_mass_mmdt", "j_pt", "j_tau32_b1", "part_energy", "npart"]
    )
    np.testing.assert_array_equal(columns["label"], HLS4ML_LABELS)
    assert columns["label"].dtype == np.int32
    assert [HLS4ML_CLASSES[i] for i in columns["label"]] == ["t", "g", "W", "q", "Z"]
    np.testing.assert_allclose(columns["j_mass_mmdt"], np.linspace(10.0, 180.0, HLS4ML_JETS))
    np.testing.assert_allclose(columns["j_pt"], np.linspace(900.0, 1100.0, HLS4ML_JETS))
    image = columns["image"]
    assert str(image.type) == f"{HLS4ML_JETS} * 1 * {PIXELS} * {PIXELS} * float32"
    as_numpy = ak.to_numpy(image)
    assert as_numpy.shape == (HLS4ML_JETS, 1, PIXELS, PIXELS)
    assert as_numpy[1, 0, 2, 3] == PIXELS * PIXELS + 2 * PIXELS + 3
    np.testing.assert_array_equal(columns["npart"], np.arange(1, HLS4ML_JETS + 1))
    assert columns["part_energy"][2].tolist() == [4.0, 10.0, 16.0]

    part = read_columns(source, ["image", "label"], entry_start=3, entry_stop=5)
    assert ak.to_numpy(part["image"]).shape == (2, 1, PIXELS, PIXELS)
    np.testing.assert_array_equal(part["label"], HLS4ML_LABELS[3:5])
    with pytest.raises(
        InputError, match=r"has no column 'j_mass_mmd' \(did you mean 'j_mass_mmdt'"
    ):
        read_columns(source, ["j_mass_mmd"])


def test_hls4ml_malformed_one_hot(tmp_path):
    one_hot = np.eye(5)[HLS4ML_LABELS]
    one_hot[2, 0] = 1.0  # both g and W
    path = write_hls4ml(tmp_path / "broken.h5", one_hot)
    source = open_source(path, format="hls4ml-images")
    with pytest.raises(InputError) as error:
        read_columns(source, ["label"])
    message = str(error.value)
    assert f"entry 2 of hls4ml jet file '{path}' is not one-hot" in message
    assert "j_g=1, j_q=0, j_w=1, j_z=0, j_t=0" in message


def test_hls4ml_needs_its_datasets(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file["jet_pt"] = np.ones(3)
    with pytest.raises(InputError, match=r"is not an hls4ml jet file: it lacks 'jets'.*'jet_pt'"):
        open_source(path, format="hls4ml-images")


# --------------------------------------------------------------------------------------
# Class names and dispatch


def test_class_names_and_label_branches():
    assert class_names("top-landscape") == ("qcd", "top")
    assert class_names("jetclass")[0] == "QCD"
    assert len(class_names("jetclass")) == 10
    assert class_names("hls4ml-images") == ("g", "q", "W", "Z", "t")
    assert class_names("root") is None
    assert label_branch("top-landscape") == "is_signal"
    assert label_branch("hdf5") is None
    with pytest.raises(ConfigError, match=r"unknown format 'jetclas' \(did you mean 'jetclass'"):
        class_names("jetclas")
    # the registry tells the public data sets (with known classes) from the generic formats
    assert PUBLIC_FORMATS == ("top-landscape", "jetclass", "hls4ml-images")
