"""The Lightning DataModule: a run config's data, in memory or streamed, sharded over ranks."""

import lightning as L
import numpy as np
from torch.utils.data import DataLoader

from heplearn.data.dataset import Dataset, load_dataset
from heplearn.data.loaders import (
    Chunk,
    OpenFiles,
    StreamBatches,
    StreamingDataset,
    scan_stream,
    streaming_loader,
)
from heplearn.data.preprocessing import Preprocessing, class_count
from heplearn.errors import ConfigError
from heplearn.training.config import RunConfig
from heplearn.training.sampling import EpochBatches, EpochSampler


class RunDataModule(L.LightningDataModule):
    """Train and validation batches of a run config (only the inputs its model reads).

    ``setup`` runs on every process: each rank reads the data (in memory) or plans the
    chunks (streaming) and keeps only its own share, chosen by its *global* rank (the
    same on one node or several). Both paths give every rank the same number of steps
    per epoch, in an order that depends only on (seed, epoch, world size): see
    :class:`EpochSampler` and :class:`StreamingDataset`.

    Parameters
    ----------
    config : RunConfig
        The run config (its ``data`` spec, ``seed`` and ``training`` section).
    preprocessing : Preprocessing, optional
        Reuse fitted preprocessing instead of fitting it on the training split.
    """

    def __init__(self, config: RunConfig, preprocessing: Preprocessing | None = None) -> None:
        super().__init__()
        self.config = config
        self.spec = config.model_data()
        self.preprocessing = preprocessing
        self.dataset: Dataset | None = None
        self.n_classes = 0
        self.split_counts: np.ndarray | None = None
        self.chunks: list[Chunk] | None = None
        self.rank, self.world_size = 0, 1
        self.pin_memory = False
        # streaming: the files stay open from one pass to the next (their metadata only)
        self.open_files = OpenFiles()

    def prepare(self) -> None:
        """Read the data (in memory), or fit the preprocessing and count each chunk's
        events in one pass (streaming)."""
        spec, seed, streaming = self.spec, self.config.seed, self.config.training.streaming
        if streaming is None:
            if self.dataset is None:
                self.dataset = load_dataset(spec, seed, self.preprocessing)
                self.preprocessing = self.dataset.preprocessing
                self.n_classes = class_count(spec, self.dataset.events.label)
            return
        if spec.task == "classification" and not spec.classes:
            raise ConfigError("data.classes: list the class names to train while streaming")
        self.n_classes = len(spec.classes or [])
        if self.split_counts is None:
            scan = scan_stream(
                spec, seed, streaming.chunk_entries, self.preprocessing, self.open_files
            )
            self.preprocessing, self.split_counts = scan.preprocessing, scan.split_counts
            self.chunks = scan.chunks

    def check_shares(self, world_size: int) -> None:
        """Refuse a streamed run with more processes than chunks of a split to deal out.

        Raises
        ------
        ConfigError
            Naming the split, its chunks and the number of processes.
        """
        streaming = self.config.training.streaming
        if streaming is None or world_size == 1:
            return
        self.prepare()
        assert self.preprocessing is not None
        for split in ("train", "validation"):
            StreamingDataset(
                self.spec,
                self.preprocessing,
                split,
                self.config.training.batch_size,
                seed=self.config.seed,
                chunk_entries=streaming.chunk_entries,
                world_size=world_size,
                split_counts=self.split_counts,
                chunks=self.chunks,
            )

    def setup(self, stage: str) -> None:
        """Load this rank's data (Lightning calls it on every process)."""
        if self.trainer is not None:
            self.rank, self.world_size = self.trainer.global_rank, self.trainer.world_size
            # page-locked batches let Lightning copy them to the GPU without blocking
            self.pin_memory = self.trainer.strategy.root_device.type == "cuda"
        self.prepare()

    def teardown(self, stage: str) -> None:
        """Close the files a streamed run kept open (Lightning calls it when it ends)."""
        self.open_files.close()

    def train_dataloader(self) -> DataLoader | StreamBatches | EpochBatches:
        """Training batches, reshuffled every epoch (in memory) or from a shuffle buffer."""
        return self._loader("train", shuffle=self.config.training.shuffle)

    def val_dataloader(self) -> DataLoader | StreamBatches | EpochBatches:
        """Validation batches in file order."""
        return self._loader("validation", shuffle=False)

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        """One split of the in-memory data as arrays, of ``training.classes`` if given."""
        self.prepare()
        assert self.dataset is not None
        return self._of_training_classes(self.dataset.arrays(split))

    def _loader(self, split: str, shuffle: bool) -> DataLoader | StreamBatches | EpochBatches:
        training = self.config.training
        if training.streaming is not None:
            assert self.preprocessing is not None
            stream = StreamingDataset(
                self.spec,
                self.preprocessing,
                split,
                training.batch_size,
                seed=self.config.seed,
                chunk_entries=training.streaming.chunk_entries,
                shuffle_buffer=training.streaming.shuffle_buffer if shuffle else 0,
                rank=self.rank,
                world_size=self.world_size,
                split_counts=self.split_counts,
                chunks=self.chunks,
                open_files=self.open_files,
            )
            if self.trainer is not None:
                stream.set_epoch(self.trainer.current_epoch)
            return streaming_loader(stream, training.streaming.workers, self.pin_memory)
        arrays = self.arrays(split)
        self._require_events(split, arrays)
        sampler = EpochSampler(
            len(arrays["label"]),
            self.config.training_seed,
            shuffle=shuffle,
            rank=self.rank,
            world_size=self.world_size,
        )
        return EpochBatches(arrays, training.batch_size, sampler, pin_memory=self.pin_memory)

    def _of_training_classes(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Only the events of ``training.classes``, when the config names them."""
        chosen = self.config.training.classes
        if chosen is None:
            return arrays
        names = self.spec.classes or []
        keep = np.isin(arrays["label"], [names.index(name) for name in chosen])
        return {key: values[keep] for key, values in arrays.items()}

    def _require_events(self, split: str, arrays: dict[str, np.ndarray]) -> None:
        if len(arrays["label"]) < self.world_size:
            fraction = getattr(self.spec.split, split)
            raise ConfigError(
                f"the {split} split holds {len(arrays['label'])} events (data.split.{split} = "
                f"{fraction}); training needs events in both train and validation"
            )
