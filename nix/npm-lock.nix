# A registry-agnostic package-lock.json (v2/v3) made fetchable: every package entry
# without `resolved` gets the tarball URL npm would download it from. Pure Nix, no nixpkgs,
# so crates/deploy-checks evaluates it on the real lock with Debian's Nix 2.8.
{ lock, registry }:
let
  # npm's registry setting ends with a slash; accept it either way.
  base = if builtins.match ".*/" registry != null then registry else "${registry}/";
  # "node_modules/a/node_modules/@scope/b" -> "@scope/b"
  installedName = path:
    let parts = builtins.split "node_modules/" path;
    in builtins.elemAt parts (builtins.length parts - 1);
  # "@scope/b" -> "b"
  basename = name:
    let parts = builtins.split "/" name;
    in builtins.elemAt parts (builtins.length parts - 1);
  tarball = path: entry:
    # An alias (`"x": "npm:y@1"`) is installed as x but published as `entry.name`.
    let name = entry.name or (installedName path);
    in "${base}${name}/-/${basename name}-${entry.version}.tgz";
  fetchable = path: entry:
    if path == "" || entry.link or false || entry ? resolved
    then entry
    else
      assert entry ? integrity || throw "package-lock.json: ${path} has no integrity; run `npm install` in frontend/";
      assert entry ? version || throw "package-lock.json: ${path} has no version";
      entry // { resolved = tarball path entry; };
in
lock // { packages = builtins.mapAttrs fetchable lock.packages; }
