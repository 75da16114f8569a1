# What the flake uses of nixpkgs (nixos-26.05) and crane, as a model that Debian's Nix 2.8
# can evaluate: CI cannot evaluate nixpkgs itself, so crates/deploy-checks evaluates
# flake.nix and nix/*.nix against this file instead. An attribute the flake uses that is not
# here, a function argument the real one does not take (argument sets are closed where
# upstream's are), or a package asked for on a platform it does not build for fails that
# evaluation. Every entry names the upstream file it was checked against; add an entry
# only after reading that file (nix/README.md says how).
#
# `ifd` is a folder holding the outputs that evaluation reads back (import from derivation):
# the test writes them there.
{ ifd }:
let
  linux = [ "x86_64-linux" "aarch64-linux" ];
  darwin = [ "aarch64-darwin" "x86_64-darwin" ];
  all = linux ++ darwin;

  # lib/: only what the flake uses; same semantics as upstream.
  lib = rec {
    # lib/attrsets.nix
    genAttrs = names: f: builtins.listToAttrs (map (n: nameValuePair n (f n)) names);
    nameValuePair = name: value: { inherit name value; };
    mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (builtins.attrNames set);
    optionalAttrs = cond: set: if cond then set else { };
    # lib/lists.nix
    optionals = cond: list: if cond then list else [ ];
    # lib/strings.nix
    inherit (builtins) replaceStrings;
    optionalString = cond: s: if cond then s else "";
    removeSuffix = suffix: s:
      let n = builtins.stringLength s; k = builtins.stringLength suffix; in
      if k <= n && builtins.substring (n - k) k s == suffix then builtins.substring 0 (n - k) s else s;
    makeLibraryPath = drvs: builtins.concatStringsSep ":" (map (d: "${d}/lib") drvs);
    toLower = s: replaceStrings
      (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26)
      (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26) s;
    # lib/fileset/default.nix: toSource (l. 418), unions (l. 617), difference, fileFilter
    # (l. 806; the predicate's argument has `hasExt`).
    fileset = {
      toSource = { root, fileset }: { outPath = "${ifd}/source"; inherit fileset; };
      unions = filesets: { inherit filesets; };
      difference = positive: negative: { inherit positive negative; };
      fileFilter = predicate: path:
        assert builtins.isBool (predicate { name = "x.snap"; hasExt = ext: ext == "snap"; type = "regular"; });
        { inherit path; };
    };
  };

  drv = name: { type = "derivation"; inherit name; outPath = "${ifd}/${name}"; };
  # A package, and the platforms it builds for (its meta.platforms).
  package = platforms: name: drv name // { inherit platforms; };
  unix = package all;

  pkgsFor = system:
    let
      isLinux = builtins.elem system linux;
      available = builtins.removeAttrs packages (builtins.filter
        (n: !(builtins.elem system packages.${n}.platforms)) (builtins.attrNames packages));
      # name -> package; the file each one is defined in.
      packages = builtins.mapAttrs (name: p: p name) {
        cacert = unix; # pkgs/by-name/ca/cacert
        cargo = unix; # pkgs/top-level/all-packages.nix: inherit (rustPackages) cargo
        chromium = package linux; # pkgs/applications/networking/browsers/chromium/browser.nix: platforms.linux
        clippy = unix; # all-packages.nix: inherit (rustPackages) clippy
        curl = unix; # pkgs/by-name/cu/curl
        google-cloud-sdk = unix; # pkgs/by-name/go/google-cloud-sdk (linux and darwin builds)
        just = unix; # pkgs/by-name/ju/just
        kind = unix; # pkgs/by-name/ki/kind
        kubectl = unix; # pkgs/by-name/ku/kubectl
        mariadb = unix; # all-packages.nix: mariadb = mariadb_114
        nginx = unix; # all-packages.nix: nginx = nginxStable
        nodejs = unix; # all-packages.nix (ships npm)
        nodejs_22 = unix; # all-packages.nix
        protobuf = unix; # all-packages.nix: protobuf = protobuf_34
        python3 = unix; # all-packages.nix
        redis = unix; # pkgs/by-name/re/redis
        rust-analyzer = unix; # pkgs/by-name/ru/rust-analyzer
        rustc = unix; # all-packages.nix: inherit (rustPackages) rustc
        rustfmt = unix; # all-packages.nix: rustfmt = rustPackages.rustfmt
        skopeo = unix; # pkgs/by-name/sk/skopeo
        static-web-server = unix; # pkgs/by-name/st/static-web-server
      };
    in
    available // {
      inherit lib;
      stdenv = {
        hostPlatform = { inherit system isLinux; isDarwin = !isLinux; };
        cc.cc.lib = drv "gcc-lib";
      };
      # pkgs/build-support/trivial-builders/default.nix
      runCommand = name: env: script: assert builtins.isAttrs env && builtins.isString script; drv name;
      writeText = name: text: drv name // { inherit text; };
      linkFarm = name: entries:
        assert builtins.all (e: builtins.attrNames e == [ "name" "path" ]) entries;
        drv name // { inherit entries; };
      # pkgs/build-support/mkshell/default.nix: any other attribute becomes a variable.
      mkShell = { packages ? [ ], ... }@args: drv "nix-shell" // { inherit args; };
      # pkgs/build-support/node/build-npm-package/default.nix
      buildNpmPackage = { pname, version, src, npmDeps, npmConfigHook, ... }@args:
        drv "${pname}-${version}" // { inherit args; };
      # pkgs/build-support/node/import-npm-lock/default.nix (l. 88-103, 25-76): every
      # entry but the root and links becomes `fetchurl { url = resolved; hash = integrity; }`;
      # an entry without `resolved` gets no source, and the offline `npm install` of
      # npmConfigHook then fails, so the model refuses it.
      importNpmLock = {
        __functor = _: { npmRoot ? null
                       , package ? builtins.fromJSON (builtins.readFile (npmRoot + "/package.json"))
                       , packageLock ? builtins.fromJSON (builtins.readFile (npmRoot + "/package-lock.json"))
                       , pname ? package.name
                       , version ? package.version
                       , fetcherOpts ? { }
                       , packageSourceOverrides ? { }
                       }:
          let
            source = path: entry:
              if path == "" || entry.link or false || packageSourceOverrides ? ${path} then "local"
              else if !(entry ? resolved) then throw "importNpmLock: ${path} has no `resolved` URL"
              else if builtins.match "https?://.*" entry.resolved == null then throw "importNpmLock: ${path}: not an http(s) URL: ${entry.resolved}"
              else if !(entry ? integrity) then throw "importNpmLock: ${path} has no integrity"
              else entry.resolved;
          in
          drv "${pname}-${version}-sources" // { sources = builtins.mapAttrs source packageLock.packages; };
        npmConfigHook = drv "npm-config-hook"; # l. 254: inherit (hooks) npmConfigHook
      };
      # pkgs/build-support/docker/default.nix: buildLayeredImage takes streamLayeredImage's
      # arguments plus `compressor` ("none" | "gz" | "zstd"); a null tag becomes the Nix
      # hash (passthru.imageTag), the name lower-cased (imageName).
      dockerTools.buildLayeredImage =
        { name, tag ? null, fromImage ? null, contents ? [ ], config ? { }, architecture ? null
        , created ? "1970-01-01T00:00:01Z", maxLayers ? 100, extraCommands ? ""
        , fakeRootCommands ? "", enableFakechroot ? false, includeStorePaths ? true
        , passthru ? { }, compressor ? "gz"
        }:
        assert builtins.elem compressor [ "none" "gz" "zstd" ];
        assert !enableFakechroot || isLinux;
        drv "${baseNameOf name}.tar" // {
          imageName = lib.toLower name;
          imageTag = if tag != null then tag else builtins.substring 0 32 (builtins.hashString "sha256" name);
          inherit contents config;
        };
    };

  # ipetkov/crane (lib/*.nix): the functions the flake calls and the arguments it relies on.
  # crane needs nixpkgs 26.05 or later and Nix 2.31.2 or later (CHANGELOG.md).
  craneLib = pkgs: {
    fileset.commonCargoSources = path: { inherit path; }; # lib/fileset/commonCargoSources.nix
    buildDepsOnly = { src, ... }@args: drv "deps" // { inherit args; }; # lib/buildDepsOnly.nix
    buildPackage = { src, cargoArtifacts, ... }@args: # lib/buildPackage.nix
      assert builtins.isString (args.cargoExtraArgs or "");
      drv "${args.pname or "crate"}" // { inherit args; };
    cargoFmt = { src, ... }@args: drv "fmt"; # lib/cargoFmt.nix
    cargoClippy = { cargoArtifacts, ... }@args: # lib/cargoClippy.nix
      assert builtins.isString (args.cargoClippyExtraArgs or ""); drv "clippy";
    cargoTest = { cargoArtifacts, ... }@args: # lib/cargoTest.nix
      assert builtins.isString (args.cargoTestExtraArgs or ""); drv "test";
  };
in
{
  # The flake's inputs: nixpkgs.lib and nixpkgs.legacyPackages.<system> (nixpkgs' flake.nix).
  nixpkgs = { inherit lib; legacyPackages = lib.genAttrs all pkgsFor; };
  crane.mkLib = craneLib; # crane's flake.nix: mkLib = pkgs: import ./default.nix { inherit pkgs; }
}
