"""`just nix-sources`: builds from exactly the files Nix hands each build, offline.

The file lists come from the declarations `nix build` reads: flake.nix evaluated against
nix/upstream.nix over the repository's git-tracked files (a flake's source holds only those),
as crates/deploy-checks/tests/flake-model.nix gives them (`sources`). Each list is copied into
an empty folder and built there: the Rust workspace with `cargo build`, as crane's
buildPackage does (in the dev profile, on this repository's target/, so that the dependencies
the other tests built are reused and only the workspace's own crates compile); the frontend with `npm ci --offline` from npm's cache (the `_npm`
recipe fills it) and `npm run build`. Exits 1 naming each build that failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name: the file that declares its source set, and the commands that build it.
BUILDS = {
    "rust": ("nix/rust.nix", [["cargo", "build", "--workspace", "--locked", "--offline"]]),
    "frontend": ("nix/frontend.nix", [["npm", "ci", "--offline", "--no-audit", "--no-fund"], ["npm", "run", "build"]]),
}


def sources() -> dict[str, dict]:
    """{build: {"root": folder, "files": [paths relative to it]}}, from the flake model."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as ifd:
        evaluation = subprocess.run(
            [
                "nix-instantiate",
                "--eval",
                "--strict",
                "--json",
                "-A",
                "sources",
                str(ROOT / "crates/deploy-checks/tests/flake-model.nix"),
                "--arg",
                "repo",
                str(ROOT),
                "--argstr",
                "ifd",
                ifd,
                "--argstr",
                "tracked",
                tracked,
            ],
            capture_output=True,
            text=True,
        )
    if evaluation.returncode != 0:
        sys.exit(f"nix-sources: evaluating flake.nix against nix/upstream.nix failed:\n{evaluation.stderr}")
    return json.loads(evaluation.stdout)


def build(name: str, root: Path, files: list[str]) -> bool:
    declaration, commands = BUILDS[name]
    with tempfile.TemporaryDirectory(prefix=f"notas-nix-{name}-") as folder:
        for file in files:
            (Path(folder) / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / file, Path(folder) / file)
        for command in commands:
            start = time.monotonic()
            print(f"nix-sources: {name} ({len(files)} files): {' '.join(command)}", flush=True)
            if subprocess.run(command, cwd=folder).returncode != 0:
                print(
                    f"nix-sources: FAILED: `{' '.join(command)}` on the {len(files)} files that {declaration} "
                    f"gives the {name} build (a file missing from that set, or not tracked by git, fails "
                    "here and in `nix build`, not in the repository)",
                    file=sys.stderr,
                )
                return False
            print(f"nix-sources: {name}: {' '.join(command[:2])} took {time.monotonic() - start:.0f} s", flush=True)
    return True


def main() -> None:
    # The workspace's own target/ (or the one the caller chose): its built dependencies.
    os.environ.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    failed = [name for name, source in sources().items() if not build(name, Path(source["root"]), source["files"])]
    if failed:
        sys.exit(f"nix-sources: the {' and '.join(failed)} build failed from the files Nix would hand it")
    print("nix-sources: every build passes from exactly the files Nix hands it")


if __name__ == "__main__":
    main()
