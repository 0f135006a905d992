"""Boot-test probe, run in the guest by boot-probe.service.

Waits (bounded) for cloud-init to finish and for k3s to be active, collects the facts
the host-side checks assert, writes them as one base64 JSON line between markers on the
serial console, then powers the guest off. It judges nothing itself.
"""

import base64
import glob
import json
import os
import subprocess
import time


def run(*cmd, timeout=60):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"rc": -1, "out": "", "err": str(e)}


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def show(unit, *props):
    out = run("systemctl", "show", unit, "-p", ",".join(props))["out"]
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


facts = {}
facts["cloud_init_wait"] = run("cloud-init", "status", "--wait", "--long", timeout=900)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    if run("systemctl", "is-active", "--quiet", "k3s", "k3s-agent")["rc"] == 0:
        break
    time.sleep(2)
time.sleep(5)  # a restarting k3s would show a second start by now
if os.path.exists("/etc/keepalived/keepalived.conf"):
    time.sleep(10)  # two failed API checks (interval 5 s): keepalived has decided by now

facts["cloud_init_status"] = run("cloud-init", "status", "--long")
facts["cloud_init_status_json"] = run("cloud-init", "status", "--format", "json")
facts["cloud_init_result"] = read("/run/cloud-init/result.json")
facts["cloud_init_log"] = read("/var/log/cloud-init.log")
facts["apt_history"] = read("/var/log/apt/history.log")
facts["hostname"] = run("hostname")["out"].strip()
facts["hostname_fqdn"] = run("hostname", "--fqdn")["out"].strip()
facts["etc_hostname"] = read("/etc/hostname")
facts["passwd"] = read("/etc/passwd")
facts["home_keys"] = {
    p: read(p) for p in glob.glob("/home/*/.ssh/authorized_keys") + ["/root/.ssh/authorized_keys"]
}
facts["ip_addr"] = run("ip", "-j", "addr")["out"]
facts["ip_route"] = run("ip", "-j", "route")["out"]
facts["resolvectl"] = run("resolvectl", "status")["out"]
facts["resolv_conf"] = read("/etc/resolv.conf")
facts["machine_id"] = (read("/etc/machine-id") or "").strip()
facts["ssh_host_keys"] = {
    os.path.basename(p): read(p) for p in sorted(glob.glob("/etc/ssh/ssh_host_*_key.pub"))
}
facts["node_password"] = read("/etc/rancher/node/password")
facts["k3s_config"] = read("/etc/rancher/k3s/config.yaml")
facts["k3s_unit"] = show("k3s", "ActiveState", "NRestarts", "ExecMainStartTimestampMonotonic", "UnitFileState")
facts["k3s_agent_unit"] = show(
    "k3s-agent", "ActiveState", "NRestarts", "ExecMainStartTimestampMonotonic", "UnitFileState"
)
facts["role_unit"] = show(
    "homelab-k3s-role", "ActiveState", "Result", "ExecMainStartTimestampMonotonic", "UnitFileState"
)
facts["role_journal"] = run("journalctl", "-u", "homelab-k3s-role", "--no-pager", "-o", "cat")["out"]
facts["keepalived_unit"] = show("keepalived", "ActiveState", "UnitFileState", "ExecMainStartTimestampMonotonic")
facts["keepalived_conf"] = read("/etc/keepalived/keepalived.conf")
facts["keepalived_journal"] = run("journalctl", "-u", "keepalived", "--no-pager", "-o", "cat")["out"]
facts["etc_homelabgen"] = {
    os.path.basename(p): read(p) for p in sorted(glob.glob("/etc/homelabgen/*"))
}
# cloud-init's network stage: cloud-init.service, cloud-init-network.service from 24.3 on
network_stage = "cloud-init"
if show("cloud-init-network", "LoadState").get("LoadState") == "loaded":
    network_stage = "cloud-init-network"
facts["cloud_init_unit"] = show(
    network_stage, "Id", "ActiveState", "Result", "ExecMainExitTimestampMonotonic"
)
facts["cloud_final_unit"] = show(
    "cloud-final", "ActiveState", "Result", "ExecMainExitTimestampMonotonic"
)
facts["units"] = {
    os.path.basename(u): show(
        os.path.basename(u), "ActiveState", "Result", "ExecMainStartTimestampMonotonic", "ExecMainStatus"
    )
    for u in glob.glob("/etc/systemd/system/*.service")
}
starts = []
for d in sorted(glob.glob("/var/lib/k3s-stub/start-*")):
    start = {f: read(os.path.join(d, f)) for f in ("uptime", "args", "hostname", "config.yaml", "modes", "refused")}
    start["dropins"] = {
        os.path.basename(p): read(p) for p in sorted(glob.glob(os.path.join(d, "config.yaml.d", "*")))
    }
    starts.append(start)
facts["k3s_starts"] = starts
facts["k3s_journal"] = run("journalctl", "-u", "k3s", "-u", "k3s-agent", "--no-pager", "-o", "cat")["out"]
facts["uptime"] = read("/proc/uptime")

line = base64.b64encode(json.dumps(facts).encode()).decode()
with open("/dev/ttyS0", "w") as tty:
    tty.write("\nBOOT-PROBE-BEGIN " + line + " BOOT-PROBE-END\n")
    tty.flush()
os.sync()
subprocess.run(["systemctl", "--no-block", "poweroff"])
