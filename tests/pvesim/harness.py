"""Harness of the pvesim tests: a rendered test spec, the simulator on HTTPS with a
throwaway certificate, a real sshd for snippet uploads, and the real tofu + bpg
provider pointed at both. Python standard library only."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOKEN = "root@pam!pvesim=5f0c1a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, cwd=None, env=None, check=True, timeout=600):
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def homelabgen():
    return os.environ.get("HOMELABGEN", os.path.join(ROOT, "target", "debug", "homelabgen"))


def render(spec_text, out):
    """Render a spec text into out (the generated tree)."""
    spec = os.path.join(os.path.dirname(out), "spec.yaml")
    with open(spec, "w", encoding="utf-8") as f:
        f.write(spec_text)
    run([homelabgen(), "render", "--spec", spec, "--out", out])


def env_locals(env_dir):
    """The VM table of a rendered environment's main.tf: name -> {template_name, vm_id, ...}."""
    text = open(os.path.join(env_dir, "main.tf"), encoding="utf-8").read()
    vms = {}
    for m in re.finditer(r'^\s{4}"([^"]+)" = \{\n(.*?)^\s{4}\}', text, re.S | re.M):
        fields = dict(re.findall(r"^\s+(\w+)\s+= (.*)$", m.group(2), re.M))
        vms[m.group(1)] = {k: json.loads(v) if v != "null" and not v.startswith("<<") else None
                           for k, v in fields.items() if k != "user_data"}
    return vms


def packer_images(gen):
    """Each rendered image: the template name Packer gives it (locals.pkr.hcl's formula
    over the variables' defaults), its disk size and its template VM id (0: none)."""
    out = []
    root = os.path.join(gen, "packer")
    for image in sorted(os.listdir(root)):
        text = open(os.path.join(root, image, "variables.pkr.hcl"), encoding="utf-8").read()
        d = {m.group(1): m.group(2).strip('"') for m in re.finditer(
            r'variable "(\w+)" \{.*?\n  default\s+= ([^\n]*)', text, re.S)}
        loc = open(os.path.join(root, image, "locals.pkr.hcl"), encoding="utf-8").read()
        formula = re.search(r'template_name\s+= "(.*)"', loc).group(1)
        check = "alma${var.os_version}-k3-node-${var.arch}-${replace(var.k3s_version, \"+\", \"-\")}-v${var.image_release}"
        if formula != check:
            raise Failure(f"{image}: the template name formula changed, update the seed: {formula}")
        name = f"alma{d['os_version']}-k3-node-{d['arch']}-{d['k3s_version'].replace('+', '-')}-v{d['image_release']}"
        out.append({"image": image, "template_name": name, "disk_size": d["disk_size"],
                    "vmid": int(d.get("template_vm_id", "0"))})
    return out


def env_var_default(env_dir, name):
    text = open(os.path.join(env_dir, "variables.tf"), encoding="utf-8").read()
    m = re.search(r'variable "%s" \{.*?default\s+= "([^"]*)"' % name, text, re.S)
    return m.group(1) if m else None


