# One OCI image per service, built without a Docker daemon. Uncompressed layered tarballs,
# which `kind load image-archive` and `skopeo copy docker-archive:` take as they are.
# Non-root (65532), CA certificates, no shell, tags that are not `latest`.
{ pkgs, version, binaries, frontend }:
let
  user = [
    (pkgs.runCommand "notas-user" { } ''
      mkdir -p $out/etc
      echo 'notas:x:65532:65532::/nonexistent:/sbin/nologin' > $out/etc/passwd
      echo 'notas:x:65532:' > $out/etc/group
    '')
  ];
  service = name: ports: pkgs.dockerTools.buildLayeredImage {
    name = "notas/${name}";
    tag = version;
    compressor = "none";
    contents = [ pkgs.cacert ] ++ user;
    config = {
      User = "65532:65532";
      Entrypoint = [ "${binaries.${name}}/bin/${name}" ];
      ExposedPorts = pkgs.lib.genAttrs ports (_: { });
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
    frontend-image = pkgs.dockerTools.buildLayeredImage {
      name = "notas/frontend";
      tag = version;
      compressor = "none";
      contents = user ++ [ site ];
      config = {
        User = "65532:65532";
        Entrypoint = [
          "${pkgs.static-web-server}/bin/static-web-server"
          "--port" "8080"
          "--root" "/site"
          "--page-fallback" "/site/index.html"
        ];
        ExposedPorts."8080/tcp" = { };
      };
    };
  };
in
images // {
  # Every image in one folder: result/<name>.tar, what `just up` loads into kind.
  all-images = pkgs.linkFarm "notas-images"
    (pkgs.lib.mapAttrsToList (name: image: { name = "${pkgs.lib.removeSuffix "-image" name}.tar"; path = image; }) images);
}
