"""The justfile reads as a menu: each recipe a few lines, longer logic in the tools."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LONGEST = 12


def recipes() -> dict:
    # The venv's own (rust-just, scripts/requirements.txt) first, then the PATH's.
    just = shutil.which("just", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if just is None:
        pytest.fail("just is not on PATH (scripts/bootstrap.sh installs it into .dev/venv/bin)")
    dump = subprocess.run([just, "--dump", "--dump-format", "json"], check=True, capture_output=True, text=True)
    return json.loads(dump.stdout)["recipes"]


def test_no_recipe_is_longer_than_a_dozen_lines():
    long = {name: len(recipe["body"]) for name, recipe in recipes().items() if len(recipe["body"]) > LONGEST}
    assert long == {}, f"recipes over {LONGEST} lines: move their logic into scripts/"
