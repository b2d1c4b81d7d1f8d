"""Output checks shared by the sub-commands: fail before the work, never lose it after.

* :func:`check_writable` is called before any computation starts: it tries to
  create (and removes) a temporary file where an output will go and checks
  the free space when the output is large, so that a read-only folder, a path
  under a regular file or a full disk is a one-line error at once, not a
  traceback after minutes of work.
* :func:`save_or_rescue` writes a finished result; if writing fails anyway
  (the disk filled up, the folder was removed meanwhile) the result is kept in
  the system's temporary folder and the error says where.
* :func:`check_scheduler` tells in a few seconds whether a dask scheduler
  address answers at all (``Client(address)`` waits its whole timeout).
* :func:`atomic_write` is the package's one way of writing a file: into a
  temporary file ``.<name>.<8 random characters>.tmp`` next to it, fsynced,
  then renamed over the target. A process killed mid-write (``kill -9``)
  leaves that temporary file behind, never a partial target;
  :func:`remove_stale_temps`, called at the end of every successful
  ``reproduce``, ``train``, ``compare-rules`` and ``study`` run on the folders
  it wrote, removes such leftovers.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "UnwritableError",
    "OutputError",
    "check_writable",
    "save_or_rescue",
    "rescue_dir",
    "check_scheduler",
    "atomic_write",
    "remove_stale_temps",
    "is_temp_name",
]

#: Head room kept free on top of an output's estimated size (bytes).
_FREE_MARGIN = 16 * 2**20

#: Prefix of the probe file of :func:`check_writable` (removed at once).
_PROBE_PREFIX = ".snninit-write-test-"
#: The names our writers give their temporary files: ``.<target>.<random>.tmp``
#: (:func:`atomic_write`, random part of ``tempfile.mkstemp``: 8 characters of
#: ``[a-z0-9_]``) and the probe of :func:`check_writable`.
_TEMP_NAME = re.compile(
    r"^(?:\..+\.[a-z0-9_]{8}\.tmp|" + re.escape(_PROBE_PREFIX) + r"[a-z0-9_]{8})$"
)
#: A temporary file modified less than this many seconds before a run began is
#: never removed by that run (see :func:`remove_stale_temps`).
STALE_GRACE = 60.0


class UnwritableError(ValueError):
    """An output location that cannot be written (found before the work starts)."""


class OutputError(OSError):
    """Writing a finished result failed; the message says where it was kept instead."""

    def __str__(self) -> str:  # OSError's own __str__ adds "[Errno ...]" noise
        return str(self.args[0]) if self.args else ""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def check_writable(
    path: str | os.PathLike,
    what: str,
    *,
    kind: str = "file",
    expected_bytes: int | None = None,
    fix: str = "choose another folder",
) -> Path:
    """Refuse (with :class:`UnwritableError`) an output that could not be written.

    Parameters
    ----------
    path : path
        The output: a file (``kind="file"``: its folder must be writable, the
        path must not be a folder) or a folder (``kind="dir"``: it must be, or
        become, a writable folder). Missing folders are not created: the
        nearest existing one is tested, where they would be created.
    what : str
        How the user named the location, e.g. ``"--out"`` or ``"SNNINIT_DATA="``:
        the message starts with ``f"{what} {path}"`` (no space after a ``=``).
    expected_bytes : int, optional
        Estimated size of the output; refused when the file system has less
        free space (plus a small margin).
    fix : str
        What to do, ending the message.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path).expanduser()
    label = f"{what}{path}" if what.endswith("=") else f"{what} {path}"
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir'; got {kind!r}")
    if kind == "file" and path.is_dir():
        raise UnwritableError(f"{label}: is a folder, not a file; give a file name")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise UnwritableError(f"{label}: is a file, not a folder; {fix} or remove the file")
    folder = path.parent if kind == "file" else path
    probe = folder
    while not probe.exists():  # the nearest existing ancestor: where mkdir would start
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UnwritableError(
            f"{label}: cannot write there ({probe} is a file, not a folder); {fix}"
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=probe)
    except OSError as exc:
        raise UnwritableError(f"{label}: cannot write there ({_reason(exc)}); {fix}") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:  # pragma: no cover - a folder we can create in but not delete from
        pass
    if expected_bytes is not None:
        try:
            free = shutil.disk_usage(probe).free
        except OSError:  # pragma: no cover - no statvfs: do not guess
            free = None
        if free is not None and free < expected_bytes + _FREE_MARGIN:
            raise UnwritableError(
                f"{label}: not enough free space (about {_size(expected_bytes)} needed, "
                f"{_size(free)} free); free some space or {fix}"
            )
    return path


