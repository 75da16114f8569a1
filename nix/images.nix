# One OCI image per service, built without a Docker daemon. Uncompressed layered tarballs,
# which `kind load image-archive` and `skopeo copy docker-archive:` take as they are.
# Non-root (65532), CA certificates, no shell. No tag is given, so dockerTools tags each
# image with its Nix hash: a changed image gets a new tag and the cluster rolls it out.
{ pkgs, binaries, frontend }:
let
  inherit (pkgs) lib;
  user = [
    (pkgs.runCommand "notas-user" { } ''
      mkdir -p $out/etc
      echo 'notas:x:65532:65532::/nonexistent:/sbin/nologin' > $out/etc/passwd
      echo 'notas:x:65532:' > $out/etc/group
    '')
  ];
  image = { name, contents, config }: pkgs.dockerTools.buildLayeredImage {
    name = "notas/${name}";
    compressor = "none";
    contents = contents ++ user;
    config = config // { User = "65532:65532"; };
  };
  service = name: ports: image {
    inherit name;
    contents = [ pkgs.cacert ];
    config = {
      Entrypoint = [ "${binaries.${name}}/bin/${name}" ];
      ExposedPorts = lib.genAttrs ports (_: { });
      Env = [ "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt" ];
    };
  };
  # The bundle behind static-web-server; /config.js is a link into /config, where the
  # cluster mounts a ConfigMap and Cloud Run a secret, so one image serves every origin.
  site = pkgs.runCommand "notas-frontend-site" { } ''
    mkdir -p $out/site
    cp -r ${frontend}/. $out/site/
    rm -f $out/site/config.js
    ln -s /config/config.js $out/site/config.js
  '';
  images = {
    grpc-server-image = service "grpc-server" [ "50051/tcp" "9091/tcp" ];
    grpc-client-image = service "grpc-client" [ "8080/tcp" ];
    redis-api-image = service "redis-api" [ "8080/tcp" ];
    dashboard-api-image = service "dashboard-api" [ "8080/tcp" ];
    monitor-image = service "monitor" [ "8080/tcp" ];
    # Route 3: queue-api answers POST /notas like redis-api; grade-consumer reads Kafka and
    # serves HTTP only for /healthz, /readyz and /metrics. librdkafka is linked in
    # statically (rdkafka-sys' build.rs: static=rdkafka), so nothing more goes in.
    queue-api-image = service "queue-api" [ "8080/tcp" ];
    grade-consumer-image = service "grade-consumer" [ "8080/tcp" ];
    frontend-image = image {
      name = "frontend";
      contents = [ site ];
      config = {
        Entrypoint = [
          "${pkgs.static-web-server}/bin/static-web-server"
          "--host" "0.0.0.0"
          "--port" "8080"
          "--root" "/site"
          "--page-fallback" "/site/index.html"
        ];
        ExposedPorts."8080/tcp" = { };
      };
    };
  };
  serviceOf = attribute: lib.removeSuffix "-image" attribute;
  # What scripts/cluster/overlay.py pins: each image's name and content tag.
  references = pkgs.writeText "images.json" (builtins.toJSON
    (lib.mapAttrs' (attribute: i: lib.nameValuePair (serviceOf attribute) "${i.imageName}:${i.imageTag}") images));
in
images // {
  # Every image in one folder, what `just up` loads into kind: result/<service>.tar, and
  # result/images.json with their references.
  all-images = pkgs.linkFarm "notas-images"
    ([{ name = "images.json"; path = references; }]
      ++ lib.mapAttrsToList (attribute: i: { name = "${serviceOf attribute}.tar"; path = i; }) images);
}
