"""Data parallelism for ``miex generator train`` with plain ``torch.distributed``.

Started by ``torchrun --nproc-per-node N -m miex generator train ...``: every process reads
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` and joins one process group (``nccl`` on CUDA,
``gloo`` on CPU). Parameters are broadcast from rank 0 once; after every backward pass the
gradients are averaged with one ``all_reduce`` per network. (The gradient penalty needs a
double backward, which ``DistributedDataParallel`` does not support well; averaging the
gradients by hand is what GAN code such as StyleGAN2-ADA does.) Without ``torchrun`` the run
is a single process and none of this happens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(0, 1, device)
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), device)


def broadcast_parameters(module: nn.Module, info: DistInfo) -> None:
    if not info.active:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: nn.Module, info: DistInfo) -> None:
    """Average the gradients of ``module`` over all processes (one coalesced all_reduce)."""
    if not info.active:
        return
    import torch.distributed as dist

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def barrier(info: DistInfo) -> None:
    if info.active:
        import torch.distributed as dist

        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
