"""The local stack's nginx.conf, rendered from the kind overlay's Ingresses."""

import re
import shutil
import subprocess

import pytest
import yaml

from scripts.stack import render

SERVERS = {
    "nginx": [8080],
    "grpc-client": [8181, 8182],
    "redis-api": [8282],
    "dashboard-api": [8383],
    "queue-api": [8585],
}


def ingress(
    name: str,
    path: str,
    service: str,
    canary_weight: int | None = None,
    path_type: str = "Exact",
) -> dict:
    notes = {}
    if canary_weight is not None:
        notes = {
            "nginx.ingress.kubernetes.io/canary": "true",
            "nginx.ingress.kubernetes.io/canary-weight": str(canary_weight),
        }
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": notes},
        "spec": {"rules": [{"http": {"paths": [{"path": path, "pathType": path_type, "backend": backend}]}}]},
    }


def write(tmp_path, *docs):
    path = tmp_path / "ingress.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_the_kind_overlay_splits_notas_50_50_and_serves_the_dashboard():
    text = render.render_nginx(SERVERS)
    assert '    split_clients "${request_id}" $split_0 {\n        50% redis-api;\n        * grpc-client;\n    }' in text
    # The main Ingress's limits hold for the whole split (docs/security.md, "The edge").
    assert (
        "location = /notas {\n"
        "            limit_req zone=edge_0 burst=25000 nodelay;\n"
        "            client_max_body_size 16k;\n"
        "            proxy_intercept_errors on;\n"
        "            error_page 413 = @edge_413;\n"
        "            error_page 429 = @edge_429;\n"
        "            proxy_pass http://$split_notas;"
    ) in text
    assert "limit_req_zone $binary_remote_addr zone=edge_0:5m rate=5000r/s;" in text
    assert "location @edge_429 {\n            proxy_set_header X-Code 429;" in text
    for path, service in [
        ("/api", "dashboard-api"),
        ("/socket.io", "dashboard-api"),
        ("/", "frontend"),
    ]:
        assert f"location {path} {{\n            proxy_pass http://{service};" in text
    # Every replica is a server of its upstream; the frontend is served by dashboard-api here.
    assert "server 127.0.0.1:8181 max_fails=0;\n        server 127.0.0.1:8182 max_fails=0;" in text
    assert "upstream frontend {\n        server 127.0.0.1:8383 max_fails=0;" in text
    assert "listen 127.0.0.1:8080;" in text
    assert re.findall(r"@@\w+@@", text) == ["@@NAME@@"]  # in the comment that explains them
    assert "__static_204" not in text


def test_the_three_way_header_shares_notas_between_the_three_routes_a_third_each():
    text = render.render_nginx(SERVERS)
    split = '    split_clients "${request_id}" $split_all {\n        33% redis-api;\n        33% grpc-client;\n        * queue-api;\n    }'
    assert split in text
    # As the GKE Gateway's rule: the header picks the three-way split, else the 50/50 one.
    assert "map $http_x_notas_split $split_notas {\n        default $split_0;\n        all $split_all;\n    }" in text
    assert "upstream queue-api {\n        server 127.0.0.1:8585 max_fails=0;" in text


def test_without_queue_api_there_is_no_three_way_split(tmp_path):
    servers = {name: ports for name, ports in SERVERS.items() if name != "queue-api"}
    path = write(
        tmp_path,
        ingress("main", "/notas", "grpc-client"),
        ingress("canary", "/notas", "redis-api", canary_weight=50),
    )
    text = render.render_nginx(servers, ingress=path)
    assert "$split_all" not in text and "proxy_pass http://$split_0;" in text


def test_the_benchmark_adds_a_static_location_and_one_proxied_to_it():
    text = render.render_nginx(SERVERS, static_204=True)
    assert "location = /__static_204 {\n            return 204;" in text
    assert "location = /__proxied_204 {\n            proxy_pass http://static_204/__static_204;" in text
    port = SERVERS["nginx"][0]
    assert f"upstream static_204 {{\n        server 127.0.0.1:{port};\n        keepalive 320;" in text


def test_the_canary_weight_sets_the_share(tmp_path):
    path = write(
        tmp_path,
        ingress("main", "/notas", "grpc-client"),
        ingress("canary", "/notas", "redis-api", canary_weight=30),
    )
    main, splits = render.ingress_routes(path)
    assert splits == {"/notas": [("redis-api", 30), ("grpc-client", 70)]}
    assert main == [{"path": "/notas", "type": "Exact", "service": "grpc-client", "annotations": {}}]
    assert "30% redis-api;\n        * grpc-client;" in render.render_nginx(SERVERS, ingress=path)


def test_the_edge_limits_follow_the_annotations_and_the_bench_goes_without_the_rate_limit():
    notes = {
        "nginx.ingress.kubernetes.io/limit-rps": "10",
        "nginx.ingress.kubernetes.io/proxy-body-size": "1k",
    }
    zones, directives = render.edge_limits(notes, "z")
    assert zones == "    limit_req_zone $binary_remote_addr zone=z:5m rate=10r/s;\n"
    # ingress-nginx's default burst multiplier is 5.
    assert directives == [
        "limit_req zone=z burst=50 nodelay;",
        "client_max_body_size 1k;",
    ]
    assert render.edge_limits(notes, "z", rate_limit=False) == (
        "",
        ["client_max_body_size 1k;"],
    )
    assert render.edge_limits({}, "z") == ("", [])
    bench = render.render_nginx(SERVERS, static_204=True, rate_limit=False)
    assert "limit_req" not in bench.replace("limit_req_status", "")


def test_a_prefix_path_is_a_prefix_location(tmp_path):
    path = write(tmp_path, ingress("main", "/api", "dashboard-api", path_type="Prefix"))
    assert "location /api {" in render.render_nginx(SERVERS, ingress=path)


@pytest.mark.parametrize(
    "docs, message",
    [
        (
            [ingress("canary", "/notas", "redis-api", canary_weight=50)],
            "no main Ingress for that path",
        ),
        (
            [
                ingress("main", "/notas", "grpc-client"),
                ingress("canary", "/notas", "redis-api", canary_weight=150),
            ],
            "weigh 150",
        ),
        (
            [ingress("main", "/grades", "grades-api")],
            "no local process answers for the Service grades-api",
        ),
    ],
)
def test_ingresses_the_local_stack_cannot_serve_are_refused(tmp_path, docs, message):
    with pytest.raises(SystemExit, match=message):
        render.render_nginx(SERVERS, ingress=write(tmp_path, *docs))


def test_nginx_accepts_the_rendering(tmp_path):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not nginx:
        pytest.skip("nginx is not installed")
    for sub in ("nginx/tmp", "logs"):
        (tmp_path / sub).mkdir(parents=True)
    conf = tmp_path / "nginx" / "nginx.conf"
    conf.write_text(render.render_nginx(SERVERS, state=tmp_path, static_204=True))
    test = [
        nginx,
        "-t",
        "-p",
        str(tmp_path / "nginx"),
        "-c",
        str(conf),
        "-e",
        str(tmp_path / "logs" / "error.log"),
    ]
    checked = subprocess.run(test, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
