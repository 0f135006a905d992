#!/usr/bin/env python3
"""make sim-test: the real OpenTofu + the real bpg/proxmox provider against pvesim.

Renders test specs (never spec/homelab.yaml) into temp dirs, applies, changes and
destroys them against the simulator, and asserts on what the simulator recorded.
Known defects of the current tree are reported as "xfail" with their issue and do not
count as failures; each such test asserts the intended behaviour, so once the defect is
fixed it reports "ok". Closing line: "sim-test: N passed, M failed".
"""

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import traceback
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SPEC_SINGLE = os.path.join(h.HERE, "specs", "k3s-single.yaml")
SPEC_MULTI = os.path.join(h.ROOT, "tests", "specs", "multi-vm.yaml")
SPEC_HA = os.path.join(h.ROOT, "tests", "specs", "ha.yaml")
VM = 'proxmox_virtual_environment_vm.this'

RESULTS = {"passed": 0, "failed": 0, "xfail": 0}


class XFail(Exception):
    pass


def test(name, fn, *args):
    try:
        fn(*args)
    except XFail as e:
        RESULTS["xfail"] += 1
        print(f"xfail {name}: {e}", flush=True)
        return False
    except Exception as e:  # noqa: BLE001 - every failure is reported, then the run goes on
        RESULTS["failed"] += 1
        msg = str(e) if isinstance(e, (h.Failure, AssertionError)) else traceback.format_exc()
        print(f"FAIL  {name}: {msg}", flush=True)
        return False
    RESULTS["passed"] += 1
    print(f"ok    {name}", flush=True)
    return True


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def opts(value):
    """qemu-server property string -> dict (a bare first item is 'file'/'model')."""
    out = {}
    for i, part in enumerate(value.split(",")):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
        elif i == 0:
            out["file"] = part
    return out


def config_problems(cfg, want):
    """What is wrong with a VM config the simulator recorded, against a VM of the spec.
    Returns a list of problems (empty: the config is what the requirements ask)."""
    p = []

    def eq(key, got, exp):
        if got != exp:
            p.append(f"{key}: expected {exp!r}, got {got!r}")

    eq("cores", cfg.get("cores"), str(want["cores"]))
    eq("memory", cfg.get("memory"), str(want["memory"]))
    eq("machine", cfg.get("machine"), "q35")
    eq("bios", cfg.get("bios"), "ovmf")
    eq("agent.enabled", opts(cfg.get("agent", "")).get("enabled"), "1")
    eq("name", cfg.get("name"), want["name"])
    d = opts(cfg.get("scsi0", ""))
    eq("scsi0.ssd", d.get("ssd"), "1")
    eq("scsi0.discard", d.get("discard"), "on")
    eq("scsi0.iothread", d.get("iothread"), "1")
    eq("scsi0.size", d.get("size"), f"{want['disk_size']}G")
    if not re.fullmatch(r"%s:vm-%d-disk-\d+" % (re.escape(want["storage"]), want["vmid"]), d.get("file", "")):
        p.append(f"scsi0: not a disk of VM {want['vmid']} on {want['storage']}: {cfg.get('scsi0')!r}")
    efi = opts(cfg.get("efidisk0", ""))
    eq("efidisk0.efitype", efi.get("efitype"), "4m")
    n = opts(cfg.get("net0", ""))
    if not re.fullmatch(r"([0-9A-F]{2}:){5}[0-9A-F]{2}", n.get("virtio", "")):
        p.append(f"net0: not a virtio NIC with a MAC: {cfg.get('net0')!r}")
    eq("net0.bridge", n.get("bridge"), want["bridge"])
    ip = opts(cfg.get("ipconfig0", ""))
    eq("ipconfig0.ip", ip.get("ip"), want["ipv4_address"])
    eq("ipconfig0.gw", ip.get("gw"), want["gateway"])
    if want.get("user_data"):
        ci = opts(cfg.get("cicustom", ""))
        if not ci.get("user", "").startswith(f"{want['snippets']}:snippets/"):
            p.append(f"cicustom: expected user={want['snippets']}:snippets/..., got {cfg.get('cicustom')!r}")
    else:
        eq("ciuser", cfg.get("ciuser"), want["user"])
        keys = urllib.parse.unquote(cfg.get("sshkeys", "")).strip().split("\n")
        eq("sshkeys", keys, want["ssh_keys"])
    if "media=cdrom" not in cfg.get("ide2", "") or "cloudinit" not in cfg.get("ide2", ""):
        p.append(f"ide2: no cloud-init drive: {cfg.get('ide2')!r}")
    return p


def spec_vm(lab, env, name, vmid):
    """What a VM of the rendered environment must look like in the simulator."""
    env_dir = lab.env_dir(env)
    loc = h.env_locals(env_dir)[name]
    main = open(os.path.join(env_dir, "main.tf"), encoding="utf-8").read()
    gw = re.search(r'ipv4_gateway\s+= "([^"]+)"', main).group(1)
    user = re.search(r'user\s+= "([^"]+)"', main).group(1)
    keys = json.loads(re.search(r"ssh_keys\s+= (\[.*\])", main).group(1))
    ud = re.search(r'"%s" = \{[^}]*user_data\s+= (\S+)' % re.escape(name), main).group(1) != "null"
    return {**loc, "name": name, "vmid": vmid, "gateway": gw, "user": user, "ssh_keys": keys,
            "storage": lab.vm_storage, "bridge": lab.bridge, "snippets": lab.snip_storage, "user_data": ud}


def clone_request(lab, newid):
    found = [r for r in lab.requests() if r["method"] == "POST" and r["path"].endswith("/clone")
             and r["params"].get("newid") == str(newid)]
    check(found, f"no clone request for VM {newid}")
    return found[-1]


def assert_vm_matches(lab, env, name, template_name):
    vmid, vm = lab.vm_by_name(name)
    want = spec_vm(lab, env, name, vmid)
    probs = config_problems(vm["config"], want)
    check(not probs, f"{name}: " + "; ".join(probs))
    check(vm["status"] == "running", f"{name} is {vm['status']}, not running")
    check(not vm["pending"] and not vm["pending_delete"], f"{name}: changes wait for a restart: "
          f"{vm['pending']} {vm['pending_delete']}")
    c = clone_request(lab, vmid)
    tid = lab.templates[template_name]
    check(re.fullmatch(r"/api2/json/nodes/[^/]+/qemu/%d/clone" % tid, c["path"]),
          f"{name} was cloned by {c['path']}, not from template {template_name} ({tid})")
    check(c["params"].get("full") == "1", f"{name}: not a full clone: {c['params']}")
    check(c["status"] == 200, f"clone of {name} failed: {c['reason']}")


def power_requests(reqs):
    """status/start|shutdown|stop|reboot requests among reqs (a restart of a VM)."""
    return [r["path"].rsplit("/", 1)[1] for r in reqs if r["method"] == "POST" and "/status/" in r["path"]]


def break_module(lab, *subs):
    """Negative controls: the rendered module with (regex, replacement) edits applied."""
    mod = os.path.join(lab.gen, "tofu", "modules", "proxmox-vm", "main.tf")
    text = open(mod, encoding="utf-8").read()
    broken = text
    for pat, rep in subs:
        nxt = re.sub(pat, rep, broken)
        check(nxt != broken, f"could not break the module ({pat!r} not found)")
        broken = nxt
    open(mod, "w", encoding="utf-8").write(broken)


NO_PIN = (r"\n\s+ignore_changes\s+= \[clone, description\]", "")
REBOOTS = (r"(\n\s+reboot_after_update = )false", r"\1true")
NO_MODE_TRIGGER = (r"\n\s+replace_triggered_by\s+= \[terraform_data\.cloud_init_mode\]", "")


def plan_actions(lab, env):
    rc, plan, path = lab.plan_json(env)
    return rc, h.actions(plan, VM), path


def with_spec(lab, text):
    lab.rerender(text)


def api_get(lab, path, token, method="GET"):
    ctx = ssl.create_default_context(cafile=lab.cert)
    req = urllib.request.Request(f"https://127.0.0.1:{lab.port}{path}", method=method,
                                 data=b"" if method != "GET" else None)
    if token is not None:
        req.add_header("Authorization", f"PVEAPIToken={token}")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.reason, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.reason, json.load(e)


# ---------------------------------------------------------------------------- k3s-single
def single_env_tests():
    base = open(SPEC_SINGLE, encoding="utf-8").read()
    bumped = base.replace("    release: 2\n", "    release: 3\n")
    check(bumped != base, "spec edit failed")
    lab = h.Lab(base, seed_specs=[bumped])
    env = "k3s-single"
    tname = h.env_locals(lab.env_dir(env))["k3s-1"]["template_name"]
    try:
        def t_auth():
            code, reason, _ = api_get(lab, "/api2/json/version", h.TOKEN)
            check(code == 200, f"right token: {code} {reason}")
            bad = h.TOKEN.rsplit("=", 1)[0] + "=00000000-dead-beef-0000-000000000000"
            code, reason, _ = api_get(lab, "/api2/json/version", bad)
            check(code == 401, f"wrong token answered {code} {reason}, not 401")
            code, reason, _ = api_get(lab, "/api2/json/version", None)
            check(code == 401, f"no token answered {code} {reason}, not 401")
            code, reason, body = api_get(lab, "/api2/json/nodes/pve/lxc", h.TOKEN)
            check(code == 501 and "/api2/json/nodes/pve/lxc" in reason,
                  f"an unimplemented path answered {code} {reason}, not a 501 naming it")
            for method, path in (("PUT", "/api2/json/cluster/options"), ("POST", "/api2/json/nodes/pve/qemu"),
                                 ("DELETE", "/api2/json/nodes/pve/storage/local-lvm/content")):
                code, reason, body = api_get(lab, path, h.TOKEN, method)
                check(code == 501 and f"{method} {path}" in reason, f"{method} {path} answered {code} {reason}")
        test("pvesim: API token auth (wrong token 401) and loud 501 for unimplemented paths", t_auth)

        lab.init(env)

        def t_wrong_token_plan():
            p = lab.tofu(env, "plan", "-no-color", "-input=false", check=False,
                         token=h.TOKEN.rsplit("=", 1)[0] + "=wrong")
            check(p.returncode == 1 and "401" in p.stderr, f"plan with a wrong token: rc {p.returncode}: {p.stderr[-400:]}")
        test("k3s-single: tofu plan with a wrong API token fails with 401", t_wrong_token_plan)

        def t_apply():
            rc, acts, plan = plan_actions(lab, env)
            check(acts == {f'module.vm["k3s-1"].{VM}': ["create"]}, f"first plan: {acts}")
            lab.apply_plan(env, plan)
            assert_vm_matches(lab, env, "k3s-1", tname)
            vmid, _ = lab.vm_by_name("k3s-1")
            check(vmid == 9101, f"vm_id {vmid}, spec says 9101")
        if not test("k3s-single: apply clones the template with the spec's config (full clone, 4 cores, 24576 MiB, "
                    "scsi0 ssd/discard, virtio NIC, static ipconfig0, user+keys, q35, OVMF, agent)", t_apply):
            return

        def t_noop():
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0 and not acts, f"second plan: exit {rc}, changes {acts}")
        test("k3s-single: a second plan -detailed-exitcode exits 0", t_noop)

        def t_outputs():
            out = lab.outputs(env)
            vmid, vm = lab.vm_by_name("k3s-1")
            ip = opts(vm["config"]["ipconfig0"])["ip"].split("/")[0]
            check(out["vm_ips"]["value"] == {"k3s-1": ip}, f"vm_ips {out['vm_ips']['value']}")
            v = out["vms"]["value"]["k3s-1"]
            check(v["guest_agent_ipv4_addresses"] == [ip], f"agent addresses {v['guest_agent_ipv4_addresses']}")
            check(v["vm_id"] == vmid and v["template_vm_id"] == lab.templates[tname], f"ids {v}")
            check(v["cores"] == 4 and v["memory"] == 24576 and v["disk_size"] == 64, f"sizes {v}")
            check(f"ssh admin@{ip} " in out["kubeconfig_command"]["value"], out["kubeconfig_command"]["value"])
            check(out["server_ip"]["value"] == ip, f"server_ip {out['server_ip']['value']}")
        test("k3s-single: outputs hold the values the simulator served (vm_ips, agent addresses, kubeconfig_command)",
             t_outputs)

        def t_kubeconfig_command():
            out = lab.outputs(env)
            cmd, ctx, ip = (out["kubeconfig_command"]["value"], out["kubectl_context"]["value"],
                            out["server_ip"]["value"])
            good = f"apiVersion: v1\nclusters:\n- cluster:\n    server: https://{ip}:6443\n  name: {ctx}\n"

            def run_with_ssh(command, ssh_body):
                home = tempfile.mkdtemp(prefix="pvesim-home-", dir=lab.tmp)
                os.makedirs(os.path.join(home, "bin"))
                os.makedirs(os.path.join(home, ".kube"))
                target = os.path.join(home, ".kube", f"{ctx}.yaml")
                with open(target, "w", encoding="utf-8") as f:
                    f.write(good)
                os.chmod(target, 0o600)
                fake = os.path.join(home, "bin", "ssh")
                with open(fake, "w", encoding="utf-8") as f:
                    f.write("#!/bin/sh\n" + ssh_body)
                os.chmod(fake, 0o755)
                p = subprocess.run(["bash", "-c", command], env={**os.environ, "HOME": home,
                                   "PATH": os.path.join(home, "bin") + ":" + os.environ["PATH"]},
                                   capture_output=True, text=True, timeout=60)
                return p, target, sorted(os.listdir(os.path.join(home, ".kube")))

            # A failed ssh (partial output, exit 255) leaves the good file alone, no temp file.
            failing = "echo 'apiVersion: v1'\nexit 255\n"
            p, target, files = run_with_ssh(cmd, failing)
            check(p.returncode != 0, "kubeconfig_command succeeded although ssh failed")
            check(open(target, encoding="utf-8").read() == good and files == [f"{ctx}.yaml"],
                  f"a failed ssh changed ~/.kube: {files}, {open(target, encoding='utf-8').read()!r}")
            # A working ssh: the server's kubeconfig, pointed at the server, mode 600.
            k3s = "printf 'apiVersion: v1\\nclusters:\\n- cluster:\\n    server: https://127.0.0.1:6443\\n  name: default\\n'\n"
            p, target, files = run_with_ssh(cmd, k3s)
            text = open(target, encoding="utf-8").read()
            check(p.returncode == 0 and f"server: https://{ip}:6443" in text and f"name: {ctx}" in text,
                  f"kubeconfig_command: rc {p.returncode} {p.stderr[-300:]}, file {text!r}")
            check(os.stat(target).st_mode & 0o777 == 0o600 and files == [f"{ctx}.yaml"], f"mode/files {files}")
            # Negative control: the command without its guards clobbers the good file.
            naive = f"ssh x sudo cat /etc/rancher/k3s/k3s.yaml | sed -e s/a/b/ > ~/.kube/{ctx}.yaml"
            p, target, files = run_with_ssh(naive, failing)
            check(open(target, encoding="utf-8").read() != good,
                  "negative control: the clobber check did not see a naive command overwrite the file")
        test("k3s-single: kubeconfig_command never clobbers a good kubeconfig on a failed ssh; writes mode 600",
             t_kubeconfig_command)

        def t_cores():
            with_spec(lab, base.replace("cores: 4", "cores: 6", 1))
            rc, acts, plan = plan_actions(lab, env)
            check(acts == {f'module.vm["k3s-1"].{VM}': ["update"]}, f"cores change planned {acts}")
            n = len(lab.requests())
            lab.apply_plan(env, plan)
            vmid, vm = lab.vm_by_name("k3s-1")
            new = lab.requests()[n:]
            check(not [r for r in new if r["path"].endswith("/clone") or r["method"] == "DELETE"],
                  "an in-place change cloned or deleted a VM")
            # reboot_after_update = false: the provider leaves the change pending, no restart.
            check(not power_requests(new), f"the provider restarted the VM: {power_requests(new)}")
            check(vm["status"] == "running" and vm["pending"].get("cores") == "6",
                  f"cores 6 not pending on the running VM: {vm['config'].get('cores')}, pending {vm['pending']}")
            # The explicit reboot (make reboot runs this output): qm reboot = the API's reboot.
            cmd = lab.outputs(env)["reboot_commands"]["value"]["k3s-1"]
            check(cmd.endswith(f" qm reboot {vmid}"), f"reboot command {cmd!r}")
            code, reason, _ = api_get(lab, f"/api2/json/nodes/{vm['node']}/qemu/{vmid}/status/reboot", h.TOKEN, "POST")
            check(code == 200, f"reboot: {code} {reason}")
            _, vm = lab.vm_by_name("k3s-1")
            check(vm["config"]["cores"] == "6" and not vm["pending"],
                  f"after the reboot: cores {vm['config']['cores']}, pending {vm['pending']}")
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0, f"plan after the reboot: {acts}")
        test("k3s-single: cores 4 -> 6 is an in-place update, pending until the explicit reboot "
             "(no restart by the provider)", t_cores)

        def t_disk():
            with_spec(lab, base.replace("cores: 4", "cores: 6", 1).replace("disk: 64GiB", "disk: 80GiB"))
            rc, acts, plan = plan_actions(lab, env)
            check(acts == {f'module.vm["k3s-1"].{VM}': ["update"]}, f"disk grow planned {acts}")
            n = len(lab.requests())
            lab.apply_plan(env, plan)
            vmid, vm = lab.vm_by_name("k3s-1")
            check(opts(vm["config"]["scsi0"])["size"] == "80G", f"scsi0 {vm['config']['scsi0']}")
            check(vmid == 9101, "the VM was replaced")
            check([r for r in lab.requests()[n:] if r["path"].endswith("/resize")], "no resize request")
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0, f"plan after the disk grow: {acts}")
        test("k3s-single: disk 64 -> 80 GiB grows in place (resize), then no diff", t_disk)

        grown0 = base.replace("cores: 4", "cores: 6", 1).replace("disk: 64GiB", "disk: 80GiB")
        key2 = ("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCyuEv17cdADGHN0fnPPmxO"
                "Z3keEg+KgDy4LmwY7bPGglfQgv5MFD5pj5r1z/vagzjdmL43nyO0H3/5RzK25wEE= ci@lab")
        grown = grown0.replace("ops@lab\n", f"ops@lab\n      - {key2}\n", 1)
        check(grown != grown0, "spec edit failed")

        def t_key():
            with_spec(lab, grown)
            rc, acts, plan = plan_actions(lab, env)
            check(acts == {f'module.vm["k3s-1"].{VM}': ["update"]}, f"SSH key added planned {acts}")
            n = len(lab.requests())
            lab.apply_plan(env, plan)
            vmid, vm = lab.vm_by_name("k3s-1")
            keys = urllib.parse.unquote(vm["config"]["sshkeys"]).strip().split("\n")
            check(vmid == 9101 and keys[-1] == key2, f"sshkeys {keys}")
            power = power_requests(lab.requests()[n:])
            check(not power, f"adding an SSH key restarted the running VM ({', '.join(power)})")
        test("k3s-single: an SSH key added is an in-place update without a restart", t_key)
        with_ud = grown.replace("        vm_id: 9101\n", "        vm_id: 9101\n        user_data: |\n"
                                "          #cloud-config\n          hostname: k3s-1\n")

        def t_vmid_conflict():
            with_spec(lab, with_ud)
            rc, acts, plan = plan_actions(lab, env)
            check(acts.get(f'module.vm["k3s-1"].{VM}') == ["create", "delete"],
                  f"user_data null -> set on a fixed vm_id planned {acts}, not a create_before_destroy replace")
            p = lab.apply_plan(env, plan, check=False)
            check(p.returncode != 0, "the replacement of a VM with a fixed vm_id succeeded")
            msg = "unable to create VM 9101: config file already exists"
            check(msg in " ".join(p.stderr.split()), f"error: {p.stderr[-600:]}")
            c = clone_request(lab, 9101)
            check(c["status"] == 500 and c["reason"] == msg, f"clone answer {c}")
            vmid, vm = lab.vm_by_name("k3s-1")
            check(vm["status"] == "running" and vm["config"].get("ciuser") == "admin", "the old VM was touched")
        test("k3s-single: user_data set with a fixed vm_id: create_before_destroy hits "
             "\"unable to create VM 9101: config file already exists\" as Proxmox reports it, old VM left running", t_vmid_conflict)

        def upgrade(vm):
            """tools/tf-upgrade.sh (make upgrade) for vm, approved; the new requests."""
            n = len(lab.requests())
            p = h.run(["sh", os.path.join(h.ROOT, "tools", "tf-upgrade.sh"), lab.env_dir(env), vm,
                       "-auto-approve", "-no-color"], env=lab.tofu_env(env), check=False)
            check(p.returncode == 0, f"tf-upgrade failed: {p.stdout[-600:]} {p.stderr[-800:]}")
            return p, lab.requests()[n:]

        def t_back():
            # The way for a fixed vm_id: destroy first (tools/tf-upgrade.sh), user_data set ...
            p, new = upgrade("k3s-1")
            check("fixed vm_id 9101: destroying it first" in p.stderr, f"no destroy-first notice: {p.stderr[-400:]}")
            vmid, vm = lab.vm_by_name("k3s-1")
            check(vmid == 9101 and "cicustom" in vm["config"] and "ciuser" not in vm["config"],
                  f"user_data set by the destroy-first replacement: {vmid} {vm['config']}")
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0, f"plan after the user_data replacement: {acts}")
            # ... and set -> null: planned as a replacement, done destroy-first.
            with_spec(lab, grown)
            rc, acts, _ = plan_actions(lab, env)
            check(acts.get(f'module.vm["k3s-1"].{VM}') == ["create", "delete"], f"user_data set -> null planned {acts}")
            upgrade("k3s-1")
            vmid, vm = lab.vm_by_name("k3s-1")
            probs = config_problems(vm["config"], spec_vm(lab, env, "k3s-1", vmid))
            check(vmid == 9101 and not probs and "cicustom" not in vm["config"], f"back to the account: {probs}")
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0, f"plan after reverting user_data: {acts}")
            check(not any(lab.state()["snippets"].values()), f"snippets left: {lab.state()['snippets']}")
        test("k3s-single: a fixed vm_id is replaced destroy-first (tools/tf-upgrade.sh): user_data null -> set -> "
             "null on VM 9101, each a replacement, then no diff and no snippet left", t_back)

        bumped_grown = (bumped.replace("cores: 4", "cores: 6", 1).replace("disk: 64GiB", "disk: 80GiB")
                        .replace("ops@lab\n", f"ops@lab\n      - {key2}\n", 1))
        new_tname = h.env_locals(lab.env_dir(env))["k3s-1"]["template_name"]

        def t_bump():
            nonlocal new_tname
            with_spec(lab, bumped_grown)
            new_tname = h.env_locals(lab.env_dir(env))["k3s-1"]["template_name"]
            check(new_tname != tname and new_tname in lab.templates, f"bumped template {new_tname}")
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0 and not acts, f"an image bump plans {acts} (exit {rc}) with no upgrade requested")
        if not test("k3s-single: an image bump (release 2 -> 3) plans no change until the upgrade is requested",
                    t_bump):
            with_spec(lab, grown)

        def t_upgrade():
            p, new = upgrade("k3s-1")
            check("fixed vm_id 9101: destroying it first" in p.stderr, f"no destroy-first notice: {p.stderr[-400:]}")
            vmid, vm = lab.vm_by_name("k3s-1")
            check(vmid == 9101, f"the upgraded VM has id {vmid}, the spec pins 9101")
            c = clone_request(lab, 9101)
            dels = [r["seq"] for r in new if r["method"] == "DELETE" and r["path"].rstrip("/").endswith("/qemu/9101")]
            check(dels and dels[0] < c["seq"] and c["status"] == 200,
                  f"destroy-first order: delete {dels}, clone {c['seq']} ({c['status']} {c['reason']})")
            assert_vm_matches(lab, env, "k3s-1", new_tname)
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0, f"plan after the upgrade: {acts}")
        test("k3s-single: the explicit upgrade of the fixed-vm_id VM (tools/tf-upgrade.sh, make upgrade) destroys "
             "first, clones the new template under the same id, then no diff", t_upgrade)

        def t_destroy():
            lab.tofu(env, "destroy", "-auto-approve", "-no-color", "-input=false")
            left = {k: v["config"]["name"] for k, v in lab.state()["vms"].items() if v["config"].get("template") != "1"}
            check(not left, f"VMs left after destroy: {left}")
            check(set(int(k) for k in lab.state()["vms"]) == set(lab.templates.values()), "templates changed")
        test("k3s-single: tofu destroy leaves nothing but the templates", t_destroy)

        def t_negative():
            with_spec(lab, base)
            mod = os.path.join(lab.gen, "tofu", "modules", "proxmox-vm", "main.tf")
            text = open(mod, encoding="utf-8").read()
            broken = re.sub(r"(\n\s+ssd\s+= )true", r"\1false", text)
            check(broken != text, "could not break the module (no 'ssd = true')")
            open(mod, "w", encoding="utf-8").write(broken)
            rc, acts, plan = plan_actions(lab, env)
            lab.apply_plan(env, plan)
            vmid, vm = lab.vm_by_name("k3s-1")
            probs = config_problems(vm["config"], spec_vm(lab, env, "k3s-1", vmid))
            check(any(p.startswith("scsi0.ssd") for p in probs),
                  f"the config assertion passed a module with ssd = false: {vm['config'].get('scsi0')}")
        test("negative control: a module broken to ssd = false fails the config assertion", t_negative)

        def t_negative_lifecycle():
            # The VM of t_negative exists. A module that may reboot: adding a key restarts it,
            # which the SSH-key assertion reports.
            with_spec(lab, base.replace("ops@lab\n", f"ops@lab\n      - {key2}\n", 1))
            break_module(lab, REBOOTS, NO_PIN)
            rc, acts, plan = plan_actions(lab, env)
            n = len(lab.requests())
            lab.apply_plan(env, plan)
            check(power_requests(lab.requests()[n:]),
                  "negative control: a module with reboot_after_update = true did not restart the VM on a key change")
            # A module without the pinned clone: an image bump plans a replacement, which the
            # bump assertion reports.
            with_spec(lab, bumped.replace("ops@lab\n", f"ops@lab\n      - {key2}\n", 1))
            break_module(lab, NO_PIN)
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 2 and acts.get(f'module.vm["k3s-1"].{VM}') == ["create", "delete"],
                  f"negative control: a module without ignore_changes = [clone] planned {acts} for an image bump")
            with_spec(lab, base)
            lab.tofu(env, "destroy", "-auto-approve", "-no-color", "-input=false")
        test("negative control: a module that reboots / does not pin its clone fails the SSH-key / image-bump "
             "assertions", t_negative_lifecycle)
    finally:
        lab.close()


# ---------------------------------------------------------------------------- multi-VM
def small_disk_test():
    """A VM disk smaller than its image's build disk (a clone cannot shrink its template's
    disk: the real provider's apply fails with `requested size (16G) is lower than current
    size (24G)`) must be refused by homelabgen before anything reaches Proxmox."""
    spec = open(SPEC_MULTI, encoding="utf-8").read()
    edge = spec.index("- name: edge-1")
    disk = spec.index("disk: 24GiB", edge)
    check(disk > edge, "the multi-VM spec changed: edge-1 no longer has a 24GiB disk")
    small = spec[:disk] + "disk: 16GiB" + spec[disk + len("disk: 24GiB"):]
    try:
        lab = h.Lab(small)
    except h.Failure as e:
        check("exited 2" in str(e) and "render" in str(e), f"render failed otherwise: {e}")
        check("smaller than" in str(e), f"the refusal does not name the cause: {e}")
        return
    lab.close()
    raise AssertionError("homelabgen rendered a VM disk (edge-1: 16 GiB) smaller than its image's (24 GiB)")


def multi_env_tests():
    test("multi-vm: a VM disk smaller than its image's disk is refused before apply",
         small_disk_test)
    base = open(SPEC_MULTI, encoding="utf-8").read()
    # The second image's template lives on another node: the module clones it across.
    lab = h.Lab(base, nodes_extra=["pve3"],
                template_nodes={"alma9.8-k3-node-amd64-v1.37.1-k3s1-v1": "pve3"})
    try:
        envs = lab.envs
        for env in envs:
            lab.init(env)

        def t_apply():
            for env in envs:
                rc, acts, plan = plan_actions(lab, env)
                check(all(a == ["create"] for a in acts.values()) and acts, f"{env}: first plan {acts}")
                lab.apply_plan(env, plan)
            for env in envs:
                for name, loc in h.env_locals(lab.env_dir(env)).items():
                    assert_vm_matches(lab, env, name, loc["template_name"])
            vmid, vm = lab.vm_by_name("lab-worker-2")
            c = clone_request(lab, vmid)
            # Local (non-shared) storage: the provider clones on the template's node, then migrates.
            mig = [r for r in lab.requests() if r["path"] == f"/api2/json/nodes/pve3/qemu/{vmid}/migrate"]
            check(c["path"].startswith("/api2/json/nodes/pve3/") and "target" not in c["params"]
                  and mig and mig[0]["params"].get("target") == lab.node and mig[0]["seq"] > c["seq"]
                  and mig[0]["status"] == 200,
                  f"cross-node clone: {c['path']} {c['params']}, migrate {mig}")
            check(vm["node"] == lab.node, f"lab-worker-2 is on {vm['node']}")
            snip = opts(vm["config"]["cicustom"])["user"].split("/", 1)[1]
            path = os.path.join(lab.state_dir, "storage", lab.snip_storage, "snippets", snip)
            want = open(os.path.join(lab.env_dir("lab"), "user-data", "lab-worker-2.yaml"), encoding="utf-8").read()
            check(os.path.isfile(path) and open(path, encoding="utf-8").read() == want,
                  f"the snippet {snip} did not land in the simulator's storage with the user-data")
            check(lab.vm_by_name("lab-server")[0] == 9201, "lab-server vm_id")
        if not test("multi-vm: apply of every environment; each VM's config matches the spec; snippet uploaded "
                    "over SSH lands in the snippets storage; template on another node cloned across", t_apply):
            return

        def t_noop():
            for env in envs:
                rc, acts, _ = plan_actions(lab, env)
                check(rc == 0 and not acts, f"{env}: second plan exit {rc}, changes {acts}")
        test("multi-vm: a second plan exits 0 in every environment", t_noop)

        ud = ("        ip: 10.20.1.11\n        user_data: |\n          #cloud-config\n"
              "          hostname: lab-worker-1\n")
        with_ud = base.replace("        ip: 10.20.1.11\n", ud)
        check(with_ud != base, "spec edit failed")
        w1 = f'module.vm["lab-worker-1"].{VM}'

        def t_ud_set():
            old_id, _ = lab.vm_by_name("lab-worker-1")
            with_spec(lab, with_ud)
            rc, acts, plan = plan_actions(lab, "lab")
            check(acts.get(w1) == ["create", "delete"], f"user_data null -> set planned {acts}")
            n = len(lab.requests())
            lab.apply_plan("lab", plan)
            new = lab.requests()[n:]
            new_id, vm = lab.vm_by_name("lab-worker-1")
            check(new_id != old_id, "not replaced")
            clone_seq = clone_request(lab, new_id)["seq"]
            dels = [r["seq"] for r in new if r["method"] == "DELETE" and r["path"].rstrip("/").endswith(f"/qemu/{old_id}")]
            check(dels and clone_seq < dels[0], f"create_before_destroy order: clone seq {clone_seq}, delete {dels}; "
                  f"old {old_id}, requests: {[(r['seq'], r['method'], r['path']) for r in new if r['method'] != 'GET']}")
            check("cicustom" in vm["config"] and "ciuser" not in vm["config"], f"config {vm['config']}")
        test("multi-vm: user_data null -> set replaces the VM, new one cloned before the old one is deleted "
             "(request log)", t_ud_set)

        def t_ud_unset():
            _, before = lab.vm_by_name("lab-worker-1")
            snip = opts(before["config"].get("cicustom", "user=x:snippets/none"))["user"].split("/", 1)[1]
            with_spec(lab, base)
            rc, acts, plan = plan_actions(lab, "lab")
            lab.apply_plan("lab", plan)
            _, vm = lab.vm_by_name("lab-worker-1")
            dangling = "cicustom" in vm["config"] and snip not in lab.state()["snippets"].get(lab.snip_storage, [])
            check(acts.get(w1) == ["create", "delete"] and not dangling and "cicustom" not in vm["config"],
                  f"user_data set -> null planned {acts.get(w1)} for the VM; its cicustom points at "
                  f"{vm['config'].get('cicustom')!r}, snippet deleted: {dangling}")
            vmid, vm = lab.vm_by_name("lab-worker-1")
            probs = config_problems(vm["config"], spec_vm(lab, "lab", "lab-worker-1", vmid))
            check(not probs, "after the switch back: " + "; ".join(probs))
        test("multi-vm: user_data set -> null replaces the VM (cicustom gone, generated account back)", t_ud_unset)

        def t_ud_unset_negative():
            # user_data set again (a replacement), then a module without the mode trigger:
            # set -> null plans an update, which the assertion above reports.
            with_spec(lab, with_ud)
            rc, acts, plan = plan_actions(lab, "lab")
            lab.apply_plan("lab", plan)
            with_spec(lab, base)
            break_module(lab, NO_MODE_TRIGGER)
            rc, acts, _ = plan_actions(lab, "lab")
            check(acts.get(w1) == ["update"],
                  f"negative control: without replace_triggered_by, user_data set -> null planned {acts.get(w1)}")
            with_spec(lab, base)
            rc, acts, plan = plan_actions(lab, "lab")
            check(acts.get(w1) == ["create", "delete"], f"restored module: set -> null planned {acts.get(w1)}")
            lab.apply_plan("lab", plan)
        test("negative control: a module without the cloud-init mode trigger plans set -> null as an update",
             t_ud_unset_negative)

        def t_ud_change():
            old_id, old = lab.vm_by_name("lab-worker-2")
            old_snip = opts(old["config"]["cicustom"])["user"]
            changed = base.replace("hostname: lab-worker-2", "hostname: lab-worker-2\n          timezone: UTC")
            check(changed != base, "spec edit failed")
            with_spec(lab, changed)
            rc, acts, plan = plan_actions(lab, "lab")
            check(acts.get(f'module.vm["lab-worker-2"].{VM}') == ["create", "delete"], f"user_data change planned {acts}")
            n = len(lab.requests())
            lab.apply_plan("lab", plan)
            new = lab.requests()[n:]
            new_id, vm = lab.vm_by_name("lab-worker-2")
            new_snip = opts(vm["config"]["cicustom"])["user"]
            check(new_snip != old_snip, f"the snippet name did not change: {new_snip}")
            clone_seq = clone_request(lab, new_id)["seq"]
            snip_del = [r["seq"] for r in new if r["method"] == "DELETE" and r["path"].endswith(
                "/content/" + urllib.parse.quote(old_snip, safe=":"))]
            check(snip_del and clone_seq < snip_del[0],
                  f"old snippet {old_snip} deleted at {snip_del}, new VM cloned at {clone_seq}")
            files = lab.state()["snippets"].get(lab.snip_storage, [])
            check(files == [new_snip.split("/", 1)[1]], f"snippets now: {files}")
            with_spec(lab, base)
            rc, acts, plan = plan_actions(lab, "lab")
            lab.apply_plan("lab", plan)
        test("multi-vm: a changed user_data uploads a new snippet, replaces the VM and deletes the old snippet "
             "only after the new VM exists (request log)", t_ud_change)

        def t_rename():
            renamed = base.replace("name: lab-worker-1", "name: lab-worker-9")
            with_spec(lab, renamed)
            rc, acts, plan = plan_actions(lab, "lab")
            check(acts.get(f'module.vm["lab-worker-9"].{VM}') == ["create"]
                  and acts.get(w1) == ["delete"], f"rename planned {acts}")
            lab.apply_plan("lab", plan)
            lab.vm_by_name("lab-worker-9")
            names = [v["config"]["name"] for v in lab.state()["vms"].values()]
            check("lab-worker-1" not in names, f"old VM left: {names}")
            rc, acts, _ = plan_actions(lab, "lab")
            check(rc == 0, f"plan after rename: {acts}")
        test("multi-vm: renaming a VM creates the new name and deletes the old one, then no diff", t_rename)

        def t_destroy():
            for env in envs:
                lab.tofu(env, "destroy", "-auto-approve", "-no-color", "-input=false")
            left = {k: v["config"]["name"] for k, v in lab.state()["vms"].items() if v["config"].get("template") != "1"}
            check(not left, f"VMs left after destroy: {left}")
            check(not any(lab.state()["snippets"].values()), f"snippets left: {lab.state()['snippets']}")
        test("multi-vm: tofu destroy of every environment leaves no VM and no snippet", t_destroy)
    finally:
        lab.close()


# ---------------------------------------------------------------------------- ha
def cluster_token(lab, env):
    """The cluster token from the OpenTofu state (tofu show -json)."""
    state = json.loads(lab.tofu(env, "show", "-json").stdout)
    for r in state.get("values", {}).get("root_module", {}).get("resources", []):
        if r["address"] == "terraform_data.cluster_token":
            return r["values"]["output"]
    raise AssertionError("no terraform_data.cluster_token in the state")


def vendor_snippet(lab, vm):
    """The vendor-data snippet a VM's cicustom points at: (volid, text)."""
    volid = opts(vm["config"].get("cicustom", "")).get("vendor")
    check(volid and volid.startswith(f"{lab.snip_storage}:snippets/"), f"cicustom {vm['config'].get('cicustom')!r}")
    path = os.path.join(lab.state_dir, "storage", lab.snip_storage, "snippets", volid.split("/", 1)[1])
    check(os.path.isfile(path), f"{volid} is not in the snippets storage")
    return volid, open(path, encoding="utf-8").read()


def written_files(text):
    """write_files of a vendor-data document, path -> content (the rendered layout:
    `- path:` then `content: |` with the content indented by six spaces)."""
    out, path, content = {}, None, None
    for line in text.splitlines():
        m = re.match(r"  - path: (\S+)$", line)
        if m:
            path, content = m.group(1), None
            continue
        if line == "    content: |":
            content = out[path] = ""
            continue
        if content is not None and line.startswith("      "):
            out[path] += line[6:] + "\n"
        elif not line.startswith("    "):
            content = None
    return out


K3S_CONFIG = "/etc/rancher/k3s/config.yaml.d/50-homelabgen-cluster.yaml"
K3S_ROLE = "/etc/homelabgen/k3s-role"


def ha_tests():
    base = open(SPEC_HA, encoding="utf-8").read()
    # Three nodes; the template lives on pve1 only, on local (non-shared) storage: VMs
    # placed on pve2 and pve3 are cloned on pve1 and migrated by the provider.
    lab = h.Lab(base, nodes_extra=["pve2", "pve3"])
    env = "ha"
    try:
        lab.init(env)
        locs = h.env_locals(lab.env_dir(env))

        def t_apply():
            rc, acts, plan = plan_actions(lab, env)
            check(len(acts) == 5 and all(a == ["create"] for a in acts.values()), f"first plan {acts}")
            lab.apply_plan(env, plan)
            tid = lab.templates[locs["cp-1"]["template_name"]]
            for name, loc in locs.items():
                assert_vm_matches(lab, env, name, loc["template_name"])
                vmid, vm = lab.vm_by_name(name)
                check(vm["node"] == loc["node"], f"{name} is on {vm['node']}, the spec places it on {loc['node']}")
                c = clone_request(lab, vmid)
                check(c["path"] == f"/api2/json/nodes/pve1/qemu/{tid}/clone" and "target" not in c["params"],
                      f"{name}: cloned by {c['path']} {c['params']}")
                mig = [r for r in lab.requests() if r["path"] == f"/api2/json/nodes/pve1/qemu/{vmid}/migrate"]
                if loc["node"] == "pve1":
                    check(not mig, f"{name} stays on the template's node, yet migrated: {mig}")
                else:
                    check(mig and mig[0]["params"].get("target") == loc["node"] and mig[0]["status"] == 200
                          and mig[0]["params"].get("with-local-disks") == "1",
                          f"{name}: cross-node clone without a migration to {loc['node']}: {mig}")
            servers = sorted(lab.vm_by_name(n)[1]["node"] for n, l in locs.items() if l["role"] == "server")
            check(servers == ["pve1", "pve2", "pve3"], f"servers on {servers}")
        if not test("ha: apply of 3 servers + 2 agents over pve1..pve3: each VM on its node, the ones away from "
                    "the template's node cloned there and migrated (local storage)", t_apply):
            return

        def t_vendor():
            token = cluster_token(lab, env)
            check(re.fullmatch(r"[0-9a-f]{64}", token or ""), f"token from the state: {token!r}")
            for name, loc in locs.items():
                _, vm = lab.vm_by_name(name)
                check("ciuser" in vm["config"] and "sshkeys" in vm["config"],
                      f"{name}: the generated account must stay next to vendor data: {vm['config']}")
                volid, text = vendor_snippet(lab, vm)
                check(volid.split("/", 1)[1].startswith(f"{name}-vendor-data-"), f"{name}: snippet {volid}")
                check(text.startswith("#cloud-config\n") and "${" not in text, f"{name}: not a filled-in document")
                files = written_files(text)
                k3s = files.get(K3S_CONFIG, "")
                check(f'token: "{token}"\n' in k3s, f"{name}: not the state's token: {k3s!r}")
                check(files.get(K3S_ROLE) == loc["role"] + "\n", f"{name}: role file {files.get(K3S_ROLE)!r}")
                if name == "cp-1":
                    check("cluster-init: true\n" in k3s and "server:" not in k3s, f"cp-1: {k3s!r}")
                else:
                    check("server: https://10.30.0.50:6443\n" in k3s and "cluster-init" not in k3s,
                          f"{name}: {k3s!r}")
                check(("/etc/homelabgen/k3s-vip.env" in files) == (loc["role"] == "server"),
                      f"{name}: VIP file on a {loc['role']}: {sorted(files)}")
                if shutil.which("cloud-init"):
                    p = subprocess.run(["cloud-init", "schema", "--config-file", os.path.join(
                        lab.state_dir, "storage", lab.snip_storage, "snippets", volid.split("/", 1)[1])],
                        capture_output=True, text=True)
                    check(p.returncode == 0, f"{name}: cloud-init schema: {p.stdout} {p.stderr}")
            leaks = [os.path.join(d, f) for d, _, fs in os.walk(lab.gen) for f in fs
                     if token in open(os.path.join(d, f), encoding="utf-8", errors="replace").read()]
            check(not leaks, f"the token is in the rendered tree: {leaks}")
        test("ha: vendor data as applied: one token from the state in every VM, cluster-init on cp-1 only, "
             "the others join https://VIP:6443, agents run as agent, cloud-init schema passes, "
             "the generated account stays, the token is nowhere in the tree", t_vendor)

        def t_noop():
            rc, plan, _ = lab.plan_json(env)
            changes = {rc_["address"]: rc_["change"]["actions"] for rc_ in plan.get("resource_changes", [])
                       if rc_["change"]["actions"] not in (["no-op"], ["read"])}
            check(rc == 0 and not changes, f"second plan exit {rc}, changes {changes}")
            out = lab.outputs(env)
            check(out["api_address"]["value"] == "10.30.0.50", f"api_address {out['api_address']}")
            check("https://10.30.0.50:6443" in out["kubeconfig_command"]["value"]
                  and "ssh ops@10.30.0.11 " in out["kubeconfig_command"]["value"],
                  out["kubeconfig_command"]["value"])
        test("ha: a second plan is empty (the token is drawn once); outputs name the API address", t_noop)

        def t_token_negative():
            main = os.path.join(lab.env_dir(env), "main.tf")
            text = open(main, encoding="utf-8").read()
            broken = re.sub(r"\n  lifecycle \{\n    ignore_changes = \[input\]\n  \}\n", "\n", text)
            check(broken != text, "could not remove ignore_changes from the token")
            open(main, "w", encoding="utf-8").write(broken)
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 2 and len(acts) == 5, f"without ignore_changes a plan keeps the VMs: {acts}")
            lab.rerender(lab.spec_text)
            rc, acts, _ = plan_actions(lab, env)
            check(rc == 0 and not acts, f"restored tree: plan {acts}")
        test("negative control: a token without ignore_changes is drawn anew by every plan and replaces every VM",
             t_token_negative)

        def t_destroy():
            lab.tofu(env, "destroy", "-auto-approve", "-no-color", "-input=false")
            left = {k: v["config"]["name"] for k, v in lab.state()["vms"].items() if v["config"].get("template") != "1"}
            check(not left, f"VMs left after destroy: {left}")
            check(not any(lab.state()["snippets"].values()), f"snippets left: {lab.state()['snippets']}")
        test("ha: tofu destroy leaves no VM and no snippet (the token's vendor data is gone)", t_destroy)
    finally:
        lab.close()


