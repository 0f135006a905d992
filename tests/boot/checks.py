#!/usr/bin/env python3
"""Host-side assertions of the boot tests over the probe reports (guest/probe.py).

  checks.py WORK_DIR

WORK_DIR/cases/NAME/ holds, per booted clone: seed/ (what it was given, seed/vm.json is
the Proxmox VM config), report.json (what the guest saw; missing when the boot failed)
and `checks` (the check groups it gets: single, cluster, bad-vendor). WORK_DIR/image/
holds the golden image's k3s-config.yaml, k3s-server.yaml, unsealed.json and
provision.env; WORK_DIR/seal-pairs lists pairs of cases booted from the same sealed
image; WORK_DIR/token is the cluster token of this run; WORK_DIR/render-cluster/ is the
rendered cluster spec (the API address and the servers' order come from its main.tf
and outputs.tf, never from the vendor data under test).

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
XFAIL = {}
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
        m = re.match(r"^([A-Za-z0-9_-]+\+?):\s*(.*)$", line)
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


def common(case, r, conf, image):
    """What every clone gets from Proxmox's seed and the image: (ok, name, detail) list."""
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
    addrs = nic_addresses(r)
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


def nic_addresses(r):
    """(interface, MAC, address/prefix) of every IPv4 address but loopback's."""
    addrs = []
    for link in json.loads(r["ip_addr"] or "[]"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet" and link["ifname"] != "lo":
                addrs.append((link["ifname"], link.get("address"), f"{a['local']}/{a['prefixlen']}"))
    return addrs


def merged_config(start):
    """k3s' view of its configuration at a start: config.yaml, then config.yaml.d/*.yaml in
    name order, later keys replacing earlier ones, a `key+:` appending to the list of key
    (k3s' own merge, pkg/configfilearg)."""
    keys, lists = config_keys(start.get("config.yaml"))
    for _, text in sorted((start.get("dropins") or {}).items()):
        k, lst = config_keys(text)
        for key, value in k.items():
            if key.endswith("+"):
                base = key[:-1]
                keys.setdefault(base, value)
                lists[base] = lists.get(base, []) + lst.get(key, [])
            else:
                keys[key] = value
                lists[key] = lst.get(key, [])
    return keys, lists


def k3s_started(case, r, conf, image, role):
    """The unit of `role` started exactly once, after cloud-init, as the stub recorded;
    the other unit never ran. Returns (checks, the start record or None)."""
    out = []
    name = conf["name"]

    def add(ok, what, detail=""):
        out.append((bool(ok), f"{case}: {what}", detail))

    unit_name, other_name = ("k3s", "k3s-agent") if role == "server" else ("k3s-agent", "k3s")
    unit = r["k3s_unit"] if role == "server" else r.get("k3s_agent_unit", {})
    other = r.get("k3s_agent_unit", {}) if role == "server" else r["k3s_unit"]
    starts = r["k3s_starts"]
    add(len(starts) == 1 and unit.get("NRestarts") == "0" and unit.get("ActiveState") == "active",
        f"{unit_name} (stub) started exactly once and is active",
        f"starts={len(starts)} unit={unit} refused={[s.get('refused') for s in starts]}")
    add(unit.get("UnitFileState") == "enabled", f"{unit_name} enabled for later boots",
        f"UnitFileState={unit.get('UnitFileState')}")
    add(int(other.get("ExecMainStartTimestampMonotonic") or 0) == 0 and other.get("UnitFileState") == "disabled",
        f"{other_name} never started and stays disabled", f"{other}")
    role_unit = r.get("role_unit", {})
    add(role_unit.get("Result") == "success" and int(role_unit.get("ExecMainStartTimestampMonotonic") or 0) > 0,
        "the role unit ran and succeeded", f"{role_unit} journal: {(r.get('role_journal') or '')[-300:]!r}")
    if not starts:
        return out, None
    s = starts[0]
    add((s["hostname"] or "").strip() == name, "k3s started under the VM's host name (node name)",
        f"host name at k3s start: {(s['hostname'] or '').strip()!r}")
    ci_exit = int(r["cloud_init_unit"].get("ExecMainExitTimestampMonotonic") or 0)
    k3s_start = int(unit.get("ExecMainStartTimestampMonotonic") or 0)
    add(ci_exit > 0 and k3s_start > ci_exit,
        f"{unit_name} started after cloud-init's network stage ({r['cloud_init_unit'].get('Id', 'cloud-init.service')}) finished",
        f"cloud-init exit {ci_exit} us, {unit_name} start {k3s_start} us after boot")
    add((s["args"] or "").split() == [role], f"k3s runs as `{role}`", f"args: {s['args']!r}")
    add(s["config.yaml"] == image["k3s_config"],
        "config.yaml at start is the one the rendered k3s-install.sh wrote", f"got {s['config.yaml']!r}")
    server_dropin = (s.get("dropins") or {}).get("10-homelabgen-server.yaml")
    if role == "server":
        add(server_dropin == image["k3s_server"],
            "the image's server settings are in config.yaml.d/10-homelabgen-server.yaml",
            f"got {server_dropin!r}")
        keys_, lists = merged_config(s)
        wanted = [c for c in image["env"].get("disable", "").split(",") if c]
        add(wanted and all(c in lists.get("disable", []) for c in wanted),
            f"k3s config disables {wanted}", f"disable: {lists.get('disable')}")
    else:
        add(server_dropin is None, "an agent gets none of the image's server settings",
            f"config.yaml.d: {sorted(s.get('dropins') or {})}")
    # every file in config.yaml.d is root-only (the cluster settings hold the token)
    modes = [line.split(" ", 3) for line in (s.get("modes") or "").splitlines() if line.strip()]
    add(all(m[0] == "600" and m[1] == "0" and m[2] == "0" for m in modes),
        "every config.yaml.d file is root:root 0600", f"modes: {modes}")
    return out, s


def single_node(case, r, conf, image):
    """A clone without vendor data: today's single-node server."""
    out = common(case, r, conf, image)
    more, s = k3s_started(case, r, conf, image, "server")
    out += more

    def add(ok, what, detail=""):
        out.append((bool(ok), f"{case}: {what}", detail))

    lists = {}
    if s:
        keys_, lists = merged_config(s)
        add("token" not in keys_ and "token-file" not in keys_ and "server" not in keys_
            and "cluster-init" not in keys_, "no token, server URL or cluster-init on a single node",
            f"keys: {sorted(keys_)}")
    add(not r.get("keepalived_conf") and r.get("keepalived_unit", {}).get("ActiveState") != "active",
        "no keepalived without an API address", f"{r.get('keepalived_unit')}")
    # The VM's DNS name (VM name + the environment's search domain, as cloud-init set it)
    # is in the API certificate: the first boot appends it to tls-san.
    if s and conf.get("searchdomain"):
        fqdn = f"{conf['name']}.{conf['searchdomain']}"
        add(fqdn in lists.get("tls-san", []), f"tls-san names the VM's DNS name {fqdn}",
            f"tls-san: {lists.get('tls-san')}")
    return out


def cluster_node(case, r, conf, image, cluster):
    """A clone of a cluster VM with the vendor data the environment renders."""
    out = common(case, r, conf, image)
    role = conf.get("_role")

    def add(ok, what, detail=""):
        out.append((bool(ok), f"{case}: {what}", detail))

    add(role in ("server", "agent"), f"the VM config names a role ({role!r})")
    if role not in ("server", "agent"):
        return out
    more, s = k3s_started(case, r, conf, image, role)
    out += more
    ip = conf["ipconfig0"].split(",")[0].split("=", 1)[1].split("/")[0]
    api = cluster["api_address"]
    first = conf["name"] == cluster["first_server"]
    if s:
        keys_, lists = merged_config(s)
        add(keys_.get("token") == cluster["token"], "k3s got this run's cluster token",
            "token differs" if keys_.get("token") else f"no token; keys: {sorted(keys_)}")
        add(keys_.get("node-ip") == ip, f"node-ip is the VM's address {ip}", f"node-ip: {keys_.get('node-ip')}")
        if first:
            add(keys_.get("cluster-init") == "true" and "server" not in keys_,
                "the first server initialises the cluster (cluster-init, no server URL)",
                f"cluster-init={keys_.get('cluster-init')!r} server={keys_.get('server')!r}")
        else:
            add(keys_.get("server") == f"https://{api}:6443" and "cluster-init" not in keys_,
                f"joins through the API address: server https://{api}:6443",
                f"server={keys_.get('server')!r} cluster-init={keys_.get('cluster-init')!r}")
        if role == "server":
            add(api in lists.get("tls-san", []) and ip in lists.get("tls-san", []),
                f"tls-san names the API address {api} and the VM's address {ip}",
                f"tls-san: {lists.get('tls-san')}")
        else:
            add("tls-san" not in keys_ and "cluster-init" not in keys_,
                "an agent's config has no server-only key (k3s agent would refuse it)", f"keys: {sorted(keys_)}")
    # keepalived: servers hold the virtual API address, agents never run it
    vip = cluster["vip"]
    ka = r.get("keepalived_unit", {})
    conf_text = r.get("keepalived_conf") or ""
    if role == "server" and vip:
        nic = [a[0] for a in nic_addresses(r) if a[1] == conf["_mac"]]
        prefix = ipaddress.ip_interface(conf["ipconfig0"].split(",")[0].split("=", 1)[1]).network.prefixlen
        add(ka.get("ActiveState") == "active" and ka.get("UnitFileState") == "enabled",
            "keepalived configured on first boot, enabled and running", f"{ka} {r.get('keepalived_journal', '')[-300:]!r}")
        add(nic and f"interface {nic[0]}" in conf_text and f"{vip}/{prefix} dev {nic[0]}" in conf_text,
            f"keepalived.conf holds {vip}/{prefix} on the VM's NIC {nic[:1]}", conf_text[-400:])
        priority = re.search(r"^\s*priority (\d+)$", conf_text, re.M)
        router = re.search(r"^\s*virtual_router_id (\d+)$", conf_text, re.M)
        add(priority and router and 1 <= int(router.group(1)) <= 255
            and int(priority.group(1)) == cluster["priorities"].get(conf["name"]),
            f"VRRP priority {cluster['priorities'].get(conf['name'])} (servers in order from 150 down), a router id",
            f"priority {priority and priority.group(1)}, router id {router and router.group(1)}")
        # the stub serves no API: the health check fails, so the address must not be held
        held = [a for a in nic_addresses(r) if a[2].split("/")[0] == vip]
        add(not held, f"{vip} is not held while the local API server does not answer (stub k3s, no /ping)",
            f"held: {held}; keepalived: {r.get('keepalived_journal', '')[-300:]!r}")
    else:
        add(ka.get("ActiveState") != "active" and not conf_text,
            f"no keepalived on {'an agent' if role == 'agent' else 'a server without an API address'}", f"{ka}")
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


def cluster_info(work):
    """The cluster as the rendered environment states it (not as the vendor data does):
    the API address (outputs.tf), the servers in spec order (main.tf locals.vms), the
    first of them initialising the cluster, the VRRP priority each server gets
    (150, 149, ...) when the API address is a virtual one, and this run's token."""
    info = {"api_address": None, "first_server": None, "vip": None, "priorities": {}, "token": None}
    envs = os.path.join(work, "render-cluster", "tofu", "envs")
    if not os.path.isdir(envs):
        return info
    for env in sorted(os.listdir(envs)):
        d = os.path.join(envs, env)
        if not os.path.isdir(os.path.join(d, "vendor-data")):
            continue
        outputs = open(os.path.join(d, "outputs.tf"), encoding="utf-8").read()
        m = re.search(r'^\s*api_address\s*=\s*"([^"]+)"', outputs, re.M)
        info["api_address"] = m.group(1) if m else None
        main_tf = open(os.path.join(d, "main.tf"), encoding="utf-8").read()
        vms = re.findall(r'^\s*"([^"]+)" = \{([^}]*)\}', main_tf, re.M)
        servers = [n for n, body in vms if re.search(r'^\s*role\s*=\s*"server"', body, re.M)]
        ips = [re.search(r'ipv4_address\s*=\s*"([^/"]+)', body).group(1) for _, body in vms]
        info["first_server"] = servers[0] if servers else None
        if info["api_address"] and info["api_address"] not in ips:
            info["vip"] = info["api_address"]
        info["priorities"] = {n: 150 - i for i, n in enumerate(servers)}
    token = os.path.join(work, "token")
    if os.path.exists(token):
        info["token"] = open(token).read().strip()
    return info


def main():
    work = sys.argv[1]
    image = {
        "k3s_config": open(os.path.join(work, "image", "k3s-config.yaml")).read(),
        "k3s_server": open(os.path.join(work, "image", "k3s-server.yaml")).read(),
        "env": {},
        "boot_units": open(os.path.join(work, "image", "boot-units")).read().split(),
    }
    for line in open(os.path.join(work, "image", "provision.env")):
        k, _, v = line.rstrip("\n").partition("=")
        image["env"][re.sub(r"^(HOMELAB_)?K3S_", "", k).lower()] = v
    unsealed = load(os.path.join(work, "image", "unsealed.json"))
    cluster = cluster_info(work)
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
                      else cluster_node(case, reports[case], confs[case], image, cluster) if g == "cluster"
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
    members = [c for c, g in cases.items() if "cluster" in g and c in reports]
    others = singles + members
    if len(others) >= 2:
        a, b = others[0], others[1]
        wrong = common(a, reports[a], confs[b], image)
        rejected = [n for ok, n, _ in wrong if not ok]
        result(len(rejected) >= 3,
               f"negative control: {a}'s report fails the first-boot checks of {b}'s VM config",
               f"only rejected {rejected}")
        same = seal_pair(a, reports[a], a, reports[a], unsealed)
        rejected = [n for ok, n, _ in same if not ok]
        result(len(rejected) >= 3, f"negative control: a clone paired with itself fails the seal checks",
               f"only rejected {rejected}")
    servers = [c for c in members if confs[c].get("_role") == "server"]
    agents = [c for c in members if confs[c].get("_role") == "agent"]
    if servers and agents:
        a, b = agents[0], servers[-1]
        wrong = cluster_node(a, reports[a], confs[b], image, cluster)
        rejected = [n for ok, n, _ in wrong if not ok]
        result(len(rejected) >= 4,
               f"negative control: agent {a}'s report fails the checks of server {b}",
               f"only rejected {rejected}")
        other = dict(cluster, token=cluster["token"] + "0")
        wrong = cluster_node(b, reports[b], confs[b], image, other)
        result(any(not ok and "token" in n for ok, n, _ in wrong),
               f"negative control: {b}'s report fails with another cluster token")
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