class Lab:
    """One simulator + sshd + tofu working set for one test spec."""

    def __init__(self, spec_text, nodes_extra=(), template_nodes=None, seed_specs=()):
        self.tmp = tempfile.mkdtemp(prefix="pvesim-")
        self.procs = []
        self.agent_pid = None
        try:
            self._setup(spec_text, nodes_extra, template_nodes, seed_specs)
        except BaseException:
            self.close()  # no sshd, agent or simulator left behind by a failed setup
            raise

    def _setup(self, spec_text, nodes_extra, template_nodes, seed_specs):
        self.spec_text = spec_text
        self.gen = os.path.join(self.tmp, "gen")
        render(spec_text, self.gen)
        self.envs = sorted(os.listdir(os.path.join(self.gen, "tofu", "envs")))
        first = os.path.join(self.gen, "tofu", "envs", self.envs[0])
        self.node = env_var_default(first, "proxmox_node")
        self.vm_storage = env_var_default(first, "vm_storage")
        self.snip_storage = env_var_default(first, "snippets_storage")
        self.bridge = env_var_default(first, "bridge")
        self.nodes = [self.node] + list(nodes_extra)
        self.state_dir = os.path.join(self.tmp, "sim")
        os.makedirs(self.state_dir)
        self.template_nodes = template_nodes or {}
        # Templates of other spec versions (an image bump) exist too, as after `make packer`.
        self.seed_gens = [self.gen]
        for i, text in enumerate(seed_specs):
            g = os.path.join(self.tmp, f"seed{i}", "gen")
            os.makedirs(os.path.dirname(g))
            render(text, g)
            self.seed_gens.append(g)
        self._seed()
        self._cert()
        self._sshd()
        self._sim()

    # ------------------------------------------------------------ fixtures
    def _seed(self):
        templates, seen = [], set()
        for g in self.seed_gens:
            for t in packer_images(g):
                if t["template_name"] not in seen:
                    seen.add(t["template_name"])
                    templates.append(t)
        used = {t["vmid"] for t in templates}
        vms = []
        for i, t in enumerate(templates):
            name = t["template_name"]
            vmid = t["vmid"]
            if not vmid:
                vmid = 9000 + 10 * i
                while vmid in used:
                    vmid += 1
                used.add(vmid)
            st = self.vm_storage
            vms.append({"vmid": vmid, "node": self.template_nodes.get(name, self.node), "config": {
                "name": name, "template": "1", "bios": "ovmf", "machine": "q35", "ostype": "l26",
                "cpu": "x86-64-v2-AES", "cores": "2", "sockets": "1", "memory": "4096",
                "agent": "enabled=1", "scsihw": "virtio-scsi-single", "boot": "order=scsi0",
                "scsi0": f"{st}:base-{vmid}-disk-1,discard=on,iothread=1,size={t['disk_size']},ssd=1",
                "efidisk0": f"{st}:base-{vmid}-disk-0,efitype=4m,pre-enrolled-keys=0,size=4M",
                "ide2": f"{st}:vm-{vmid}-cloudinit,media=cdrom",
                "net0": f"virtio=BC:24:11:00:{i:02X}:01,bridge={self.bridge}",
                "serial0": "socket", "vga": "serial0",
                "description": f"golden image {name} (pvesim seed)",
                "smbios1": "uuid=6a0c6c4e-0000-4000-8000-00000000%04d" % vmid,
                "vmgenid": "00000000-0000-4000-8000-00000000%04d" % vmid,
            }})
        storages = [{"storage": self.vm_storage, "type": "lvmthin", "content": "images,rootdir",
                     "thinpool": "data", "vgname": "pve"}]
        if self.snip_storage != self.vm_storage:
            storages.append({"storage": self.snip_storage, "type": "dir",
                             "content": "snippets,iso,vztmpl,backup"})
        else:
            storages[0] = {"storage": self.vm_storage, "type": "dir",
                           "content": "images,rootdir,snippets,iso,vztmpl,backup"}
        self.templates = {v["config"]["name"]: v["vmid"] for v in vms}
        self.seed_path = os.path.join(self.tmp, "seed.json")
        with open(self.seed_path, "w", encoding="utf-8") as f:
            json.dump({"nodes": self.nodes, "storages": storages, "vms": vms}, f, indent=1)

    def _cert(self):
        self.cert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", self.key, "-out", self.cert])

    def _sshd(self):
        d = os.path.join(self.tmp, "ssh")
        os.makedirs(d)
        os.chmod(d, 0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", f"{d}/host_key"])
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "user", "-f", f"{d}/user_key"])
        shutil.copy(f"{d}/user_key.pub", f"{d}/authorized_keys")
        self.ssh_port = free_port()
        self.ssh_user = os.environ.get("USER") or subprocess.run(
            ["id", "-un"], capture_output=True, text=True).stdout.strip()
        with open(f"{d}/sshd_config", "w", encoding="utf-8") as f:
            f.write(f"Port {self.ssh_port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n"
                    f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
                    "UsePAM no\nSubsystem sftp internal-sftp\n")
        if os.getuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)
        run(["/usr/sbin/sshd", "-t", "-f", f"{d}/sshd_config"])
        log = open(f"{d}/sshd.log", "w", encoding="utf-8")
        self.procs.append(subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", f"{d}/sshd_config"],
                                           stderr=log, stdout=log))
        agent = run(["ssh-agent", "-s", "-a", f"{d}/agent.sock"]).stdout
        self.agent_pid = int(re.search(r"SSH_AGENT_PID=(\d+)", agent).group(1))
        self.agent_sock = f"{d}/agent.sock"
        run(["ssh-add", f"{d}/user_key"], env={**os.environ, "SSH_AUTH_SOCK": self.agent_sock})
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ssh_port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise Failure("sshd did not start: " + open(f"{d}/sshd.log", encoding="utf-8").read())

    def _sim(self, token=TOKEN):
        self.sim_log = open(os.path.join(self.tmp, "sim.stderr"), "w", encoding="utf-8")
        self.procs.append(subprocess.Popen(
            ["python3", os.path.join(HERE, "pvesim.py"), "--state-dir", self.state_dir,
             "--cert", self.cert, "--key", self.key, "--seed", self.seed_path, "--token", token],
            stderr=self.sim_log, stdout=self.sim_log))
        port_file = os.path.join(self.state_dir, "port")
        deadline = time.time() + 10
        while not os.path.exists(port_file):
            if time.time() > deadline or self.procs[-1].poll() is not None:
                raise Failure("pvesim did not start: " + open(self.sim_log.name, encoding="utf-8").read())
            time.sleep(0.05)
        self.port = int(open(port_file, encoding="utf-8").read())

    def close(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
        if self.agent_pid:
            try:
                os.kill(self.agent_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if os.environ.get("PVESIM_KEEP"):
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ tofu
    def env_dir(self, env):
        return os.path.join(self.gen, "tofu", "envs", env)

    def write_override(self, env):
        # Only the connection differs from a real site: the simulator's address and the
        # test sshd's port (for every node: snippets go to the node of their VM).
        # Everything else is the rendered tree as committed.
        nodes = "\n".join(f'''    node {{
      name    = "{n}"
      address = "127.0.0.1"
      port    = {self.ssh_port}
    }}
''' for n in self.nodes)
        with open(os.path.join(self.env_dir(env), "pvesim_override.tf"), "w", encoding="utf-8") as f:
            f.write(f'''provider "proxmox" {{
  endpoint = "https://127.0.0.1:{self.port}"
  insecure = true

  ssh {{
    agent    = true
    username = "{self.ssh_user}"

{nodes}  }}
}}
''')

    def tofu_env(self, env, token=TOKEN):
        e = dict(os.environ)
        e.update({"PROXMOX_VE_API_TOKEN": token, "SSH_AUTH_SOCK": self.agent_sock,
                  "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
                  "TF_DATA_DIR": os.path.join(self.tmp, "tfdata", env), "CHECKPOINT_DISABLE": "1"})
        if os.environ.get("PVESIM_TF_LOG"):
            e["TF_LOG"] = os.environ["PVESIM_TF_LOG"]
            e["TF_LOG_PATH"] = os.path.join(self.tmp, f"tf-{env}.log")
        return e

    def tofu(self, env, *args, check=True, token=TOKEN):
        self.write_override(env)
        return run(["tofu", *args], cwd=self.env_dir(env), env=self.tofu_env(env, token), check=check)

    def init(self, env):
        state = os.path.join(self.tmp, "state", f"{env}.tfstate")
        os.makedirs(os.path.dirname(state), exist_ok=True)
        return self.tofu(env, "init", "-input=false", "-no-color", f"-backend-config=path={state}")

    def plan_json(self, env, *extra):
        plan = os.path.join(self.tmp, f"{env}.tfplan")
        p = self.tofu(env, "plan", "-no-color", "-input=false", "-detailed-exitcode", f"-out={plan}",
                      *extra, check=False)
        if p.returncode not in (0, 2):
            raise Failure(f"tofu plan failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        shown = self.tofu(env, "show", "-json", plan).stdout
        return p.returncode, json.loads(shown), plan

    def apply_plan(self, env, plan, check=True):
        return self.tofu(env, "apply", "-no-color", "-input=false", plan, check=check)

    def outputs(self, env):
        return json.loads(self.tofu(env, "output", "-json").stdout)

    def rerender(self, spec_text):
        self.spec_text = spec_text
        render(spec_text, self.gen)

    # ------------------------------------------------------------ simulator state
    def state(self):
        with open(os.path.join(self.state_dir, "state.json"), encoding="utf-8") as f:
            return json.load(f)

    def requests(self):
        with open(os.path.join(self.state_dir, "requests.jsonl"), encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def vm_by_name(self, name):
        found = [(int(k), v) for k, v in self.state()["vms"].items()
                 if v["config"].get("name") == name and v["config"].get("template") != "1"]
        if len(found) != 1:
            raise Failure(f"expected one VM named {name} in the simulator, found {len(found)}")
        return found[0]


def actions(plan, address_part):
    """Planned actions of the resource changes whose address contains address_part."""
    return {rc["address"]: rc["change"]["actions"] for rc in plan.get("resource_changes", [])
            if address_part in rc["address"] and rc["change"]["actions"] != ["no-op"]
            and rc["change"]["actions"] != ["read"]}
