"""phpIPAM's database survives the app's removal: a check of checks/k8s.sh.

    python3 tests/k8s/kept-data.py BUILT_DIR TREE [REPO]

BUILT_DIR holds `kustomize build` output of every kustomization of TREE (a rendered k8s
tree); REPO is the repository root the user's values files are read from (default: the
current directory). For every built Application that installs the phpIPAM chart:
  - its Helm value files (`$values/...`) are read in Argo CD's order and merged as Helm
    merges them (maps deep, everything else replaced); with persistence on, the merged
    phpipamMariadb.persistentVolume.annotations must hold Argo CD's sync options
    Delete=false and Prune=false, which the chart's PVC template copies onto the PVC;
    (unless a values file of the user's sets that annotation itself: their choice);
  - the built Namespace of its destination must carry Prune=false and Delete=false too
    (deleting the namespace would delete the PVC with it).
Exits 1 naming what is missing.
"""

import pathlib
import sys

import yaml

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"


def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return over


def keeps(options):
    parts = {p.strip() for p in str(options or "").split(",")}
    return {"Delete=false", "Prune=false"} <= parts


def main(built, tree, repo="."):
    built, tree, repo = pathlib.Path(built), pathlib.Path(tree), pathlib.Path(repo)
    root = yaml.safe_load((tree / "root-app.yaml").read_text(encoding="utf-8"))
    git_path = root["spec"]["source"]["path"][: -len("/root")]
    docs = []
    for f in sorted(built.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d]
    namespaces = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Namespace"}
    problems, checked = [], 0
    for app in (d for d in docs if d.get("kind") == "Application"):
        name = app["metadata"]["name"]
        for source in app["spec"].get("sources") or []:
            if source.get("chart") != "phpipam":
                continue
            checked += 1
            values, owner = {}, None
            for vf in source.get("helm", {}).get("valueFiles", []):
                rel = vf[len("$values/"):]
                path = tree / rel[len(git_path) + 1:] if rel.startswith(git_path + "/") else repo / rel
                if not path.is_file():
                    problems.append(f"{name}: value file {vf} not found ({path})")
                    continue
                layer = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                layer_pv = (layer.get("phpipamMariadb") or {}).get("persistentVolume") or {}
                if SYNC_OPTIONS in (layer_pv.get("annotations") or {}):
                    owner = path.name
                values = merge(values, layer)
            pv = (values.get("phpipamMariadb") or {}).get("persistentVolume") or {}
            if pv.get("enabled", True) is False:
                print(f"{name}: persistence off, nothing to keep")
                continue
            options = (pv.get("annotations") or {}).get(SYNC_OPTIONS)
            if not keeps(options) and owner not in (None, "chart-defaults.yaml"):
                print(f"{name}: your {owner} sets the PVC's sync options to {options!r}: not kept, by your choice")
                continue
            if not keeps(options):
                problems.append(f"{name}: the merged values give the PVC sync options {options!r}, not Delete=false,Prune=false")
            ns = app["spec"]["destination"]["namespace"]
            ns_options = (namespaces.get(ns, {}).get("metadata", {}).get("annotations") or {}).get(SYNC_OPTIONS)
            if ns in namespaces and not keeps(ns_options):
                problems.append(f"{name}: Namespace {ns} has sync options {ns_options!r}: pruning it deletes the PVC")
            if not problems:
                print(f"{name}: PVC annotated {options}; Namespace {ns}: {ns_options}")
    for p in problems:
        print(p)
    if checked == 0:
        print("no phpIPAM Application in the tree")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(*sys.argv[1:4])
