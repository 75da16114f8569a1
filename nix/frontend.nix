# The dashboard bundle, built from package-lock.json alone (importNpmLock: no hash to
# compute by hand).
{ pkgs, version }:
pkgs.buildNpmPackage {
  pname = "notas-frontend";
  inherit version;
  src = ../frontend;
  npmDeps = pkgs.importNpmLock { npmRoot = ../frontend; };
  npmConfigHook = pkgs.importNpmLock.npmConfigHook;
  installPhase = ''
    runHook preInstall
    cp -r dist $out
    runHook postInstall
  '';
}
