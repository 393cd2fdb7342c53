"""``miex generator train``: train a GANimation generator on a face set with AU targets.

Examples::

    # OpenFace FaceLandmarkImg CSVs (one <image stem>.csv per photo), on a GPU
    miex generator train --faces celeba/ --aus openface_csvs/ --out runs/gan --device cuda
    # a miex AU table (columns image, AU01 ... AU45 as z in [0, 1]); several GPUs
    torchrun --nproc-per-node 4 -m miex generator train --faces faces/ --aus aus.csv --out runs/gan --device cuda

The recipe is GANimation's (Pumarola et al., ECCV 2018, as in its public code): WGAN-GP (10),
AU regression (160), cycle L1 (10), attention mean (0.1) and smoothness (1e-5) losses; one
generator step per 5 critic steps; Adam 1e-4, betas (0.5, 0.999); 20 constant + 10 linearly
decaying epochs; batch 25; target AUs of other training images plus +-0.1 noise.

OUT gets checkpoints/{epoch}_net_gen.pth and _net_dis.pth (ganimation_replicate layout: use
them with --generator ganimation --weights), resume.pt, losses.csv, samples/epoch_NNN.png
(faces x single-AU edits) and data/ (the aligned crops). Re-run the same command to resume.
A usable model needs a GPU and tens of thousands of faces (CelebA, EmotioNet); on a CPU only
small configurations are practical.
"""

from __future__ import annotations

import argparse

from miex.errors import MiexError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generator", help="train learned face generators (GANimation)",
                                   description="Learned generators: `miex generator train --help`.")
    verbs = parser.add_subparsers(dest="generator_command", metavar="ACTION")
    train = verbs.add_parser("train", help="train GANimation on faces with AU targets", description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(train)
    train.set_defaults(func=handle_train)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--faces", required=True, help="face photos: a folder, a CelebA root, or 'builtin'")
    data.add_argument("--aus", required=True,
                      help="AU targets: a folder of OpenFace FaceLandmarkImg CSVs (<image stem>.csv, AUxx_r / 5) "
                      "or a miex AU table (.csv/.parquet: image, AU01 ... AU45 as z in [0, 1])")
    data.add_argument("--out", required=True, help="run folder (resumable)")
    data.add_argument("--size", type=int, default=128, help="crop size (default 128, the public checkpoints')")
    data.add_argument("--workers", type=int, default=1, help="processes for face detection (default 1)")
    model = p.add_argument_group("networks")
    model.add_argument("--ngf", type=int, default=64, help="generator base width (default 64)")
    model.add_argument("--blocks", type=int, default=6, help="generator residual blocks (default 6)")
    model.add_argument("--ndf", type=int, default=64, help="critic base width (default 64)")
    model.add_argument("--critic-layers", type=int, default=6, help="critic stride-2 layers (default 6)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--batch-size", type=int, default=25)
    opt.add_argument("--epochs-constant", type=int, default=20, help="epochs at the initial learning rate")
    opt.add_argument("--epochs-decay", type=int, default=10, help="epochs with a linearly falling rate")
    opt.add_argument("--lr", type=float, default=1e-4)
    opt.add_argument("--beta1", type=float, default=0.5)
    opt.add_argument("--beta2", type=float, default=0.999)
    opt.add_argument("--critic-steps", type=int, default=5, help="critic steps per generator step (default 5)")
    opt.add_argument("--lambda-gp", type=float, default=10.0)
    opt.add_argument("--lambda-au", type=float, default=160.0)
    opt.add_argument("--lambda-cycle", type=float, default=10.0)
    opt.add_argument("--lambda-attention", type=float, default=0.1)
    opt.add_argument("--lambda-smooth", type=float, default=1e-5)
    opt.add_argument("--target-noise", type=float, default=0.1, help="uniform noise on target AUs (default 0.1)")
    opt.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    run = p.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default); bf16 autocast on CUDA")
    run.add_argument("--log-every", type=int, default=50, help="steps per losses.csv row (default 50)")
    run.add_argument("--save-every", type=int, default=1000, help="steps between resume states (default 1000; 0: per epoch)")
    run.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: run every epoch)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace):
    from miex.generators.ganimation.training import TrainConfig

    return TrainConfig(
        out=args.out, size=args.size, ngf=args.ngf, n_blocks=args.blocks, ndf=args.ndf,
        critic_layers=args.critic_layers, batch_size=args.batch_size, epochs_constant=args.epochs_constant,
        epochs_decay=args.epochs_decay, lr=args.lr, beta1=args.beta1, beta2=args.beta2,
        critic_steps=args.critic_steps, lambda_gp=args.lambda_gp, lambda_au=args.lambda_au,
        lambda_cycle=args.lambda_cycle, lambda_attention=args.lambda_attention, lambda_smooth=args.lambda_smooth,
        target_noise=args.target_noise, flip=not args.no_flip, seed=args.seed, device=args.device,
        log_every=args.log_every, save_every=args.save_every, max_steps=args.max_steps,
        extra={"faces": args.faces, "aus": args.aus},
    )


def handle_train(args: argparse.Namespace) -> int:
    from miex.errors import SkipLog
    from miex.generators.ganimation.backend import resolve_device
    from miex.generators.ganimation.trainset import build_training_set
    from miex.generators.ganimation.training import train

    config = config_from_args(args)  # option errors before any work
    resolve_device(config.device)
    if args.workers < 1:
        raise MiexError(f"--workers must be at least 1, got {args.workers}")
    skips = SkipLog()
    data = build_training_set(args.faces, args.aus, args.out, args.size, workers=args.workers,
                              progress=not args.quiet, skips=skips)
    print(f"miex generator train: {len(data)} labelled faces; {skips.summary()}")
    last = train(config, data, progress=not args.quiet)
    print(f"miex generator train: done; generator weights {last}")
    return 0