def rescue_dir(prefix: str) -> Path:
    """A new folder in the system's temporary folder for results that could not be saved."""
    return Path(tempfile.mkdtemp(prefix=f"snninit-{prefix}-"))


def save_or_rescue(
    write: Callable[[Path], object],
    path: str | os.PathLike,
    what: str,
    *,
    prefix: str,
    kind: str = "file",
    hint: str | None = None,
) -> Path:
    """Call ``write(path)``; if that fails with an OSError, ``write`` into a temp folder.

    ``kind="file"``: ``write`` writes one file at the path it is given (a
    rescue goes to ``<tmp>/snninit-PREFIX-XXXX/<name>``); ``kind="dir"``:
    ``write`` fills the folder it is given (a rescue fills
    ``<tmp>/snninit-PREFIX-XXXX``). On a rescue raise :class:`OutputError`
    naming the failed ``what path``, the reason, where the result is now and
    ``hint`` (``{kept}`` in it is replaced by that place).
    """
    path = Path(path)
    try:
        write(path)
        return path
    except OSError as exc:
        first = _reason(exc)
    try:
        folder = rescue_dir(prefix)
        kept = folder / path.name if kind == "file" else folder
        write(kept)
    except OSError as exc:
        raise OutputError(
            f"{what} {path}: writing failed ({first}), and keeping the result in the "
            f"temporary folder failed too ({_reason(exc)}); free some space and rerun"
        ) from None
    hint = "move it where you want it" if hint is None else hint.format(kept=kept)
    raise OutputError(
        f"{what} {path}: writing failed ({first}); the result is kept in {kept}: {hint}"
    ) from None


def check_scheduler(address: str, what: str = "--scheduler", *, timeout: float = 5.0) -> str:
    """Refuse (``ValueError``) a scheduler address where nothing answers.

    Opens and closes a TCP connection to ``tcp://host:port`` (or ``tls://``,
    or a bare ``host:port``) within ``timeout`` seconds. Other protocols
    (``inproc://``, ``ucx://``) are not probed.
    """
    text = str(address).strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme not in ("tcp", "tls"):
        return text
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon:
        host, port = rest.rstrip("/"), "8786"
    host = host.strip("[]") or "localhost"
    try:
        port_number = int(port)
    except ValueError:
        raise ValueError(
            f"{what} {text}: not a scheduler address; expected tcp://HOST:PORT"
        ) from None
    try:
        with socket.create_connection((host, port_number), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else _reason(exc)
        raise ValueError(
            f"{what} {text}: no dask scheduler answers there ({reason}); start one "
            "(`dask scheduler`) or fix the address"
        ) from None
    return text


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` then atomically rename the file to ``path``.

    The temporary file is ``.<name>.<8 random characters>.tmp`` in the
    target's folder (created if missing), fsynced before the rename. A reader
    sees either the previous file or the complete new one, never a partial
    file. If ``write`` fails the temporary file is removed; if the process is
    killed it stays behind (``kill -9`` runs no cleanup) until a later
    successful run removes it (:func:`remove_stale_temps`). ``write`` must
    name the format itself where it would guess it from the file name
    (``fig.savefig(tmp, format="png")``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file name of :func:`atomic_write` (or of the probe
    of :func:`check_writable`)."""
    return bool(_TEMP_NAME.match(name))


def remove_stale_temps(
    folders: Iterable[str | os.PathLike],
    started: float,
    *,
    recursive: bool = False,
    grace: float = STALE_GRACE,
) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folders``; return them.

    Only files named as :func:`atomic_write` (``.<name>.<random>.tmp``) or
    :func:`check_writable` name theirs are considered, and of those only the
    ones last modified before ``started - grace`` (``started``: the
    ``time.time()`` at which the calling run began; ``grace``: a minute by
    default). A writer working concurrently in the same folder keeps writing
    its temporary file until it renames it, so its modification time is
    recent and it is left alone; a file older than this run's start cannot
    belong to this run, and one older still by ``grace`` belongs to no live
    writer. Missing folders are skipped; ``recursive`` descends into
    sub-folders. Files that vanish meanwhile or cannot be removed are skipped
    silently (another run cleaned them, or the folder is read-only).
    """
    cutoff = float(started) - float(grace)
    removed: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        candidates = folder.rglob(".*") if recursive else folder.glob(".*")
        for path in candidates:
            if not is_temp_name(path.name):
                continue
            try:
                st = path.lstat()
                if not os.path.isfile(path) or st.st_mtime >= cutoff:
                    continue
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed
