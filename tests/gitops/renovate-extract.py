#!/usr/bin/env python3
"""Prove that renovate.json finds every pin: run Renovate's own extraction offline
(`renovate --platform=local --dry-run=extract`) on a copy of a spec and of
tools/versions.env, and compare what it extracted with the pins read from those files.

  renovate-extract.py NODE RENOVATE_JS RENOVATE_JSON SPEC VERSIONS_ENV [--drop-manager TEXT]

Every pin must be extracted with its exact value (and, for a chart, its repository):
  spec      images[].k3s_version, images[].os_version, versions.*,
            kubernetes.{argocd,metallb,sealed_secrets,system_upgrade}.version,
            kubernetes.system_upgrade.k3s_version, kubernetes.{ingress,cert_manager}.version,
            kubernetes.{infra,apps}[].chart (an oci:// chart: the docker datasource with the
            package <registry path>/<chart>)
  versions  every KEY_VERSION= line of tools/versions.env
--drop-manager removes the custom managers whose description contains TEXT first (the
negative control: their pins must then be reported missing). Exit 0 all found, 1 not.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SPEC_FILE = "spec/homelab.yaml"
VERSIONS_FILE = "tools/versions.env"
VERSIONS_KEYS = {
    "proxmox_provider": "bpg/proxmox",
    "opentofu": "opentofu/opentofu",
    "packer_proxmox_plugin": "hashicorp/packer-plugin-proxmox",
    "packer_qemu_plugin": "hashicorp/packer-plugin-qemu",
}

# The spec's sections that pin one chart by `version:`: the chart and its repository.
SPEC_CHARTS = {
    "metallb": ("metallb", "https://metallb.github.io/metallb"),
    "sealed_secrets": ("sealed-secrets", "https://bitnami-labs.github.io/sealed-secrets"),
    "ingress": ("traefik", "https://traefik.github.io/charts"),
    "cert_manager": ("cert-manager", "https://charts.jetstack.io"),
}


def spec_pins(spec):
    """(file, depName, value, registryUrl or None, where) for every pin the spec writes."""
    pins = []

    def add(dep, value, where, registry=None):
        if value is not None:
            pins.append((SPEC_FILE, dep, str(value), registry, where))

    for key, dep in VERSIONS_KEYS.items():
        add(dep, (spec.get("versions") or {}).get(key), f"versions.{key}")
    for i, image in enumerate(spec.get("images") or []):
        add("k3s-io/k3s", image.get("k3s_version"), f"images[{i}].k3s_version")
        add("almalinux", image.get("os_version"), f"images[{i}].os_version")
    k8s = spec.get("kubernetes") or {}
    add("argoproj/argo-cd", (k8s.get("argocd") or {}).get("version"), "kubernetes.argocd.version")
    for key, (dep, registry) in SPEC_CHARTS.items():
        if k8s.get(key):
            add(dep, k8s[key].get("version"), f"kubernetes.{key}.version", registry)
    if k8s.get("system_upgrade"):
        add("rancher/system-upgrade-controller", k8s["system_upgrade"].get("version"),
            "kubernetes.system_upgrade.version")
        add("k3s-io/k3s", k8s["system_upgrade"].get("k3s_version"), "kubernetes.system_upgrade.k3s_version")
    for section in ("infra", "apps"):
        for i, app in enumerate(k8s.get(section) or []):
            chart = app.get("chart")
            if not chart:  # an app of your own manifests (path:) pins nothing
                continue
            repo = str(chart["repo_url"])
            if repo.startswith("oci://"):
                # An OCI chart is an OCI artifact: Renovate's docker datasource, the
                # package being the registry path and the chart name.
                add(chart["name"], chart["version"], f"kubernetes.{section}[{i}].chart",
                    "docker:" + repo[len("oci://"):].rstrip("/") + "/" + chart["name"])
            else:
                add(chart["name"], chart["version"], f"kubernetes.{section}[{i}].chart", repo)
    return pins


def same_registry(found, expected):
    """Renovate writes a host-only URL with a trailing slash (https://charts.jetstack.io/)."""
    return found is not None and found.rstrip("/") == expected.rstrip("/")


def versions_pins(path):
    pins = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"^([A-Z0-9_]+_VERSION)=[\"']?([^\"'\s]+)", line)
        if m:
            pins.append((VERSIONS_FILE, None, m.group(2), None, f"{m.group(1)} (line {n})"))
    return pins


def extract(node, renovate_js, config, spec, versions):
    work = tempfile.mkdtemp(prefix="renovate-extract.")
    try:
        os.makedirs(os.path.join(work, "spec"))
        os.makedirs(os.path.join(work, "tools"))
        shutil.copy(spec, os.path.join(work, SPEC_FILE))
        shutil.copy(versions, os.path.join(work, VERSIONS_FILE))
        with open(os.path.join(work, "renovate.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
        env = dict(os.environ, LOG_FORMAT="json", LOG_LEVEL="info")
        for var in ("RENOVATE_TOKEN", "GITHUB_COM_TOKEN", "RENOVATE_CONFIG_FILE"):
            env.pop(var, None)
        proc = subprocess.run(
            [node, renovate_js, "--platform=local", "--dry-run=extract", "--onboarding=false"],
            cwd=work, env=env, capture_output=True, text=True, timeout=300)
        files = None
        for line in proc.stdout.splitlines() + proc.stderr.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "packageFiles" in record:
                files = record["packageFiles"]
        if files is None:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            sys.exit(f"renovate-extract: Renovate printed no extraction (exit {proc.returncode})")
        return files
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    args = sys.argv[1:]
    drop = None
    if "--drop-manager" in args:
        i = args.index("--drop-manager")
        drop = args[i + 1]
        del args[i:i + 2]
    if len(args) != 5:
        sys.exit(__doc__)
    node, renovate_js, config_path, spec_path, versions_path = args
    config = json.load(open(config_path, encoding="utf-8"))
    if drop:
        before = len(config.get("customManagers", []))
        config["customManagers"] = [m for m in config.get("customManagers", [])
                                    if drop not in m.get("description", "")]
        if len(config["customManagers"]) == before:
            sys.exit(f"renovate-extract: no manager's description contains {drop!r}")
    spec = yaml.safe_load(open(spec_path, encoding="utf-8"))
    expected = spec_pins(spec) + versions_pins(versions_path)

    found = []
    for manager, package_files in extract(node, renovate_js, config, spec_path, versions_path).items():
        for package_file in package_files:
            for dep in package_file.get("deps", []):
                registry = (dep.get("registryUrls") or [None])[0]
                if dep.get("datasource") == "docker":
                    registry = "docker:" + str(dep.get("packageName"))
                found.append((package_file["packageFile"], dep.get("depName"), dep.get("currentValue"),
                              registry, manager))
    missing = []
    for file, dep, value, registry, where in expected:
        hit = next((f for f in found if f[0] == file and f[2] == value
                    and (dep is None or f[1] == dep) and (registry is None or same_registry(f[3], registry))), None)
        if hit is None:
            missing.append(f"{file}: {where} = {value} ({dep or 'a # renovate: line'}"
                           f"{', ' + registry if registry else ''}) is not matched by any manager")
        else:
            found.remove(hit)
    print(f"{len(expected)} pins in {os.path.basename(spec_path)} + versions.env; "
          f"{len(expected) - len(missing)} extracted by Renovate with their values")
    for line in missing:
        print("  MISSING " + line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
