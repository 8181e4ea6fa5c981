"""heplearn.io: the one TTree writer (whole samples and streamed chunks)."""

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from heplearn.io import BASKET_ENTRIES, TreeLayout, TreeWriter, write_tree


def test_chunks_go_in_baskets_of_the_basket_size(tmp_path: Path) -> None:
    path = tmp_path / "weights.root"
    values = np.arange(2 * BASKET_ENTRIES + 7, dtype=np.float32)
    with TreeWriter(path, "Weights") as writer:
        writer.extend({"weight": values[: BASKET_ENTRIES + 3]})
        writer.extend({"weight": values[BASKET_ENTRIES + 3 :]})
    assert writer.entries == len(values)
    with uproot.open(path) as file:
        branch = file["Weights"]["weight"]
        np.testing.assert_array_equal(branch.array(library="np"), values)
        starts = list(branch.member("fBasketEntry")[: branch.num_baskets])
    assert starts == [0, BASKET_ENTRIES, BASKET_ENTRIES + 3, 2 * BASKET_ENTRIES + 3]


def test_jagged_columns_share_a_counter(tmp_path: Path) -> None:
    path = tmp_path / "events.root"
    columns = {
        "score": np.array([0.1, 0.9], np.float32),
        "part_pt": ak.Array([[1.0, 2.0], []]),
        "part_eta": ak.Array([[0.5, -0.5], []]),
    }
    write_tree(columns, path, "Events")
    with uproot.open(path) as file:
        tree = file["Events"]
        assert set(tree.keys()) == {"score", "npart", "part_pt", "part_eta"}
        assert tree["part_pt"].array().tolist() == [[1.0, 2.0], []]


def test_no_chunk_writes_an_empty_tree_of_the_given_branches(tmp_path: Path) -> None:
    path = tmp_path / "empty.root"
    with TreeWriter(path, "Scores", {"score": np.float32}) as writer:
        pass
    assert writer.entries == 0
    with uproot.open(path) as file:
        assert file["Scores"].num_entries == 0
        assert file["Scores"].keys() == ["score"]


def _write_then_fail(path: Path) -> None:
    with TreeWriter(path, "Scores") as writer:
        writer.extend({"score": np.ones(3, np.float32)})
        raise RuntimeError("scoring failed")


def test_an_error_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="scoring failed"):
        _write_then_fail(tmp_path / "failed.root")
    assert list(tmp_path.iterdir()) == []


def test_a_declared_layout_keeps_counters_title_compression_and_basket_size(
    tmp_path: Path,
) -> None:
    path = tmp_path / "copy.root"
    hits = ak.Array([[1, 2], [], [3], [4, 5, 6]])
    layout = TreeLayout(
        {"id": np.uint32, "nhits": np.int32, "hit": hits.type, "vec": np.dtype((np.float32, 3))},
        counters={"hit": "nhits"},
        title="copied events",
    )
    with TreeWriter(path, "T", layout=layout, compression=uproot.LZ4(2), basket_entries=3) as out:
        out.extend(
            {
                "id": np.arange(4, dtype=np.uint32),
                "hit": hits,
                "vec": np.ones((4, 3), np.float32),
            }
        )
    with uproot.open(path) as file:
        tree = file["T"]
        assert [branch.name for branch in tree.branches] == ["id", "nhits", "hit", "vec"]
        assert tree["hit"].count_branch.name == "nhits"
        assert tree.title == "copied events"
        assert file.file.compression == uproot.LZ4(2)
        assert tree["hit"].array().tolist() == hits.tolist()
        assert list(tree["id"].member("fBasketEntry")[: tree["id"].num_baskets]) == [0, 3]


def test_a_declared_layout_without_chunks_has_its_branches(tmp_path: Path) -> None:
    path = tmp_path / "empty.root"
    layout = TreeLayout({"nhits": np.int32, "hit": ak.Array([[1]]).type}, {"hit": "nhits"})
    with TreeWriter(path, "T", layout=layout, compression=None):
        pass
    with uproot.open(path) as file:
        assert file["T"].keys() == ["nhits", "hit"]
        assert file["T"].num_entries == 0
        assert file.file.compression is None
