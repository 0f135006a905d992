"""The chart, version, namespace and inline values of one generated Application.

    python3 tests/k8s/chart-values.py APPLICATION_YAML VALUES_OUT

Prints `<chart> <targetRevision> <destination namespace> <releaseName>` of the
Application's first chart source and writes its `helm.valuesObject` (or `{}`) to
VALUES_OUT as JSON, for `helm template` in checks/k8s.sh. Exits 1 when the Application
has no chart source.
"""

import json
import sys

import yaml


def main(path, out):
    with open(path, encoding="utf-8") as f:
        app = yaml.safe_load(f)
    spec = app["spec"]
    for source in spec.get("sources") or [spec.get("source") or {}]:
        if source.get("chart"):
            helm = source.get("helm") or {}
            with open(out, "w", encoding="utf-8") as f:
                json.dump(helm.get("valuesObject") or {}, f)
            print(source["chart"], source["targetRevision"], spec["destination"]["namespace"],
                  helm.get("releaseName", app["metadata"]["name"]))
            return
    sys.exit(f"{path}: no chart source")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
