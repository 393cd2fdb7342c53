"""Speed of the GANimation backend on this machine: inference, training, MiE-X projection.

    python benchmarks/ganimation.py [--batches 6] [--train-cycles 2] [--threads N]

Measures (weights are random: speed does not depend on their values):

- generator images/s of the full network (8.47 M parameters) at batch 8, 128 x 128, float32,
  ``torch.inference_mode``, with torch's thread count (``--threads`` to change it);
- the same through ``create_generator("ganimation").render_many`` on a real face (adds the
  crop and the paste-back into the aligned face crop);
- training steps/s of the full recipe (batch 25, 128², critic + gradient penalty every step,
  one generator step per 5), averaged over whole 5-step cycles, and of the small CPU-proof
  configuration (64², ngf 16, 2 blocks, critic 16 x 4 layers, batch 16);
- the projected time of a full MiE-X render: 5,000 faces x 18 frames = 90,000 frames, and of
  one CelebA epoch (145,000 training crops, the replicate code's split).

The machine is shared: the 1-minute load average before and after is printed with the figures.

Measured on the 2-core development machine (shared with other jobs; torch 2.13 CPU):
generator 4.5 images/s on 1 thread and 7.0 on 2 (load average 1.7; batch 8, 128²); 2.2 / 1.6
images/s with load 3.7-5.7; a full MiE-X render at 2.3 frames/s is ~11 h. Training: 0.016
steps/s for the full recipe (load 7-12: a CelebA epoch ~100 h), 0.23 steps/s for the proof
configuration.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

MIEX_FRAMES = 90_000
CELEBA_TRAIN = 145_000


def loadavg() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def generator_speed(batches: int) -> float:
    import torch

    from miex.generators.ganimation import GANimationNet
    from miex.generators.ganimation.networks import init_weights

    torch.manual_seed(0)
    net = GANimationNet()
    init_weights(net)
    net.eval()
    x = torch.rand(8, 3, 128, 128) * 2 - 1
    z = torch.rand(8, 17)
    with torch.inference_mode():
        net.edit(x, z)  # warm-up
        start = time.perf_counter()
        for _ in range(batches):
            net.edit(x, z)
        seconds = time.perf_counter() - start
    return 8 * batches / seconds


def backend_speed(batches: int) -> float:
    import torch

    from miex.faces import builtin_face_paths, detect_face
    from miex.generators.ganimation import GANimationGenerator, GANimationNet
    from miex.generators.ganimation.networks import init_weights

    torch.manual_seed(0)
    net = GANimationNet()
    init_weights(net)
    gen = GANimationGenerator(net=net, batch_size=8)
    prepared = gen.prepare(detect_face(builtin_face_paths()[0]))
    zs = np.random.default_rng(0).uniform(0, 0.3, (8 * batches, 17))
    gen.render_many(prepared, zs[:8])
    start = time.perf_counter()
    gen.render_many(prepared, zs)
    return len(zs) / (time.perf_counter() - start)


def training_speed(cycles: int, **shape) -> float:
    """Steps/s of whole (critic_steps critic + 1 generator) cycles on random images."""
    import tempfile

    import torch

    from miex.generators.ganimation import distributed as ddp
    from miex.generators.ganimation.training import TrainConfig, Trainer, TrainingSet, make_batch

    config = TrainConfig(out=tempfile.mkdtemp(), device="cpu", **shape)
    n = config.batch_size * 2
    gen = np.random.default_rng(0)
    data = TrainingSet(images=gen.integers(0, 256, (n, config.size, config.size, 3), dtype=np.uint8),
                       aus=gen.uniform(0, 1, (n, 17)))
    info = ddp.DistInfo(0, 1, torch.device("cpu"))
    trainer = Trainer(config, info)

    def cycle(index: int) -> None:
        for step in range(config.critic_steps):
            batch = make_batch(data, config, 0, (index * config.critic_steps + step) % 2, info)
            trainer.critic_step(batch)
            if step == 0:
                trainer.generator_step(batch)

    cycle(0)  # warm-up
    start = time.perf_counter()
    for index in range(cycles):
        cycle(index + 1)
    return cycles * config.critic_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=6, help="timed generator batches of 8 (default 6)")
    parser.add_argument("--train-cycles", type=int, default=2, help="timed 5-step training cycles (default 2)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--skip-inference", action="store_true", help="only the training figures")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s); "
          f"load average before: {loadavg()}", flush=True)
    if not args.skip_inference:
        rate = generator_speed(args.batches)
        print(f"generator, batch 8, 128x128: {rate:.1f} images/s", flush=True)
        backend = backend_speed(args.batches)
        print(f"render_many (crop + network + paste-back): {backend:.1f} frames/s", flush=True)
        hours = MIEX_FRAMES / backend / 3600
        print(f"projected full MiE-X render ({MIEX_FRAMES:,} frames) at that rate: {hours:.1f} h on this CPU", flush=True)
    full = training_speed(args.train_cycles)
    print(f"training, full recipe (batch 25, 128x128): {full:.3f} steps/s "
          f"-> one CelebA epoch ({CELEBA_TRAIN // 25:,} steps) {CELEBA_TRAIN / 25 / full / 3600:.0f} h, "
          f"30 epochs {30 * CELEBA_TRAIN / 25 / full / 86400:.0f} days on this CPU", flush=True)
    small = training_speed(args.train_cycles, size=64, ngf=16, n_blocks=2, ndf=16, critic_layers=4, batch_size=16)
    print(f"training, CPU-proof configuration (64x64, batch 16): {small:.2f} steps/s", flush=True)
    print(f"load average after: {loadavg()}", flush=True)


if __name__ == "__main__":
    main()
