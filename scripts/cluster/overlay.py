#!/usr/bin/env python3
"""What `just up` and `just deploy-gke` apply, rendered in one place so that CI checks the
same text (crates/deploy-checks renders it with dummy values).

    python3 -m scripts.cluster.overlay kind     --images FILE   k8s/overlays/kind with every notas image pinned
    python3 -m scripts.cluster.overlay gke      --images FILE   k8s/overlays/gke, images pinned, ${VARS} filled in
    python3 -m scripts.cluster.overlay cloudrun --images FILE   k8s/overlays/gke/cloudrun-frontend.yaml, likewise

FILE maps each image to the reference to run, e.g. {"grpc-server": "notas/grpc-server:TAG"}
(kind: `nix build` writes it beside the images; GKE: the pushed digests). Every `${NAME}`
left in the rendering is taken from the environment; a missing one stops the render with
its name. CLOUD_SQL_PRIVATE_IP=true adds the cloud-sql-private-ip component (GKE).
Standard library only: it runs wherever `kubectl` does.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES = [
    "grpc-server",
    "grpc-client",
    "redis-api",
    "queue-api",
    "grade-consumer",
    "dashboard-api",
    "monitor",
    "frontend",
]
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def image_fields(name: str, reference: str) -> dict:
    """A kustomize `images` entry that turns `notas/NAME` into `reference`."""
    entry = {"name": f"notas/{name}"}
    if "@" in reference:
        entry["newName"], entry["digest"] = reference.split("@", 1)
    else:
        repository, _, tag = reference.rpartition(":")
        if not repository or "/" in tag:
            sys.exit(f"overlay: image '{name}' needs a tag or a digest, got '{reference}'")
        entry["newName"], entry["newTag"] = repository, tag
    return entry


def read_images(path: Path) -> dict[str, str]:
    images = json.loads(path.read_text())
    missing = [name for name in IMAGES if name not in images]
    if missing:
        sys.exit(f"overlay: {path} names no image for {', '.join(missing)}")
    return images


def kustomize(overlay: str, images: dict[str, str], components: list[str]) -> str:
    """`kubectl kustomize` of a kustomization that adds the pins to `overlay`. It lives in a
    folder under .dev/ because kustomize takes only relative paths to other roots."""
    (ROOT / ".dev").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="overlay-", dir=ROOT / ".dev"))
    try:
        relative = lambda p: os.path.relpath(ROOT / p, folder)  # noqa: E731
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [relative(overlay)],
            "components": [relative(c) for c in components],
            "images": [image_fields(name, images[name]) for name in IMAGES],
        }
        # JSON is YAML: no YAML library needed.
        (folder / "kustomization.yaml").write_text(json.dumps(kustomization, indent=2))
        result = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"overlay: kubectl kustomize {overlay}:\n{result.stderr}")
        return result.stdout
    finally:
        shutil.rmtree(folder)


def fill(text: str, env=os.environ) -> str:
    """`text` with every `${NAME}` replaced by NAME's value in `env`; stops naming the unset ones."""
    names = sorted(set(PLACEHOLDER.findall(text)))
    missing = [n for n in names if not env.get(n)]
    if missing:
        sys.exit(f"overlay: set {', '.join(missing)} (docs/gke.md)")
    return PLACEHOLDER.sub(lambda m: env[m.group(1)], text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["kind", "gke", "cloudrun"])
    parser.add_argument("--images", required=True, type=Path, help="JSON: image name -> reference")
    args = parser.parse_args()
    images = read_images(args.images)
    if args.target == "kind":
        text = kustomize("k8s/overlays/kind", images, [])
    elif args.target == "gke":
        private = os.environ.get("CLOUD_SQL_PRIVATE_IP", "false") == "true"
        text = kustomize("k8s/overlays/gke", images, ["k8s/components/cloud-sql-private-ip"] if private else [])
    else:
        text = (ROOT / "k8s/overlays/gke/cloudrun-frontend.yaml").read_text()
        text = text.replace("image: notas/frontend", f"image: {images['frontend']}")
    sys.stdout.write(fill(text))


if __name__ == "__main__":
    main()
