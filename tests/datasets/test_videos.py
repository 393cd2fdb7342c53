"""The macro-expression clip interface: video files, frame folders and MaE datasets, each
cropped around the face found on its first frame, cached, with counted skips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from miex.datasets.videos import ClipSettings, collect_clips, dataset_clips, find_clips, prepare_clip, read_video
from miex.errors import MiexError, SkipLog
from miex.faces import FaceDetector, builtin_face_paths
from miex.testing import write_ckplus_fixture
from miex.testing.videos import VIDEO_SIZE, write_face_video, write_noface_video


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    """Two 640x480 face videos (astronaut .mp4, mirrored Grace Hopper .avi), one without a face,
    one broken file, a frame folder of a face and a one-frame folder."""
    root = tmp_path_factory.mktemp("videos") / "recordings"
    astronaut, hopper = builtin_face_paths()[:2]
    write_face_video(root / "astronaut_happy.mp4", astronaut, "happiness", 12)
    write_face_video(root / "session2" / "hopper_surprise.avi", hopper, "surprise", 10, mirror=True)
    write_noface_video(root / "empty_room.mp4", 8)
    (root / "broken.mov").write_bytes(b"this is not a video")
    frames = read_video(root / "astronaut_happy.mp4")
    for sub, n in (("frames_clip", 6), ("one_frame", 1)):
        (root / sub).mkdir()
        for i in range(n):
            cv2.imwrite(str(root / sub / f"img{i + 1}.jpg"), cv2.cvtColor(frames[i], cv2.COLOR_RGB2BGR))
    return root


def test_read_video_decodes_real_frames(video_dir):
    frames = read_video(video_dir / "astronaut_happy.mp4")
    assert frames.shape == (12, VIDEO_SIZE[1], VIDEO_SIZE[0], 3) and frames.dtype == np.uint8
    assert read_video(video_dir / "astronaut_happy.mp4", stride=3, max_frames=3).shape[0] == 3


def test_find_clips_lists_videos_and_frame_folders(video_dir):
    refs = {r.key: r for r in find_clips(video_dir)}
    assert set(refs) == {
        "recordings/astronaut_happy.mp4", "recordings/session2/hopper_surprise.avi", "recordings/empty_room.mp4",
        "recordings/broken.mov", "recordings/frames_clip", "recordings/one_frame",
    }
    assert refs["recordings/frames_clip"].kind == "frames" and len(refs["recordings/frames_clip"].frames) == 6
    with pytest.raises(MiexError, match="not-there"):
        find_clips(video_dir / "not-there")


def test_collect_clips_crops_faces_and_counts_skips(video_dir, tmp_path, capsys):
    skips = SkipLog()
    clips = collect_clips([video_dir], settings=ClipSettings(size=64), cache_dir=tmp_path, skips=skips,
                          progress=False)
    assert {c.key for c in clips} == {"recordings/astronaut_happy.mp4", "recordings/session2/hopper_surprise.avi",
                                      "recordings/frames_clip"}
    assert len(skips) == 3
    reasons = {Path(p).name: r for p, r in skips.items}
    assert "no face" in reasons["empty_room.mp4"] and "unreadable" in reasons["broken.mov"]
    assert "too short" in reasons["one_frame"]
    assert skips.summary().startswith("skipped 3 input(s)")
    assert "Traceback" not in capsys.readouterr().err
    detector = FaceDetector()
    for clip in clips:
        crops = clip.load()
        assert crops.shape[1:] == (64, 64, 3) and crops.shape[0] == clip.n_frames
        # the crop is a face: dlib finds one in the upscaled crop of the first frame
        big = cv2.resize(crops[0], (192, 192), interpolation=cv2.INTER_CUBIC)
        assert detector.detect(big), clip.key
    # the face moves: the last frame differs from the first inside the crop
    happy = next(c for c in clips if c.key.endswith("astronaut_happy.mp4")).load().astype(float)
    assert np.abs(happy[-1] - happy[0]).mean() > 1.0


def test_second_run_reads_the_cache_without_detecting(video_dir, tmp_path):
    settings = ClipSettings(size=48)
    refs = [r for r in find_clips(video_dir) if r.kind in ("video", "frames") and "one_frame" not in r.key
            and "broken" not in r.key]
    first = FaceDetector()
    results = {}
    for ref in refs:
        try:
            results[ref.key] = prepare_clip(ref, settings, detector=first, cache_dir=tmp_path).load()
        except MiexError:
            results[ref.key] = None
    assert first.calls >= len(refs)
    again = FaceDetector()
    for ref in refs:
        try:
            crops = prepare_clip(ref, settings, detector=again, cache_dir=tmp_path).load()
        except MiexError:
            crops = None
        if results[ref.key] is None:
            assert crops is None
        else:
            assert np.array_equal(crops, results[ref.key])
    assert again.calls == 0


def test_mae_dataset_clips(tmp_path):
    fixture = write_ckplus_fixture(tmp_path / "ckplus")
    refs = dataset_clips("ck+", fixture.root)
    assert len(refs) == len(fixture.clips)  # unlabelled sequences too
    assert all(r.key.startswith("ckplus/") and r.kind == "dataset" for r in refs)
    skips = SkipLog(echo=False)
    clips = collect_clips(datasets=[f"ckplus={fixture.root}"], settings=ClipSettings(size=48, min_frames=3),
                          cache_dir=tmp_path / "cache", skips=skips, progress=False)
    assert len(clips) + len(skips) == len(refs) and clips
    assert all(c.load().shape[1:] == (48, 48, 3) for c in clips)


def test_no_source_is_an_error(tmp_path):
    with pytest.raises(MiexError, match="no clip source"):
        collect_clips([], [], cache_dir=tmp_path)


def test_synth_clip_folders_are_clips(tmp_path):
    """`miex synth --frames clip` output: one clip per sample folder (the lists/ folder holds none)."""
    from miex.synth.config import SynthConfig
    from miex.synth.runner import run_synth

    out = tmp_path / "synth"
    run_synth(SynthConfig(faces="builtin", out=str(out), ids=2, sources=("expert",), size=64, frames="clip", seed=0),
              progress=False)
    refs = find_clips(out)
    samples = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name not in ("lists",) and
                     not p.name.startswith("."))
    assert sorted(r.key.split("/", 1)[1] for r in refs) == samples and all(r.kind == "frames" for r in refs)
    skips = SkipLog(echo=False)
    clips = collect_clips([out], settings=ClipSettings(size=48), cache_dir=tmp_path / "cache", skips=skips,
                          progress=False)
    assert len(clips) == len(samples) and not len(skips)
    assert all(c.n_frames == len(r.frames) for c, r in zip(clips, refs))
