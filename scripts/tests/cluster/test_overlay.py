"""What `just up` and `just deploy-gke` apply: image pins and the ${NAME}s filled in."""

import json
import sys

import pytest

from scripts.cluster import overlay


@pytest.mark.parametrize(
    "reference, entry",
    [
        ("notas/redis-api:abc123", {"newName": "notas/redis-api", "newTag": "abc123"}),
        ("localhost:5000/notas/redis-api:v1", {"newName": "localhost:5000/notas/redis-api", "newTag": "v1"}),
        (
            "europe-west1-docker.pkg.dev/p/notas/redis-api@sha256:" + "0" * 64,
            {"newName": "europe-west1-docker.pkg.dev/p/notas/redis-api", "digest": "sha256:" + "0" * 64},
        ),
    ],
)
def test_an_image_is_pinned_by_tag_or_digest(reference, entry):
    assert overlay.image_fields("redis-api", reference) == {"name": "notas/redis-api", **entry}


@pytest.mark.parametrize("reference", ["redis-api", "notas/redis-api", "localhost:5000/notas/redis-api"])
def test_an_image_without_tag_or_digest_is_refused(reference):
    with pytest.raises(SystemExit, match="needs a tag or a digest"):
        overlay.image_fields("redis-api", reference)


def test_every_image_must_be_given(tmp_path):
    images = tmp_path / "images.json"
    images.write_text(json.dumps({name: f"notas/{name}:t" for name in overlay.IMAGES if name != "monitor"}))
    with pytest.raises(SystemExit, match="names no image for monitor"):
        overlay.read_images(images)


def test_placeholders_are_filled_from_the_environment():
    text = "project: ${GCP_PROJECT}\nhost: ${MEMORYSTORE_HOST}:6379\nshell: $HOME ${lower}\n"
    env = {"GCP_PROJECT": "p", "MEMORYSTORE_HOST": "10.0.0.3"}
    assert overlay.fill(text, env) == "project: p\nhost: 10.0.0.3:6379\nshell: $HOME ${lower}\n"


def test_an_unset_or_empty_placeholder_stops_the_render_naming_it():
    with pytest.raises(SystemExit, match="set GCP_PROJECT, MEMORYSTORE_HOST "):
        overlay.fill("${MEMORYSTORE_HOST} ${GCP_PROJECT} ${SET}", {"GCP_PROJECT": "", "SET": "x"})


def test_cloud_run_gets_the_frontend_image_and_its_values(tmp_path, monkeypatch, capsys):
    images = tmp_path / "images.json"
    images.write_text(json.dumps({name: f"registry.example/notas/{name}@sha256:{name}" for name in overlay.IMAGES}))
    monkeypatch.setattr(sys, "argv", ["overlay.py", "cloudrun", "--images", str(images)])
    monkeypatch.setenv("FRONTEND_SERVICE_ACCOUNT", "frontend@p.iam.gserviceaccount.com")
    overlay.main()
    text = capsys.readouterr().out
    assert "image: registry.example/notas/frontend@sha256:frontend" in text
    assert "frontend@p.iam.gserviceaccount.com" in text
    assert "${" not in text
