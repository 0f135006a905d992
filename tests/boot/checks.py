#!/usr/bin/env python3
"""Host-side assertions of the boot tests over the probe reports (guest/probe.py).

  checks.py WORK_DIR

WORK_DIR/cases/NAME/ holds, per booted clone: seed/ (what it was given, seed/vm.json is
the Proxmox VM config), report.json (what the guest saw; missing when the boot failed)
and `checks` (the check groups it gets: single, bad-vendor). WORK_DIR/image/ holds the
golden image's k3s-config.yaml, unsealed.json and provision.env; WORK_DIR/seal-pairs
lists pairs of cases booted from the same sealed image.

Every assertion prints one `ok` or `FAIL` line; the last line is "N passed, M failed";
exit 1 when anything failed. The negative controls run the same assertions against a
report they must reject (another VM's config, a clone paired with itself): a check that
cannot fail there is reported as a failure.
"""

import ipaddress
import json
import os
import re
import sys
import urllib.parse

PASSED, FAILED = 0, 0


# Known gaps of the rendered tree: the check still runs and prints `xfail` with the issue
# that will close it; a check in this table that passes is reported as XPASS and fails the
# run, so the table cannot hide a fixed gap.
XFAIL = {
    "tls-san names the VM's address": "issue #14: the golden image is generic; a per-clone "
    "tls-san (the API address) comes with the cluster vendor data",
}
XFAILED = 0


def known_gap(name):
    return next((why for key, why in XFAIL.items() if key in name), None)


def result(ok, name, detail=""):
    global PASSED, FAILED, XFAILED
    gap = known_gap(name)
    if gap and not ok:
        XFAILED += 1
        print(f"xfail {name} ({gap})" + (f": {detail}" if detail else ""))
        return
    if gap and ok:
        FAILED += 1
        print(f"XPASS {name}: remove it from XFAIL in tests/boot/checks.py ({gap})")
        return
    if ok:
        PASSED += 1
        print(f"ok   {name}")
    else:
        FAILED += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def config_keys(text):
    """Top-level keys and list items of a flat k3s config.yaml (no YAML library in use)."""
    keys, lists, current = {}, {}, None
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^([A-Za-z0-9_-]+):\s*(.*)$", line)
        if m:
            current = m.group(1)
            keys[current] = m.group(2).strip().strip('"')
            lists.setdefault(current, [])
            items = re.match(r"^\[(.*)\]$", keys[current])
            if items:
                lists[current] += [i.strip().strip("\"'") for i in items.group(1).split(",") if i.strip()]
        elif current and re.match(r"^\s+-\s+", line):
            lists[current].append(line.split("-", 1)[1].strip().strip("\"'"))
    return keys, lists


def status_json(r):
    """`cloud-init status --format json` as the probe saw it ({} if unavailable)."""
    try:
        return json.loads((r.get("cloud_init_status_json") or {}).get("out") or "{}")
    except json.JSONDecodeError:
        return {}


