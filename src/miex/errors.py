"""Errors that reach the user as one clear line instead of a traceback."""

from __future__ import annotations

import re


class MiexError(Exception):
    """A user-facing error: bad input, missing file, wrong option.

    The CLI prints ``miex: error: <message>`` and exits with status 2.
    Messages should name the offending file or option.
    """


class InputError(MiexError):
    """A single input (file, row, frame) is unusable; callers may skip it."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def reason_kind(reason: str) -> str:
    """The kind of a skip reason, for grouping: the text before its first ``:`` or ``(``, numbers
    replaced by ``N`` ("apex frame 99 not in the AU table (frames 1-10)" -> "apex frame N not in
    the AU table"), so that one summary line has one entry per kind, not per clip."""
    head = re.split(r"[:(]", str(reason), maxsplit=1)[0].strip()
    return re.sub(r"\d+", "N", head) or str(reason).strip()


class SkipLog:
    """Collects inputs that were skipped during a long run, for one summary at the end.

    Each skip is reported once, as one line naming the file, and counted by reason.
    """

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.items: list[tuple[str, str]] = []

    def add(self, path: object, reason: str) -> None:
        self.items.append((str(path), reason))
        if self.echo:
            import sys

            print(f"miex: skipped {path}: {reason}", file=sys.stderr)

    def __len__(self) -> int:
        return len(self.items)

    def counts(self) -> dict[str, int]:
        """Skips per kind of reason (:func:`reason_kind`)."""
        out: dict[str, int] = {}
        for _, reason in self.items:
            key = reason_kind(reason)
            out[key] = out.get(key, 0) + 1
        return out

    def summary(self) -> str:
        if not self.items:
            return "nothing skipped"
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.counts().items()))
        return f"skipped {len(self.items)} input(s): {parts}"
