from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from miex.errors import InputError, MiexError
from miex.faces import FaceDetector, detect_face
from miex.faces.detect import order_boxes
from miex.faces.models import SHAPE_PREDICTOR_68, model_path


def iou(a, b) -> float:
    l, t = max(a[0], b[0]), max(a[1], b[1])
    r, btm = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, r - l) * max(0, btm - t)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / float(area_a + area_b - inter)

# Where the astronaut's face is (checked by eye on the photo): dlib's box at upsample 1.
ASTRONAUT_FACE = (175, 76, 266, 167)


def test_models_resolve_without_importing_the_package():
    code = (
        "import sys; from miex.faces.models import model_path, SHAPE_PREDICTOR_68, FACE_RECOGNITION_RESNET;"
        "assert model_path(SHAPE_PREDICTOR_68).is_file(); assert model_path(FACE_RECOGNITION_RESNET).is_file();"
        "assert 'face_recognition_models' not in sys.modules; assert 'pkg_resources' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_models_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MIEX_FACE_MODELS_DIR", str(tmp_path))
    with pytest.raises(MiexError, match="model file not found"):
        model_path(SHAPE_PREDICTOR_68)


def test_astronaut_picks_the_real_face(astronaut_rgb, detector, astronaut_face):
    scored = detector.detect_scored(astronaut_rgb)
    boxes = [b for b, _ in scored]
    assert len(boxes) == 2  # the face and a false detection on the suit, about as large
    assert iou(boxes[0], ASTRONAUT_FACE) > 0.8
    assert iou(boxes[1], ASTRONAUT_FACE) == 0.0
    assert detector.detect(astronaut_rgb) == boxes
    assert iou(astronaut_face.box, ASTRONAUT_FACE) > 0.8
    assert astronaut_face.n_faces == 2


def test_near_ties_are_broken_by_score_and_clear_winners_by_size():
    real, fake = (0, 0, 91, 91), (300, 300, 391, 392)  # fake slightly larger
    assert order_boxes([fake, real], [0.1, 1.2])[0][0] == real
    big = (0, 0, 150, 150)  # clearly larger face wins even with a lower score
    assert [b for b, _ in order_boxes([real, big, fake], [1.2, 0.3, 0.1])] == [big, fake, real]
    assert order_boxes([], []) == []


def _check_landmark_anatomy(pts: np.ndarray, box) -> None:
    assert pts.shape == (68, 2) and pts.dtype == np.float64
    l, t, r, b = box
    w = r - l
    assert np.all(pts[:, 0] > l - 0.3 * w) and np.all(pts[:, 0] < r + 0.3 * w)
    left_eye, right_eye = pts[36:42].mean(0), pts[42:48].mean(0)
    nose_tip, mouth, chin = pts[30], pts[48:68].mean(0), pts[8]
    brows = pts[17:27].mean(0)
    assert left_eye[0] < nose_tip[0] < right_eye[0]
    assert brows[1] < left_eye[1] < nose_tip[1] < mouth[1] < chin[1]
    assert pts[48, 0] < pts[54, 0]  # mouth corners: 48 on the image left


def test_landmarks_on_both_real_faces(astronaut_rgb, grace_path, detector):
    from miex.faces import load_image

    for rgb in (astronaut_rgb, load_image(grace_path)):
        box = detector.detect(rgb)[0]
        _check_landmark_anatomy(detector.landmarks(rgb, box), box)


def test_grace_hopper(grace_face):
    assert grace_face.n_faces == 1
    assert grace_face.image.shape == (128, 128, 3)
    # her face is in the middle of the photo, below the cap
    l, t, r, b = grace_face.box
    assert 150 < (l + r) / 2 < 350 and 150 < (t + b) / 2 < 330


def test_embedding_separates_people_and_keeps_identity(astronaut_rgb, astronaut_face, grace_face, detector):
    e_src = detector.embedding(astronaut_rgb)
    e_crop = detector.embedding(astronaut_face.image, astronaut_face.landmarks)
    e_mirror = detector.embedding(np.ascontiguousarray(astronaut_rgb[:, ::-1]))
    e_grace = detector.embedding(grace_face.image, grace_face.landmarks)
    assert e_src.shape == (128,) and np.isfinite(e_src).all()
    same = [np.linalg.norm(e_src - e) for e in (e_crop, e_mirror)]
    other = np.linalg.norm(e_src - e_grace)
    print(f"embedding distance: crop {same[0]:.3f}, mirror {same[1]:.3f}, other person {other:.3f}")
    assert max(same) < 0.6 < other


def test_no_face_is_a_clear_error(coffee_path, detector):
    with pytest.raises(InputError, match="no face found") as info:
        detect_face(coffee_path, detector=detector)
    assert info.value.path == str(coffee_path)
    with pytest.raises(InputError, match="no face found"):
        detector.embedding(np.full((120, 120, 3), 128, np.uint8))


def test_bad_arguments(astronaut_rgb):
    with pytest.raises(MiexError, match="upsample"):
        FaceDetector(upsample=-1)
    with pytest.raises(InputError, match="expected an"):
        detect_face(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(InputError, match="unreadable image"):
        detect_face("/nonexistent/face.jpg")


def test_cached_hog_detector_finds_what_dlibs_own_finds(tmp_path, monkeypatch):
    import dlib
    from skimage import data

    from miex.faces.detect import _frontal_face_detector

    monkeypatch.setenv("MIEX_CACHE_DIR", str(tmp_path))
    own = dlib.get_frontal_face_detector()
    built = _frontal_face_detector()  # builds and saves the copy
    (saved,) = (tmp_path / "dlib").glob("frontal_face_detector-*.svm")
    loaded = _frontal_face_detector()  # reads the copy
    scene = np.zeros((480, 640, 3), np.uint8)
    scene[100:356, 200:456] = data.astronaut()[::2, ::2]  # a small face in a 640x480 frame
    for image in (data.astronaut(), scene):
        for upsample in (0, 1):
            boxes, scores, kinds = own.run(image, upsample, 0.0)
            for det in (built, loaded):
                b2, s2, k2 = det.run(image, upsample, 0.0)
                assert [tuple((r.left(), r.top(), r.right(), r.bottom())) for r in b2] == \
                    [tuple((r.left(), r.top(), r.right(), r.bottom())) for r in boxes]
                assert list(s2) == list(scores) and list(k2) == list(kinds)
    assert len(own.run(scene, 1, 0.0)[0]) >= 1
    saved.write_bytes(b"not a detector")
    assert len(_frontal_face_detector().run(data.astronaut(), 1, 0.0)[0]) >= 1  # rebuilt
    assert saved.stat().st_size > 1000


def test_hog_detector_without_a_writable_cache(tmp_path, monkeypatch):
    from skimage import data

    from miex.faces.detect import _frontal_face_detector

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MIEX_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert len(_frontal_face_detector().run(data.astronaut(), 1, 0.0)[0]) >= 1
