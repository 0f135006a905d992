#!/usr/bin/env python3
"""make doctor-test: `homelabgen doctor` against pvesim, the Proxmox VE API test double.

A healthy site (seeded from the rendered test spec: its templates, storages, bridge,
an unrelated VM) must pass with exit 0; then each fault is injected alone (a missing
privilege, storage without snippets, a missing or duplicate template, a taken vm_id, a
taken IP, a wrong node, a wrong token, an unreachable host, ...) and must produce its
own ✗ (or !) line, pointing at the spec line it concerns, and exit 2 (or 1).
Test specs only (tests/specs/multi-vm.yaml, tests/pvesim/specs/k3s-single.yaml); the
endpoint is rewritten to the simulator's address. Closing line: "doctor-test: N passed,
M failed". `make doctor-test DOCTOR_ONLY=word` runs the scenarios whose name has `word`.
"""

import copy
import glob
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SPEC_MULTI = os.path.join(h.ROOT, "tests", "specs", "multi-vm.yaml")
SPEC_SINGLE = os.path.join(h.HERE, "specs", "k3s-single.yaml")
SPEC_HA = os.path.join(h.ROOT, "tests", "specs", "ha.yaml")
TOKEN = h.TOKEN
SECRET = TOKEN.split("=", 1)[1]
RESULTS = {"passed": 0, "failed": 0}
# The test sshd (main() starts it): the user, and the ssh command doctor runs.
SSH = {"user": "root", "command": "ssh"}


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Site:
    """A seed for pvesim built from a rendered test spec: every template the spec
    computes (shaped like the golden image), its storages, one unrelated VM."""

    def __init__(self, tmp, spec_path, insecure=True):
        self.tmp = tmp
        text = open(spec_path, encoding="utf-8").read()
        if insecure:
            text = text.replace("insecure_tls: false", "insecure_tls: true")
        self.text = text
        gen = os.path.join(tmp, "gen")
        h.render(text, gen)
        envs = sorted(os.listdir(os.path.join(gen, "tofu", "envs")))
        first = os.path.join(gen, "tofu", "envs", envs[0])
        self.node = h.env_var_default(first, "proxmox_node")
        self.vm_storage = h.env_var_default(first, "vm_storage")
        self.snip_storage = h.env_var_default(first, "snippets_storage")
        self.bridge = h.env_var_default(first, "bridge")
        iso = re.search(r"^\s+iso:\s+(\S+)", text, re.M)
        self.iso_storage = iso.group(1) if iso else "local"
        self.images = h.packer_images(gen)
        # Every node a VM of any environment is placed on, every bridge and storage any
        # environment uses: a healthy site for this spec, whatever its shape.
        self.all_nodes, self.all_bridges, self.all_storages = {self.node}, {self.bridge}, set()
        for env in envs:
            env_dir = os.path.join(gen, "tofu", "envs", env)
            self.all_nodes |= {vm["node"] for vm in h.env_locals(env_dir).values() if vm.get("node")}
            self.all_bridges.add(h.env_var_default(env_dir, "bridge") or self.bridge)
            self.all_storages |= {(h.env_var_default(env_dir, "vm_storage"), "images,rootdir"),
                                  (h.env_var_default(env_dir, "snippets_storage"), "snippets")}
        self.seed = self._seed()

    def _seed(self):
        vms = []
        for i, t in enumerate(self.images):
            vmid = t["vmid"] or 9000 + 10 * i + 5
            st = self.vm_storage
            vms.append({"vmid": vmid, "node": self.node, "config": {
                "name": t["template_name"], "template": "1", "bios": "ovmf", "machine": "q35",
                "cores": "2", "memory": "4096", "agent": "enabled=1",
                "scsi0": f"{st}:base-{vmid}-disk-1,discard=on,iothread=1,size={t['disk_size']},ssd=1",
                "efidisk0": f"{st}:base-{vmid}-disk-0,efitype=4m,pre-enrolled-keys=0,size=4M",
                "ide2": f"{st}:vm-{vmid}-cloudinit,media=cdrom",
                "net0": f"virtio=BC:24:11:00:{i:02X}:01,bridge={self.bridge}",
            }})
        # Someone else's VM on the same network: its address and id are not the spec's.
        vms.append({"vmid": 100, "node": self.node, "config": {
            "name": "unrelated", "cores": "1", "memory": "1024",
            "scsi0": f"{self.vm_storage}:vm-100-disk-0,size=8G",
            "net0": f"virtio=BC:24:11:00:FF:01,bridge={self.bridge}",
            "ipconfig0": "ip=10.99.99.99/24,gw=10.99.99.1"}})
        storages = {self.vm_storage: {"storage": self.vm_storage, "type": "lvmthin",
                                      "content": "images,rootdir", "thinpool": "data", "vgname": "pve"}}
        for sid, content in ((self.iso_storage, "iso,vztmpl,backup"), (self.snip_storage, "snippets")):
            if sid in storages:
                storages[sid]["content"] += "," + content
            else:
                storages[sid] = {"storage": sid, "type": "dir", "content": content}
        return {"nodes": [self.node, "pve-other"], "storages": list(storages.values()), "vms": vms,
                "bridges": {self.node: ["vmbr0", self.bridge], "pve-other": ["vmbr0"]}}

    def line_of(self, pattern):
        for n, line in enumerate(self.text.split("\n"), 1):
            if re.search(pattern, line):
                return n
        raise AssertionError(f"no line matches {pattern!r} in the test spec")


def cert(tmp):
    c, k = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    h.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
           "-keyout", k, "-out", c])
    return c, k


