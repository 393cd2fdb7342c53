"""The per-epoch sample grid of ``miex generator train``: faces x single-AU edits."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from miex.au.space import au_index

#: Grid cells are shown at least this many pixels wide.
MIN_CELL = 96


def sample_grid(net, faces: np.ndarray, aus: np.ndarray, edit_aus: Sequence[str], device) -> np.ndarray:
    """Rows: faces; columns: the input, then the face with one AU set to 1.0 (the others as found)."""
    import cv2

    from miex.generators.ganimation.training import edit_images

    n, size = len(faces), faces.shape[1]
    columns = [faces]
    for name in edit_aus:
        target = np.array(aus, dtype=np.float32, copy=True)
        target[:, au_index(name)] = 1.0
        columns.append(edit_images(net, faces, target, device))
    scale = max(1, int(np.ceil(MIN_CELL / size)))
    cell = size * scale
    grid = np.full((20 + n * cell, len(columns) * cell, 3), 255, np.uint8)
    for j, (title, images) in enumerate(zip(["input", *edit_aus], columns)):
        cv2.putText(grid, title, (j * cell + 4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        for i in range(n):
            big = cv2.resize(images[i], (cell, cell), interpolation=cv2.INTER_NEAREST)
            grid[20 + i * cell:20 + (i + 1) * cell, j * cell:(j + 1) * cell] = big
    return grid


def write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    from miex.errors import MiexError
    from miex.io import atomic_path

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise MiexError(f"{path}: could not write PNG")
