"""Face pools: a folder of photos (or CelebA, or the photos shipped by installed packages)
turned into aligned :class:`~miex.faces.align.Face` records, with a landmark cache.

Detection results (box, 68 landmarks in source pixels, number of faces, or "no face") are
cached as one small JSON file per image, keyed by the file's absolute path, size and
modification time, whether it is mirrored, and the detector settings. Alignment is
recomputed from the cached landmarks (it is cheap), so ``size`` and ``margin`` can change
without re-detecting. The cache lives in ``cache_dir`` (default :func:`default_cache_dir`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from miex.cache import user_cache_dir
from miex.errors import InputError, MiexError, SkipLog
from miex.faces.align import DEFAULT_MARGIN, DEFAULT_SIZE, Face, align_face
from miex.faces.detect import MAX_OUTSIDE, FaceDetector, check_inside, locate_face
from miex.faces.image import IMAGE_SUFFIXES, load_image

CACHE_VERSION = 3
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_ID = 96
_T = TypeVar("_T")


def default_cache_dir() -> Path:
    """``$MIEX_CACHE_DIR/faces`` if set, else ``$XDG_CACHE_HOME/miex/faces`` or ``~/.cache/miex/faces``."""
    return user_cache_dir("faces")


def builtin_face_paths() -> list[Path]:
    """Real face photos shipped inside installed packages (missing ones are left out).

    - scikit-image ``data/astronaut.png`` (Eileen Collins, NASA, public domain);
    - matplotlib ``mpl-data/sample_data/grace_hopper.jpg`` (US Navy, public domain).
    """
    import importlib.util

    out: list[Path] = []
    shipped = (
        ("skimage", ("data", "astronaut.png")),
        ("matplotlib", ("mpl-data", "sample_data", "grace_hopper.jpg")),
    )
    for pkg, rel in shipped:
        try:
            spec = importlib.util.find_spec(pkg)
        except (ImportError, ValueError):
            spec = None
        for loc in (spec.submodule_search_locations or []) if spec is not None else []:
            cand = Path(loc).joinpath(*rel)
            if cand.is_file():
                out.append(cand)
                break
    return out


def safe_id(text: str) -> str:
    """A filesystem-safe id component: ``[A-Za-z0-9._-]`` only, no leading dot or dash."""
    out = _SAFE.sub("-", text).strip("-")
    out = out.lstrip(".-") or "face"
    if len(out) > _MAX_ID:
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()
        out = out[: _MAX_ID - 9] + "-" + digest
    return out


def ids_for_paths(root: Path, paths: list[Path]) -> dict[str, Path]:
    """Stable ids: the path relative to ``root`` without extension, folders joined by ``-``.

    Characters outside ``[A-Za-z0-9._-]`` become ``-``. When two files would share an id
    (``x.jpg`` and ``x.png``), both get their extension appended (``x-jpg``, ``x-png``);
    if that still collides, an 8-hex hash of the relative path.
    """
    rels = {p: p.relative_to(root) for p in paths}
    base = {p: safe_id("-".join(r.with_suffix("").parts)) for p, r in rels.items()}
    groups: dict[str, list[Path]] = {}
    for p, b in base.items():
        groups.setdefault(b, []).append(p)
    out: dict[str, Path] = {}
    for b, ps in groups.items():
        if len(ps) == 1:
            out[b] = ps[0]
            continue
        for p in ps:
            cand = f"{b}-{p.suffix.lstrip('.').lower()}"
            if cand in out or sum(1 for q in ps if q.suffix.lower() == p.suffix.lower()) > 1 or cand in groups:
                digest = hashlib.blake2b(rels[p].as_posix().encode("utf-8"), digest_size=4).hexdigest()
                cand = f"{b}-{digest}"
            out[cand] = p
    return dict(sorted(out.items()))


def scan_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, case-insensitive suffix, hidden entries skipped), sorted."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath) / name)
    return sorted(found)


class _Pool:
    """Shared machinery: candidates per id, cached detection, alignment, skip bookkeeping."""

    def __init__(
        self,
        entries: dict[str, list[tuple[Path, bool]]],
        *,
        name: str,
        size: int = DEFAULT_SIZE,
        margin: float = DEFAULT_MARGIN,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        upsample: int = 1,
        detector: FaceDetector | None = None,
        multi_face: str = "largest",
        max_outside: float = MAX_OUTSIDE,
        echo: bool = True,
    ) -> None:
        if multi_face not in ("largest", "skip"):
            raise MiexError(f"multi_face must be 'largest' or 'skip', got {multi_face!r}")
        self.name = name
        self.size = int(size)
        self.margin = float(margin)
        self.detector = detector if detector is not None else FaceDetector(upsample=upsample)
        self.multi_face = multi_face
        self.max_outside = float(max_outside)
        if cache_dir is False:
            self.cache_dir: Path | None = None
        else:
            use_default = cache_dir is None or cache_dir is True
            self.cache_dir = default_cache_dir() if use_default else Path(cache_dir)  # type: ignore[arg-type]
        self._entries = dict(sorted(entries.items()))
        self.skips = SkipLog(echo=echo)  # unreadable / no face / cut / (multi-face when multi_face="skip")
        self.notes = SkipLog(echo=False)  # multi-face images where the largest face was kept
        self._recorded: set[tuple[str, str]] = set()
        self.cache_hits = 0
        self.cache_misses = 0  # = detector runs made by this pool
        self._cache_warned = False

    # ---- ids ---------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        """Face ids, sorted (stable across runs for the same files)."""
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, face_id: object) -> bool:
        return face_id in self._entries

    def path(self, face_id: str) -> Path:
        """The image file of ``face_id`` (its first candidate)."""
        return self._candidates(face_id)[0][0]

    def is_mirror(self, face_id: str) -> bool:
        return self._candidates(face_id)[0][1]

    def _candidates(self, face_id: str) -> list[tuple[Path, bool]]:
        try:
            return self._entries[face_id]
        except KeyError:
            raise MiexError(f"unknown face id {face_id!r} in {self.name}") from None

    # ---- faces -------------------------------------------------------------------------
    def load(self, face_id: str) -> Face:
        """The aligned face of ``face_id``; :class:`InputError` naming the file if unusable."""
        return self._first_usable(face_id, self._load_one)

    def check(self, face_id: str) -> None:
        """Raise the :class:`InputError` that :meth:`load` would raise, or return if usable.

        A cached detection answers without decoding the image, so checking a large, already
        detected pool is cheap.
        """
        return self._first_usable(face_id, self._check_one)

    def _first_usable(self, face_id: str, attempt: Callable[[Path, bool], _T]) -> _T:
        """``attempt(path, mirror)`` on the candidates of ``face_id`` in order: the first result,
        or the first candidate's :class:`InputError` when none is usable."""
        error: InputError | None = None
        for path, mirror in self._candidates(face_id):
            try:
                return attempt(path, mirror)
            except InputError as exc:
                error = error or exc
        assert error is not None
        raise error

    def _check_one(self, path: Path, mirror: bool) -> None:
        try:
            cfile = self._cache_file(path, mirror)
        except OSError:
            cfile = None
        rec = read_cache(cfile) if cfile is not None else None
        if rec is None or "shape" not in rec:
            self._load_one(path, mirror)
            return
        self.cache_hits += 1
        source = f"{path}#mirror" if mirror else str(path)
        if rec["outcome"] == "no face":
            raise InputError(source, "no face found")
        check_inside(np.asarray(rec["landmarks"], dtype=np.float64), tuple(rec["shape"]), source, self.max_outside)
        if int(rec["n_faces"]) > 1 and self.multi_face == "skip":
            raise InputError(source, f"multiple faces: {rec['n_faces']} found")

    def iter_faces(self, progress: bool | None = None) -> Iterator[tuple[str, Face]]:
        """Yield ``(id, Face)`` for every usable image; skips are logged, then one summary line."""
        from tqdm import tqdm

        quiet = None if progress is None else not progress
        for face_id in tqdm(self.ids, desc=f"faces {self.name}", unit="img", disable=quiet):
            try:
                face = self.load(face_id)
            except InputError as exc:
                self._record(self.skips, exc.path, exc.reason)
                continue
            yield face_id, face
        print(f"miex: {self.summary()}", file=sys.stderr)

    def faces(self, progress: bool | None = None) -> dict[str, Face]:
        """All usable faces as ``{id: Face}``."""
        return dict(self.iter_faces(progress))

    def summary(self) -> str:
        """One line: pool size, skips by reason, multi-face images and cache use."""
        parts = [f"{self.name}: {len(self)} face id(s)", self.skips.summary()]
        if len(self.notes):
            parts.append(f"{len(self.notes)} with several faces (kept the largest)")
        parts.append(f"landmark cache: {self.cache_hits} hit(s), {self.cache_misses} detection(s)")
        return "; ".join(parts)

    def table(self):
        """``DataFrame(face_id, path, mirror)`` of all ids (no detection)."""
        import pandas as pd

        rows = [(i, str(c[0][0]), bool(c[0][1])) for i, c in self._entries.items()]
        return pd.DataFrame(rows, columns=["face_id", "path", "mirror"])

    def _record(self, log: SkipLog, path: object, reason: str) -> None:
        key = (str(path), reason)
        if key not in self._recorded:
            self._recorded.add(key)
            log.add(path, reason)

    def _load_one(self, path: Path, mirror: bool) -> Face:
        rgb = load_image(path)
        if mirror:
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        source = f"{path}#mirror" if mirror else str(path)
        rec = self._detection(path, mirror, rgb)
        if rec["outcome"] == "no face":
            raise InputError(source, "no face found")
        pts = np.asarray(rec["landmarks"], dtype=np.float64)
        n = int(rec["n_faces"])
        check_inside(pts, rgb.shape, source, self.max_outside)
        if n > 1:
            if self.multi_face == "skip":
                raise InputError(source, f"multiple faces: {n} found")
            self._record(self.notes, source, f"multiple faces: kept the largest of {n}")
        return align_face(rgb, pts, size=self.size, margin=self.margin, source=source, box=tuple(rec["box"]), n_faces=n)

    # ---- cache -------------------------------------------------------------------------
    def _cache_file(self, path: Path, mirror: bool) -> Path | None:
        if self.cache_dir is None:
            return None
        return cache_file(self.cache_dir, path, mirror, self.detector.settings)

    def _detection(self, path: Path, mirror: bool, rgb: np.ndarray) -> dict[str, Any]:
        cfile = self._cache_file(path, mirror)
        rec = read_cache(cfile) if cfile is not None else None
        if rec is not None:
            self.cache_hits += 1
            return rec
        self.cache_misses += 1
        rec = detection_record(rgb, path, mirror, self.detector)
        if cfile is not None:
            self._write_cache(cfile, rec)
        return rec

    def _write_cache(self, cfile: Path, rec: dict[str, Any]) -> None:
        try:
            write_cache(cfile, rec)
        except OSError as exc:
            if not self._cache_warned:
                self._cache_warned = True
                print(f"miex: warning: cannot write the landmark cache {cfile.parent}: {exc}", file=sys.stderr)

    def prefetch(self, workers: int | None = None, progress: bool | None = None) -> int:
        """Detect every not-yet-cached image in ``workers`` processes (default: all cores),
        filling the cache so later :meth:`load` calls are cheap. Returns the number detected.

        dlib holds the GIL, so processes (not threads) are used. Unreadable files are left
        for :meth:`iter_faces` to report. Needs a cache (``cache_dir`` not ``False``).
        """
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing

        from tqdm import tqdm

        if self.cache_dir is None:
            raise MiexError("prefetch needs a landmark cache (cache_dir is disabled)")
        todo = []
        for cands in self._entries.values():
            for path, mirror in cands[:1]:
                try:
                    cfile = self._cache_file(path, mirror)
                except OSError:
                    continue  # vanished/unreadable: reported when loaded
                if cfile is not None and read_cache(cfile) is None:
                    todo.append((str(path), bool(mirror), self.detector.upsample, str(self.cache_dir)))
        if not todo:
            return 0
        workers = max(1, min(int(workers or os.cpu_count() or 1), len(todo)))
        quiet = None if progress is None else not progress
        bar = dict(total=len(todo), desc=f"detect {self.name}", unit="img", disable=quiet)
        if workers == 1:
            done = sum(_prefetch_one(t) for t in tqdm(todo, **bar))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
                chunk = max(1, min(8, len(todo) // (4 * workers)))
                done = sum(tqdm(ex.map(_prefetch_one, todo, chunksize=chunk), **bar))
        self.cache_misses += done
        return done


def cache_file(cache_dir: Path, path: Path, mirror: bool, settings: dict[str, Any]) -> Path:
    """Cache entry of one image, keyed by the file's *content* (sha256), mirror flag and settings.

    Keying by content means a moved or copied pool (or a pool of replicated photos) is
    detected once; an edited file gets a new entry.
    """
    content = hashlib.sha256(path.read_bytes()).hexdigest()
    key = {"version": CACHE_VERSION, "content": content, "mirror": bool(mirror), **settings}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:32]
    return Path(cache_dir) / f"{digest}.json"


def read_cache(cfile: Path) -> dict[str, Any] | None:
    """A valid cache record, or ``None`` (missing or damaged entries are re-detected)."""
    try:
        rec = json.loads(cfile.read_text(encoding="utf-8"))
        if rec.get("outcome") == "no face":
            return rec
        if rec.get("outcome") == "face" and np.shape(rec["landmarks"]) == (68, 2) and len(rec["box"]) == 4:
            return rec
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def write_cache(cfile: Path, rec: dict[str, Any]) -> None:
    from miex.io import write_text

    write_text(cfile, json.dumps(rec, separators=(",", ":")) + "\n")


def detection_record(rgb: np.ndarray, path: Path, mirror: bool, detector: FaceDetector) -> dict[str, Any]:
    """What the cache stores: box + 68 landmarks (source pixels) + n_faces, or "no face"."""
    try:
        box, pts, n = locate_face(rgb, detector, str(path), max_outside=1.0)
        rec: dict[str, Any] = {"outcome": "face", "box": [int(v) for v in box], "landmarks": pts.tolist(), "n_faces": n}
    except InputError:
        rec = {"outcome": "no face"}
    rec["file"] = str(path)
    rec["mirror"] = bool(mirror)
    rec["shape"] = [int(v) for v in rgb.shape[:2]]
    return rec


def _prefetch_one(task: tuple[str, bool, int, str]) -> int:
    path_s, mirror, upsample, cache_dir = task
    path = Path(path_s)
    try:
        rgb = load_image(path)
        detector = FaceDetector(upsample=upsample)
        cfile = cache_file(Path(cache_dir), path, mirror, detector.settings)
    except (InputError, OSError):
        return 0
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    try:
        write_cache(cfile, detection_record(rgb, path, mirror, detector))
    except OSError:
        return 0
    return 1


class FacePool(_Pool):
    """All jpg/jpeg/png/bmp photos under ``root`` (recursive), one face per image.

    Ids: see :func:`ids_for_paths` (relative path without extension, folders joined by ``-``).
    ``multi_face="largest"`` (default) keeps the largest face of a multi-face photo and
    notes it in ``.notes``; ``"skip"`` skips such photos.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int = DEFAULT_SIZE,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        upsample: int = 1,
        **kw: Any,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MiexError(f"{self.root}: face folder not found")
        paths = scan_images(self.root)
        if not paths:
            raise MiexError(f"{self.root}: no images ({', '.join(s[1:] for s in IMAGE_SUFFIXES)}) found")
        entries = {i: [(p, False)] for i, p in ids_for_paths(self.root, paths).items()}
        super().__init__(entries, name=str(self.root), size=size, cache_dir=cache_dir, upsample=upsample, **kw)


class BuiltinFacePool(_Pool):
    """The real photos of :func:`builtin_face_paths`, optionally with their mirror images.

    Ids are the file stems (``astronaut``, ``grace_hopper``); with ``mirrors=True`` each also
    appears horizontally flipped as ``<stem>-mirror``. A mirror is the *same person*: use it
    to get more distinct-looking crops, never as a new identity in identity-disjoint splits.
    Mirrored faces have ``Face.source == "<path>#mirror"``.
    """

    def __init__(
        self,
        *,
        mirrors: bool = True,
        size: int = DEFAULT_SIZE,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        upsample: int = 1,
        **kw: Any,
    ) -> None:
        paths = builtin_face_paths()
        if not paths:
            raise MiexError("no built-in face photos found (install scikit-image or matplotlib)")
        entries: dict[str, list[tuple[Path, bool]]] = {}
        for p in paths:
            entries[safe_id(p.stem)] = [(p, False)]
            if mirrors:
                entries[safe_id(p.stem) + "-mirror"] = [(p, True)]
        super().__init__(entries, name="built-in faces", size=size, cache_dir=cache_dir, upsample=upsample, **kw)


class CelebAPool(_Pool):
    """CelebA: one face per identity, id ``celeba<identity>``, ids in identity order.

    ``root`` holds ``img_align_celeba/`` (or the Kaggle ``img_align_celeba/img_align_celeba/``)
    and ``identity_CelebA.txt`` (or ``Anno/identity_CelebA.txt``), whose lines read
    ``000001.jpg 2880``. The identity's image is its first file in sorted order; if that
    one has no usable face, the next ones are tried (up to ``tries`` files).
    Malformed lines of the identity file are skipped and logged in ``.skips``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int = DEFAULT_SIZE,
        cache_dir: str | os.PathLike[str] | None | bool = None,
        upsample: int = 1,
        tries: int = 3,
        **kw: Any,
    ) -> None:
        self.root = Path(root)
        images = self._images_dir(self.root)
        ident_file = self._identity_file(self.root)
        by_identity: dict[int, list[str]] = {}
        bad: list[tuple[str, str]] = []
        for lineno, line in enumerate(ident_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                bad.append((f"{ident_file}:{lineno}", f"malformed identity line: {line.strip()[:60]!r}"))
                continue
            by_identity.setdefault(int(fields[1]), []).append(fields[0])
        entries: dict[str, list[tuple[Path, bool]]] = {}
        order: list[str] = []
        for ident in sorted(by_identity):
            files = [images / f for f in sorted(by_identity[ident]) if (images / f).is_file()]
            if files:
                entries[f"celeba{ident}"] = [(f, False) for f in files[: max(1, int(tries))]]
                order.append(f"celeba{ident}")
        if not entries:
            raise MiexError(f"{images}: none of the images listed in {ident_file} exist")
        super().__init__(entries, name=str(self.root), size=size, cache_dir=cache_dir, upsample=upsample, **kw)
        self._entries = {i: entries[i] for i in order}  # identity order, not string order
        for where, reason in bad:
            self._record(self.skips, where, reason)

    @staticmethod
    def _images_dir(root: Path) -> Path:
        for cand in (root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba"):
            if cand.is_dir() and any(cand.glob("*.jpg")):
                return cand
        raise MiexError(f"{root}: no img_align_celeba/ folder with jpg images")

    @staticmethod
    def _identity_file(root: Path) -> Path:
        for cand in (root / "identity_CelebA.txt", root / "Anno" / "identity_CelebA.txt"):
            if cand.is_file():
                return cand
        raise MiexError(f"{root}: identity_CelebA.txt not found (looked in the root and Anno/)")