class Sim:
    def __init__(self, tmp, seed, certs, token=TOKEN):
        self.dir = tempfile.mkdtemp(dir=tmp, prefix="sim-")
        seed_path = os.path.join(self.dir, "seed.json")
        with open(seed_path, "w", encoding="utf-8") as f:
            json.dump(seed, f)
        self.log = open(os.path.join(self.dir, "stderr"), "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            ["python3", os.path.join(h.HERE, "pvesim.py"), "--state-dir", os.path.join(self.dir, "state"),
             "--cert", certs[0], "--key", certs[1], "--seed", seed_path, "--token", token],
            stdout=self.log, stderr=self.log)
        port_file = os.path.join(self.dir, "state", "port")
        deadline = time.time() + 15
        while not os.path.exists(port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise AssertionError("pvesim did not start: " + open(self.log.name, encoding="utf-8").read())
            time.sleep(0.05)
        self.port = int(open(port_file, encoding="utf-8").read())

    def requests(self):
        path = os.path.join(self.dir, "state", "requests.jsonl")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.log.close()


def local_site(text, port):
    """The spec pointed at the simulator on `port` and, for the snippets SSH check, at the
    test sshd (same lines, so the locations stay true)."""
    text = re.sub(r"endpoint: \S+", f"endpoint: https://127.0.0.1:{port}", text, count=1)
    text = re.sub(r"^(  ssh_host:) \S+$", r"\1 127.0.0.1", text, count=1, flags=re.M)
    return re.sub(r"^(  ssh_user:) \S+$", rf"\1 {SSH['user']}", text, count=1, flags=re.M)


def doctor(site, tmp, port, token=TOKEN, spec_edit=None, args=(), env_extra=None):
    text = local_site(site.text, port)
    if spec_edit:
        text = spec_edit(text)
    site.text = text  # line numbers of the spec doctor read
    spec = os.path.join(tmp, "doctor-spec.yaml")
    with open(spec, "w", encoding="utf-8") as f:
        f.write(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PROXMOX_"))}
    if token is not None:
        env["PROXMOX_VE_API_TOKEN"] = token
    env["HOMELABGEN_SSH"] = SSH["command"]
    env.update(env_extra or {})
    p = subprocess.run([h.homelabgen(), "doctor", "--color", "never", "--spec", spec, *args],
                       capture_output=True, text=True, env=env, timeout=120)
    check(SECRET not in p.stdout + p.stderr, "doctor printed the token's secret")
    return p, spec


def lines(p, mark):
    return [ln.strip() for ln in p.stdout.split("\n") if ln.strip().startswith(mark + " ")]


def expect(p, code, mark=None, pattern=None, at=None, fix=None):
    """Exit code `code`; with `mark`, a line with that mark matching `pattern`, naming
    `at` (the spec location), followed by a fix line matching `fix`."""
    out = f"\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    check(p.returncode == code, f"exit {p.returncode}, expected {code}{out}")
    if mark is None:
        return
    found = [ln for ln in lines(p, mark) if re.search(pattern, ln)]
    check(found, f"no {mark} line matching {pattern!r}{out}")
    if at:
        check(any(at in ln for ln in found), f"the {mark} line does not name {at!r}{out}")
    if fix:
        text = p.stdout.split("\n")
        idx = [i for i, ln in enumerate(text) if ln.strip() == found[0]][0]
        check(idx + 1 < len(text) and text[idx + 1].strip().startswith("fix: ")
              and re.search(fix, text[idx + 1]), f"no fix matching {fix!r} after {found[0]!r}{out}")
    if code == 2:
        others = [ln for ln in lines(p, "✗") if not re.search(pattern, ln)]
        check(not others, f"other blockers besides the injected fault: {others}{out}")


def scenario(name, fn, *args):
    only = os.environ.get("DOCTOR_ONLY") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if only and only not in name:
        return
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - each failure is reported, the run goes on
        RESULTS["failed"] += 1
        msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
        print(f"FAIL  {name}: {msg}", flush=True)
        return
    RESULTS["passed"] += 1
    print(f"ok    {name}", flush=True)


def run_fault(ctx, seed_edit=None, **kw):
    site = copy.deepcopy(ctx["site"])
    seed = copy.deepcopy(site.seed)
    if seed_edit:
        seed_edit(site, seed)
    sim = Sim(ctx["tmp"], seed, ctx["certs"])
    try:
        p, _ = doctor(site, ctx["tmp"], sim.port, **kw)
        reqs = sim.requests()
    finally:
        sim.close()
    # Read-only: GET requests only.
    check(all(r["method"] == "GET" for r in reqs),
          f"doctor sent {sorted({r['method'] for r in reqs})}, not only GET")
    return site, p, reqs


def t_healthy(ctx):
    site, p, reqs = run_fault(ctx)
    expect(p, 0)
    check(not lines(p, "✗") and not lines(p, "!"), f"a healthy site has findings:\n{p.stdout}")
    for want in ("node pve2 is online", "bridge vmbr1 exists", "storage snippets-nfs on node pve2 is active and allows snippets",
                 "template alma9.8-k3-node-amd64-v1.36.3-k3s1-v3 is VM 9000", "VM id 9201 is free",
                 "10.20.1.11 is not in another VM's ipconfig", "holds every privilege OpenTofu needs",
                 f"{SSH['user']}@127.0.0.1 can write "):
        check(any(want in ln for ln in lines(p, "✓")), f"no ✓ line with {want!r}:\n{p.stdout}")
    for group in ("site", "images", "environment"):
        check(re.search(rf"^{group}$", p.stdout, re.M), f"no group {group}:\n{p.stdout}")
    check(any(r["path"].endswith("/access/permissions") for r in reqs), "privileges never asked for")


def t_healthy_every_spec(ctx):
    # Any lab, not the example: for every test spec of the repository, a site that holds
    # what that spec needs (its templates, every node its VMs are placed on, every
    # bridge and storage its environments use) passes doctor with no blocker and no
    # warning, whatever the shape (one VM, several environments, HA over three nodes,
    # a build number, several images).
    specs = sorted(glob.glob(os.path.join(h.ROOT, "tests", "specs", "*.yaml"))
                   + glob.glob(os.path.join(h.ROOT, "crates", "homelabgen-spec", "tests", "fixtures", "valid", "*.yaml"))
                   + glob.glob(os.path.join(h.HERE, "specs", "*.yaml")))
    check(len(specs) >= 8, f"only {len(specs)} test specs found")
    shapes = set()
    for path in specs:
        name = os.path.relpath(path, h.ROOT)
        d = tempfile.mkdtemp(dir=ctx["tmp"], prefix="every-")
        site = Site(d, path)
        seed = copy.deepcopy(site.seed)
        nodes = sorted(site.all_nodes)
        seed["nodes"] = nodes
        seed["bridges"] = {n: sorted({"vmbr0", *site.all_bridges}) for n in nodes}
        storages = {st["storage"]: st for st in seed["storages"]}
        for sid, content in sorted(st for st in site.all_storages if st[0]):
            have = storages.setdefault(sid, {"storage": sid, "type": "dir", "content": ""})
            have["content"] = ",".join(sorted(set(filter(None, have["content"].split(","))) | set(content.split(","))))
        seed["storages"] = list(storages.values())
        envs = sorted(os.listdir(os.path.join(d, "gen", "tofu", "envs")))
        sim = Sim(ctx["tmp"], seed, ctx["certs"])
        try:
            # What `make tf-apply ENV=…` asks first, for each environment.
            for env in envs:
                p, _ = doctor(site, ctx["tmp"], sim.port, args=("--for", "tofu", "--env", env))
                check(p.returncode == 0, f"{name}: --for tofu --env {env} exit {p.returncode}:\n{p.stdout}\n{p.stderr}")
            p, _ = doctor(site, ctx["tmp"], sim.port)
        finally:
            sim.close()
        check(p.returncode == 0 and not lines(p, "✗") and not lines(p, "!"),
              f"{name}: a healthy site for it has findings (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
        check(any("holds every privilege OpenTofu needs" in ln for ln in lines(p, "✓")),
              f"{name}: the privileges were not checked:\n{p.stdout}")
        for n in nodes:
            check(any(f"node {n} is online" in ln for ln in lines(p, "✓")), f"{name}: node {n} not checked:\n{p.stdout}")
        shapes.add((len(nodes), len(site.images)))
    # The specs differ in shape, or this proves less than it says.
    check(any(n > 1 for n, _ in shapes) and any(i > 1 for _, i in shapes), f"shapes (nodes, images): {shapes}")
    print(f"      {len(specs)} specs, shapes (nodes, images): {sorted(shapes)}")


def t_healthy_json(ctx):
    _, p, _ = run_fault(ctx, args=("--json",))
    doc = json.loads(p.stdout)
    check(p.returncode == 0 and doc["exit_code"] == 0 and doc["blockers"] == 0 and doc["warnings"] == 0,
          f"json: {p.stdout[:2000]}")
    check({c["group"] for c in doc["checks"]} == {"site", "images", "environment"}, "json groups")
    check(all(c["status"] == "ok" and c["at"] for c in doc["checks"]), "json statuses/locations")


def t_missing_privilege(ctx):
    def edit(site, seed):
        seed["permissions"] = {"/": [p for p in __import__("pvesim").ALL_PRIVS if p != "VM.Clone"]}
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"lacks VM\.Clone on /vms \(OpenTofu", "PROXMOX_VE_API_TOKEN",
           r"pveum role modify HomelabTofu --append 1 --privs VM\.Clone")


def t_missing_privilege_path(ctx):
    # The privileges are there, but on a sibling path only: /vms inherits nothing.
    def edit(site, seed):
        privs = __import__("pvesim").ALL_PRIVS
        seed["permissions"] = {"/": [p for p in privs if not p.startswith("Datastore.")],
                               "/storage/other": privs}
    _, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"lacks Datastore\.AllocateSpace, Datastore\.AllocateTemplate, Datastore\.Audit "
           r"on /storage/(ssd-thin|snippets-nfs) \(OpenTofu")
    check(len(lines(p, "✗")) == 2, f"one ✗ line per storage path (VM disks, snippets):\n{p.stdout}")


def t_pve9_no_vm_monitor(ctx):
    # PVE 9 has no VM.Monitor: a token without it passes there, and fails on PVE 8.
    def edit9(site, seed):
        seed["version"] = "9.0.10"
        seed["permissions"] = {"/": [p for p in __import__("pvesim").ALL_PRIVS if p != "VM.Monitor"]}
    _, p, _ = run_fault(ctx, edit9)
    expect(p, 0)
    check(any("Proxmox VE 9.0.10" in ln for ln in lines(p, "✓")), p.stdout)

    def edit8(site, seed):
        seed["permissions"] = {"/": [p for p in __import__("pvesim").ALL_PRIVS if p != "VM.Monitor"]}
    _, p, _ = run_fault(ctx, edit8)
    expect(p, 2, "✗", r"lacks VM\.Monitor on /vms")


def t_packer_privilege_warning(ctx):
    # Sys.Modify only matters for a proxmox-iso Packer build: a warning, exit 1.
    def edit(site, seed):
        seed["permissions"] = {"/": [p for p in __import__("pvesim").ALL_PRIVS if p != "Sys.Modify"]}
    _, p, _ = run_fault(ctx, edit)
    expect(p, 1, "!", r"lacks Sys\.Modify on /nodes/pve2: `make packer SOURCE=proxmox-iso` would fail",
           fix=r"pveum role add HomelabPacker")


def t_packer_token(ctx):
    # The Packer variables name their own token: checked on its own; refused -> one warning.
    _, p, _ = run_fault(ctx, env_extra={"PKR_VAR_proxmox_username": "root@pam!pvesim",
                                        "PKR_VAR_proxmox_token": SECRET})
    expect(p, 0)
    check(any("a proxmox-iso Packer build needs" in ln and "PKR_VAR_proxmox_username" in ln
              for ln in lines(p, "✓")), p.stdout)
    _, p, _ = run_fault(ctx, env_extra={"PKR_VAR_proxmox_username": "packer@pve!packer",
                                        "PKR_VAR_proxmox_token": "wrong-secret-1234"})
    expect(p, 1, "!", r"the API refuses the Packer token packer@pve!packer \(401\)")
    check(len(lines(p, "!")) == 1 and "wrong-secret-1234" not in p.stdout + p.stderr, p.stdout)


def t_no_snippets(ctx):
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.snip_storage:
                s["content"] = "iso,backup"
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"storage snippets-nfs on node pve2 does not allow content type snippets",
           f"doctor-spec.yaml:{site.line_of(r'^    snippets: ')} (site.storage.snippets)",
           r"pvesm set snippets-nfs --content backup,iso,snippets")


def t_no_snippets_unused(ctx):
    # A spec without user_data does not need snippets: the same fault is no finding.
    site = ctx["single"]
    seed = copy.deepcopy(site.seed)
    for s in seed["storages"]:
        s["content"] = s["content"].replace(",snippets", "").replace("snippets,", "")
    sim = Sim(ctx["tmp"], seed, ctx["certs"])
    try:
        p, _ = doctor(copy.deepcopy(site), ctx["tmp"], sim.port)
    finally:
        sim.close()
    expect(p, 0)
    check("snippets" not in p.stdout, f"snippets checked for a spec without user_data:\n{p.stdout}")


def t_missing_template(ctx):
    def edit(site, seed):
        seed["vms"] = [v for v in seed["vms"] if v["config"]["name"] != site.images[0]["template_name"]]
    site, p, _ = run_fault(ctx, edit)
    name = site.images[0]["template_name"]
    expect(p, 2, "✗", rf"template {re.escape(name)} does not exist",
           f"doctor-spec.yaml:{site.line_of(r'- name: ' + site.images[0]['image'] + '$')} (images[",
           rf"make packer IMAGE={site.images[0]['image']} IMAGE_VERSION=\d+")


def vm9000(seed):
    """The seeded template of multi-vm.yaml's first image (its template_vm_id 9000)."""
    return [v for v in seed["vms"] if v["vmid"] == 9000][0]


def t_duplicate_template(ctx):
    def edit(site, seed):
        dup = copy.deepcopy(vm9000(seed))
        dup["vmid"], dup["node"] = 9900, "pve-other"
        seed["vms"].append(dup)
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"2 VMs are named alma9\.8-k3-node-amd64-v1\.36\.3-k3s1-v3 \(9000 on pve2, 9900 on pve-other\)",
           "(images[0].name)", r"qm destroy 9900")


def t_not_a_template(ctx):
    def edit(site, seed):
        vm9000(seed)["config"].pop("template")
    _, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"is a VM, not a template", fix=r"qm template 9000")


def t_template_shape(ctx):
    def edit(site, seed):
        vm9000(seed)["config"].pop("efidisk0")
    _, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"has no efidisk0: not the shape the module clones")


def t_taken_vm_id(ctx):
    def edit(site, seed):
        seed["vms"].append({"vmid": 9201, "node": "pve-other", "config": {"name": "intruder", "memory": "512"}})
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"lab/lab-server: VM id 9201 is taken by VM 9201 \"intruder\" on pve-other",
           f"doctor-spec.yaml:{site.line_of(r'vm_id: 9201')} (environments[0].vms[0].vm_id)",
           r"pick a free `vm_id` \(the next free id is \d+\).*qm destroy 9201")


def t_vm_id_held_by_itself(ctx):
    # Already deployed: the id is held by the VM of that name, which is fine.
    def edit(site, seed):
        seed["vms"].append({"vmid": 9201, "node": site.node, "config": {
            "name": "lab-server", "memory": "32768", "ipconfig0": "ip=10.20.1.10/22,gw=10.20.0.1"}})
    _, p, _ = run_fault(ctx, edit)
    expect(p, 0)
    check(any("VM id 9201 is held by this VM already" in ln for ln in lines(p, "✓")), p.stdout)


def t_taken_ip(ctx):
    def edit(site, seed):
        seed["vms"][-1]["config"]["ipconfig0"] = "ip=10.20.1.11/22,gw=10.20.0.1"
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"lab/lab-worker-1: 10\.20\.1\.11 is already the address of VM 100 \"unrelated\"",
           f"doctor-spec.yaml:{site.line_of(r'ip: 10.20.1.11$')} (environments[0].vms[1].ip)",
           r"qm set 100 --ipconfig0")


def own_network():
    """This machine's first global IPv4 address with its network (`ip -4 -o addr`)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        m = re.search(r"inet (\d+\.\d+\.\d+\.\d+/\d+)", line)
        if m:
            return ipaddress.ip_interface(m.group(1))
    return None


def t_probe_lan(ctx):
    # --probe-lan on the network this machine is on: its own address answers (a host
    # that refuses port 22 holds the address all the same), a free one does not, and an
    # address on another network is not probed (here a proxy on the route answers for
    # every routed address, so probing it would report everything taken).
    own = own_network()
    check(own is not None and own.network.prefixlen <= 29,
          "this machine has no global IPv4 network to probe on (`ip -4 -o addr show scope global`)")
    net = own.network
    hosts = [a for a in net.hosts() if a != own.ip]
    gateway, free = hosts[0], hosts[len(hosts) // 2]

    def on_own_network(ip):
        def edit(text):
            text = text.replace("cidr: 192.168.1.0/24", f"cidr: {net}").replace("192.168.1.1", str(gateway))
            return text.replace("ip: 192.168.1.50", f"ip: {ip}")
        return edit

    site = ctx["single"]
    sim = Sim(ctx["tmp"], copy.deepcopy(site.seed), ctx["certs"])
    try:
        taken = copy.deepcopy(site)
        p, _ = doctor(taken, ctx["tmp"], sim.port, spec_edit=on_own_network(own.ip), args=("--probe-lan",))
        expect(p, 2, "✗", rf"k3s-single/k3s-1: {re.escape(str(own.ip))} answers on the LAN \(TCP 22 (refused|open)\)",
               f"doctor-spec.yaml:{taken.line_of(rf'ip: {re.escape(str(own.ip))}$')} (environments[0].vms[0].ip)",
               r"ip neigh show")
        p, _ = doctor(copy.deepcopy(site), ctx["tmp"], sim.port, spec_edit=on_own_network(own.ip))
        expect(p, 0)
        check("on the LAN" not in p.stdout, f"probed without --probe-lan:\n{p.stdout}")
        p, _ = doctor(copy.deepcopy(site), ctx["tmp"], sim.port, spec_edit=on_own_network(free), args=("--probe-lan",))
        expect(p, 0, "✓", rf"k3s-single/k3s-1: {re.escape(str(free))} does not answer on the LAN \(TCP 22, 443, 80\)")
        if ipaddress.ip_address("192.168.1.50") not in net:
            p, _ = doctor(copy.deepcopy(site), ctx["tmp"], sim.port, args=("--probe-lan",))
            expect(p, 0, "✓", r"192\.168\.1\.50 not probed: not on a network this machine is directly on")
    finally:
        sim.close()


def t_wrong_node(ctx):
    site, p, _ = run_fault(ctx, spec_edit=lambda t: t.replace("node: pve2", "node: pve-typo"))
    expect(p, 2, "✗", r"node pve-typo does not exist; the cluster has: pve2, pve-other",
           f"doctor-spec.yaml:{site.line_of(r'node: pve-typo')} (site.node)", r"set `node:` to one of")


def t_listed_node_missing(ctx):
    # site.nodes lists a node the cluster does not have (VMs placed there would fail);
    # the node that exists is reported online.
    # VMs are placed on pve-other now: it has the bridge (doctor checks every node of the VMs).
    def bridges(site, seed):
        seed["bridges"]["pve-other"] = ["vmbr0", site.bridge]
    site, p, _ = run_fault(ctx, bridges,
                           spec_edit=lambda t: t.replace("  node: pve2\n", "  node: pve2\n  nodes: [pve2, pve-other, pve-gone]\n"))
    expect(p, 2, "✗", r"node pve-gone \(site\.nodes\) does not exist; the cluster has: pve2, pve-other",
           f"doctor-spec.yaml:{site.line_of(r'nodes: .pve2, pve-other')} (site.nodes)", r"list only nodes of the cluster")
    check("node pve-other is online" in p.stdout, f"pve-other not reported online:\n{p.stdout}")


def t_wrong_bridge(ctx):
    def edit(site, seed):
        seed["bridges"] = {site.node: ["vmbr0"]}
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"bridge vmbr1 does not exist on node pve2; it has: vmbr0",
           f"doctor-spec.yaml:{site.line_of(r'bridge: vmbr1')} (site.bridge)")


def t_storage_missing(ctx):
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.vm_storage:
                s["nodes"] = "pve-other"
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"storage ssd-thin does not exist on node pve2",
           f"doctor-spec.yaml:{site.line_of(r'vm: ssd-thin')} (site.storage.vm)")


def t_storage_inactive(ctx):
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.snip_storage:
                s["active"] = 0
    site, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"storage snippets-nfs on node pve2 is not active",
           "(site.storage.snippets)", r"pvesm set snippets-nfs --disable 0")


def t_storage_short(ctx):
    # The VMs' disks (272 GiB) on 100 GiB free: a warning (thin pools overcommit), exit 1.
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.vm_storage:
                s["avail"] = 100 << 30
    _, p, _ = run_fault(ctx, edit)
    expect(p, 1, "!", r"storage ssd-thin on node pve2 has 100 GiB free, the disks of the VMs placed on pve2 take 272 GiB")


def t_old_pve(ctx):
    def edit(site, seed):
        seed["version"] = "7.4.3"
    _, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"Proxmox VE 7\.4\.3: the tree needs Proxmox VE 8 or 9", "(site.endpoint)")


def t_template_other_node(ctx):
    # A template on another node is found (the module clones across nodes): no finding.
    def edit(site, seed):
        vm9000(seed)["node"] = "pve-other"
    _, p, _ = run_fault(ctx, edit)
    expect(p, 0)
    check(any("is VM 9000 on pve-other (not on pve2" in ln for ln in lines(p, "✓")), p.stdout)


def t_fault_json(ctx):
    def edit(site, seed):
        seed["vms"].append({"vmid": 9201, "node": site.node, "config": {"name": "intruder", "memory": "512"}})
    _, p, _ = run_fault(ctx, edit, args=("--json",))
    doc = json.loads(p.stdout)
    bad = [c for c in doc["checks"] if c["status"] == "blocker"]
    check(p.returncode == 2 and doc["exit_code"] == 2 and len(bad) == 1, p.stdout[:3000])
    check(bad[0]["group"] == "environment" and bad[0]["check"] == "vm_id"
          and "environments[0].vms[0].vm_id" in bad[0]["at"] and "qm destroy 9201" in bad[0]["fix"], bad)


def t_wrong_token(ctx):
    _, p, _ = run_fault(ctx, token="root@pam!pvesim=00000000-0000-4000-8000-000000000000")
    expect(p, 2, "✗", r"the API refuses the token root@pam!pvesim \(401", "PROXMOX_VE_API_TOKEN",
           r"pveum user token add root@pam pvesim")
    check("00000000-0000-4000-8000-000000000000" not in p.stdout + p.stderr, "the wrong secret was printed")


def t_no_token(ctx):
    _, p, _ = run_fault(ctx, token=None)
    expect(p, 2, "✗", r"PROXMOX_VE_API_TOKEN is not set", fix=r"export PROXMOX_VE_API_TOKEN=")
    _, p, _ = run_fault(ctx, token="just-a-secret")
    expect(p, 2, "✗", r"not of the form user@realm!tokenid=secret")
    check("just-a-secret" not in p.stdout + p.stderr, "a malformed token was printed")
    _, p, _ = run_fault(ctx, token="root@pam!pvesim=bad\tsecret\u00e9")
    expect(p, 2, "✗", r"not of the form user@realm!tokenid=secret")
    check("secret" not in p.stdout.replace("tokenid=secret", "").replace("<secret>", ""), p.stdout)


def t_unreachable(ctx):
    site = copy.deepcopy(ctx["site"])
    port = h.free_port()  # nothing listens there
    t0 = time.time()
    p, _ = doctor(site, ctx["tmp"], port)
    expect(p, 2, "✗", rf"https://127\.0\.0\.1:{port} is not reachable: connection refused",
           f"doctor-spec.yaml:{site.line_of(r'endpoint: ')} (site.endpoint)", r"curl -k")
    check(time.time() - t0 < 30, "an unreachable host took longer than the timeout")


def t_not_the_api(ctx):
    # Something else answers 200 at the endpoint (a reverse proxy's page, another service
    # on the port, a body over the limit): a blocker naming the endpoint, never "the API
    # accepts the token" (a foreign 200 says nothing about the token).
    import http.server
    import ssl
    import threading
    bodies = {
        "html": (b"<html><body>It works!</body></html>", r"the answer is not JSON"),
        "no-data": (b'{"status": "ok"}', r"a JSON object without `data`"),
        "no-version": (b'{"data": {"release": "x"}}', r"a JSON envelope without a version"),
        "array": (b"[1, 2]", r"JSON, but not an object"),
        "huge": (b'{"data": "' + b"A" * (17 << 20) + b'"}', r"larger than 16 MiB"),
    }
    for name, (body, pattern) in bodies.items():
        class Foreign(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self, body=body):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # doctor stops reading at its limit
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*ctx["certs"])
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            site = copy.deepcopy(ctx["site"])
            p, _ = doctor(site, ctx["tmp"], server.server_address[1])
        finally:
            server.shutdown()
            server.server_close()
        expect(p, 2, "✗", pattern + r", not the Proxmox VE API's JSON",
               f"doctor-spec.yaml:{site.line_of(r'endpoint: ')} (site.endpoint)",
               r"point `site\.endpoint` at the Proxmox VE API itself")
        check(not lines(p, "✓") or all("accepts the token" not in ln for ln in lines(p, "✓")),
              f"{name}: a foreign answer was taken for the token's acceptance\n{p.stdout}")


def t_untrusted_certificate(ctx):
    # insecure_tls: false and a self-signed certificate: a blocker.
    site = copy.deepcopy(ctx["strict"])
    sim = Sim(ctx["tmp"], site.seed, ctx["certs"])
    try:
        p, _ = doctor(site, ctx["tmp"], sim.port)
    finally:
        sim.close()
    expect(p, 2, "✗", r"the certificate of https://127\.0\.0\.1:\d+ is not trusted: self-signed \[",
           "site.insecure_tls", r"insecure_tls: true")


def t_self_signed_noted(ctx):
    # The healthy site's certificate is self-signed and insecure_tls is true: said on a
    # ✓ line (it is the Proxmox default the spec accepted), no warning.
    _, p, _ = run_fault(ctx)
    expect(p, 0)
    check(any("is not trusted: self-signed" in ln and "accepted because site.insecure_tls is true" in ln
              for ln in lines(p, "✓")), p.stdout)


def t_unknown_env(ctx):
    site = copy.deepcopy(ctx["site"])
    p, _ = doctor(site, ctx["tmp"], h.free_port(), args=("--env", "nope"))
    check(p.returncode == 2 and "no such environment" in p.stderr, f"{p.returncode} {p.stderr}")


def t_env_filter(ctx):
    # --env edge: the taken IP of the lab environment is not its concern.
    def edit(site, seed):
        seed["vms"][-1]["config"]["ipconfig0"] = "ip=10.20.1.11/22,gw=10.20.0.1"
    _, p, _ = run_fault(ctx, edit, args=("--env", "edge"))
    expect(p, 0)
    check("lab-worker-1" not in p.stdout and "edge/edge-1" in p.stdout, p.stdout)


def without(*names):
    """A seed edit: the token holds every privilege on / except `names`."""
    def edit(site, seed):
        seed["permissions"] = {"/": [p for p in __import__("pvesim").ALL_PRIVS if p not in names]}
    return edit


def no_template(site, seed):
    seed["vms"] = [v for v in seed["vms"] if v["config"]["name"] != site.images[0]["template_name"]]


def t_for_packer_name(ctx):
    # --for packer: the template name the build creates must be free.
    img = [i for i in ctx["site"].images if i["vmid"] == 9000][0]
    other = [i for i in ctx["site"].images if i is not img][0]
    name = img["template_name"]
    args = ("--for", "packer", "--image", img["image"])
    site, p, _ = run_fault(ctx, args=args)
    expect(p, 2, "✗", rf"{re.escape(name)} exists already \(9000 on pve2\)",
           "(images[0].name)", rf"make packer IMAGE={img['image']} IMAGE_VERSION=4")
    check("environment" not in p.stdout.split("\n") and "vm_id" not in p.stdout,
          f"--for packer checked the environments:\n{p.stdout}")
    check(other["template_name"] not in p.stdout, f"--image checked another image:\n{p.stdout}")
    # The next release's name is free: the same site passes.
    _, p, _ = run_fault(ctx, args=args + ("--release", "4"))
    expect(p, 0)
    check(any(f"no VM is named {name[:-1]}4 yet" in ln for ln in lines(p, "✓")), p.stdout)
    # The spec's release before its first build: free.
    _, p, _ = run_fault(ctx, lambda s, d: d.update(vms=[v for v in d["vms"] if v["vmid"] != 9000]), args=args)
    expect(p, 0)
    check(any(f"no VM is named {name} yet" in ln for ln in lines(p, "✓")), p.stdout)


def t_for_packer_privileges(ctx):
    # Packer's privileges block a proxmox-iso build (a warning without --for); OpenTofu's do not matter.
    args = ("--for", "packer", "--image", ctx["site"].images[0]["image"], "--release", "4")
    _, p, _ = run_fault(ctx, without("Sys.Modify"), args=args)
    expect(p, 2, "✗", r"lacks Sys\.Modify on /nodes/pve2: `make packer SOURCE=proxmox-iso` would fail",
           fix=r"pveum role add HomelabPacker")
    _, p, _ = run_fault(ctx, without("VM.Clone"), args=args)
    expect(p, 0)
    check("VM.Clone" not in p.stdout, p.stdout)
    # The ISO storage must allow iso content for the build.
    def no_iso(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.iso_storage:
                s["content"] = ",".join(c for c in s["content"].split(",") if c != "iso")
    _, p, _ = run_fault(ctx, no_iso, args=args)
    expect(p, 2, "✗", r"does not allow content type iso")


def t_for_packer_token(ctx):
    # The build's own token (PKR_VAR_*) is enough: PROXMOX_VE_API_TOKEN is not needed.
    args = ("--for", "packer", "--image", ctx["site"].images[0]["image"], "--release", "4")
    pkr = {"PKR_VAR_proxmox_username": "root@pam!pvesim", "PKR_VAR_proxmox_token": SECRET}
    _, p, _ = run_fault(ctx, token=None, args=args, env_extra=pkr)
    expect(p, 0)
    check(any("the API accepts the token root@pam!pvesim" in ln and "PKR_VAR_proxmox_username" in ln
              for ln in lines(p, "✓")), p.stdout)
    _, p, _ = run_fault(ctx, token=None, args=args)
    expect(p, 2, "✗", r"PROXMOX_VE_API_TOKEN is not set, and PKR_VAR_proxmox_username / PKR_VAR_proxmox_token")
    _, p, _ = run_fault(ctx, token=None, args=args, env_extra=dict(pkr, PKR_VAR_proxmox_token="wrong-1234"))
    expect(p, 2, "✗", r"the API refuses the token root@pam!pvesim \(401")
    check("wrong-1234" not in p.stdout + p.stderr, "the wrong Packer secret was printed")


def t_for_tofu(ctx):
    # --for tofu: Packer's privileges are not asked; the templates must exist.
    _, p, _ = run_fault(ctx, without("Sys.Modify"), args=("--for", "tofu"))
    expect(p, 0)
    check(not lines(p, "!") and "Packer" not in p.stdout, f"--for tofu checked Packer:\n{p.stdout}")
    name = ctx["site"].images[0]["template_name"]
    _, p, _ = run_fault(ctx, no_template, args=("--for", "tofu"))
    expect(p, 2, "✗", rf"template {re.escape(name)} does not exist")
    _, p, _ = run_fault(ctx, without("VM.Clone"), args=("--for", "tofu", "--env", "lab"))
    expect(p, 2, "✗", r"lacks VM\.Clone on /vms \(OpenTofu")


def t_for_up(ctx):
    # --for up: a missing template is a warning (make up builds it); a blocker stays one.
    name = ctx["site"].images[0]["template_name"]
    _, p, _ = run_fault(ctx, no_template, args=("--for", "up", "--env", "lab"))
    expect(p, 1, "!", rf"template {re.escape(name)} does not exist yet .*`make up` builds it first")
    _, p, _ = run_fault(ctx, lambda s, d: (no_template(s, d), without("VM.Clone")(s, d)),
                        args=("--for", "up", "--env", "lab"))
    expect(p, 2, "✗", r"lacks VM\.Clone on /vms")


def t_for_bad_args(ctx):
    site = copy.deepcopy(ctx["site"])
    for args, want in [(("--for", "packer", "--env", "lab"), "--env goes with --for tofu"),
                       (("--for", "tofu", "--release", "2"), "go with --for packer only"),
                       (("--for", "packer", "--image", "nope"), "--image nope: no such image"),
                       (("--image", "x"), "--for")]:
        p, _ = doctor(site, ctx["tmp"], h.free_port(), args=args)
        check(p.returncode == 2 and want in p.stderr, f"{args}: exit {p.returncode}: {p.stderr}")


def t_ssh_unreachable(ctx):
    # Nothing listens on the port: the upload of user_data snippets would fail.
    cmd = SSH["command"].replace(f"-p {SSH['port']}", f"-p {h.free_port()}")
    site, p, _ = run_fault(ctx, env_extra={"HOMELABGEN_SSH": cmd})
    expect(p, 2, "✗", rf"ssh {SSH['user']}@127\.0\.0\.1 failed: .*Connection refused",
           f"doctor-spec.yaml:{site.line_of(r'^  ssh_host: ')} (site.ssh_host)", r"ssh-add")


def t_ssh_no_key(ctx):
    # The node answers, but no key of the user is offered (empty agent): refused.
    cmd = SSH["command"].replace(f"IdentityAgent={SSH['agent']}", "IdentityAgent=none")
    _, p, _ = run_fault(ctx, env_extra={"HOMELABGEN_SSH": cmd})
    expect(p, 2, "✗", r"ssh \S+@127\.0\.0\.1 failed: .*Permission denied", fix=r"ssh-add")


def t_ssh_cannot_write(ctx):
    # A non-root user without write access and without sudo: the probe runs as nobody
    # (setpriv) instead of through sshd, which logs in as the test's own user only.
    stub = os.path.join(ctx["tmp"], "ssh-as-nobody")
    with open(stub, "w", encoding="utf-8") as f:
        f.write('#!/bin/sh\nfor a; do last=$a; done\n'
                'exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$last"\n')
    os.chmod(stub, 0o755)
    # A storage directory nobody may enter but not write (root's, mode 755), outside the
    # test's private temp dir.
    shared = tempfile.mkdtemp(prefix="doctor-snippets-")
    os.chmod(shared, 0o755)

    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.snip_storage:
                s["path"] = shared
    try:
        site, p, _ = run_fault(ctx, edit, env_extra={"HOMELABGEN_SSH": stub})
        expect(p, 2, "✗", r"cannot write \S+/snippets and has no passwordless sudo for pvesm and tee",
               f"doctor-spec.yaml:{site.line_of(r'^  ssh_user: ')} (site.ssh_user)", r"ssh_user: root")
        # The same directory, writable for that user: the control passes.
        os.chmod(os.path.join(shared, "snippets"), 0o777)
        _, p, _ = run_fault(ctx, edit, env_extra={"HOMELABGEN_SSH": stub})
        expect(p, 0)
        check(any(f"can write {shared}/snippets over SSH" in ln for ln in lines(p, "✓")), p.stdout)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def t_ssh_dir_missing(ctx):
    # The storage names a directory the node does not have.
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == site.snip_storage:
                s["type"], s["path"] = "nfs", "/nonexistent/pvesim-snippets"
    _, p, _ = run_fault(ctx, edit)
    expect(p, 2, "✗", r"/nonexistent/pvesim-snippets, the directory of storage snippets-nfs, does not exist",
           "(site.storage.snippets)", r"mkdir -p /nonexistent/pvesim-snippets/snippets")


def t_ssh_not_for_packer(ctx):
    # A Packer build uploads no snippets: no SSH (a broken ssh changes nothing).
    args = ("--for", "packer", "--image", ctx["site"].images[0]["image"], "--release", "9")
    _, p, _ = run_fault(ctx, env_extra={"HOMELABGEN_SSH": "/nonexistent/ssh"}, args=args)
    expect(p, 0)
    check("ssh" not in p.stdout, p.stdout)


def t_make_gate(ctx):
    # make tf-apply runs doctor --for tofu first: a blocker stops it before tofu runs;
    # a healthy site lets it through; DOCTOR=off skips the check.
    site = copy.deepcopy(ctx["site"])
    tmp = tempfile.mkdtemp(dir=ctx["tmp"], prefix="gate-")
    stub = os.path.join(tmp, "tofu")
    calls = os.path.join(tmp, "calls")
    with open(stub, "w", encoding="utf-8") as f:
        f.write(f"#!/bin/sh\necho \"tofu $*\" >>{calls}\n")
    os.chmod(stub, 0o755)
    gen = os.path.join(site.tmp, "gen")

    def make(seed_edit, *extra):
        seed = copy.deepcopy(site.seed)
        if seed_edit:
            seed_edit(site, seed)
        sim = Sim(ctx["tmp"], seed, ctx["certs"])
        try:
            spec = os.path.join(tmp, "spec.yaml")
            with open(spec, "w", encoding="utf-8") as f:
                f.write(local_site(site.text, sim.port))
            if os.path.exists(calls):
                os.remove(calls)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PROXMOX_", "MAKE"))}
            env.update(PROXMOX_VE_API_TOKEN=TOKEN, HOMELABGEN=h.homelabgen(), HOMELABGEN_SSH=SSH["command"])
            p = subprocess.run(["make", "--no-print-directory", "-C", h.ROOT, "tf-apply", "ENV=lab", "GUARD=off",
                                f"SPEC={spec}", f"GENERATED={gen}", f"TOFU={stub}", *extra],
                               capture_output=True, text=True, env=env, timeout=300)
        finally:
            sim.close()
        called = open(calls, encoding="utf-8").read() if os.path.exists(calls) else ""
        return p, called

    p, called = make(lambda s, d: d["vms"].append({"vmid": 9201, "node": "pve-other", "config": {"name": "intruder"}}))
    out = p.stdout + p.stderr
    check(p.returncode == 2 and "VM id 9201 is taken" in out and "refusing: homelabgen doctor found a blocker" in out,
          f"make tf-apply with a taken vm_id: exit {p.returncode}\n{out}")
    check(" apply " not in called, f"tofu apply ran after a doctor blocker: {called}")
    p, called = make(None)
    check(p.returncode == 0 and " apply " in called, f"make tf-apply on a healthy site: exit {p.returncode}\n"
          f"{p.stdout}{p.stderr}\ncalls: {called}")
    p, called = make(lambda s, d: d["vms"].append({"vmid": 9201, "node": "pve-other", "config": {"name": "x"}}),
                     "DOCTOR=off")
    check(p.returncode == 0 and " apply " in called and "doctor" not in p.stdout,
          f"DOCTOR=off: exit {p.returncode}\n{p.stdout}{p.stderr}")


# ---------------------------------------------------------------- qemu upload (SSH)
def qemu_args(ctx):
    """--for packer --source qemu for the first image, a release whose name is free."""
    return ("--for", "packer", "--source", "qemu", "--image", ctx["site"].images[0]["image"], "--release", "4")


def upload_env(ctx, **extra):
    """The environment the upload script gets: the node sshd's port, a staging dir."""
    node = ctx["node"]
    env = {"HOMELABGEN_SSH": node["ssh"], "PROXMOX_SSH_PORT": str(node["port"]),
           "REMOTE_TMPDIR": node["staging"]}
    env.update(extra)
    return env


def t_qemu_healthy(ctx):
    # The node answers as root, the staging dir is writable with room, qm list works.
    # Only GETs, no Packer privileges, no ISO storage (the qemu build uses neither).
    _, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=upload_env(ctx))
    expect(p, 0)
    ok = lines(p, "✓")
    for want in (f"{SSH['user']}@127.0.0.1 answers over SSH (port {ctx['node']['port']})",
                 f"can write {ctx['node']['staging']} on 127.0.0.1",
                 "runs qm as root (qm list works)", "no VM is named"):
        check(any(want in ln for ln in ok), f"no ✓ line with {want!r}:\n{p.stdout}")
    check("Packer build needs" not in p.stdout and "allows iso" not in p.stdout,
          f"the qemu source checked the proxmox-iso build's needs:\n{p.stdout}")
    check(not os.listdir(ctx["node"]["staging"]), "doctor wrote into the staging directory")


def t_qemu_unreachable(ctx):
    # PROXMOX_SSH_PORT is honoured: nothing listens there.
    site, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=upload_env(ctx, PROXMOX_SSH_PORT=str(h.free_port())))
    expect(p, 2, "✗", rf"ssh {SSH['user']}@127\.0\.0\.1 \(port \d+\) failed: .*Connection refused.*upload-to-proxmox\.sh",
           f"doctor-spec.yaml:{site.line_of(r'^  ssh_host: ')} (site.ssh_host)", r"ssh-add.*PROXMOX_SSH_IDENTITY")


def t_qemu_no_tmpdir(ctx):
    _, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=upload_env(ctx, REMOTE_TMPDIR="/nonexistent/staging"))
    expect(p, 2, "✗", r"/nonexistent/staging does not exist on 127\.0\.0\.1: scripts/upload-to-proxmox\.sh stages",
           "environment variable REMOTE_TMPDIR", r"mkdir -p /nonexistent/staging")


def t_qemu_short_space(ctx):
    # df on the node says 1 GiB free; the image's disk (images[].build.disk) is bigger: a warning.
    flag = os.path.join(ctx["node"]["bin"], "df-avail")
    with open(flag, "w", encoding="utf-8") as f:
        f.write("1048576\n")
    try:
        _, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=upload_env(ctx))
    finally:
        os.remove(flag)
    expect(p, 1, "!", rf"{re.escape(ctx['node']['staging'])} on 127\.0\.0\.1 has 1024 MiB free; the image's disk is \d+ GiB",
           "].name)", r"REMOTE_TMPDIR=")


def t_qemu_qm_fails(ctx):
    # Root, but qm does not work there (not a Proxmox VE node).
    flag = os.path.join(ctx["node"]["bin"], "qm-fails")
    open(flag, "w", encoding="utf-8").close()
    try:
        site, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=upload_env(ctx))
    finally:
        os.remove(flag)
    expect(p, 2, "✗", r"`qm list` fails as root on 127\.0\.0\.1", "(site.ssh_host)", r"Proxmox VE node")


def t_qemu_not_root(ctx):
    # A user other than root (run as nobody through setpriv: the node's sshd logs in as
    # the test's user only): the staging dir must be writable for it, and qm runs through
    # `sudo -n` (the upload script does the same); each fault alone, then both fine.
    node = ctx["node"]
    shared = tempfile.mkdtemp(prefix="doctor-staging-")
    os.chmod(shared, 0o755)
    sudo_ok = os.path.join(node["bin"], "sudo-ok")
    env = upload_env(ctx, HOMELABGEN_SSH=node["as_nobody"], REMOTE_TMPDIR=shared)
    try:
        open(sudo_ok, "w", encoding="utf-8").close()
        _, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=env)
        expect(p, 2, "✗", rf"{SSH['user']} cannot write {re.escape(shared)} on 127\.0\.0\.1",
               "environment variable REMOTE_TMPDIR", r"chmod 1777")
        os.remove(sudo_ok)
        os.chmod(shared, 0o1777)
        site, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=env)
        expect(p, 2, "✗", r"is not root and may not run qm through passwordless sudo",
               f"doctor-spec.yaml:{site.line_of(r'^  ssh_user: ')} (site.ssh_user)", r"NOPASSWD: /usr/sbin/qm")
        open(sudo_ok, "w", encoding="utf-8").close()
        _, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=env)
        expect(p, 0)
        check(any("runs qm through passwordless sudo" in ln for ln in lines(p, "✓")), p.stdout)
    finally:
        if os.path.exists(sudo_ok):
            os.remove(sudo_ok)
        shutil.rmtree(shared, ignore_errors=True)


def t_qemu_user_from_packer_vars(ctx):
    # The login the upload script gets: proxmox_ssh_user from the var file, else
    # PKR_VAR_proxmox_ssh_user, else site.ssh_user; PROXMOX_SSH_IDENTITY / _KNOWN_HOSTS
    # as the script passes them. The stub ssh records its arguments.
    node = ctx["node"]
    log = os.path.join(ctx["tmp"], "ssh-args")
    var_file = os.path.join(ctx["tmp"], "qemu.pkrvars.hcl")
    with open(var_file, "w", encoding="utf-8") as f:
        f.write('# local values\nproxmox_ssh_user = "builder"\nbuild_ssh_key = "~/.ssh/k"\n')
    env = upload_env(ctx, HOMELABGEN_SSH=node["recording"], SSH_ARGS_LOG=log,
                     PROXMOX_SSH_IDENTITY="/keys/upload", PROXMOX_SSH_KNOWN_HOSTS="/keys/known",
                     PKR_VAR_proxmox_ssh_user="envuser")
    _, p, _ = run_fault(ctx, args=qemu_args(ctx) + ("--var-file", var_file), env_extra=env)
    args = open(log, encoding="utf-8").read()
    expect(p, 0)
    for want in ("-l builder", f"-p {node['port']}", "-i /keys/upload", "UserKnownHostsFile=/keys/known",
                 "StrictHostKeyChecking=yes", "IdentitiesOnly=yes"):
        check(want in args, f"ssh was not given {want!r}: {args}")
    check(any("builder@127.0.0.1 answers over SSH" in ln for ln in lines(p, "✓")), p.stdout)
    check(any("builder@127.0.0.1 runs qm" in ln and "qemu.pkrvars.hcl:2 (proxmox_ssh_user)" in ln
              for ln in lines(p, "✓")), p.stdout)
    _, p, _ = run_fault(ctx, args=qemu_args(ctx), env_extra=env)
    check("-l envuser" in open(log, encoding="utf-8").read(), "PKR_VAR_proxmox_ssh_user not used")


def t_qemu_no_token(ctx):
    # The qemu build needs no API token: without one, the SSH side is still checked and
    # the skipped API checks are one warning (exit 1), not a blocker.
    _, p, _ = run_fault(ctx, token=None, args=qemu_args(ctx), env_extra=upload_env(ctx))
    expect(p, 1, "!", r"PROXMOX_VE_API_TOKEN is not set: the qemu build does not need it")
    check(any("runs qm as root" in ln for ln in lines(p, "✓")), p.stdout)
    check(len(lines(p, "!")) == 1, p.stdout)
    # ... and the API is not asked at all: an unreachable endpoint does not block the build.
    site = copy.deepcopy(ctx["site"])
    env = {k: v for k, v in upload_env(ctx).items()}
    p, _ = doctor(site, ctx["tmp"], h.free_port(), token=None, args=qemu_args(ctx), env_extra=env)
    expect(p, 1, "!", r"PROXMOX_VE_API_TOKEN is not set: the qemu build does not need it")
    check("not reachable" not in p.stdout, p.stdout)


# ---------------------------------------------------------------- --var-file token
def var_file(ctx, name, text):
    path = os.path.join(ctx["tmp"], name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def t_var_file_token(ctx):
    # make packer VAR_FILE=F: Packer gets the token from F; doctor reads it the same way.
    args = ("--for", "packer", "--image", ctx["site"].images[0]["image"], "--release", "4")
    good = var_file(ctx, "good.pkrvars.hcl", '# Packer values\nbuild_ssh_key = "~/.ssh/k"\n'
                    f'proxmox_username = "root@pam!pvesim"\n\nproxmox_token = <<EOT\n{SECRET}\nEOT\n')
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", good))
    expect(p, 0)
    check(any("the API accepts the token root@pam!pvesim" in ln and "good.pkrvars.hcl:3 (proxmox_username)" in ln
              and "good.pkrvars.hcl:5 (proxmox_token)" in ln for ln in lines(p, "✓")), p.stdout)
    bad = var_file(ctx, "bad.pkrvars.hcl", 'proxmox_username = "root@pam!pvesim"\nproxmox_token = "wrong-in-file-1234"\n')
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", bad))
    expect(p, 2, "✗", r"the API refuses the token root@pam!pvesim \(401", "bad.pkrvars.hcl:2 (proxmox_token)")
    check("wrong-in-file-1234" not in p.stdout + p.stderr, "the var file's secret was printed")
    # A -var-file beats PKR_VAR_* in Packer: the right secret in the environment does not help.
    pkr = {"PKR_VAR_proxmox_username": "root@pam!pvesim", "PKR_VAR_proxmox_token": SECRET}
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", bad), env_extra=pkr)
    expect(p, 2, "✗", r"the API refuses the token root@pam!pvesim \(401")
    # Only the id in the file, the secret from the environment: both are used.
    half = var_file(ctx, "half.pkrvars.hcl", 'proxmox_username = "root@pam!pvesim"\n')
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", half),
                        env_extra={"PKR_VAR_proxmox_token": SECRET})
    expect(p, 0)
    # Neither: the message names the file.
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", half))
    expect(p, 2, "✗", r"neither \S+half\.pkrvars\.hcl nor PKR_VAR_proxmox_username / PKR_VAR_proxmox_token hold both")
    # Several var files (make packer: the image's *.auto.pkrvars.hcl, then VAR_FILE): a
    # later file's value wins, as in Packer; the line says which file each value is from.
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", bad, "--var-file", good))
    expect(p, 0)
    check(any("bad.pkrvars.hcl" not in ln and "good.pkrvars.hcl:5 (proxmox_token)" in ln
              for ln in lines(p, "✓") if "accepts the token" in ln), p.stdout)
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", good, "--var-file", bad))
    expect(p, 2, "✗", r"the API refuses the token root@pam!pvesim \(401", "bad.pkrvars.hcl:2 (proxmox_token)")
    # The id from one file, the secret from another.
    secret_only = var_file(ctx, "secret.auto.pkrvars.hcl", f'proxmox_token = "{SECRET}"\n')
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", secret_only, "--var-file", half))
    expect(p, 0)
    check(any("half.pkrvars.hcl:1 (proxmox_username)" in ln and "secret.auto.pkrvars.hcl:1 (proxmox_token)" in ln
              for ln in lines(p, "✓")), p.stdout)
    _, p, _ = run_fault(ctx, token=None, args=args + ("--var-file", half, "--var-file", half))
    expect(p, 2, "✗", r"neither \S+half\.pkrvars\.hcl, \S+half\.pkrvars\.hcl nor PKR_VAR_proxmox_username")


def t_var_file_bad(ctx):
    # A broken or missing var file: a clear error (file:line:col), exit 2, no secret quoted.
    site = copy.deepcopy(ctx["site"])
    args = ("--for", "packer", "--image", site.images[0]["image"])
    broken = var_file(ctx, "broken.pkrvars.hcl", 'proxmox_username = "a@pve!t"\nproxmox_token = "s3cr3t-value\n')
    p, _ = doctor(site, ctx["tmp"], h.free_port(), args=args + ("--var-file", broken))
    check(p.returncode == 2 and re.search(r"broken\.pkrvars\.hcl:\d+:\d+: not a valid Packer var file", p.stderr)
          and "s3cr3t-value" not in p.stdout + p.stderr, f"{p.returncode}\n{p.stdout}\n{p.stderr}")
    expr = var_file(ctx, "expr.pkrvars.hcl", 'proxmox_token = var.other\n')
    p, _ = doctor(site, ctx["tmp"], h.free_port(), args=args + ("--var-file", expr))
    check(p.returncode == 2 and "expr.pkrvars.hcl:1: proxmox_token is not a plain string" in p.stderr, p.stderr)
    p, _ = doctor(site, ctx["tmp"], h.free_port(), args=args + ("--var-file", "/nonexistent/x.pkrvars.hcl"))
    check(p.returncode == 2 and "/nonexistent/x.pkrvars.hcl" in p.stderr, p.stderr)
    # Only a regular file is read: a FIFO would hang a plain read.
    fifo = os.path.join(ctx["tmp"], "fifo.pkrvars.hcl")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    p, _ = doctor(site, ctx["tmp"], h.free_port(), args=args + ("--var-file", fifo))
    check(p.returncode == 2 and "fifo.pkrvars.hcl: not a regular file" in p.stderr, p.stderr)


# ---------------------------------------------------------------- every node of a cluster
def ha_run(ctx, seed_edit=None, **kw):
    site = copy.deepcopy(ctx["ha"])
    seed = copy.deepcopy(site.seed)
    seed["nodes"] = ["pve1", "pve2", "pve3"]
    seed["bridges"] = {n: ["vmbr0"] for n in seed["nodes"]}
    if seed_edit:
        seed_edit(site, seed)
    sim = Sim(ctx["tmp"], seed, ctx["certs"])
    try:
        p, _ = doctor(site, ctx["tmp"], sim.port, **kw)
        reqs = sim.requests()
    finally:
        sim.close()
    check(all(r["method"] == "GET" for r in reqs), "doctor sent more than GET requests")
    return site, p, reqs


def t_ha_healthy(ctx):
    # tests/specs/ha.yaml: cp-1..3 one per node, worker-1 pinned to pve3, worker-2 placed
    # on pve1: storages and the bridge are checked on all three nodes.
    _, p, reqs = ha_run(ctx)
    expect(p, 0)
    ok = lines(p, "✓")
    for n in ("pve1", "pve2", "pve3"):
        for want in (f"bridge vmbr0 exists on node {n}", f"storage local-lvm on node {n} is active and allows images",
                     f"storage local on node {n} is active and allows snippets"):
            check(any(want in ln for ln in ok), f"no ✓ line with {want!r}:\n{p.stdout}")
        check(any(r["path"].endswith(f"/nodes/{n}/network") for r in reqs), f"the network of {n} never asked")
    # The nodes asked are the rendered tree's (each VM's `node` in main.tf: the renderer's
    # placement), plus site.node.
    rendered = {v["node"] for v in h.env_locals(os.path.join(ctx["ha"].tmp, "gen", "tofu", "envs", "ha")).values()}
    asked = {r["path"].split("/")[-2] for r in reqs if re.search(r"/nodes/[^/]+/storage$", r["path"])}
    check(asked == rendered | {"pve1"} and rendered == {"pve1", "pve2", "pve3"}, f"asked {asked}, rendered {rendered}")
    # Snippets of the VMs on pve2 and pve3 go where the provider's own address lookup
    # sends them (their ssh {} block names pve1 only): doctor logs in there too.
    for n in ("pve2", "pve3"):
        want = f"@127.0.0.1 (node {n}, the provider's address lookup: the IPv4 address of vmbr0) can write "
        check(any(want in ln for ln in ok), f"no ✓ line with {want!r}:\n{p.stdout}")


def t_ha_node_without_address(ctx):
    # No interface of pve3 has an address and the name pve3 does not resolve: the
    # provider cannot upload the snippets of the VMs placed there.
    def edit(site, seed):
        seed["addresses"] = {"pve3": None}
    site, p, _ = ha_run(ctx, edit)
    expect(p, 2, "✗", r"OpenTofu cannot find where to upload the snippets of the VMs on node pve3: no interface of "
           r"node pve3 has an address, and the name pve3 does not resolve",
           f"doctor-spec.yaml:{site.line_of(r'^  nodes:')} (site.nodes)", r"make the name pve3 resolve")


def t_ha_node_address_unreachable(ctx):
    # pve2's address is one nothing listens on: the login there fails, not the one to
    # site.ssh_host (doctor connects where the provider will).
    def edit(site, seed):
        seed["addresses"] = {"pve2": "127.0.0.2"}
    site, p, _ = ha_run(ctx, edit)
    expect(p, 2, "✗", r"ssh \S+@127\.0\.0\.2 \(node pve2, the provider's address lookup: the IPv4 address of vmbr0\) failed",
           f"doctor-spec.yaml:{site.line_of(r'^  nodes:')} (site.nodes)")
    check(any("(node pve3," in ln and "can write" in ln for ln in lines(p, "✓")), f"pve3 not checked:\n{p.stdout}")


def t_ha_bridge_missing_on_one_node(ctx):
    def edit(site, seed):
        seed["bridges"]["pve2"] = ["vmbr9"]
    site, p, _ = ha_run(ctx, edit)
    expect(p, 2, "✗", r"bridge vmbr0 does not exist on node pve2; it has: vmbr9",
           f"doctor-spec.yaml:{site.line_of(r'^  bridge: vmbr0')} (site.bridge)", r"create vmbr0 on pve2")


def t_ha_storage_missing_on_one_node(ctx):
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == "local-lvm":
                s["nodes"] = "pve1,pve2"
    site, p, _ = ha_run(ctx, edit)
    expect(p, 2, "✗", r"storage local-lvm does not exist on node pve3",
           f"doctor-spec.yaml:{site.line_of(r'^    vm: local-lvm')} (site.storage.vm)", r"make local-lvm available on pve3")


def t_ha_storage_inactive_on_one_node(ctx):
    # The snippets storage down on pve3 only (e.g. its mount failed there).
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == "local":
                s["node_status"] = {"pve3": {"active": 0}}
    _, p, _ = ha_run(ctx, edit)
    expect(p, 2, "✗", r"storage local on node pve3 is not active", "(site.storage.snippets)",
           r"pvesm set local --disable 0.*on pve3")


def t_ha_storage_short_on_one_node(ctx):
    # local-lvm (not shared) on pve3 holds cp-3 and worker-1: 96 GiB; 50 GiB free there.
    def edit(site, seed):
        for s in seed["storages"]:
            if s["storage"] == "local-lvm":
                s["node_status"] = {"pve3": {"avail": 50 << 30}}
    _, p, _ = ha_run(ctx, edit)
    expect(p, 1, "!", r"storage local-lvm on node pve3 has 50 GiB free, the disks of the VMs placed on pve3 take 96 GiB")
    check(len(lines(p, "!")) == 1, p.stdout)


def t_templates_query(ctx):
    # `doctor --templates` (make up's image step): one line per template the environment
    # clones, exists/missing, and the same answer as --for up's check on the same site.
    site = ctx["site"]
    img = [i for i in site.images if i["vmid"] == 9000][0]
    want = {f"exists {i['image']} {i['template_name']}" for i in site.images}  # env lab clones both
    _, p, _ = run_fault(ctx, args=("--env", "lab", "--templates"))
    check(p.returncode == 0 and set(p.stdout.splitlines()) == want and len(p.stdout.splitlines()) == 2,
          f"exit {p.returncode}\n{p.stdout}\n{p.stderr}")

    def gone(s, seed):
        seed["vms"] = [v for v in seed["vms"] if v["vmid"] != 9000]
    _, p, _ = run_fault(ctx, gone, args=("--env", "lab", "--templates"))
    missing = f"missing {img['image']} {img['template_name']}"
    check(set(p.stdout.splitlines()) == (want - {"exists" + missing[7:]}) | {missing}, p.stdout + p.stderr)
    _, up, _ = run_fault(ctx, gone, args=("--for", "up", "--env", "lab"))
    expect(up, 1, "!", rf"template {re.escape(img['template_name'])} does not exist yet")
    check(len(lines(up, "!")) == 1, up.stdout)
    # --env edge clones only alma9-k3s-next.
    _, p, _ = run_fault(ctx, args=("--env", "edge", "--templates"))
    check(len(p.stdout.splitlines()) == 1 and " alma9-k3s-next " in p.stdout, p.stdout)
    # A refused token: exit 2, said on stderr, nothing on stdout (make up stops).
    _, p, _ = run_fault(ctx, token="root@pam!pvesim=00000000-0000-4000-8000-000000000000",
                        args=("--env", "lab", "--templates"))
    check(p.returncode == 2 and p.stdout == "" and "401" in p.stderr
          and "00000000-0000-4000-8000-000000000000" not in p.stderr, f"{p.returncode}\n{p.stdout}\n{p.stderr}")


def t_make_up_image(ctx):
    # make up's image step with the real homelabgen against the simulator: it builds
    # (stub packer) exactly the image whose template doctor --templates finds missing.
    site = copy.deepcopy(ctx["site"])
    tmp = tempfile.mkdtemp(dir=ctx["tmp"], prefix="upimage-")
    stubs, notools = os.path.join(tmp, "bin"), os.path.join(tmp, "notools")
    os.makedirs(stubs)
    os.makedirs(notools)
    calls = os.path.join(tmp, "calls")
    for tool, body in (("tofu", ""), ("packer", 'case "$1" in console) cat >/dev/null; echo 3 ;; esac\n')):
        with open(os.path.join(stubs, tool), "w", encoding="utf-8") as f:
            f.write(f'#!/bin/sh\necho "{tool} $* (in $(basename "$PWD"))" >>{calls}\n{body}')
        os.chmod(os.path.join(stubs, tool), 0o755)
    gen = os.path.join(site.tmp, "gen")
    img = [i for i in site.images if i["vmid"] == 9000][0]

    def make(seed_edit, token=TOKEN):
        seed = copy.deepcopy(site.seed)
        if seed_edit:
            seed_edit(site, seed)
        sim = Sim(ctx["tmp"], seed, ctx["certs"])
        try:
            spec = os.path.join(tmp, "spec.yaml")
            with open(spec, "w", encoding="utf-8") as f:
                f.write(local_site(site.text, sim.port))
            if os.path.exists(calls):
                os.remove(calls)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PKR_VAR_", "PROXMOX_", "MAKE"))}
            env.update(PROXMOX_VE_API_TOKEN=token, HOMELABGEN=h.homelabgen(), HOMELABGEN_TOOLS_DIR=notools,
                       PATH=f"{stubs}:{env['PATH']}", PKR_VAR_build_ssh_key="/dev/null")
            p = subprocess.run(["make", "--no-print-directory", "-C", h.ROOT, "up-image", "ENV=lab", "GUARD=off",
                                "DOCTOR=off", f"SPEC={spec}", f"GENERATED={gen}", f"TOFU={stubs}/tofu"],
                               capture_output=True, text=True, env=env, timeout=300)
        finally:
            sim.close()
        called = open(calls, encoding="utf-8").read() if os.path.exists(calls) else ""
        return p, called

    p, called = make(None)
    out = p.stdout + p.stderr
    check(p.returncode == 0 and "packer build" not in called
          and all(f"template {i['template_name']} exists" in out for i in site.images), f"{out}\n{called}")
    p, called = make(lambda s, d: d.update(vms=[v for v in d["vms"] if v["vmid"] != 9000]))
    out = p.stdout + p.stderr
    builds = [ln for ln in called.splitlines() if ln.startswith("packer build")]
    check(p.returncode == 0 and f"template {img['template_name']} is missing: building image {img['image']}" in out
          and len(builds) == 1 and builds[0].endswith(f"(in {img['image']})"), f"{out}\n{called}")
    p, called = make(None, token="root@pam!pvesim=00000000-0000-4000-8000-000000000000")
    out = p.stdout + p.stderr
    check(p.returncode == 2 and "cannot ask the Proxmox API which templates exist" in out and "401" in out
          and "packer" not in called, f"{out}\n{called}")


