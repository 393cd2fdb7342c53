"""The GANimation backend behind the Generator interface, on real face photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from miex.errors import MiexError
from miex.generators import create_generator, list_generators
from miex.generators.ganimation import GANimationNet, save_network
from miex.generators.ganimation.crop import CROP_IOD, crop_eyes, generator_crop
from tests.generators.ganimation_reference import randomise

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A small replicate-layout generator with non-trivial weights (a real file on disk)."""
    net = randomise(GANimationNet(ngf=8, n_blocks=1), seed=11)
    with torch.no_grad():  # bias the attention so most of the image is kept, as trained models do
        net.attention_head.weight.mul_(0.2)
    path = tmp_path_factory.mktemp("weights") / "3_net_gen.pth"
    save_network(net, path)
    return path


@pytest.fixture(scope="module")
def photo_face(astronaut_path):
    from miex.faces import detect_face

    return detect_face(astronaut_path)


def test_registered_and_needs_weights():
    assert "ganimation" in list_generators()
    with pytest.raises(MiexError, match="needs a weights file"):
        create_generator("ganimation")


def test_crop_matches_the_detector_box_framing(photo_face, astronaut_rgb, detector):
    """The generator crop covers about the dlib HOG box the checkpoints were trained on."""
    from miex.faces.align import transform_points
    from miex.generators.ganimation.crop import crop_transform, invert

    crop = generator_crop(photo_face, 128)
    source_landmarks = transform_points(invert(photo_face.transform), photo_face.landmarks)
    m = crop_transform(source_landmarks, 128)
    left, top, right, bottom = detector.detect(astronaut_rgb)[0]
    corners = transform_points(m, np.array([[left, top], [right, bottom]], dtype=float))
    assert np.abs(corners - [[0, 0], [128, 128]]).max() < 0.1 * 128
    left_eye, right_eye = crop_eyes(128)
    assert np.isclose(right_eye[0] - left_eye[0], 128 / CROP_IOD)
    # from the photo or from the aligned crop: the same framing (the crop route is only blurrier)
    fallback = generator_crop(photo_face, 128, from_source=False)
    diff = np.abs(crop.image.astype(int) - fallback.image.astype(int)).mean()
    assert diff < 12, diff


def test_render_contract_batches_and_paste(weights, photo_face):
    gen = create_generator("ganimation", weights=str(weights), batch_size=3)
    prepared = gen.prepare(photo_face)
    zs = np.zeros((5, 17))
    zs[1:, 8] = [0.25, 0.5, 0.75, 1.0]
    frames = gen.render_many(prepared, zs)
    assert all(f.shape == photo_face.image.shape and f.dtype == np.uint8 for f in frames)
    single = [gen.render(prepared, z) for z in zs]
    assert all(np.array_equal(a, b) for a, b in zip(frames, single))  # batching changes no byte
    again = create_generator("ganimation", weights=str(weights), batch_size=5).render_many(gen.prepare(photo_face), zs)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again))
    assert not np.array_equal(frames[0], frames[-1])  # the AU input matters
    # the paste is confined to the generator crop: the aligned crop's corners are its own pixels
    corner = (slice(0, 6), slice(0, 6))
    assert np.array_equal(frames[-1][corner], photo_face.image[corner])
    assert gen.weights_sha256 and len(gen.weights_sha256) == 64


def test_native_framing_and_array_faces(weights, faces):
    gen = create_generator("ganimation", weights=str(weights), paste=False)
    face = faces["grace"]  # made from an array: no source file, cropped from the aligned face
    frame = gen.render(gen.prepare(face), np.full(17, 0.3))
    assert frame.shape == face.image.shape


def test_thread_count_changes_no_byte(weights, photo_face):
    gen = create_generator("ganimation", weights=str(weights))
    prepared = gen.prepare(photo_face)
    zs = np.random.default_rng(0).uniform(0, 1, (4, 17))
    one = gen.render_many(prepared, zs)
    torch.set_num_threads(2)
    two = gen.render_many(prepared, zs)
    assert max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(one, two)) <= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: the error path does not apply")
def test_cuda_without_cuda_is_a_clear_error(weights):
    with pytest.raises(MiexError, match="CUDA is not available"):
        create_generator("ganimation", weights=str(weights), device="cuda")
