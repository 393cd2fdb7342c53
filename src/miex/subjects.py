"""One subject identity for the whole package: ``"<dataset>/<local id>"`` (``casme2/sub01``).

Subjects of different datasets share local ids (``sub01`` exists in CASME II and MMEW), so a
subject is only an identity together with its dataset. Every table miex writes or reads
(dataset samples, AU pools, synthetic manifests, fold files, run folders) holds qualified
subjects, and every comparison between them is plain string equality: there is no "bare id
matches any dataset" rule anywhere.

- :func:`qualify` makes the qualified form once, where a subject enters miex (a dataset
  loader, an AU index CSV, a ``--exclude-subjects`` list).
- :func:`require_qualified` refuses an unqualified subject with one line that says a dataset is
  needed (``--dataset`` or a ``dataset`` column).
- :func:`split_subject` / :func:`local_id` take a qualified subject apart.
"""

from __future__ import annotations

from collections.abc import Iterable

from miex.errors import MiexError

SEPARATOR = "/"


def _canonical(dataset: str) -> str:
    name = str(dataset).strip()
    if not name:
        return ""
    try:
        from miex.datasets import canonical_name

        return canonical_name(name)
    except MiexError:  # a dataset miex has no loader for (a user's own AU index): keep its name
        return name.lower()


def is_qualified(subject: str) -> bool:
    """True for ``dataset/local`` with both parts non-empty."""
    text = str(subject).strip()
    head, sep, tail = text.partition(SEPARATOR)
    return bool(sep and head and tail)


def make_subject(dataset: str, local: str) -> str:
    """``dataset/local`` for a loader that knows both parts (``local`` is taken as it is, even
    when it contains a ``/``, as the face ids of a nested face folder may)."""
    return f"{_canonical(dataset)}{SEPARATOR}{str(local).strip()}"


def qualify(dataset: str, subject: str, *, where: str = "") -> str:
    """The qualified subject of ``subject`` in ``dataset``.

    ``subject`` may already be qualified; its dataset must then agree with ``dataset`` (when one is
    given). Without any dataset the subject is refused (see :func:`require_qualified`).
    """
    text = str(subject).strip()
    if not text:
        raise MiexError(f"{where + ': ' if where else ''}empty subject")
    name = _canonical(dataset)
    if is_qualified(text):
        head, _, tail = text.partition(SEPARATOR)
        head = _canonical(head)
        if name and head != name:
            raise MiexError(f"{where + ': ' if where else ''}subject {text!r} belongs to dataset {head!r}, "
                            f"not {name!r}")
        return f"{head}{SEPARATOR}{tail.strip()}"
    if not name:
        return require_qualified(text, where=where)
    return f"{name}{SEPARATOR}{text}"


def require_qualified(subject: str, *, where: str = "") -> str:
    """``subject`` if it is qualified, else a one-line MiexError saying a dataset is needed."""
    text = str(subject).strip()
    if not is_qualified(text):
        raise MiexError(f"{where + ': ' if where else ''}subject {text!r} has no dataset; subjects are "
                        f"dataset-qualified (e.g. casme2/{text or 'sub01'}): give --dataset NAME or a dataset column")
    return text


def qualify_all(subjects: Iterable[str], dataset: str = "", *, where: str = "") -> set[str]:
    """:func:`qualify` of every non-empty entry (an exclusion list, a fold file's subjects)."""
    return {qualify(dataset, s, where=where) for s in subjects if str(s).strip()}


def split_subject(subject: str) -> tuple[str, str]:
    """``("casme2", "sub01")`` from ``"casme2/sub01"`` (a qualified subject)."""
    head, _, tail = require_qualified(subject).partition(SEPARATOR)
    return head, tail


def local_id(subject: str) -> str:
    """The local id (``sub01``) of a subject; an unqualified one is returned as it is."""
    text = str(subject).strip()
    return text.partition(SEPARATOR)[2] if is_qualified(text) else text


__all__ = ["is_qualified", "local_id", "make_subject", "qualify", "qualify_all", "require_qualified", "split_subject"]
