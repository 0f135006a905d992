#!/usr/bin/env python3
"""The NoCloud seed Proxmox VE would hand a clone of our VM config (boot tests).

Reads one VM's cloud-init settings from a rendered OpenTofu environment
(tofu/envs/ENV/main.tf: the `locals.vms` entry and the `module "vm"` arguments, plus
the module's `initialization` block) as the Proxmox options they become
(ciuser, sshkeys, ipconfig0, nameserver, searchdomain, ciupgrade, cicustom), and writes
the four files of the `cidata` volume the way qemu-server's PVE/QemuServer/Cloudinit.pm
builds them:

  user-data       cloudinit_userdata()   (or the cicustom user snippet, verbatim)
  network-config  nocloud_network()      (version 1, one physical NIC eth0 matched by MAC)
  meta-data       nocloud_gen_metadata() (instance-id = sha1(user-data + network-config))
  vendor-data     get_custom_cloudinit_files() (the cicustom vendor snippet, or empty)

as generate_nocloud() does. Only what our module sets is modelled: no cipassword, no
IPv6, one NIC; get_dns_conf()'s fallback to the Proxmox host's resolv.conf (when the VM
has no nameserver/searchdomain) is not modelled: the VM then gets none. Missing
settings are an error (exit 2), never a guess.

  pve_cloudinit.py --env DIR --vm NAME --mac MAC --out DIR [--vendor FILE] [--user FILE]
"""

import argparse
import hashlib
import ipaddress
import json
import os
import re
import sys
import urllib.parse


def die(msg):
    print(f"pve_cloudinit: {msg}", file=sys.stderr)
    sys.exit(2)


def hcl_value(text):
    """An HCL literal our renderer writes: a string, list of strings, number, bool, null."""
    text = text.strip()
    if text == "null":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ("expr", text)


def block(text, opener):
    """The body of the first block starting with `opener` ... `{`, braces balanced."""
    start = text.find(opener)
    if start < 0:
        return None
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    die(f"unbalanced braces after {opener!r}")


def attrs(body):
    """Top-level `name = value` lines of a block body (nested blocks skipped)."""
    out, depth = {}, 0
    for line in body.splitlines():
        if depth == 0:
            m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*\S)\s*$", line)
            if m and not m.group(2).endswith("{"):
                out[m.group(1)] = hcl_value(m.group(2))
        depth += line.count("{") - line.count("}")
    return out


def vm_settings(env_dir, vm):
    """Proxmox options for `vm`, as the bpg provider sets them from our module call."""
    main = open(os.path.join(env_dir, "main.tf"), encoding="utf-8").read()
    locals_body = block(main, "locals")
    entry = block(locals_body, f'"{vm}" =') if locals_body else None
    if entry is None:
        die(f"no VM {vm!r} in {env_dir}/main.tf locals.vms")
    per_vm = attrs(entry)
    module = block(main, 'module "vm"')
    if module is None:
        die(f'no module "vm" in {env_dir}/main.tf')
    args = attrs(module)
    # module arguments `x = each.value.x` come from the VM's locals entry
    for k, v in list(args.items()):
        if isinstance(v, tuple) and v[1].startswith("each.value."):
            args[k] = per_vm.get(v[1][len("each.value.") :])

    src = args.get("source")
    module_dir = os.path.normpath(os.path.join(env_dir, src)) if isinstance(src, str) else None
    mod_main = open(os.path.join(module_dir, "main.tf"), encoding="utf-8").read()
    init = block(mod_main, "initialization")
    if init is None:
        die(f"no initialization block in {module_dir}/main.tf")
    init_attrs = attrs(init)

    conf = {"name": vm}
    if isinstance(per_vm.get("role"), str):  # a cluster environment's VM: server or agent
        conf["_role"] = per_vm["role"]
    user_data = args.get("user_data")
    if isinstance(user_data, tuple):  # file("${path.module}/user-data/NAME.yaml")
        m = re.match(r'file\("\$\{path\.module\}/(.+)"\)$', user_data[1])
        if not m:
            die(f"cannot read user_data expression {user_data[1]!r}")
        user_data = open(os.path.join(env_dir, m.group(1)), encoding="utf-8").read()
    for key in ("ipv4_address", "ipv4_gateway", "nameservers", "search_domain"):
        if key not in args:
            die(f"module argument {key} missing in {env_dir}/main.tf")
    # user_account { username, keys } only without a user_data snippet (dynamic block)
    if user_data is None:
        conf["ciuser"] = args["user"]
        # the provider sends the keys URI-escaped, one per line
        conf["sshkeys"] = urllib.parse.quote("\n".join(args["ssh_keys"]) + "\n", safe="")
    else:
        conf["cicustom_user"] = user_data
    conf["ipconfig0"] = f"ip={args['ipv4_address']},gw={args['ipv4_gateway']}"
    conf["nameserver"] = " ".join(args["nameservers"])
    if args["search_domain"]:
        conf["searchdomain"] = args["search_domain"]
    # initialization.upgrade maps to ciupgrade; unset, Proxmox's default applies
    if isinstance(init_attrs.get("upgrade"), bool):
        conf["ciupgrade"] = 1 if init_attrs["upgrade"] else 0
    return conf


