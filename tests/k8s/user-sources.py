"""The user's own files a rendered k8s tree points Argo CD at, for checks/k8s.sh.

    python3 tests/k8s/user-sources.py TREE

TREE is a rendered k8s tree (e.g. generated/k8s). Its git path is read from
root-app.yaml (`<git.path>/root`). Prints one line per file or directory of the user's
repository, outside the generated tree, that an Application reads:
    path <dir>      a git source's `path:` (plain manifests or a kustomization)
    values <file>   a Helm `valueFiles` entry `$values/<file>`
both relative to the repository root. Exits 1 on a tree it cannot read.
"""

import pathlib
import sys

import yaml


def main(tree):
    tree = pathlib.Path(tree)
    root = yaml.safe_load((tree / "root-app.yaml").read_text(encoding="utf-8"))
    root_path = root["spec"]["source"]["path"]
    if not root_path.endswith("/root"):
        sys.exit(f"root-app.yaml: source.path {root_path!r} does not end in /root")
    git_path = root_path[: -len("/root")]
    found = set()
    for app_file in sorted(tree.glob("*/*/application.yaml")):
        app = yaml.safe_load(app_file.read_text(encoding="utf-8"))
        spec = app["spec"]
        sources = spec.get("sources") or [spec["source"]]
        for source in sources:
            path = source.get("path")
            # The generated tree itself (Argo CD's own Application reads its root-app.yaml)
            # is ours, not the user's.
            ours = path is not None and (path == git_path or path.startswith(git_path + "/"))
            if path and not source.get("chart") and path != "." and not ours:
                found.add(("path", path))
            for vf in (source.get("helm") or {}).get("valueFiles") or []:
                if vf.startswith("$values/") and not vf.startswith(f"$values/{git_path}/"):
                    found.add(("values", vf[len("$values/"):]))
    for kind, path in sorted(found):
        print(kind, path)


if __name__ == "__main__":
    main(sys.argv[1])
