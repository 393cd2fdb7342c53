"""Small options per registered model (quick CPU runs) and a 640x480 composite fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Options that make every model small enough for a test (defaults for everything else).
SMALL: dict[str, dict[str, Any]] = {
    "apexme": dict(image_size=32, width=4),
    "branches": dict(image_size=32, width=4),
    "miacnet": dict(image_size=32, width=4),
    "resnet18": dict(image_size=32, width=4),
    "micro_attention": dict(image_size=32, width=4),
    "atnet": dict(image_size=32, width=4),
    "ststnet": {},
    "offapexnet": dict(hidden=64),
    "dssn": {},
    "dtscnn": dict(in_chans=2, image_size=16, frames=(2, 4), width=4),
    "elrcn": dict(image_size=32, frames=3, width=4, hidden=16),
    "microexp_stcnn": dict(image_size=16, frames=6, temporal_kernel=3),
    "microexp_fusenet": dict(image_size=16, frames=6, temporal_kernel=3),
    "htnet": dict(dim=16, depths=(1, 1, 1)),
    "lbp_top": dict(image_size=64),
    "bi_woof": {},
}

#: The fixture's subjects: four different real people (:mod:`miex.testing.people`).
SUBJECTS = (("casme2", "sub01"), ("casme2", "sub02"), ("samm", "006"), ("smic", "s1"))


def recording_source(seed: int = 0):
    """640x480 recordings (the CASME II / SMIC-HS size) of a different person per subject, the face
    a part of the frame at a per-subject position, class-specific AU motion (miex.testing.people)."""
    from miex.testing.people import recording_source as people_recordings

    return people_recordings(list(SUBJECTS), seed=seed)


#: One clip per class of each subject.
OFFICIAL_LIST = ("casme2,sub01,EP01_00f,0", "casme2,sub01,EP02_01f,1", "casme2,sub01,EP03_02f,2",
                 "casme2,sub02,EP01_00f,0", "casme2,sub02,EP02_01f,1", "casme2,sub02,EP03_02f,2",
                 "samm,6,006_1_1,0", "samm,6,006_2_1,1", "samm,6,006_3_1,2",
                 "smic,s01,s01_ne_01,0", "smic,s01,s01_po_01,1", "smic,s01,s01_sur_01,2")
N_CLIPS, N_SUBJECTS = len(OFFICIAL_LIST), 4


def write_recordings(root: Path, n_frames: int = 6) -> dict[str, str]:
    """12 clips (4 subjects x 3 classes) in the CASME II / SAMM / SMIC-HS layouts at 640x480."""
    from miex.testing import write_megc_composite_fixture

    root.mkdir(parents=True, exist_ok=True)
    list_path = root / "official_list.csv"
    list_path.write_bytes(("\r\n".join(OFFICIAL_LIST) + "\r\n").encode("ascii"))
    roots = write_megc_composite_fixture(root, frame_source=recording_source(), n_frames=n_frames,
                                         list_path=list_path)
    return {**{k: str(v) for k, v in roots.items()}, "list_path": str(list_path)}
