#!/usr/bin/env python3
"""pvesim: a small, stateful Proxmox VE API test double (HTTPS, API-token auth).

Serves the part of /api2/json that the bpg/proxmox provider calls for homelabgen's
proxmox-vm module, with Proxmox's own response shapes and qemu-server's config
string formats. Anything else is answered 501 with the path named, so a gap shows
up as a failure. See README.md (what is modelled and what is not).

State lives in memory; after every request the server writes STATE_DIR/state.json
(nodes, VMs with their config, storages) and appends one JSON line per request to
STATE_DIR/requests.jsonl, which the tests read.

Usage: pvesim.py --state-dir DIR --cert CERT --key KEY --seed SEED.json
                 [--port 0] [--token USER@REALM!ID=SECRET]
The chosen port is written to DIR/port once the server listens.
"""

import argparse
import hashlib
import json
import os
import random
import re
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/api2/json/"

# qemu-server's VM config keys this simulator accepts (a subset of the schema of
# PUT/POST /nodes/{node}/qemu/{vmid}/config); anything else is refused the way PVE
# refuses an unknown parameter.
CONFIG_KEYS = {
    "acpi", "affinity", "agent", "allow-ksm", "amd-sev", "arch", "args", "audio0",
    "autostart", "balloon", "bios", "boot", "cicustom", "cipassword", "citype",
    "ciupgrade", "ciuser", "cores", "cpu", "cpulimit", "cpuunits", "description",
    "efidisk0", "freeze", "hookscript", "hotplug", "hugepages", "ivshmem", "keephugepages",
    "keyboard", "kvm", "localtime", "lock", "machine", "memory", "migrate_downtime",
    "migrate_speed", "name", "nameserver", "numa", "onboot", "ostype", "protection",
    "reboot", "rng0", "scsihw", "searchdomain", "shares", "smbios1", "smp", "sockets",
    "spice_enhancements", "sshkeys", "startdate", "startup", "tablet", "tags", "tdf",
    "template", "tpmstate0", "vcpus", "vga", "vmgenid", "vmstatestorage", "watchdog",
}
# qemu-server's numbered keys and how many of each (MAX_NETS, MAX_IDE_DISKS, ...).
for _prefix, _count in (("net", 32), ("ipconfig", 32), ("ide", 4), ("sata", 6), ("scsi", 31),
                        ("virtio", 16), ("unused", 256), ("hostpci", 16), ("serial", 4),
                        ("parallel", 3), ("usb", 14), ("numa", 8), ("virtiofs", 10)):
    CONFIG_KEYS |= {f"{_prefix}{_i}" for _i in range(_count)}
# Parameters of the config calls that are not config keys.
CONFIG_CONTROL = {"delete", "digest", "revert", "skiplock", "background_delay", "force"}
DISK_RE = re.compile(r"^(ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$")
NET_MODELS = {"e1000", "e1000e", "rtl8139", "virtio", "vmxnet3"}
# qemu-server's fast_plug_option and cloud-init options: applied to a running VM at once.
CLOUDINIT_KEYS = {"cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "nameserver",
                  "searchdomain", "sshkeys"} | {f"ipconfig{i}" for i in range(32)}
FAST_PLUG = {"description", "hookscript", "lock", "migrate_downtime", "migrate_speed", "name",
             "onboot", "protection", "shares", "startup", "tags", "vmstatestorage"} | CLOUDINIT_KEYS
# Every privilege of PVE 8 and 9 (pveum role list of Administrator, both versions merged):
# what a seed without "permissions" grants the token on /.
ALL_PRIVS = [
    "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
    "Group.Allocate", "Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify",
    "Pool.Allocate", "Pool.Audit", "Realm.Allocate", "Realm.AllocateUser", "SDN.Allocate", "SDN.Audit",
    "SDN.Use", "Sys.AccessNetwork", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify",
    "Sys.PowerMgmt", "Sys.Syslog", "User.Modify", "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone",
    "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType",
    "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit",
    "VM.Migrate", "VM.Monitor", "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback",
]
INT_KEYS = {"cores", "sockets", "vcpus", "template", "balloon", "shares", "cpuunits",
            "onboot", "numa", "acpi", "kvm", "tablet", "protection", "localtime"}


class ApiError(Exception):
    """An error the way PVE reports it: status code, reason line, optional per-parameter errors."""

    def __init__(self, code, message, errors=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors


def param_error(errors):
    return ApiError(400, "Parameter verification failed.", errors)


def parse_prop_string(text, default_key=None):
    """'virtio=BC:..,bridge=vmbr0' -> ordered list of (key, value); a bare first item
    belongs to default_key (PVE's default_key in a format)."""
    out = []
    for i, part in enumerate(p for p in text.split(",") if p != ""):
        if "=" in part:
            k, v = part.split("=", 1)
            out.append((k, v))
        elif i == 0 and default_key:
            out.append((default_key, part))
        else:
            raise ValueError(f"invalid format - missing key in '{part}'")
    return out


def size_to_bytes(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)", text)
    if not m:
        raise ValueError(f"unable to parse size '{text}'")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2)]
    return int(float(m.group(1)) * mult)