def get_hostname_fqdn(conf):
    hostname = conf["name"]
    if "." in hostname:
        return hostname.split(".", 1)[0], hostname
    if conf.get("searchdomain"):
        return hostname, f"{hostname}.{conf['searchdomain']}"
    return hostname, hostname


def cloudinit_userdata(conf):
    hostname, fqdn = get_hostname_fqdn(conf)
    lines = ["#cloud-config", f"hostname: {hostname}", "manage_etc_hosts: true", f"fqdn: {fqdn}"]
    user = conf.get("ciuser")
    if user is not None:
        lines.append(f"user: {user}")
        if user == "root":
            lines.append("disable_root: False")
    if "sshkeys" in conf:
        keys = urllib.parse.unquote(conf["sshkeys"]).split("\n")
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {k.rstrip()}" for k in keys if k.strip()]
    lines += ["chpasswd:", "  expire: False"]
    if user is None or user != "root":
        lines += ["users:", "  - default"]
    if conf.get("ciupgrade", 1):  # undefined means on, as upstream
        lines.append("package_upgrade: true")
    return "\n".join(lines) + "\n"


def nocloud_network(conf, mac):
    ip, gw = None, None
    for part in conf["ipconfig0"].split(","):
        k, v = part.split("=", 1)
        ip, gw = (v, gw) if k == "ip" else (ip, v if k == "gw" else gw)
    out = "version: 1\nconfig:\n"
    i = "    "
    out += f"{i}- type: physical\n{i}  name: eth0\n{i}  mac_address: '{mac.lower()}'\n{i}  subnets:\n"
    i2 = i + "  "
    if ip == "dhcp":
        out += f"{i2}- type: dhcp4\n"
    elif ip:
        iface = ipaddress.ip_interface(ip)
        out += f"{i2}- type: static\n{i2}  address: '{iface.ip}'\n{i2}  netmask: '{iface.netmask}'\n"
        if gw:
            out += f"{i2}  gateway: '{gw}'\n"
    search = conf.get("searchdomain", "").split()
    servers = conf.get("nameserver", "").split()
    out += f"{i}- type: nameserver\n"
    if servers:
        out += f"{i}  address:\n" + "".join(f"{i}  - '{s}'\n" for s in servers)
    if search:
        out += f"{i}  search:\n" + "".join(f"{i}  - '{s}'\n" for s in search)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True, help="rendered tofu/envs/ENV directory")
    ap.add_argument("--vm", required=True)
    ap.add_argument("--mac", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vendor", help="cicustom vendor snippet (file)")
    a = ap.parse_args()
    conf = vm_settings(a.env, a.vm)
    user = conf.get("cicustom_user") or cloudinit_userdata(conf)
    network = nocloud_network(conf, a.mac)
    meta = "instance-id: " + hashlib.sha1((user + network).encode()).hexdigest() + "\n"
    vendor = open(a.vendor, encoding="utf-8").read() if a.vendor else ""
    os.makedirs(a.out, exist_ok=True)
    for name, content in (
        ("user-data", user),
        ("network-config", network),
        ("meta-data", meta),
        ("vendor-data", vendor),
    ):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(content)
    json.dump(conf, open(os.path.join(a.out, "vm.json"), "w"), indent=1)


if __name__ == "__main__":
    try:
        main()
    except (OSError, KeyError, ValueError) as e:
        die(f"{type(e).__name__}: {e}")
