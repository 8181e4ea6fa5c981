"""The process group of a distributed training, destroyed before its process exits."""

import atexit

import lightning as L
import torch.distributed


class ReleaseProcessGroup(L.Callback):
    """Destroys the process group when the process exits, while Python is still whole.

    Lightning does so for NCCL only. A gloo group left to the interpreter's finalization
    can still hold work whose tensors need the interpreter, and the process aborts
    ("terminate called without an active exception", pytorch/pytorch#190489): a
    ``ddp_spawn`` rank of the test suite did, after its training had finished. The group
    is kept until the exit (not destroyed at teardown) because the ranks of ``ddp``
    train every fold of a k-fold run in one group.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Register the exit handler once the group exists (in every rank's process)."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            atexit.unregister(destroy_process_group)  # (once, however many trainings)
            atexit.register(destroy_process_group)


def destroy_process_group() -> None:
    """Destroy the default process group, if this process still has one."""
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