def bytes_to_size(n):
    # qemu-server's format_size: the largest unit that divides evenly.
    for unit, mult in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n % mult == 0 and n >= mult:
            return f"{n // mult}{unit}"
    return str(n)


def random_mac(rng):
    # Proxmox's default OUI for generated MACs (datacenter.cfg mac_prefix BC:24:11).
    return "BC:24:11:" + ":".join(f"{rng.randrange(256):02X}" for _ in range(3))


class Sim:
    def __init__(self, state_dir, seed, token):
        self.lock = threading.RLock()
        self.state_dir = state_dir
        self.token = token
        self.rng = random.Random(seed.get("random_seed", 1))
        self.nodes = list(seed["nodes"])
        # Optional seed keys (the doctor tests use them to model a site's faults):
        # "version": the PVE version string; "permissions": {acl path: [privileges]} of
        # the token (default: every privilege on /); "bridges": {node: [bridge names]}
        # (default: vmbr0 plus every bridge a seeded VM's netN names). A storage may
        # carry "nodes" (storage.cfg's node list), "active": 0 and "avail" (bytes), and
        # "node_status": {node: {"active": 0, "avail": bytes}} for what one node sees
        # (a local pool fuller there, a network mount down there; content stays per storage).
        self.version = seed.get("version", "8.4.1")
        self.permissions = seed.get("permissions", {"/": ALL_PRIVS})
        bridges = {"vmbr0"} | {m.group(1) for t in seed.get("vms", []) for k, v in t["config"].items()
                               if re.fullmatch(r"net\d+", k) for m in [re.search(r"bridge=([^,]+)", v)] if m}
        self.bridges = seed.get("bridges", {n: sorted(bridges) for n in self.nodes})
        # "addresses": {node: address or null}: the static address (with a gateway) on
        # the node's first bridge, where the provider's SSH address lookup finds it
        # (default 127.0.0.1, this machine; null: no interface has an address).
        self.addresses = {n: "127.0.0.1" for n in self.nodes} | seed.get("addresses", {})
        self.storages = {}
        for s in seed["storages"]:
            st = dict(s)
            if st["type"] == "dir":
                st.setdefault("path", os.path.join(state_dir, "storage", st["storage"]))
                # A directory storage creates a subdirectory per content type when it is
                # activated (pvesm's dir plugin, mkdir on by default).
                subdirs = {"snippets": "snippets", "iso": "template/iso", "vztmpl": "template/cache",
                           "images": "images", "backup": "dump"}
                for c in st["content"].split(","):
                    if c in subdirs:
                        os.makedirs(os.path.join(st["path"], subdirs[c]), exist_ok=True)
            self.storages[st["storage"]] = st
        self.vms = {}
        self.volumes = {}  # volid -> size in bytes
        self.tasks = {}
        self.pid = 1000
        self.seq = 0
        for t in seed.get("vms", []):
            self.vms[int(t["vmid"])] = {"node": t["node"], "status": "stopped", "pending": {},
                                      "pending_delete": [], "config": dict(t["config"]), "started": 0}
            for k, v in t["config"].items():
                if DISK_RE.match(k):
                    vol = v.split(",", 1)[0]
                    opts = dict(parse_prop_string(v, "file"))
                    if "size" in opts:
                        self.volumes[vol] = size_to_bytes(opts["size"])
        self.log_path = os.path.join(state_dir, "requests.jsonl")
        self.dump()

    # ---------------------------------------------------------------- bookkeeping
    def dump(self):
        state = {
            "nodes": self.nodes,
            "vms": {str(k): {"node": v["node"], "status": v["status"], "config": v["config"],
                             "pending": v["pending"], "pending_delete": v["pending_delete"]}
                    for k, v in sorted(self.vms.items())},
            "snippets": {sid: sorted(os.listdir(os.path.join(s["path"], "snippets")))
                         for sid, s in self.storages.items()
                         if s["type"] == "dir" and os.path.isdir(os.path.join(s["path"], "snippets"))},
        }
        tmp = os.path.join(self.state_dir, "state.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.state_dir, "state.json"))

    def log(self, entry):
        self.seq += 1
        entry["seq"] = self.seq
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def task(self, node, ttype, tid, exitstatus="OK"):
        """A finished task (the simulator does its work synchronously) and its UPID:
        UPID:node:pid:pstart:starttime:type:id:user: with hex fields, as PVE writes it."""
        self.pid += 1
        now = int(time.time())
        user = self.token.split("!", 1)[0]
        upid = f"UPID:{node}:{self.pid:08X}:{self.pid * 7:08X}:{now:08X}:{ttype}:{tid}:{user}:"
        self.tasks[upid] = {"upid": upid, "node": node, "pid": self.pid, "pstart": self.pid * 7,
                            "starttime": now, "type": ttype, "id": str(tid), "user": user,
                            "status": "stopped", "exitstatus": exitstatus}
        return upid

    def node_check(self, node):
        if node not in self.nodes:
            raise ApiError(500, f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known")

    def vm(self, node, vmid):
        self.node_check(node)
        v = self.vms.get(vmid)
        if v is None or v["node"] != node:
            raise ApiError(500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")
        return v

    def digest(self, v):
        cfg, pend = v["config"], v["pending"]
        text = "".join(f"{k}: {cfg[k]}\n" for k in sorted(cfg)) + "[PENDING]\n" + \
            "".join(f"{k}: {pend[k]}\n" for k in sorted(pend)) + "delete: " + ",".join(v["pending_delete"])
        return hashlib.sha1(text.encode()).hexdigest()

    def hotpluggable(self, cfg, key):
        """qemu-server's vmconfig_hotplug_pending, reduced: may this change reach a running VM
        now, or does it wait in [PENDING] for the next start?"""
        hp = cfg.get("hotplug", "1")
        features = {"network", "disk", "usb"} if hp == "1" else set() if hp == "0" else set(hp.split(","))
        if key in FAST_PLUG:
            return True
        if re.fullmatch(r"net\d+", key):
            return "network" in features
        if DISK_RE.match(key):
            return "disk" in features and not re.match(r"(efidisk|ide|sata|tpmstate)\d+", key)
        if re.fullmatch(r"usb\d+", key):
            return "usb" in features
        if key == "vcpus":
            return "cpu" in features
        if key == "memory":
            return "memory" in features
        if key == "balloon":
            return str(cfg.get("balloon", "")) != "0"
        return False

    def apply_pending(self, v):
        for k in v["pending_delete"]:
            old = v["config"].pop(k, None)
            if old is not None and DISK_RE.match(k):
                self.volumes.pop(old.split(",", 1)[0], None)
        v["config"].update(v["pending"])
        v["pending"], v["pending_delete"] = {}, []

    def alloc_volume(self, storage, vmid, size_bytes, name=None):
        if storage not in self.storages:
            raise ApiError(500, f"storage '{storage}' does not exist")
        st = self.storages[storage]
        if name is None:
            n = 0
            while any(v.startswith(f"{storage}:vm-{vmid}-disk-{n}") or v.startswith(f"{storage}:base-{vmid}-disk-{n}")
                      for v in self.volumes):
                n += 1
            name = f"vm-{vmid}-disk-{n}"
        volid = f"{storage}:{name}" if st["type"] != "dir" else f"{storage}:{vmid}/{name}.raw"
        self.volumes[volid] = size_bytes
        return volid

    # ---------------------------------------------------------------- dispatch
    def handle(self, method, path, params):
        p = [urllib.parse.unquote(seg) for seg in path.strip("/").split("/")]
        m = method
        if p == ["version"] and m == "GET":
            return {"version": self.version, "release": self.version.rsplit(".", 1)[0],
                    "repoid": "2a5fa54a8503f96d"}
        if p == ["access", "permissions"] and m == "GET":
            return self.effective_permissions(params.get("path"))
        if p == ["nodes"] and m == "GET":
            return [{"node": n, "status": "online", "type": "node", "id": f"node/{n}", "level": "",
                     "cpu": 0.02, "maxcpu": 16, "mem": 8 << 30, "maxmem": 64 << 30,
                     "disk": 10 << 30, "maxdisk": 100 << 30, "uptime": 86400,
                     "ssl_fingerprint": "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"}
                    for n in self.nodes]
        if p == ["cluster", "nextid"] and m == "GET":
            if "vmid" in params:
                vmid = int(params["vmid"])
                if vmid in self.vms:
                    raise param_error({"vmid": f"VM {vmid} already exists"})
                return str(vmid)
            vmid = 100
            while vmid in self.vms:
                vmid += 1
            return str(vmid)
        if p == ["cluster", "resources"] and m == "GET":
            return self.resources(params.get("type"))
        if p == ["pools"] and m == "GET":
            return []
        if len(p) == 2 and p[0] == "storage" and m == "GET":
            st = self.storages.get(p[1])
            if st is None:
                raise ApiError(500, f"storage '{p[1]}' does not exist")
            return {k: v for k, v in st.items()}
        if len(p) >= 2 and p[0] == "nodes":
            node = p[1]
            self.node_check(node)
            rest = p[2:]
            if rest == ["storage"] and m == "GET":
                return [self.storage_status(sid, st, node) | {"storage": sid}
                        for sid, st in sorted(self.storages.items())
                        if node in st.get("nodes", node).split(",")]
            if rest == ["network"] and m == "GET":
                ifaces = [{"iface": b, "type": "bridge", "active": 1, "autostart": 1, "priority": 3 + i,
                           "bridge_ports": "eno1", "method": "manual", "families": ["inet"]}
                          for i, b in enumerate(self.bridges.get(node, []))]
                addr = self.addresses.get(node)
                if ifaces and addr:
                    ifaces[0] |= {"method": "static", "address": addr, "cidr": f"{addr}/24",
                                  "netmask": "24", "gateway": addr}
                return ifaces
            if rest == ["qemu"] and m == "GET":
                return [self.list_entry(vmid, v) for vmid, v in sorted(self.vms.items()) if v["node"] == node]
            if len(rest) >= 3 and rest[0] == "tasks" and rest[2] in ("status", "log") and m == "GET":
                t = self.tasks.get(rest[1])
                if t is None:
                    raise ApiError(500, f"no such task '{rest[1]}'")
                return t if rest[2] == "status" else [{"n": 1, "t": f"TASK {t['exitstatus']}"}]
            if len(rest) >= 2 and rest[0] == "qemu":
                try:
                    vmid = int(rest[1])
                except ValueError:
                    raise param_error({"vmid": "type check ('integer') failed - got '%s'" % rest[1]}) from None
                return self.qemu(m, node, vmid, rest[2:], params)
            if len(rest) >= 3 and rest[0] == "storage":
                return self.storage(m, node, rest[1], rest[2:], params)
        raise LookupError  # -> 501

    def effective_permissions(self, path):
        """GET access/permissions: the seeded ACL paths, or with `path` the privileges
        effective there (the most specific ACL path at or above it, propagated)."""
        if path is None:
            return {p: {priv: 1 for priv in privs} for p, privs in self.permissions.items()}
        best = None
        for p in self.permissions:
            if p == "/" or path == p or path.startswith(p.rstrip("/") + "/"):
                if best is None or len(p) > len(best):
                    best = p
        privs = self.permissions.get(best, []) if best is not None else []
        return {path: {priv: 1 for priv in privs}}

    def storage_status(self, sid, st, node=None):
        here = st.get("node_status", {}).get(node, {})
        avail = here.get("avail", st.get("avail", (1 << 40) - (1 << 38)))
        active = here.get("active", st.get("active", 1))
        return {"type": st["type"], "content": st["content"], "active": active,
                "enabled": 1, "shared": 1 if st.get("shared") else 0, "total": 1 << 40,
                "used": (1 << 40) - avail, "avail": avail}

    def resources(self, rtype):
        out = []
        if rtype in (None, "vm"):
            for vmid, v in sorted(self.vms.items()):
                e = self.list_entry(vmid, v)
                e.update({"id": f"qemu/{vmid}", "type": "qemu", "node": v["node"]})
                out.append(e)
        if rtype in (None, "node"):
            out += [{"id": f"node/{n}", "type": "node", "node": n, "status": "online"} for n in self.nodes]
        if rtype in (None, "storage"):
            out += [{"id": f"storage/{n}/{s}", "type": "storage", "node": n, "storage": s,
                     "status": "available", "content": st["content"], "plugintype": st["type"]}
                    for n in self.nodes for s, st in self.storages.items()]
        return out

    def maxdisk(self, cfg):
        for k in ("scsi0", "virtio0", "sata0", "ide0"):
            if k in cfg:
                opts = dict(parse_prop_string(cfg[k], "file"))
                if "size" in opts:
                    return size_to_bytes(opts["size"])
        return 0

    def list_entry(self, vmid, v):
        cfg = v["config"]
        e = {"vmid": vmid, "name": cfg.get("name", f"VM {vmid}"), "status": v["status"],
             "cpus": int(cfg.get("cores", 1)) * int(cfg.get("sockets", 1)),
             "maxmem": int(cfg.get("memory", "512")) << 20, "maxdisk": self.maxdisk(cfg),
             "mem": 0, "disk": 0, "cpu": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0,
             "uptime": int(time.time()) - v["started"] if v["status"] == "running" else 0,
             "template": 1 if str(cfg.get("template", "0")) == "1" else 0}
        if "tags" in cfg:
            e["tags"] = cfg["tags"]
        if v["status"] == "running":
            e["pid"] = 4000 + vmid % 1000
        return e

    # ---------------------------------------------------------------- qemu
    def qemu(self, m, node, vmid, rest, params):
        if rest == [] and m == "DELETE":
            v = self.vm(node, vmid)
            if v["status"] == "running":
                raise ApiError(500, f"VM {vmid} is running - destroy failed")
            if str(v["config"].get("protection", "0")) == "1":
                raise ApiError(500, f"can't remove VM {vmid} - protection mode enabled")
            for k, val in v["config"].items():
                if DISK_RE.match(k) or k.startswith("unused"):
                    self.volumes.pop(val.split(",", 1)[0], None)
            del self.vms[vmid]
            return self.task(node, "qmdestroy", vmid)
        if rest == [] and m == "GET":
            self.vm(node, vmid)
            return [{"subdir": s} for s in ("config", "pending", "status", "agent", "clone", "resize", "template")]
        v = self.vm(node, vmid)
        cfg = v["config"]
        if rest == ["config"] and m == "GET":
            shown = dict(cfg)
            if params.get("current") != "1":  # the default shows pending values
                for k in v["pending_delete"]:
                    shown.pop(k, None)
                shown.update(v["pending"])
            out = {}
            for k, val in shown.items():
                out[k] = int(val) if k in INT_KEYS and re.fullmatch(r"-?\d+", str(val)) else val
            out["digest"] = self.digest(v)
            return out
        if rest == ["pending"] and m == "GET":
            out = []
            for k in sorted(set(cfg) | set(v["pending"]) | set(v["pending_delete"])):
                e = {"key": k}
                if k in cfg:
                    e["value"] = cfg[k]
                if k in v["pending"]:
                    e["pending"] = v["pending"][k]
                if k in v["pending_delete"]:
                    e["delete"] = 1
                out.append(e)
            return out
        if rest == ["config"] and m in ("PUT", "POST"):
            self.update_config(node, vmid, v, params)
            return None if m == "PUT" else self.task(node, "qmconfig", vmid)
        if rest == ["clone"] and m == "POST":
            return self.clone(node, vmid, v, params)
        if rest == ["template"] and m == "POST":
            if str(cfg.get("template", "0")) == "1":
                raise ApiError(500, "you can't convert a template to a template")
            if v["status"] == "running":
                raise ApiError(500, "you can't convert a VM to template if VM is running")
            for k in list(cfg):
                if DISK_RE.match(k) and "media=cdrom" not in cfg[k] or k == "efidisk0":
                    vol, _, opts = cfg[k].partition(",")
                    new = vol.replace(f"vm-{vmid}-disk-", f"base-{vmid}-disk-")
                    self.volumes[new] = self.volumes.pop(vol, 0)
                    cfg[k] = new + ("," + opts if opts else "")
            cfg["template"] = "1"
            return self.task(node, "qmtemplate", vmid)
        if rest == ["migrate"] and m == "POST":
            return self.migrate(node, vmid, v, params)
        if rest == ["move_disk"] and m == "POST":
            return self.move_disk(node, vmid, v, params)
        if rest == ["resize"] and m == "PUT":
            return self.resize(node, vmid, v, params)
        if rest == ["status", "current"] and m == "GET":
            e = self.list_entry(vmid, v)
            e.update({"qmpstatus": v["status"], "ha": {"managed": 0},
                      "agent": 1 if self.agent_enabled(cfg) else 0})
            return e
        if len(rest) == 2 and rest[0] == "status" and m == "POST":
            return self.power(node, vmid, v, rest[1], params)
        if rest == ["agent", "network-get-interfaces"] and m == "GET":
            self.agent_check(vmid, v)
            return {"result": self.agent_interfaces(cfg)}
        if rest == ["agent", "ping"] and m == "POST":
            self.agent_check(vmid, v)
            return {"result": {}}
        if rest == ["cloudinit"] and m == "PUT":
            return None
        raise LookupError

    def agent_enabled(self, cfg):
        a = cfg.get("agent")
        if a is None:
            return False
        opts = dict(parse_prop_string(a, "enabled"))
        return opts.get("enabled", "0") == "1"

    def agent_check(self, vmid, v):
        if not self.agent_enabled(v["config"]):
            raise ApiError(500, "No QEMU guest agent configured")
        if v["status"] != "running":
            raise ApiError(500, f"VM {vmid} is not running")

    def agent_interfaces(self, cfg):
        ifs = [{"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
            {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
            {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}]}]
        for i in range(4):
            net = cfg.get(f"net{i}")
            if net is None:
                continue
            mac = next((val for k, val in parse_prop_string(net) if k in NET_MODELS), "")
            addrs = []
            ipc = cfg.get(f"ipconfig{i}")
            if ipc:
                ip = dict(parse_prop_string(ipc)).get("ip", "")
                if "/" in ip:
                    a, pfx = ip.split("/")
                    addrs.append({"ip-address": a, "ip-address-type": "ipv4", "prefix": int(pfx)})
            ifs.append({"name": f"eth{i}", "hardware-address": mac.lower(), "ip-addresses": addrs,
                        "statistics": {"rx-bytes": 0, "tx-bytes": 0}})
        return ifs

    def power(self, node, vmid, v, action, params):
        if str(v["config"].get("template", "0")) == "1" and action == "start":
            raise ApiError(500, "you can't start a vm if it's a template")
        if action == "start":
            if v["status"] == "running":
                raise ApiError(500, f"VM {vmid} already running")
            self.apply_pending(v)  # a start runs the config with its pending changes applied
            v["status"], v["started"] = "running", int(time.time())
            return self.task(node, "qmstart", vmid)
        if action in ("shutdown", "stop"):
            if v["status"] != "running" and action == "shutdown":
                raise ApiError(500, f"VM {vmid} not running")
            v["status"] = "stopped"
            return self.task(node, "qmshutdown" if action == "shutdown" else "qmstop", vmid)
        if action == "reboot":
            if v["status"] != "running":
                raise ApiError(500, f"VM {vmid} not running")
            self.apply_pending(v)  # a reboot is a shutdown and a start
            v["started"] = int(time.time())
            return self.task(node, "qmreboot", vmid)
        raise LookupError

    def clone(self, node, vmid, src, params):
        if "newid" not in params:
            raise param_error({"newid": "property is missing and it is not optional"})
        newid = int(params["newid"])
        target = params.get("target", node)
        self.node_check(target)
        full = params.get("full", "0" if str(src["config"].get("template", "0")) == "1" else "1") == "1"
        if target != node and not full:
            raise ApiError(500, "Linked clone feature for cloning to a different node is not supported")
        if target != node:
            for k, val in src["config"].items():
                if DISK_RE.match(k) and "media=cdrom" not in val and \
                        not self.storages.get(val.split(":", 1)[0], {}).get("shared"):
                    raise ApiError(500, f"can't clone VM to node '{target}' (VM uses local storage)")
        if newid in self.vms:
            # qemu-server checks for the new id's config file before it starts the worker.
            raise ApiError(500, f"unable to create VM {newid}: config file already exists")
        storage = params.get("storage")
        cfg = {}
        # qemu-server clones the drives in sorted key order (efidisk0, ide2, scsi0...).
        for k, val in sorted(src["config"].items()):
            if k in ("template", "lock", "vmgenid", "smbios1") or k.startswith("unused"):
                continue
            if DISK_RE.match(k):
                vol, _, opts = val.partition(",")
                sstore = vol.split(":", 1)[0]
                if "media=cdrom" in opts:
                    if vol.endswith("-cloudinit"):
                        nv = self.alloc_volume(storage or sstore, newid, 4 << 20, f"vm-{newid}-cloudinit")
                        cfg[k] = nv + "," + opts
                    else:
                        cfg[k] = val
                    continue
                size = self.volumes.get(vol, 0)
                nv = self.alloc_volume(storage or sstore, newid, size)
                cfg[k] = nv + ("," + opts if opts else "")
            elif k.startswith("net"):
                parts = parse_prop_string(val)
                cfg[k] = ",".join(f"{pk}={random_mac(self.rng) if pk in NET_MODELS else pv}"
                                  for pk, pv in parts)
            else:
                cfg[k] = val
        cfg["name"] = params.get("name", f"Copy-of-VM-{src['config'].get('name', vmid)}")
        if "description" in params:
            cfg["description"] = params["description"]
        cfg["smbios1"] = f"uuid={self.uuid()}"
        if "vmgenid" in src["config"]:
            cfg["vmgenid"] = self.uuid()
        self.vms[newid] = {"node": target, "status": "stopped", "pending": {}, "pending_delete": [],
                           "config": cfg, "started": 0}
        return self.task(node, "qmclone", vmid)

    def uuid(self):
        h = "%032x" % self.rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def update_config(self, node, vmid, v, params):
        cfg = v["config"]
        errors = {}
        for k in params:
            if k not in CONFIG_KEYS and k not in CONFIG_CONTROL:
                errors[k] = "property is not defined in schema and the schema does not allow additional properties"
        if errors:
            raise param_error(errors)
        if "digest" in params and params["digest"] != self.digest(v):
            raise ApiError(500, "VM config file has been modified by another user")
        if str(cfg.get("template", "0")) == "1" and any(DISK_RE.match(k) for k in params):
            raise ApiError(500, "you can't change disks of a template")
        deletes = [d for d in re.split(r"[,;\s]+", params.get("delete", "")) if d]
        for k in deletes:
            if k not in CONFIG_KEYS:
                errors[k] = "invalid format - unknown option"
        if errors:
            raise param_error({"delete": "; ".join(f"{k}: {e}" for k, e in errors.items())})
        running = v["status"] == "running"
        for k in deletes:
            v["pending"].pop(k, None)
            if running and not self.hotpluggable(cfg, k):
                if k in cfg and k not in v["pending_delete"]:
                    v["pending_delete"].append(k)
                continue
            old = cfg.pop(k, None)
            if old is not None and DISK_RE.match(k):
                self.volumes.pop(old.split(",", 1)[0], None)
        for k, val in params.items():
            if k in CONFIG_CONTROL:
                continue
            if k in ("cores", "sockets", "vcpus") and not re.fullmatch(r"\d+", val):
                raise param_error({k: f"type check ('integer') failed - got '{val}'"})
            if k == "memory" and not re.fullmatch(r"(current=)?\d+", val):
                raise param_error({k: f"value does not match the regex pattern - got '{val}'"})
            if k == "sshkeys" and not re.fullmatch(r"[A-Za-z0-9%._~-]*", val):
                raise param_error({k: "invalid urlencoded string: " + val[:40]})
            if re.fullmatch(r"net\d+", k):
                val = self.print_net(k, val)
            if DISK_RE.match(k):
                val = self.set_disk(vmid, k, val, v["pending"].get(k, cfg.get(k)))
            if k in v["pending_delete"]:
                v["pending_delete"].remove(k)
            if running and not self.hotpluggable(cfg, k):
                if cfg.get(k) == val:
                    v["pending"].pop(k, None)
                else:
                    v["pending"][k] = val
            else:
                cfg[k] = val

    def print_net(self, key, val):
        """qemu-server parse_net + print_net: 'model=virtio,bridge=vmbr0' or
        'virtio=MAC,bridge=vmbr0' -> 'virtio=MAC,bridge=vmbr0'; no MAC -> a new random one."""
        try:
            parts = parse_prop_string(val)
        except ValueError as e:
            raise param_error({key: str(e)}) from None
        opts = {}
        model = mac = None
        for pk, pv in parts:
            if pk in NET_MODELS:
                model, mac = pk, pv
            elif pk == "model":
                model = pv
            elif pk == "macaddr":
                mac = pv
            else:
                opts[pk] = pv
        if model not in NET_MODELS:
            raise param_error({key: f"invalid format - format error {key}.model: property is missing and it is not optional"})
        if not mac:
            mac = random_mac(self.rng)
        order = ["bridge", "firewall", "link_down", "mtu", "queues", "rate", "tag", "trunks"]
        rest = [f"{o}={opts.pop(o)}" for o in order if o in opts] + [f"{o}={v}" for o, v in opts.items()]
        return ",".join([f"{model}={mac.upper()}"] + rest)

    def set_disk(self, vmid, key, val, old):
        try:
            parts = parse_prop_string(val, "file")
        except ValueError as e:
            raise param_error({key: str(e)}) from None
        sopts = dict(parts)
        vol = sopts.pop("file", "")
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9._-]*):(\d+(?:\.\d+)?|cloudinit)", vol)
        if m:  # STORAGE:SIZE_IN_GiB or STORAGE:cloudinit -> a new volume
            storage, size = m.groups()
            if old is not None:
                self.volumes.pop(old.split(",", 1)[0], None)
            if size == "cloudinit":
                nv = self.alloc_volume(storage, vmid, 4 << 20, f"vm-{vmid}-cloudinit")
                sopts["media"] = "cdrom"
            else:
                nbytes = (4 << 20) if key == "efidisk0" else int(float(size) * (1 << 30))
                nv = self.alloc_volume(storage, vmid, nbytes)
                sopts["size"] = bytes_to_size(nbytes)
            vol = nv
        else:
            if vol not in self.volumes and vol != "none" and not vol.startswith("/"):
                raise ApiError(500, f"volume '{vol}' does not exist")
            if vol in self.volumes and "media=cdrom" not in val:
                # size is informational in the config; a config update cannot resize.
                sopts["size"] = bytes_to_size(self.volumes[vol])
        if vol.endswith("-cloudinit"):
            sopts.pop("size", None)
        return ",".join([vol] + [f"{k}={v}" for k, v in sorted(sopts.items())])

    def migrate(self, node, vmid, v, params):
        target = params.get("target")
        if not target:
            raise param_error({"target": "property is missing and it is not optional"})
        self.node_check(target)
        if target == node:
            raise param_error({"target": "target is local node."})
        if v["status"] == "running" and params.get("online") != "1":
            raise ApiError(500, "can't migrate running VM without --online")
        local = [k for k in v["config"] if DISK_RE.match(k) and "media=cdrom" not in v["config"][k]
                 and not self.storages.get(v["config"][k].split(":", 1)[0], {}).get("shared")]
        if local and params.get("with-local-disks") != "1":
            raise ApiError(500, f"can't migrate local disk '{v['config'][local[0]].split(',', 1)[0]}': "
                                "use --with-local-disks to override")
        v["node"] = target
        return self.task(node, "qmigrate", vmid)

    def move_disk(self, node, vmid, v, params):
        cfg = v["config"]
        disk, storage = params.get("disk"), params.get("storage")
        if disk not in cfg or not DISK_RE.match(disk):
            raise ApiError(500, f"disk '{disk}' does not exist")
        vol, _, opts = cfg[disk].partition(",")
        if vol.split(":", 1)[0] == storage and not params.get("format"):
            # qemu-server's move_vm_disk refuses a move onto the volume's own storage.
            raise ApiError(500, "you can't move to the same storage with same format")
        if storage not in self.storages:
            raise ApiError(500, f"storage '{storage}' does not exist")
        size = self.volumes.get(vol, 0)
        nv = self.alloc_volume(storage, vmid, size)
        if params.get("delete") == "1":
            self.volumes.pop(vol, None)
        else:
            n = 0
            while f"unused{n}" in cfg:
                n += 1
            cfg[f"unused{n}"] = vol
        cfg[disk] = nv + ("," + opts if opts else "")
        return self.task(node, "qmmove", vmid)

    def resize(self, node, vmid, v, params):
        disk, size = params.get("disk"), params.get("size", "")
        cfg = v["config"]
        if disk not in cfg or not DISK_RE.match(disk):
            raise ApiError(500, f"disk '{disk}' does not exist")
        vol, _, opts = cfg[disk].partition(",")
        cur = self.volumes.get(vol, 0)
        m = re.fullmatch(r"(\+?)(\d+(?:\.\d+)?[KMGT]?)", size)
        if not m:
            raise param_error({"size": f"value does not match the regex pattern - got '{size}'"})
        new = cur + size_to_bytes(m.group(2)) if m.group(1) else size_to_bytes(m.group(2))
        if new < cur:
            raise ApiError(500, "shrinking disks is not supported")
        self.volumes[vol] = new
        sopts = dict(parse_prop_string(opts)) if opts else {}
        sopts["size"] = bytes_to_size(new)
        cfg[disk] = ",".join([vol] + [f"{k}={val}" for k, val in sorted(sopts.items())])
        return self.task(node, "resize", vmid)

    # ---------------------------------------------------------------- storage
    def storage(self, m, node, sid, rest, params):
        st = self.storages.get(sid)
        if st is None:
            raise ApiError(500, f"storage '{sid}' does not exist")
        snip = os.path.join(st["path"], "snippets") if st["type"] == "dir" else None
        if rest == ["status"] and m == "GET":
            return self.storage_status(sid, st, node)
        if rest == ["content"] and m == "GET":
            want = params.get("content")
            out = []
            if want in (None, "images"):
                for volid, size in sorted(self.volumes.items()):
                    if volid.startswith(sid + ":"):
                        owner = re.search(r"(?:vm|base)-(\d+)-", volid)
                        out.append({"volid": volid, "content": "images", "format": "raw", "size": size,
                                    "vmid": int(owner.group(1)) if owner else 0, "ctime": 0})
            if want in (None, "snippets") and snip and os.path.isdir(snip):
                for f in sorted(os.listdir(snip)):
                    p = os.path.join(snip, f)
                    out.append({"volid": f"{sid}:snippets/{f}", "content": "snippets", "format": "snippet",
                                "size": os.path.getsize(p), "ctime": int(os.path.getmtime(p))})
            return out
        if len(rest) == 2 and rest[0] == "content":
            volid = rest[1]
            if ":" not in volid:
                volid = f"{sid}:{volid}"
            if volid in self.volumes and m == "GET":
                size = self.volumes[volid]
                name = volid.split(":", 1)[1]
                path = f"/dev/{st.get('vgname', 'pve')}/{name}" if st["type"] != "dir" else \
                    os.path.join(st["path"], "images", name)
                return {"format": "raw", "path": path, "size": size, "used": size}
            if not (snip and volid.startswith(f"{sid}:snippets/")):
                raise ApiError(500, f"no such volume '{volid}'")
            p = os.path.join(snip, volid.split("/", 1)[1])
            if not os.path.isfile(p):
                raise ApiError(500, f"volume '{volid}' does not exist")
            if m == "GET":
                return {"format": "snippet", "path": p, "size": os.path.getsize(p), "used": os.path.getsize(p)}
            if m == "DELETE":
                os.remove(p)
                return self.task(node, "imgdel", volid)
        raise LookupError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sim = None

    def log_message(self, fmt, *args):  # quiet: the request log is the record
        pass

    def reply(self, code, reason, body):
        data = json.dumps(body).encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def run(self, method):
        sim = self.sim
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if body and ctype.startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        elif body and ctype.startswith("application/json"):
            params.update({k: str(v) for k, v in json.loads(body).items()})
        path = url.path
        entry = {"method": method, "path": path, "params": params, "time": time.time()}
        with sim.lock:
            try:
                auth = self.headers.get("Authorization", "")
                if not path.startswith(API):
                    raise ApiError(501, f"pvesim: not implemented: {method} {path}")
                if not auth.startswith("PVEAPIToken="):
                    raise ApiError(401, "No ticket")
                if auth[len("PVEAPIToken="):] != sim.token:
                    raise ApiError(401, "invalid token value!")
                try:
                    data = sim.handle(method, path[len(API):], params)
                except LookupError:
                    data = LookupError
                if data is LookupError:
                    raise ApiError(501, f"pvesim: not implemented: {method} {path}")
                code, reason, out = 200, "OK", {"data": data}
            except ApiError as e:
                code, reason = e.code, e.message
                out = {"data": None}
                if e.errors:
                    out["errors"] = e.errors
                if code == 501:
                    out["message"] = e.message
                    print(f"pvesim: 501 {method} {path} {params}", file=sys.stderr, flush=True)
            except Exception as e:  # a simulator bug: loud, never a silent success
                code, reason, out = 500, f"pvesim internal error: {type(e).__name__}: {e}", {"data": None}
                print(f"pvesim: internal error on {method} {path}: {e!r}", file=sys.stderr, flush=True)
            entry["status"] = code
            entry["reason"] = reason
            if code == 200:
                entry["data"] = out["data"]
            sim.log(entry)
            if method != "GET":
                sim.dump()
            self.reply(code, reason.replace("\n", " "), out)

    def do_GET(self):
        self.run("GET")

    def do_POST(self):
        self.run("POST")

    def do_PUT(self):
        self.run("PUT")

    def do_DELETE(self):
        self.run("DELETE")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="root@pam!pvesim=00000000-0000-0000-0000-000000000000")
    a = ap.parse_args()
    with open(a.seed, encoding="utf-8") as f:
        seed = json.load(f)
    os.makedirs(a.state_dir, exist_ok=True)
    Handler.sim = Sim(a.state_dir, seed, a.token)
    httpd = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    with open(os.path.join(a.state_dir, "port.tmp"), "w", encoding="utf-8") as f:
        f.write(str(httpd.server_address[1]))
    os.replace(os.path.join(a.state_dir, "port.tmp"), os.path.join(a.state_dir, "port"))
    httpd.serve_forever()


if __name__ == "__main__":
    main()
