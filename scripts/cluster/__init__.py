"""The cluster tools: what `just up`, `just deploy-gke` and `just nix-sources` run.

- overlay.py renders a k8s/ overlay with the images pinned and ${NAME}s filled in.
- strimzi.py renders the pinned, hash-checked Strimzi operator.
- memorystore.py writes GKE's Redis Secret from a Memorystore instance.
- nix_sources.py builds offline from exactly the files Nix hands each build.
- up.sh and deploy-gke.sh are the two recipes' steps.

Standard library only: they run with any python3, as modules from the repository's root
(`python3 -m scripts.cluster.overlay`).
"""