def unit_tests():
    """The simulator's own formats and refusals, without tofu (fast, and each a check that
    a wrong provider request is refused as Proxmox refuses it)."""
    import tempfile
    sys.path.insert(0, h.HERE)
    import pvesim as ps

    d = tempfile.mkdtemp(prefix="pvesim-unit-")
    seed = {"nodes": ["pve", "pve-b"], "storages": [
        {"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir"},
        {"storage": "local", "type": "dir", "content": "snippets,iso"}],
        "vms": [{"vmid": 9000, "node": "pve", "config": {
            "name": "tmpl", "template": "1", "scsi0": "local-lvm:base-9000-disk-1,size=20G,ssd=1",
            "efidisk0": "local-lvm:base-9000-disk-0,efitype=4m,size=4M",
            "ide2": "local-lvm:vm-9000-cloudinit,media=cdrom", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
            "agent": "enabled=1", "unused0": "local-lvm:vm-9000-disk-9"}}]}
    sim = ps.Sim(d, seed, h.TOKEN)

    def refused(fn, code, text):
        try:
            fn()
        except ps.ApiError as e:
            check(e.code == code and text in (e.message + json.dumps(e.errors or {})),
                  f"refused with {e.code} {e.message} {e.errors}, expected {code} {text!r}")
            return
        raise AssertionError(f"not refused (expected {code} {text!r})")

    def t():
        upid = sim.handle("POST", "nodes/pve/qemu/9000/clone", {"newid": "101", "full": "1", "name": "a"})
        check(re.fullmatch(r"UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:root@pam:", upid), upid)
        check(sim.handle("GET", f"nodes/pve/tasks/{upid}/status", {})["exitstatus"] == "OK", "task status")
        cfg = sim.vms[101]["config"]
        check(cfg["efidisk0"].startswith("local-lvm:vm-101-disk-0,") and
              cfg["scsi0"] == "local-lvm:vm-101-disk-1,size=20G,ssd=1", f"clone drives {cfg}")
        check(cfg["ide2"] == "local-lvm:vm-101-cloudinit,media=cdrom" and "unused0" not in cfg, f"clone {cfg}")
        check(cfg["net0"] != "virtio=BC:24:11:00:00:01,bridge=vmbr0" and cfg["net0"].endswith(",bridge=vmbr0"),
              f"clone kept the MAC: {cfg['net0']}")
        refused(lambda: sim.handle("POST", "nodes/pve/qemu/9000/clone", {"newid": "101"}),
                500, "unable to create VM 101: config file already exists")
        refused(lambda: sim.handle("POST", "nodes/pve/qemu/9000/clone", {"newid": "102", "target": "pve-b",
                                                                        "full": "1"}),
                500, "can't clone VM to node 'pve-b' (VM uses local storage)")
        sim.handle("PUT", "nodes/pve/qemu/101/config", {"net0": "model=virtio,bridge=vmbr1,firewall=0"})
        check(re.fullmatch(r"virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr1,firewall=0", cfg["net0"]), cfg["net0"])
        refused(lambda: sim.handle("PUT", "nodes/pve/qemu/101/config", {"bogus": "1"}), 400, "bogus")
        refused(lambda: sim.handle("PUT", "nodes/pve/qemu/101/config", {"cores": "x"}), 400, "cores")
        refused(lambda: sim.handle("PUT", "nodes/pve/qemu/101/config", {"cores": "2", "digest": "0" * 40}),
                500, "VM config file has been modified by another user")
        sim.handle("PUT", "nodes/pve/qemu/101/resize", {"disk": "scsi0", "size": "+4G"})
        check("size=24G" in cfg["scsi0"], cfg["scsi0"])
        refused(lambda: sim.handle("PUT", "nodes/pve/qemu/101/resize", {"disk": "scsi0", "size": "10G"}),
                500, "shrinking disks is not supported")
        refused(lambda: sim.handle("POST", "nodes/pve/qemu/101/move_disk", {"disk": "scsi0", "storage": "local-lvm"}),
                500, "you can't move to the same storage with same format")
        refused(lambda: sim.handle("GET", "nodes/pve/qemu/101/agent/network-get-interfaces", {}),
                500, "VM 101 is not running")
        sim.handle("PUT", "nodes/pve/qemu/101/config", {"ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1"})
        sim.handle("POST", "nodes/pve/qemu/101/status/start", {})
        ifs = sim.handle("GET", "nodes/pve/qemu/101/agent/network-get-interfaces", {})["result"]
        check([a["ip-address"] for i in ifs if i["name"] == "eth0" for a in i["ip-addresses"]] == ["10.0.0.5"],
              f"agent interfaces {ifs}")
        refused(lambda: sim.handle("DELETE", "nodes/pve/qemu/101", {}), 500, "VM 101 is running - destroy failed")
        # A running VM: cores wait in [PENDING], cloud-init options and the name apply at once.
        sim.handle("PUT", "nodes/pve/qemu/101/config", {"cores": "8", "ciuser": "ops", "name": "b"})
        check(sim.vms[101]["pending"] == {"cores": "8"} and cfg["ciuser"] == "ops" and cfg["name"] == "b",
              f"pending {sim.vms[101]['pending']}")
        check(sim.handle("GET", "nodes/pve/qemu/101/config", {})["cores"] == 8, "config shows pending values")
        check("cores" not in sim.handle("GET", "nodes/pve/qemu/101/config", {"current": "1"}), "current=1")
        check({"key": "cores", "pending": "8"} in sim.handle("GET", "nodes/pve/qemu/101/pending", {}), "pending")
        sim.handle("POST", "nodes/pve/qemu/101/status/reboot", {})
        check(cfg["cores"] == "8" and not sim.vms[101]["pending"], "a reboot applies pending changes")
        refused(lambda: sim.handle("POST", "nodes/pve/qemu/101/migrate", {"target": "pve-b", "online": "1"}),
                500, "can't migrate local disk")
        refused(lambda: sim.handle("POST", "nodes/pve/qemu/9000/status/start", {}),
                500, "you can't start a vm if it's a template")
        refused(lambda: sim.handle("GET", "nodes/pve/qemu/555/config", {}),
                500, "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist")
        refused(lambda: sim.handle("GET", "cluster/nextid", {"vmid": "101"}), 400, "VM 101 already exists")
        check(sim.handle("GET", "cluster/nextid", {}) == "100", "nextid")
    try:
        test("pvesim unit: clone, config formats, resize, move_disk, agent, delete, migrate refusals", t)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


def main():
    for tool in ("tofu", "openssl", "ssh-keygen", "ssh-agent"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":")):
            print(f"sim-test: {tool} is not on PATH (make tools; source the tools env.sh)", file=sys.stderr)
            sys.exit(2)
    only = sys.argv[1:]
    for name, fn in (("unit", unit_tests), ("single", single_env_tests), ("multi", multi_env_tests),
                     ("ha", ha_tests)):
        if not only or name in only:
            try:
                fn()
            except Exception:  # noqa: BLE001 - a broken fixture is a failure, reported
                RESULTS["failed"] += 1
                print(f"FAIL  {name}: fixture error:\n{traceback.format_exc()}", flush=True)
    x = f" ({RESULTS['xfail']} expected failures)" if RESULTS["xfail"] else ""
    print(f"sim-test: {RESULTS['passed']} passed, {RESULTS['failed']} failed{x}")
    sys.exit(1 if RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()
