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
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "UnwritableError",
    "OutputError",
    "check_writable",
    "save_or_rescue",
    "rescue_dir",
    "check_scheduler",
]

#: Head room kept free on top of an output's estimated size (bytes).
_FREE_MARGIN = 16 * 2**20


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
        fd, tmp = tempfile.mkstemp(prefix=".snninit-write-test-", dir=probe)
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
