"""Data-parallel training over the processes `torchrun` starts: gloo on CPU, nccl on CUDA.

Every process holds the full networks and a slice of the batch; gradients (and the tracked `w_avg`) are averaged
so that all replicas stay identical, as in NVIDIA's stylegan2-ada-pytorch training loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor, nn


@dataclass(frozen=True)
class Distributed:
    """This process's place among `world_size` replicas (rank 0 alone writes files and reports progress)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def average_(self, tensor: Tensor) -> Tensor:
        """Replace `tensor` by its mean over all replicas, in place."""
        if self.world_size > 1:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
            tensor /= self.world_size
        return tensor

    def average_gradients_(self, module: nn.Module) -> None:
        """Average the gradients of `module` over replicas and zero non-finite entries (NVIDIA's nan_to_num)."""
        params = [p for p in module.parameters() if p.grad is not None]
        if not params:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if self.world_size > 1:
            flat = self.average_(torch.cat([g.flatten() for g in grads]))
            grads = list(flat.split([p.numel() for p in params]))
            for param, grad in zip(params, grads, strict=True):
                param.grad = grad.reshape(param.shape)
        for param in params:
            assert param.grad is not None
            torch.nan_to_num(param.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=param.grad)

    def broadcast_(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every replica."""
        if self.world_size > 1:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def all_succeeded(self, succeeded: bool) -> bool:
        """True when every replica passes True, so that one process's failure stops all of them."""
        if self.world_size == 1:
            return succeeded
        flag = torch.tensor([1.0 if succeeded else 0.0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item() == 1.0)


def setup_distributed(device: str | torch.device = "cpu") -> Distributed:
    """Join the process group described by torchrun's RANK / WORLD_SIZE / LOCAL_RANK, or run as one process.

    On CUDA each process takes the GPU `cuda:LOCAL_RANK` and the nccl backend; elsewhere gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device(device)
    if world_size <= 1:
        return Distributed(device=dev)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def shutdown_distributed() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
