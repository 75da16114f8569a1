# What the flake uses of nixpkgs (nixos-26.05) and crane, as a model that Debian's Nix 2.8
# can evaluate: CI cannot evaluate nixpkgs itself, so crates/deploy-checks evaluates
# flake.nix and nix/*.nix against this file instead. An attribute the flake uses that is not
# here, a function argument the real one does not take (argument sets are closed where
# upstream's are), or a package asked for on a platform it does not build for fails that
# evaluation. Every entry names the upstream file it was checked against; add an entry
# only after reading that file (nix/README.md says how).
#
# `ifd` is a folder holding the outputs that evaluation reads back (import from derivation):
# the test writes them there. `root` is the flake's folder and `tracked` the files git tracks
# under it, one per line (`git ls-files`): a flake's source holds only those, so they are all
# the files a path can name. `absent` names packages the model leaves out, for a test of how
# the flake does without one whose presence on the pinned release is not verified.
{ ifd, root, tracked, absent ? [ ] }:
let
  linux = [ "x86_64-linux" "aarch64-linux" ];
  darwin = [ "aarch64-darwin" "x86_64-darwin" ];
  all = linux ++ darwin;

  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  hasSuffix = suffix: s:
    let n = builtins.stringLength s; k = builtins.stringLength suffix; in
    k <= n && builtins.substring (n - k) k s == suffix;
  files = map (f: "${toString root}/${f}")
    (builtins.filter (f: builtins.isString f && f != "") (builtins.split "\n" tracked));
  # The files a path names: itself, or every file under it.
  under = path: builtins.filter (f: f == toString path || hasPrefix "${toString path}/" f) files;

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
      if hasSuffix suffix s then builtins.substring 0 (builtins.stringLength s - builtins.stringLength suffix) s else s;
    makeLibraryPath = drvs: builtins.concatStringsSep ":" (map (d: "${d}/lib") drvs);
    toLower = s: replaceStrings
      (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26)
      (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26) s;
    # lib/fileset/default.nix and lib/fileset/internal.nix: a file set holds files, never
    # folders; a path stands for every file under it (`_coerce`, `_singleton`), and a path
    # without a file does not exist in a flake's source (git keeps no empty folder). The
    # errors are upstream's. `toSource` gives the model's `files` too: what the store path
    # holds, relative to `root`.
    fileset =
      let
        # Sorted and without duplicates, as a set of files.
        create = list: { _type = "fileset"; files = builtins.attrNames (builtins.listToAttrs (map (f: nameValuePair f null) list)); };
        coerce = context: value:
          if value._type or "" == "fileset" then value
          else if !builtins.isPath value then
            throw "${context} is of type ${builtins.typeOf value}, but it should be a file set or a path instead."
          else if under value == [ ] then throw "${context} (${toString value}) is a path that does not exist."
          else create (under value);
      in
      {
        toSource = { root, fileset }:
          let
            set = coerce "lib.fileset.toSource: `fileset`" fileset;
            outside = builtins.filter (f: !hasPrefix "${toString root}/" f) set.files;
          in
          if !builtins.isPath root then
            throw "lib.fileset.toSource: `root` (${toString root}) is a string-like value, but it should be a path instead."
          else if under root == [ ] then throw "lib.fileset.toSource: `root` (${toString root}) is a path that does not exist."
          else if under root == [ (toString root) ] then throw "lib.fileset.toSource: `root` (${toString root}) is a file, but it should be a directory instead."
          else if outside != [ ] then
            throw "lib.fileset.toSource: `fileset` could contain files in ${dirOf (builtins.head outside)}, which is not under the `root` (${toString root})."
          else {
            outPath = "${ifd}/source";
            origSrc = root; # lib/sources.nix: cleanSourceWith keeps the path it filters
            files = map (f: builtins.substring (builtins.stringLength "${toString root}/") (-1) f) set.files;
          };
        unions = filesets:
          assert builtins.isList filesets || throw "lib.fileset.unions: Argument is of type ${builtins.typeOf filesets}, but it should be a list instead.";
          create (builtins.concatLists (builtins.genList
            (i: (coerce "lib.fileset.unions: Element ${toString i}" (builtins.elemAt filesets i)).files)
            (builtins.length filesets)));
        difference = positive: negative:
          let
            p = coerce "lib.fileset.difference: First argument (positive set)" positive;
            n = coerce "lib.fileset.difference: Second argument (negative set)" negative;
          in
          create (builtins.filter (f: !builtins.elem f n.files) p.files);
        # The predicate gets `name`, `type` and `hasExt ext` (`hasSuffix ".${ext}" name`), and
        # one more attribute so that a closed pattern fails (`_fileFilter`). Every tracked file
        # here is "regular" (the repository has no symlinks).
        fileFilter = predicate: path:
          if !builtins.isFunction predicate then
            throw "lib.fileset.fileFilter: First argument is of type ${builtins.typeOf predicate}, but it should be a function instead."
          else if !builtins.isPath path then
            if path._type or "" == "fileset" then throw "lib.fileset.fileFilter: Second argument is a file set, but it should be a path instead."
            else throw "lib.fileset.fileFilter: Second argument is of type ${builtins.typeOf path}, but it should be a path instead."
          else if under path == [ ] then throw "lib.fileset.fileFilter: Second argument (${toString path}) is a path that does not exist."
          else create (builtins.filter
            (f:
              let name = baseNameOf f; in
              predicate {
                inherit name;
                type = "regular";
                hasExt = ext: hasSuffix ".${ext}" name;
                "lib.fileset.fileFilter: The predicate function passed as the first argument must be able to handle extra attributes for future compatibility. If you're using `{ name, file, hasExt }:`, use `{ name, file, hasExt, ... }:` instead." = null;
              })
            (under path));
      };
  };

  drv = name: { type = "derivation"; inherit name; outPath = "${ifd}/${name}"; };
  # A package, and the platforms it builds for (its meta.platforms).
  package = platforms: name: drv name // { inherit platforms; };
  unix = package all;
  # A package with several outputs (lib/customisation.nix, extendDerivation): the package
  # is its first output, and has every output as an attribute, which carries
  # `outputSpecified = true` and its `outputName`. One level deep here (upstream's outputs
  # have the outputs again, which a deepSeq would follow forever).
  outputs = list: platforms: name:
    let
      output = o: drv name // {
        inherit platforms;
        outputs = list;
        outputName = o;
        outputSpecified = true;
        outPath = "${ifd}/${name}-${o}";
      };
    in
    builtins.removeAttrs (output (builtins.head list)) [ "outputSpecified" ] // lib.genAttrs list output;

  pkgsFor = system:
    let
      isLinux = builtins.elem system linux;
      available = builtins.removeAttrs packages (absent ++ builtins.filter
        (n: !(builtins.elem system packages.${n}.platforms)) (builtins.attrNames packages));
      # name -> package; the file each one is defined in.
      packages = builtins.mapAttrs (name: p: p name) {
        cacert = unix; # pkgs/by-name/ca/cacert
        cargo = unix; # pkgs/top-level/all-packages.nix: inherit (rustPackages) cargo
        chromium = package linux; # pkgs/applications/networking/browsers/chromium/browser.nix: platforms.linux
        clippy = unix; # all-packages.nix: inherit (rustPackages) clippy
        # pkgs/by-name/cm/cmake/package.nix (platforms.all); its setup-hook.sh makes
        # cmakeConfigurePhase the configure phase unless `configurePhase` or
        # `dontUseCmakeConfigure` is set.
        cmake = unix;
        # pkgs/by-name/cu/curl/package.nix is curlMinimal.override (pkgs/by-name/cu/curlMinimal/
        # package.nix): outputs bin dev out man devdoc, platforms.all; the headers are in
        # `dev` (multiple-outputs.sh: outputInclude = outputDev).
        curl = outputs [ "bin" "dev" "out" "man" "devdoc" ] all;
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

  # ipetkov/crane at the flake's tag (lib/*.nix): the functions the flake calls and the
  # arguments it relies on. The Nix and nixpkgs versions it needs: nix/README.md.
  craneLib = pkgs: {
    # lib/fileset/commonCargoSources.nix: the union of cargoTomlAndLock.nix, rust.nix and
    # toml.nix, each a fileFilter of lib.fileset.
    fileset.commonCargoSources = path: pkgs.lib.fileset.unions [
      (pkgs.lib.fileset.fileFilter (file: builtins.elem file.name [ "Cargo.toml" "Cargo.lock" ]) path)
      (pkgs.lib.fileset.fileFilter (file: file.hasExt "rs") path)
      (pkgs.lib.fileset.fileFilter (file: file.hasExt "toml") path)
    ];
    buildDepsOnly = { src, ... }@args: drv "deps" // { inherit args; }; # lib/buildDepsOnly.nix
    buildPackage = { src, cargoArtifacts, ... }@args: # lib/buildPackage.nix
      assert builtins.isString (args.cargoExtraArgs or "");
      drv "${args.pname or "crate"}" // { inherit args; };
    cargoFmt = { src, ... }@args: drv "fmt"; # lib/cargoFmt.nix
    cargoClippy = { cargoArtifacts, ... }@args: # lib/cargoClippy.nix
      assert builtins.isString (args.cargoClippyExtraArgs or ""); drv "clippy" // { inherit args; };
    cargoTest = { cargoArtifacts, ... }@args: # lib/cargoTest.nix
      assert builtins.isString (args.cargoTestExtraArgs or ""); drv "test" // { inherit args; };
    # Every one of these takes `...` and hands what it does not use to mkCargoDerivation,
    # which passes it on to stdenv.mkDerivation (lib/mkCargoDerivation.nix, cleanedArgs),
    # so `nativeBuildInputs`, `buildInputs` and `dontUseCmakeConfigure` reach the build.
    # mkCargoDerivation sets a configurePhase of its own that runs only the hooks
    # (CHANGELOG.md 0.7.0: so that cmake's setup hook cannot claim it; issue #104).
  };
in
{
  # The flake's inputs: nixpkgs.lib and nixpkgs.legacyPackages.<system> (nixpkgs' flake.nix).
  nixpkgs = { inherit lib; legacyPackages = lib.genAttrs all pkgsFor; };
  crane.mkLib = craneLib; # crane's flake.nix: mkLib = pkgs: import ./default.nix { inherit pkgs; }

  # Not upstream's: the output of a package that stdenv hands a build when the package is in
  # its inputs: `lib.getDev` (pkgs/stdenv/generic/make-derivation.nix maps it over every
  # dependency list; lib/attrsets.nix `getOutput`: an output chosen by name stays, a
  # package gives its `dev` output, or `out`, or itself).
  inputOutput = p:
    if p.outputSpecified or false then p.outputName
    else if builtins.elem "dev" (p.outputs or [ ]) then "dev"
    else "out";

  # Not upstream's: the folder a derivation's `src` comes from, and the files it puts in the
  # build folder, relative to it (a toSource's, or every file under a path).
  sourceFiles = src:
    let source = if src ? files then src else lib.fileset.toSource { root = src; fileset = src; }; in
    { root = toString source.origSrc; inherit (source) files; };
}
