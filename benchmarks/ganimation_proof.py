"""The CPU proof's generator, measured with dlib: do AU12 edits lift the mouth corners?

    python benchmarks/ganimation_proof.py [--size 48] [--upscale 128]

Trains the configuration of ``tests/generators/test_ganimation_proof.py`` (warp renders of the
built-in faces, 240 steps), then edits each real face to AU12 = 1.0 and to the neutral vector,
upsamples both outputs to ``--upscale`` px, re-detects 68 dlib landmarks and reports the mouth
corners' (points 48 and 54) vertical lift and horizontal spread in pixels of the upsampled crop,
next to the same numbers for the warp's own AU12 = 1.0 render. Small crops make dlib noisy; this
script measures, the test does not assert it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def corners(detector, image: np.ndarray, size: int) -> np.ndarray | None:
    import cv2

    big = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
    boxes = detector.detect(big)
    if not boxes:
        return None
    pts = detector.landmarks(big, boxes[0])
    return pts[[48, 54]]


def lift(detector, neutral: np.ndarray, edited: np.ndarray, size: int) -> tuple[float, float] | None:
    a, b = corners(detector, neutral, size), corners(detector, edited, size)
    if a is None or b is None:
        return None
    rise = float(np.mean(a[:, 1] - b[:, 1]))                  # + = corners moved up
    spread = float((b[1, 0] - b[0, 0]) - (a[1, 0] - a[0, 0]))  # + = mouth wider
    return rise, spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upscale", type=int, default=128)
    args = parser.parse_args()
    import torch

    from miex.au.space import au_index
    from miex.faces import FaceDetector
    from miex.generators.ganimation.training import TrainConfig, TrainingSet, edit_images, train
    from tests.generators.ganimation_proof import neutral_crops, proof_faces, render_set, warp_differences
    from tests.generators.test_ganimation_proof import CONFIG, SIZE

    torch.set_num_threads(1)
    faces = proof_faces()
    images, aus, names = render_set(faces, 32, SIZE, seed=0, key="train")
    kept: dict = {}
    start, cpu = time.perf_counter(), time.process_time()
    train(TrainConfig(out=tempfile.mkdtemp(), **CONFIG), TrainingSet(images, aus, names), progress=False,
          on_epoch=lambda epoch, trainer: kept.update(trainer=trainer))
    print(f"trained 240 steps in {time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")
    neutral = neutral_crops(faces, SIZE)
    warp = warp_differences(faces, SIZE, neutral)
    z = np.zeros((len(faces), 17), np.float32)
    base = edit_images(kept["trainer"].generator, neutral, z)
    z[:, au_index("AU12")] = 1.0
    smile = edit_images(kept["trainer"].generator, neutral, z)
    detector = FaceDetector(upsample=1)
    for i in range(len(faces)):
        warp_smile = np.clip(neutral[i] + warp["AU12"][i], 0, 255).astype(np.uint8)
        print(f"face {i}: generator AU12 (rise, spread) px = {lift(detector, base[i], smile[i], args.upscale)}; "
              f"warp AU12 = {lift(detector, neutral[i], warp_smile, args.upscale)}")


if __name__ == "__main__":
    main()
