# The dashboard bundle, built from frontend/package-lock.json alone with nixpkgs'
# importNpmLock (no hash to compute by hand).
#
# The committed lock names no registry (npm's omit-lockfile-registry-resolved): npm fills in
# its configured registry when it installs. importNpmLock instead fetches each entry's
# `resolved` URL, and nixpkgs defines no constant for the npm registry, so this file does
# what npm does: it asks npm (the one nixpkgs' Node.js ships) for its registry, then writes
# each entry's tarball URL (`<registry><name>/-/<basename>-<version>.tgz`, npm's layout)
# into the lock that importNpmLock reads. Every entry keeps its `integrity`, so the
# download is checked. The question to npm is a tiny build read at evaluation time
# (import from derivation), allowed by default for flakes.
{ pkgs, version }:
let
  registry = builtins.readFile (pkgs.runCommand "npm-default-registry"
    { nativeBuildInputs = [ pkgs.nodejs ]; } ''
    HOME=$TMPDIR npm config get registry | tr -d '\n' > $out
  '');
  lock = import ./npm-lock.nix {
    inherit registry;
    lock = builtins.fromJSON (builtins.readFile ../frontend/package-lock.json);
  };
in
pkgs.buildNpmPackage {
  pname = "notas-frontend";
  inherit version;
  src = ../frontend;
  npmDeps = pkgs.importNpmLock { npmRoot = ../frontend; packageLock = lock; };
  npmConfigHook = pkgs.importNpmLock.npmConfigHook;
  installPhase = ''
    runHook preInstall
    cp -r dist $out
    runHook postInstall
  '';
}
