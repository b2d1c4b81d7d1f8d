"""The core must work without torch: importing snninit, its sub-packages and the
CLI parser (which imports every ``commands`` module, including snninit.torch's)
must leave torch and snntorch out of ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import snninit
    import snninit.cli
    # every module of the package, except the torch front-end's implementation
    # modules and torch-only references (named for torch; they import it on purpose)
    allowed = {"snninit.torch", "snninit.torch.commands", "snninit.torch._compat"}
    for info in pkgutil.walk_packages(snninit.__path__, "snninit."):
        name = info.name
        if name == "snninit.__main__" or ("torch" in name and name not in allowed):
            continue
        importlib.import_module(name)
    snninit.theory.rule_names()  # loads the rule modules registered by name
    # every commands module, as the CLI loads them
    commands = []
    for name in snninit.cli._COMMAND_MODULES:
        importlib.import_module(name)
        commands.append(name)
    parser = snninit.cli.build_parser()
    help_text = parser.format_help()
    print(json.dumps({
        "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
        "snntorch": [m for m in sys.modules if m == "snntorch" or m.startswith("snntorch.")],
        "commands": commands,
        "diagnose_listed": "diagnose" in help_text,
    }))
    """
)


def _probe() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_snninit_and_building_the_cli_leaves_torch_unloaded():
    found = _probe()
    assert found["torch"] == [], f"torch was imported: {found['torch'][:5]}"
    assert found["snntorch"] == []
    # the probe really exercised the torch front-end's command module
    assert "snninit.torch.commands" in found["commands"]
    assert found["diagnose_listed"]


_BLOCKED = textwrap.dedent(
    """
    import sys
    sys.modules["torch"] = None      # as if torch were not installed
    sys.modules["snntorch"] = None
    import snninit.torch as st
    try:
        st.init_
    except ImportError as exc:
        print("IMPORT-ERROR:", exc)
    from snninit.cli import main
    sys.exit(main(["diagnose", "model.pt", "--normal", "4"]))
    """
)


def test_without_torch_the_front_end_says_how_to_install_it():
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED], capture_output=True, text=True, timeout=120
    )
    assert "IMPORT-ERROR:" in result.stdout
    assert "pip install torch==2.13.0" in result.stdout
    # the command fails with the one-line user error (exit 2), not a traceback
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "torch==2.13.0" in result.stderr