def single_node(case, r, conf, image):
    """Assertion list for one clone: (ok, name, detail)."""
    out = []
    name = conf["name"]

    def add(ok, what, detail=""):
        out.append((bool(ok), f"{case}: {what}", detail))

    # done, no errors, no recoverable WARNING/ERROR. DEPRECATED notes are allowed: Proxmox's
    # own user-data uses the deprecated `user:` string form.
    st = r["cloud_init_status"]
    sj = status_json(r)
    if sj:
        rec = sj.get("recoverable_errors") or {}
        bad = {lvl: rec[lvl] for lvl in rec if lvl != "DEPRECATED" and rec[lvl]}
        ok = sj.get("status") == "done" and not sj.get("errors") and not bad
        detail = f"status {sj.get('status')}, errors {sj.get('errors')}, recoverable {bad}"
    else:  # cloud-init without --format json
        ok = st["rc"] == 0 and "status: done" in st["out"]
        detail = st["out"].strip().replace("\n", " | ")
    add(ok, "cloud-init finished without errors", detail[:400])

    # user and keys (user-data from ciuser/sshkeys)
    user = conf.get("ciuser")
    users = [line.split(":")[0] for line in (r["passwd"] or "").splitlines()]
    add(user in users, f"user {user!r} exists", f"users: {users[-5:]}")
    keys = [k for k in urllib.parse.unquote(conf.get("sshkeys", "")).split("\n") if k.strip()]
    got = r["home_keys"].get(f"/home/{user}/.ssh/authorized_keys") or ""
    got_keys = sorted(line for line in got.splitlines() if line.strip())
    add(got_keys == sorted(keys), f"{user}'s authorized_keys are exactly the VM's sshkeys",
        f"got {len(got_keys)} keys: {[k[:30] for k in got_keys]}")

    # static address, gateway, DNS (network-config from ipconfig0/nameserver/searchdomain)
    ipc = dict(p.split("=", 1) for p in conf["ipconfig0"].split(","))
    want = ipaddress.ip_interface(ipc["ip"])
    addrs = []
    for link in json.loads(r["ip_addr"] or "[]"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet" and link["ifname"] != "lo":
                addrs.append((link["ifname"], link.get("address"), f"{a['local']}/{a['prefixlen']}"))
    add(any(a[2] == str(want) and a[1] == conf["_mac"] for a in addrs),
        f"static address {want} on the NIC with MAC {conf['_mac']}", f"addresses: {addrs}")
    routes = json.loads(r["ip_route"] or "[]")
    gws = [x.get("gateway") for x in routes if x.get("dst") == "default"]
    add(ipc.get("gw") in gws, f"default route via {ipc.get('gw')}", f"default gateways: {gws}")
    servers = conf["nameserver"].split()
    m = re.search(r"DNS Servers:\s*(.*)", r["resolvectl"] or "")
    got_servers = m.group(1).split() if m else []
    add(got_servers == servers, f"DNS servers {servers} applied (resolvectl)", f"got {got_servers}")
    if conf.get("searchdomain"):
        m = re.search(r"DNS Domain:\s*(.*)", r["resolvectl"] or "")
        got_dom = m.group(1).split() if m else []
        add(got_dom == conf["searchdomain"].split(), f"search domain {conf['searchdomain']} applied",
            f"got {got_dom}")

    # host name = VM name
    add(r["hostname"] == name, f"host name is the VM name {name!r}", f"got {r['hostname']!r}")

    # k3s: started once, after cloud-init's network stage, with the rendered config
    starts = r["k3s_starts"]
    unit = r["k3s_unit"]
    add(len(starts) == 1 and unit.get("NRestarts") == "0" and unit.get("ActiveState") == "active",
        "k3s (stub) started exactly once and is active",
        f"starts={len(starts)} unit={unit}")
    if starts:
        s = starts[0]
        add((s["hostname"] or "").strip() == name, "k3s started under the VM's host name (node name)",
            f"host name at k3s start: {(s['hostname'] or '').strip()!r}")
        ci_exit = int(r["cloud_init_unit"].get("ExecMainExitTimestampMonotonic") or 0)
        k3s_start = int(unit.get("ExecMainStartTimestampMonotonic") or 0)
        add(ci_exit > 0 and k3s_start > ci_exit,
            f"k3s started after cloud-init's network stage ({r['cloud_init_unit'].get('Id', 'cloud-init.service')}) finished",
            f"cloud-init.service exit {ci_exit} us, k3s start {k3s_start} us after boot")
        add(s["config.yaml"] == image["k3s_config"],
            "k3s config at start is the one the rendered k3s-install.sh wrote",
            f"got {s['config.yaml']!r}")
        keys_, lists = config_keys(s["config.yaml"])
        wanted = [c for c in image["env"].get("disable", "").split(",") if c]
        add(wanted and all(c in lists.get("disable", []) for c in wanted),
            f"k3s config disables {wanted}", f"disable: {lists.get('disable')}")
        add("token" not in keys_ and "token-file" not in keys_, "no token on a single node",
            f"keys: {sorted(keys_)}")
        add(str(want.ip) in lists.get("tls-san", []), f"tls-san names the VM's address {want.ip}",
            f"tls-san: {lists.get('tls-san')}")
        add((s["args"] or "").split() == ["server"], "k3s runs as `server`", f"args: {s['args']!r}")

    # units the rendered scripts installed (first-boot units): each ran and succeeded
    for u in image["boot_units"]:
        st = r.get("units", {}).get(u, {})
        add(int(st.get("ExecMainStartTimestampMonotonic") or 0) > 0 and st.get("Result") == "success",
            f"{u} (installed by the rendered scripts) ran and succeeded", f"{st}")

    # ciupgrade off: no package upgrade at first boot
    log = r["cloud_init_log"] or ""
    upgrade = re.findall(r"Running command \[[^\]]*'(?:dist-upgrade|upgrade)'[^\]]*\]", log)
    add(not upgrade and "Upgrade:" not in (r["apt_history"] or ""),
        "no package upgrade ran on first boot (ciupgrade off)",
        f"cloud-init ran: {upgrade[:1]}")
    return out


def seal_pair(a_name, a, b_name, b, unsealed):
    out = []

    def add(ok, what, detail=""):
        out.append((bool(ok), f"seal {a_name}+{b_name}: {what}", detail))

    ma, mb = a["machine_id"], b["machine_id"]
    add(re.fullmatch(r"[0-9a-f]{32}", ma or "") and re.fullmatch(r"[0-9a-f]{32}", mb or "")
        and ma != mb and unsealed["machine_id"] not in (ma, mb),
        "each clone has its own machine-id, not the build's", f"{ma} {mb} build {unsealed['machine_id']}")
    ka, kb = set(a["ssh_host_keys"].values()), set(b["ssh_host_keys"].values())
    kbuild = set(unsealed["ssh_host_keys"].values())
    add(ka and kb and not (ka & kb) and not ((ka | kb) & kbuild),
        "each clone has its own SSH host keys, none of the build's",
        f"{len(ka)}/{len(kb)} keys, shared {len(ka & kb)}, build's {len((ka | kb) & kbuild)}")
    na, nb = a.get("node_password"), b.get("node_password")
    sa = (a["k3s_starts"][0]["hostname"] if a["k3s_starts"] else "").strip()
    sb = (b["k3s_starts"][0]["hostname"] if b["k3s_starts"] else "").strip()
    add(na and nb and na != nb and sa and sb and sa != sb,
        "different k3s node identities (node name, node password)", f"{sa}/{na} {sb}/{nb}")
    build_key = (unsealed["build_key"] or "").split()[1] if unsealed.get("build_key") else "?"
    leaks = [p for r in (a, b) for p, t in r["home_keys"].items() if t and build_key in t]
    add(build_key != "?" and not leaks, "no build key left in any authorized_keys", f"found in {leaks}")
    return out


VENDOR_FAILURE = re.compile(
    r"\[(?:WARNING|ERROR)\]: (?:Failed loading yaml blob|Failed at merging in cloud config part)"
)


def bad_vendor(case, r):
    """cloud-init must say that the vendor data was not understood: in its status
    (errors / recoverable_errors, cloud-init 23.4 on) or as a WARNING/ERROR in its log
    (what Debian 12's cloud-init 22.4 does; its status stays `done`)."""
    st = r["cloud_init_status"]
    res = json.loads(r["cloud_init_result"] or "{}").get("v1", {})
    in_status = [e for e in (res.get("errors") or []) if "yaml" in str(e).lower()]
    recoverable = status_json(r).get("recoverable_errors") or res.get("recoverable_errors") or {}
    in_status += [e for lvl in ("WARNING", "ERROR") for e in recoverable.get(lvl, []) if "yaml" in e.lower()]
    in_log = [line for line in (r["cloud_init_log"] or "").splitlines() if VENDOR_FAILURE.search(line)]
    return [(bool(in_status or in_log),
             f"{case}: cloud-init reports that it could not load the invalid vendor snippet",
             f"status rc={st['rc']} {st['out'][:120]!r}, no such error in result.json or cloud-init.log")]


def main():
    work = sys.argv[1]
    image = {
        "k3s_config": open(os.path.join(work, "image", "k3s-config.yaml")).read(),
        "env": {},
        "boot_units": open(os.path.join(work, "image", "boot-units")).read().split(),
    }
    for line in open(os.path.join(work, "image", "provision.env")):
        k, _, v = line.rstrip("\n").partition("=")
        image["env"][re.sub(r"^(HOMELAB_)?K3S_", "", k).lower()] = v
    unsealed = load(os.path.join(work, "image", "unsealed.json"))
    cases, reports, confs = {}, {}, {}
    cdir = os.path.join(work, "cases")
    for case in sorted(os.listdir(cdir)):
        d = os.path.join(cdir, case)
        cases[case] = open(os.path.join(d, "checks")).read().split()
        confs[case] = load(os.path.join(d, "seed", "vm.json"))
        confs[case]["_mac"] = open(os.path.join(d, "mac")).read().strip()
        rp = os.path.join(d, "report.json")
        ok = os.path.exists(rp) and os.path.getsize(rp) > 0
        result(ok, f"{case}: booted and reported", f"no report (see {d}/console.log)")
        if ok:
            reports[case] = load(rp)

    for case, groups in cases.items():
        if case not in reports:
            continue
        for g in groups:
            checks = (single_node(case, reports[case], confs[case], image) if g == "single"
                      else bad_vendor(case, reports[case]) if g == "bad-vendor" else None)
            if checks is None:
                result(False, f"{case}: unknown check group {g!r}")
                continue
            for ok, name, detail in checks:
                result(ok, name, detail)

    pairs = [line.split() for line in open(os.path.join(work, "seal-pairs")) if line.strip()]
    for a, b in pairs:
        if a in reports and b in reports:
            for ok, name, detail in seal_pair(a, reports[a], b, reports[b], unsealed):
                result(ok, name, detail)
        else:
            result(False, f"seal {a}+{b}: both clones reported")

    # Negative controls: the same assertions must reject a mismatched report.
    singles = [c for c, g in cases.items() if "single" in g and c in reports]
    if len(singles) >= 2:
        a, b = singles[0], singles[1]
        wrong = single_node(a, reports[a], confs[b], image)
        rejected = [n for ok, n, _ in wrong if not ok]
        result(len(rejected) >= 3,
               f"negative control: {a}'s report fails the single-node checks of {b}'s VM config",
               f"only rejected {rejected}")
        same = seal_pair(a, reports[a], a, reports[a], unsealed)
        rejected = [n for ok, n, _ in same if not ok]
        result(len(rejected) >= 3, f"negative control: a clone paired with itself fails the seal checks",
               f"only rejected {rejected}")
    good = [c for c, g in cases.items() if "bad-vendor" not in g and c in reports]
    if good:
        ok, _, _ = bad_vendor(good[0], reports[good[0]])[0]
        result(not ok, f"negative control: the bad-vendor check rejects {good[0]} (valid seed)",
               "it accepted a clone whose seed is valid")

    if XFAILED:
        print(f"boot-test: {XFAILED} expected failures (known gaps, listed as xfail above)")
    print(f"boot-test: {PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
