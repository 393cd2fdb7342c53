"""Atomic writes (miex.io): complete or absent, permissions from the umask, no leftovers."""

from __future__ import annotations

import itertools
import os
import stat
import threading

import pytest

from miex.io import atomic_dir, atomic_path, write_bytes, write_new_file


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_permissions_follow_the_umask(tmp_path, umask_027):
    write_bytes(tmp_path / "a" / "file.bin", b"x")
    with atomic_dir(tmp_path / "b" / "sample") as tmp:
        write_new_file(tmp / "0.jpg", b"y")
    plain = tmp_path / "plain"
    plain.write_bytes(b"z")
    plain_dir = tmp_path / "plain-dir"
    plain_dir.mkdir()
    assert _mode(tmp_path / "a" / "file.bin") == _mode(plain) == 0o640
    assert _mode(tmp_path / "b" / "sample" / "0.jpg") == 0o640
    assert _mode(tmp_path / "b" / "sample") == _mode(plain_dir) == 0o750


def test_atomic_dir_replaces_an_earlier_folder_and_a_file(tmp_path):
    final = tmp_path / "sample"
    final.mkdir()
    (final / "old.jpg").write_bytes(b"old")
    with atomic_dir(final) as tmp:
        write_new_file(tmp / "0.jpg", b"new")
    assert sorted(p.name for p in final.iterdir()) == ["0.jpg"]
    final2 = tmp_path / "was-a-file"
    final2.write_bytes(b"file")
    with atomic_dir(final2) as tmp:
        write_new_file(tmp / "0.jpg", b"new")
    assert (final2 / "0.jpg").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_block_leaves_nothing(tmp_path):
    final = tmp_path / "out" / "sample"
    with pytest.raises(RuntimeError):
        with atomic_dir(final) as tmp:
            write_new_file(tmp / "0.jpg", b"half")
            raise RuntimeError("killed")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out" / "table.csv") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list((tmp_path / "out").iterdir()) == []


def test_temporary_names_taken_by_others_are_skipped(tmp_path, monkeypatch):
    import miex.io as io

    monkeypatch.setattr(io, "_serial", itertools.count())
    for n in range(2):  # another process (same pid on another node) holds the first two names
        (tmp_path / f".sample.{os.getpid()}-{n}.tmp").mkdir()
    with atomic_dir(tmp_path / "sample") as tmp:
        assert tmp.name == f".sample.{os.getpid()}-2.tmp"
        write_new_file(tmp / "0.jpg", b"ok")
    assert (tmp_path / "sample" / "0.jpg").read_bytes() == b"ok"


def test_write_new_file_refuses_an_existing_file(tmp_path):
    target = tmp_path / "0.jpg"
    write_new_file(target, b"first")
    with pytest.raises(FileExistsError):
        write_new_file(target, b"second")
    assert target.read_bytes() == b"first"


def test_write_new_file_finishes_short_writes(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:1000])))  # a kernel taking 1 kB a call
    data = bytes(range(256)) * 40
    write_new_file(tmp_path / "big.bin", data)
    monkeypatch.undo()
    assert (tmp_path / "big.bin").read_bytes() == data


def test_threads_writing_at_once_get_their_own_folders(tmp_path):
    def work(k: int) -> None:
        for i in range(20):
            with atomic_dir(tmp_path / f"s{k}-{i}") as tmp:
                write_new_file(tmp / "0.jpg", bytes([k, i]))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"s{k}-{i}" for k in range(4) for i in range(20))
    assert all((tmp_path / f"s{k}-{i}" / "0.jpg").read_bytes() == bytes([k, i]) for k in range(4) for i in range(20))


def test_a_parent_made_by_another_process_meanwhile_is_used(tmp_path, monkeypatch):
    """Two workers write into a missing folder: both fail to make their temporary folder, one
    makes the parent; the other must then go on, not fail."""
    parent = tmp_path / "out"
    real_mkdir = os.mkdir
    raced = []

    def mkdir_losing_the_race(path, mode=0o777, *args, **kwargs):
        if ".tmp" in os.fspath(path) and not raced:
            raced.append(path)
            real_mkdir(parent)  # the other worker made it after our mkdir failed
            raise FileNotFoundError(2, "No such file or directory", os.fspath(path))
        return real_mkdir(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir_losing_the_race)
    with atomic_dir(parent / "s000001") as tmp:
        write_new_file(tmp / "0.jpg", b"x")
    monkeypatch.undo()
    assert raced and (parent / "s000001" / "0.jpg").read_bytes() == b"x"
    assert [p.name for p in parent.iterdir()] == ["s000001"]