def node_sshd(ctx, tmp):
    """The Proxmox node of the qemu upload: a second sshd (the harness's keys) whose
    sessions get PATH=<bin>:/usr/bin:/bin, <bin> holding stand-ins: qm (`list` works
    unless a file qm-fails is there), df (a file df-avail sets the free KiB), sudo (runs
    `-n CMD` when a file sudo-ok is there, else asks for a password and fails). Plus two
    ssh commands for HOMELABGEN_SSH that run the probe locally with that PATH: as nobody
    (setpriv), and recording their arguments (SSH_ARGS_LOG)."""
    sshd = ctx["sshd"]
    d = os.path.join(sshd.tmp, "ssh")
    # Outside the test's private temp dir: the stand-ins run as nobody too (removed by main).
    bin_dir = tempfile.mkdtemp(prefix="doctor-node-bin-")
    os.chmod(bin_dir, 0o755)
    stubs = {
        "qm": '#!/bin/sh\nif [ -e "$(dirname "$0")/qm-fails" ]; then echo "ipcc_send_rec[1] failed" >&2; exit 255; fi\n'
              'echo "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID"\n',
        "df": '#!/bin/sh\nf="$(dirname "$0")/df-avail"\n[ -e "$f" ] || exec /bin/df "$@"\n'
              'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"\n'
              'echo "/dev/sda1 100000000 99000000 $(cat "$f") 99% /"\n',
        "sudo": '#!/bin/sh\nif [ "$1" = -n ] && [ -e "$(dirname "$0")/sudo-ok" ]; then shift; exec "$@"; fi\n'
                'echo "sudo: a password is required" >&2\nexit 1\n',
    }
    for name, text in stubs.items():
        with open(os.path.join(bin_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(os.path.join(bin_dir, name), 0o755)
    port = h.free_port()
    config = open(os.path.join(d, "sshd_config"), encoding="utf-8").read()
    config = re.sub(r"^Port \d+$", f"Port {port}", config, flags=re.M)
    config = config.replace(f"PidFile {d}/sshd.pid", f"PidFile {d}/node-sshd.pid")
    config += f"SetEnv PATH={bin_dir}:/usr/bin:/bin\n"
    with open(os.path.join(d, "node_sshd_config"), "w", encoding="utf-8") as f:
        f.write(config)
    log = open(os.path.join(d, "node-sshd.log"), "w", encoding="utf-8")
    sshd.procs.append(subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(d, "node_sshd_config")],
                                       stdout=log, stderr=log))
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            if time.time() > deadline:
                raise AssertionError("the node sshd did not start: " + open(log.name, encoding="utf-8").read())
            time.sleep(0.1)
    staging = os.path.join(tmp, "staging")
    os.makedirs(staging)
    as_nobody = os.path.join(tmp, "ssh-as-nobody")
    with open(as_nobody, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nfor a; do last=$a; done\nexport PATH={bin_dir}:/usr/bin:/bin\n'
                'exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$last"\n')
    recording = os.path.join(tmp, "ssh-recording")
    with open(recording, "w", encoding="utf-8") as f:
        f.write(f'#!/bin/sh\nfor a; do last=$a; done\nprintf "%s " "$@" >"$SSH_ARGS_LOG"\n'
                f'export PATH={bin_dir}:/usr/bin:/bin\nexec sh -c "$last"\n')
    os.chmod(as_nobody, 0o755)
    os.chmod(recording, 0o755)
    # Without -p: PROXMOX_SSH_PORT (what the upload script uses) picks the port.
    ssh = (f"ssh -o IdentityAgent={SSH['agent']} -o StrictHostKeyChecking=accept-new "
           f"-o UserKnownHostsFile={sshd.tmp}/known_hosts")
    return {"port": port, "bin": bin_dir, "staging": staging, "ssh": ssh, "as_nobody": as_nobody,
            "recording": recording}


def main():
    tmp = tempfile.mkdtemp(prefix="doctor-test-")
    sys.path.insert(0, h.HERE)
    try:
        ctx = {"tmp": tmp, "certs": cert(tmp)}
        # A real sshd on 127.0.0.1 with a throwaway key in its own ssh-agent, for the
        # snippets SSH check (harness.Lab's sshd, on a holder of its own).
        node = types.SimpleNamespace(tmp=tmp, procs=[], agent_pid=None)
        ctx["sshd"] = node
        h.Lab._sshd(node)
        SSH.update(user=node.ssh_user, port=node.ssh_port, agent=node.agent_sock, command=(
            f"ssh -p {node.ssh_port} -o IdentityAgent={node.agent_sock} -o StrictHostKeyChecking=accept-new "
            f"-o UserKnownHostsFile={tmp}/known_hosts"))
        os.makedirs(os.path.join(tmp, "multi"))
        os.makedirs(os.path.join(tmp, "single"))
        os.makedirs(os.path.join(tmp, "strict"))
        ctx["site"] = Site(os.path.join(tmp, "multi"), SPEC_MULTI)
        ctx["single"] = Site(os.path.join(tmp, "single"), SPEC_SINGLE)
        ctx["strict"] = Site(os.path.join(tmp, "strict"), SPEC_MULTI, insecure=False)
        os.makedirs(os.path.join(tmp, "ha"))
        with open(SPEC_HA, encoding="utf-8") as f:
            ha_text = f.read().replace("  bridge: vmbr0\n", "  bridge: vmbr0\n  insecure_tls: true\n", 1)
        ha_spec = os.path.join(tmp, "ha", "ha.yaml")
        with open(ha_spec, "w", encoding="utf-8") as f:
            f.write(ha_text)
        ctx["ha"] = Site(os.path.join(tmp, "ha"), ha_spec)
        os.makedirs(os.path.join(tmp, "node"))
        ctx["node"] = node_sshd(ctx, os.path.join(tmp, "node"))
        for name, fn in [
            ("healthy site passes (exit 0)", t_healthy),
            ("healthy site --json", t_healthy_json),
            ("healthy site for every test spec of the repository", t_healthy_every_spec),
            ("self-signed certificate noted", t_self_signed_noted),
            ("missing privilege", t_missing_privilege),
            ("privilege on another path only", t_missing_privilege_path),
            ("PVE 9 without VM.Monitor / PVE 8 needs it", t_pve9_no_vm_monitor),
            ("missing Packer-only privilege is a warning (exit 1)", t_packer_privilege_warning),
            ("Packer token from PKR_VAR_*", t_packer_token),
            ("storage without snippets (spec with user_data)", t_no_snippets),
            ("storage without snippets, spec without user_data", t_no_snippets_unused),
            ("missing template", t_missing_template),
            ("duplicate template", t_duplicate_template),
            ("template is a plain VM", t_not_a_template),
            ("template without efidisk0", t_template_shape),
            ("taken vm_id", t_taken_vm_id),
            ("vm_id held by the VM itself", t_vm_id_held_by_itself),
            ("taken IP", t_taken_ip),
            ("--probe-lan: an address a LAN host answers for", t_probe_lan),
            ("wrong node", t_wrong_node),
            ("a node of site.nodes missing", t_listed_node_missing),
            ("wrong bridge", t_wrong_bridge),
            ("storage not on the node", t_storage_missing),
            ("storage not active", t_storage_inactive),
            ("storage short of space is a warning (exit 1)", t_storage_short),
            ("Proxmox VE 7", t_old_pve),
            ("template on another node", t_template_other_node),
            ("a fault in --json", t_fault_json),
            ("wrong token -> 401", t_wrong_token),
            ("no or malformed token", t_no_token),
            ("unreachable host (closed port)", t_unreachable),
            ("not the API: something else answers at the endpoint", t_not_the_api),
            ("untrusted certificate with insecure_tls: false", t_untrusted_certificate),
            ("unknown --env", t_unknown_env),
            ("--env limits the checks", t_env_filter),
            ("--for packer: the template name must be free (--release N)", t_for_packer_name),
            ("--for packer: Packer's privileges and the ISO storage block", t_for_packer_privileges),
            ("--for packer: the build's own token (PKR_VAR_*)", t_for_packer_token),
            ("--for tofu: no Packer checks, templates must exist", t_for_tofu),
            ("--for up: a missing template is a warning", t_for_up),
            ("--for: bad argument combinations", t_for_bad_args),
            ("make tf-apply runs doctor first (blocker stops it, DOCTOR=off skips)", t_make_gate),
            ("SSH for snippets: nothing listens", t_ssh_unreachable),
            ("SSH for snippets: no key in the agent", t_ssh_no_key),
            ("SSH for snippets: a user who cannot write, no sudo", t_ssh_cannot_write),
            ("SSH for snippets: the storage directory is missing", t_ssh_dir_missing),
            ("SSH for snippets: not asked for a Packer build", t_ssh_not_for_packer),
            ("qemu upload: healthy node (root, staging writable, qm)", t_qemu_healthy),
            ("qemu upload: nothing listens on PROXMOX_SSH_PORT", t_qemu_unreachable),
            ("qemu upload: REMOTE_TMPDIR missing", t_qemu_no_tmpdir),
            ("qemu upload: staging dir short of space is a warning", t_qemu_short_space),
            ("qemu upload: qm fails as root", t_qemu_qm_fails),
            ("qemu upload: not root (staging writable? sudo -n qm?)", t_qemu_not_root),
            ("qemu upload: the login from the var file / PKR_VAR_*, identity, known hosts", t_qemu_user_from_packer_vars),
            ("qemu upload: no API token is a warning", t_qemu_no_token),
            ("--var-file: the Packer token from the var file", t_var_file_token),
            ("--var-file: broken, non-string, missing", t_var_file_bad),
            ("ha: every node of the VMs passes", t_ha_healthy),
            ("ha: pve3 has no address for the provider's SSH", t_ha_node_without_address),
            ("ha: pve2's address does not answer SSH", t_ha_node_address_unreachable),
            ("ha: bridge missing on pve2 only", t_ha_bridge_missing_on_one_node),
            ("ha: VM storage not on pve3", t_ha_storage_missing_on_one_node),
            ("ha: snippets storage inactive on pve3 only", t_ha_storage_inactive_on_one_node),
            ("ha: VM storage short on pve3 only (warning)", t_ha_storage_short_on_one_node),
            ("--templates: make up's question, the same answer as --for up", t_templates_query),
            ("make up-image builds exactly the image whose template is missing", t_make_up_image),
        ]:
            scenario(name, fn, ctx)
    finally:
        if "ctx" in locals() and "node" in ctx:
            shutil.rmtree(ctx["node"]["bin"], ignore_errors=True)
        node = ctx.get("sshd") if "ctx" in locals() else None
        if node:
            for proc in node.procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
            if node.agent_pid:
                os.kill(node.agent_pid, signal.SIGTERM)
        if os.environ.get("PVESIM_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"doctor-test: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
