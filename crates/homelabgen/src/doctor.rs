//! `homelabgen doctor`: check the live Proxmox VE site against the spec before anything
//! is built. Read-only (GET requests only), one line per check, grouped (site, images,
//! environment), each naming the spec location it concerns and the exact fix.
//!
//! Exit codes: 0 every check passed, 1 warnings only, 2 a blocker (or a spec error).

use homelabgen_spec::{raw::RawSpec, Model};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

/// The environment variable the rendered OpenTofu tree (bpg/proxmox) reads the token from.
pub const TOKEN_VAR: &str = "PROXMOX_VE_API_TOKEN";
/// Per-request timeout (connect, TLS, response).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Privileges the OpenTofu tree needs (docs/tofu.md), PVE 9 names; `VM.GuestAgent.Audit`
/// is `VM.Monitor` on PVE 8.
const TOFU_PRIVS: &[&str] = &[
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "SDN.Use",
    "Sys.Audit",
    "VM.Allocate",
    "VM.Audit",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.GuestAgent.Audit",
    "VM.PowerMgmt",
];

/// Privileges a `SOURCE=proxmox-iso` Packer build needs (docs/packer.md), PVE 9 names.
const PACKER_PRIVS: &[&str] = &[
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "SDN.Use",
    "Sys.Audit",
    "Sys.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.PowerMgmt",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warning",
            Status::Fail => "blocker",
        }
    }
}

#[derive(Debug)]
pub struct Check {
    pub group: &'static str,
    pub status: Status,
    /// Short id of the check (stable, for --json consumers and tests).
    pub id: String,
    pub message: String,
    /// The spec location: `file:line`, or the field path when the value is a default.
    pub at: String,
    pub fix: Option<String>,
}

/// Where values of the spec are written: `file:line` or the field path.
struct Locs<'a> {
    file: &'a str,
    raw: Option<RawSpec>,
}

impl Locs<'_> {
    fn at(&self, line: Option<u64>, path: &str) -> String {
        match line {
            Some(l) if l > 0 => format!("{}:{l} ({path})", self.file),
            _ => format!("{} ({path}, default)", self.file),
        }
    }
    fn site(&self, field: &str) -> String {
        let line = self.raw.as_ref().map(|r| {
            let s = &r.site;
            match field {
                "endpoint" => s.endpoint.referenced.line(),
                "node" => s.node.referenced.line(),
                "nodes" => s.nodes.as_ref().map_or(0, |n| n.referenced.line()),
                "bridge" => s.bridge.referenced.line(),
                "storage.vm" => s.storage.vm.referenced.line(),
                "storage.iso" => s.storage.iso.referenced.line(),
                "storage.snippets" => s.storage.snippets.referenced.line(),
                "ssh_host" => s.ssh_host.referenced.line(),
                "ssh_user" => s.ssh_user.referenced.line(),
                "insecure_tls" => 0,
                _ => 0,
            }
        });
        self.at(line, &format!("site.{field}"))
    }
    fn image(&self, name: &str) -> String {
        let found = self.raw.as_ref().and_then(|r| {
            r.images
                .value
                .iter()
                .enumerate()
                .find(|(_, i)| i.name.value == name)
                .map(|(n, i)| (n, i.name.referenced.line()))
        });
        match found {
            Some((n, line)) => self.at(Some(line), &format!("images[{n}].name")),
            None => self.at(None, "images"),
        }
    }
    /// `environments[N].cluster.api_address` of the environment `env`.
    fn cluster_api_address(&self, env: &str) -> String {
        let found = self.raw.as_ref().and_then(|r| {
            let (e, raw_env) = r
                .environments
                .iter()
                .enumerate()
                .find(|(_, e)| e.name.value == env)?;
            let line = raw_env
                .cluster
                .as_ref()?
                .api_address
                .as_ref()?
                .referenced
                .line();
            Some((e, line))
        });
        match found {
            Some((e, line)) => self.at(
                Some(line),
                &format!("environments[{e}].cluster.api_address"),
            ),
            None => self.at(None, "cluster.api_address"),
        }
    }

    /// `field`: `vm_id`, `ip`, `user_data`, `name`.
    fn vm(&self, env: &str, vm: &str, field: &str) -> String {
        let found = self.raw.as_ref().and_then(|r| {
            let (e, raw_env) = r
                .environments
                .iter()
                .enumerate()
                .find(|(_, e)| e.name.value == env)?;
            let (v, raw_vm) = raw_env
                .vms
                .iter()
                .enumerate()
                .find(|(_, v)| v.name.value == vm)?;
            let line = match field {
                "vm_id" => raw_vm.vm_id.as_ref().map_or(0, |x| x.referenced.line()),
                "ip" => raw_vm.ip.referenced.line(),
                "user_data" => raw_vm.user_data.as_ref().map_or(0, |x| x.referenced.line()),
                _ => raw_vm.name.referenced.line(),
            };
            Some((e, v, line))
        });
        match found {
            Some((e, v, line)) => {
                self.at(Some(line), &format!("environments[{e}].vms[{v}].{field}"))
            }
            None => self.at(None, &format!("environments.{env}.vms.{vm}.{field}")),
        }
    }
}

/// The largest API answer read (the biggest real ones, a cluster's resource list, are a
/// few MiB).
const BODY_LIMIT: u64 = 16 << 20;

/// A failed API call.
enum ApiError {
    /// No HTTP answer: connection refused, DNS, timeout, TLS.
    Transport(String),
    /// An HTTP status other than 200, with PVE's message where the body has one.
    Status(u16, String),
    /// A 200 whose body is not the API's JSON envelope (`{"data": …}`): something else
    /// answers at the endpoint (a proxy's page, another service on the port).
    NotPve(&'static str),
}

impl ApiError {
    fn text(&self) -> String {
        match self {
            ApiError::Transport(t) => t.clone(),
            ApiError::Status(code, msg) if msg.is_empty() => format!("HTTP {code}"),
            ApiError::Status(code, msg) => format!("HTTP {code}: {msg}"),
            ApiError::NotPve(why) => {
                format!("the answer is {why}, not the Proxmox VE API's JSON")
            }
        }
    }
}

struct Api {
    agent: ureq::Agent,
    base: String,
    /// `PVEAPIToken=…`: never printed.
    auth: Option<String>,
}

fn agent(insecure: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(insecure)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .max_redirects(0)
        .tls_config(tls)
        .user_agent(concat!("homelabgen-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn transport_text(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => format!("no answer within {}s", TIMEOUT.as_secs()),
        ureq::Error::HostNotFound => "the host name does not resolve".to_owned(),
        ureq::Error::ConnectionFailed => "connection refused or unreachable".to_owned(),
        ureq::Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused (nothing listens on that port)".to_owned()
            }
            std::io::ErrorKind::TimedOut => format!("no answer within {}s", TIMEOUT.as_secs()),
            _ => certificate_text(&e.to_string())
                .unwrap_or_else(|| format!("connection failed: {e}")),
        },
        other => other.to_string(),
    }
}

/// rustls' certificate errors in words (the raw error follows in brackets).
fn certificate_text(raw: &str) -> Option<String> {
    if !raw.contains("certificate") {
        return None;
    }
    let why = [
        (
            "UnknownIssuer",
            "issued by an authority this system does not trust",
        ),
        ("CaUsedAsEndEntity", "self-signed"),
        ("NotValidForName", "not valid for this host name"),
        ("Expired", "expired"),
        ("NotValidYet", "not valid yet"),
        ("BadSignature", "its signature does not verify"),
    ]
    .iter()
    .find(|(k, _)| raw.contains(k))
    .map_or("not trusted", |(_, v)| v);
    Some(format!("{why} [{raw}]"))
}

impl Api {
    fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ApiError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut req = self.agent.get(&url);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        let resp = req
            .call()
            .map_err(|e| ApiError::Transport(transport_text(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => ApiError::NotPve("larger than 16 MiB"),
                e => ApiError::Transport(transport_text(&e)),
            })?;
        let parsed: Result<Value, _> = serde_json::from_str(&body);
        if status == 200 {
            return match parsed {
                Ok(Value::Object(mut envelope)) => match envelope.remove("data") {
                    Some(data) => Ok(data),
                    None => Err(ApiError::NotPve("a JSON object without `data`")),
                },
                Ok(_) => Err(ApiError::NotPve("JSON, but not an object")),
                Err(_) if body.is_empty() => Err(ApiError::NotPve("empty")),
                Err(_) => Err(ApiError::NotPve("not JSON")),
            };
        }
        // Any other status: PVE's message and per-parameter errors, where the body has them.
        let parsed = parsed.unwrap_or(Value::Null);
        let mut msg = parsed
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned();
        if let Some(errors) = parsed.get("errors").and_then(Value::as_object) {
            let list: Vec<String> = errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            msg = format!("{msg} {}", list.join("; ")).trim().to_owned();
        }
        Err(ApiError::Status(status, msg))
    }
}

/// The token from the environment: `(token id, header value)`.
fn token_from_env() -> Result<(String, String), String> {
    let Ok(token) = std::env::var(TOKEN_VAR) else {
        return Err(format!("{TOKEN_VAR} is not set"));
    };
    let token = token.trim();
    // Printable ASCII without spaces only: anything else cannot go into an HTTP header.
    let printable = token.bytes().all(|b| b.is_ascii_graphic());
    let valid = token.split_once('=').filter(|(id, secret)| {
        printable
            && !secret.is_empty()
            && id
                .split_once('!')
                .is_some_and(|(user, name)| user.contains('@') && !name.is_empty())
    });
    match valid {
        Some((id, _)) => Ok((id.to_owned(), format!("PVEAPIToken={token}"))),
        None => Err(format!(
            "{TOKEN_VAR} is not of the form user@realm!tokenid=secret"
        )),
    }
}

/// The keys of a Packer var file doctor reads (nothing else of the file is kept).
const VAR_KEYS: &[&str] = &[
    "proxmox_username",
    "proxmox_token",
    "proxmox_ssh_host",
    "proxmox_ssh_user",
];

/// The Packer variables a build gets from its var files, only `VAR_KEYS`: the image
/// directory's `*.auto.pkrvars.hcl` (Packer loads them itself, in lexical order) and
/// `make packer VAR_FILE=…`, all passed as `--var-file` in Packer's order. Packer lets
/// a later file override an earlier one and any file override `PKR_VAR_*`
/// (`PackerVars::get`).
#[derive(Default, Debug)]
pub struct PackerVars {
    /// The files read, in order.
    files: Vec<String>,
    /// key -> (value, file, line), from the last file that sets it.
    values: BTreeMap<String, (String, String, usize)>,
}

/// A var file larger than this is refused (real ones are a few hundred bytes).
const VAR_FILE_MAX_BYTES: u64 = 1 << 20;

impl PackerVars {
    /// Read `paths` in order, a later file's value winning, as Packer does.
    pub fn read_all<S: AsRef<str>>(paths: &[S]) -> Result<Self, String> {
        let mut vars = PackerVars::default();
        for path in paths {
            vars.add_file(path.as_ref())?;
        }
        Ok(vars)
    }

    /// Read `path`, an HCL var file, over the values read so far. Only a regular file
    /// of at most `VAR_FILE_MAX_BYTES` is read (a FIFO would hang). The error names the
    /// file, line and column and never quotes the file's text (it may hold the token).
    fn add_file(&mut self, path: &str) -> Result<(), String> {
        use hcl::eval::Evaluate;
        use std::io::Read;
        let shown = homelabgen_spec::diag::terminal_safe(path);
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                .open(path)
        }
        .map_err(|e| format!("{shown}: {e}"))?;
        let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!(
                "{shown}: not a regular file: give a Packer var file"
            ));
        }
        let mut bytes = Vec::new();
        file.take(VAR_FILE_MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{shown}: {e}"))?;
        if bytes.len() as u64 > VAR_FILE_MAX_BYTES {
            return Err(format!(
                "{shown}: larger than {} KiB: not a Packer var file",
                VAR_FILE_MAX_BYTES >> 10
            ));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{shown}: not UTF-8 text: not a Packer var file"))?;
        let body = hcl::parse(&text).map_err(|e| match e {
            hcl::Error::Parse(p) => format!(
                "{shown}:{}:{}: not a valid Packer var file (HCL): {}",
                p.location().line(),
                p.location().column(),
                p.message()
            ),
            _ => format!("{shown}: not a valid Packer var file (HCL)"),
        })?;
        for attr in body.attributes() {
            let key = attr.key();
            if !VAR_KEYS.contains(&key) {
                continue;
            }
            let line = text
                .lines()
                .position(|l| {
                    l.trim_start()
                        .strip_prefix(key)
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                })
                .map_or(0, |n| n + 1);
            let value = match attr.expr() {
                hcl::Expression::String(s) => Some(s.clone()),
                other => match other.evaluate(&hcl::eval::Context::new()) {
                    Ok(hcl::Value::String(s)) => Some(s),
                    _ => None,
                },
            };
            let Some(value) = value else {
                return Err(format!(
                    "{shown}:{line}: {key} is not a plain string: write it as {key} = \"...\""
                ));
            };
            self.values
                .insert(key.to_owned(), (value, path.to_owned(), line));
        }
        self.files.push(path.to_owned());
        Ok(())
    }

    /// The value a Packer build gets for variable `key`, and where it comes from: the
    /// last var file that sets it (a var file beats the environment in Packer), else
    /// `PKR_VAR_<key>`.
    fn get(&self, key: &str) -> Option<(String, String)> {
        if let Some((value, file, line)) = self.values.get(key) {
            return Some((value.clone(), format!("{file}:{line} ({key})")));
        }
        let var = format!("PKR_VAR_{key}");
        std::env::var(&var)
            .ok()
            .map(|v| (v, format!("environment variable {var}")))
    }
}

/// The Packer token, when the Packer variables (var file, then `PKR_VAR_*`) hold one:
/// `(token id, header value, where)`.
fn packer_token(vars: &PackerVars) -> Option<(String, String, String)> {
    let (user, user_at) = vars.get("proxmox_username")?;
    let (secret, secret_at) = vars.get("proxmox_token")?;
    let (user, secret) = (user.trim(), secret.trim());
    let printable = |t: &str| t.bytes().all(|b| b.is_ascii_graphic());
    let at = if user_at == secret_at {
        user_at
    } else {
        format!("{user_at}, {secret_at}")
    };
    (user.contains('!')
        && user.contains('@')
        && !secret.is_empty()
        && printable(user)
        && printable(secret))
    .then(|| (user.to_owned(), format!("PVEAPIToken={user}={secret}"), at))
}

struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(
        &mut self,
        group: &'static str,
        status: Status,
        id: impl Into<String>,
        message: impl Into<String>,
        at: impl Into<String>,
        fix: Option<String>,
    ) {
        self.checks.push(Check {
            group,
            status,
            id: id.into(),
            message: message.into(),
            at: at.into(),
            fix,
        });
    }
}

fn sh_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The ssh command doctor runs: `HOMELABGEN_SSH` split on whitespace (e.g.
/// `ssh -F ~/.ssh/lab.conf`), default `ssh`.
fn ssh_command() -> Vec<String> {
    let cmd: Vec<String> = std::env::var("HOMELABGEN_SSH")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if cmd.is_empty() {
        vec!["ssh".to_owned()]
    } else {
        cmd
    }
}

/// Run `cmd` with a deadline; `None` when it could not start or ran past it (killed).
fn run_with_deadline(
    cmd: &mut std::process::Command,
    limit: std::time::Duration,
) -> Option<Result<std::process::Output, String>> {
    use std::process::Stdio;
    let mut child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Some(Err(e.to_string())),
    };
    let start = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Some(child.wait_with_output().map_err(|e| e.to_string())),
            Ok(None) if start.elapsed() < limit => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// `(address, how it was found)`, or why the provider finds none.
type NodeAddress = Result<(String, String), String>;

/// Where the provider uploads a node's snippets over SSH.
struct SnippetTarget {
    node: String,
    host: String,
    /// How the address was found, for the message.
    origin: String,
    /// The spec location the check concerns.
    at: String,
}

/// The address the bpg provider (v0.111) connects to for snippets on `node` when the
/// provider's `ssh {}` block has no `node {}` entry for it: its API lookup, in order,
/// over the node's interfaces sorted by priority: the first with an IPv4 address and
/// gateway, else an IPv6 address and gateway, else any IPv4 address; else a DNS lookup
/// of the node's name. `(address, how it was found)`, or why there is none.
fn provider_node_address(node: &str, ifaces: &[Value]) -> NodeAddress {
    let mut sorted: Vec<&Value> = ifaces.iter().collect();
    sorted.sort_by_key(|i| i.get("priority").and_then(Value::as_i64).unwrap_or(0));
    let field = |i: &Value, k: &str| {
        i.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let found = |i: &Value, addr: &str, rule: &str| {
        let iface = field(i, "iface").unwrap_or_else(|| "?".to_owned());
        let addr = addr.split('/').next().unwrap_or(addr).to_owned();
        (
            addr,
            format!("the provider's address lookup: {rule} {iface}"),
        )
    };
    for (addr_key, gw_key, rule) in [
        ("address", "gateway", "the IPv4 address of"),
        ("address6", "gateway6", "the IPv6 address of"),
    ] {
        if let Some((i, a)) = sorted.iter().find_map(|i| {
            field(i, gw_key)?;
            Some((*i, field(i, addr_key)?))
        }) {
            return Ok(found(i, &a, rule));
        }
    }
    if let Some((i, a)) = sorted.iter().find_map(|i| Some((*i, field(i, "address")?))) {
        return Ok(found(i, &a, "the first IPv4 address, of"));
    }
    use std::net::ToSocketAddrs;
    match (node, 22).to_socket_addrs() {
        Ok(mut addrs) => match addrs.find(|a| a.is_ipv4()) {
            Some(a) => Ok((
                a.ip().to_string(),
                format!("the provider's address lookup: DNS for {node} (no interface of the node has an address)"),
            )),
            None => Err(format!("no interface of node {node} has an address, and {node} resolves to no IPv4 address")),
        },
        Err(_) => Err(format!(
            "no interface of node {node} has an address, and the name {node} does not resolve"
        )),
    }
}

/// The provider uploads snippets (user_data, cluster vendor data) over SSH as `site.ssh_user` to
/// `site.ssh_host` (port 22, keys from the ssh-agent): the node must answer, and the
/// user must be able to write the snippets directory (or, not root, run `pvesm` and
/// `tee` through passwordless sudo, docs/tofu.md). Asked with `test -w` and `sudo -n -l`:
/// nothing is written.
///
/// `target` is the node and the address the provider connects to: `site.ssh_host` for
/// `site.node`, and for another node the address the provider looks up itself
/// (`provider_node_address`).
fn ssh_snippets(
    r: &mut Report,
    api: &Api,
    site: &homelabgen_spec::model::Site,
    locs: &Locs,
    target: &SnippetTarget,
) {
    let storage = &site.storage.snippets;
    let host_at = target.at.clone();
    let host = target.host.as_str();
    let dest = format!("{}@{}", site.ssh_user, host);
    // Which node, when it is not the one site.ssh_host names.
    let on = if target.node == site.node {
        String::new()
    } else {
        format!(" (node {}, {})", target.node, target.origin)
    };
    let path = api
        .get(&format!("storage/{storage}"), &[])
        .ok()
        .and_then(|v| v.get("path").and_then(Value::as_str).map(str::to_owned));
    let Some(path) = path.filter(|p| p.starts_with('/')) else {
        r.add(
            "site",
            Status::Warn,
            "ssh-snippets",
            format!("storage {storage} names no directory (GET /storage/{storage} has no path): cannot check that {dest} can write its snippets"),
            locs.site("storage.snippets"),
            Some("snippets need a directory storage (dir, NFS, CIFS, CephFS)".to_owned()),
        );
        return;
    };
    let dir = format!("{}/snippets", path.trim_end_matches('/'));
    // Prints one word; exit 255 is ssh's own failure.
    let probe = format!(
        "d={}; [ -d \"$d\" ] || d={}; if [ ! -d \"$d\" ]; then echo missing; elif [ -w \"$d\" ]; then echo writable; \
         elif command -v sudo >/dev/null && sudo -n -l pvesm >/dev/null 2>&1 && sudo -n -l tee >/dev/null 2>&1; then echo sudo; else echo denied; fi",
        sh_quote(&dir),
        sh_quote(&path)
    );
    let argv = ssh_command();
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).args([
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-l",
        &site.ssh_user,
        "--",
        host,
        &probe,
    ]);
    let out = match run_with_deadline(&mut cmd, std::time::Duration::from_secs(30)) {
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            r.add(
                "site",
                Status::Warn,
                "ssh-snippets",
                format!(
                    "cannot run {} ({e}): the SSH access for snippet uploads is not checked",
                    argv[0]
                ),
                &host_at,
                Some("install the OpenSSH client, or point HOMELABGEN_SSH at it".to_owned()),
            );
            return;
        }
        None => {
            r.add(
                "site",
                Status::Fail,
                "ssh-snippets",
                format!("ssh {dest}{on} did not answer within 30 s: OpenTofu uploads snippets (user_data, cluster vendor data) over SSH"),
                &host_at,
                Some(format!("check that `ssh {dest} true` works (the address reaches the node on port 22)")),
            );
            return;
        }
    };
    let word = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let err: String = err.chars().filter(|c| !c.is_control()).take(200).collect();
    match (out.status.code(), word.as_str()) {
        (Some(0), "writable") => r.add(
            "site",
            Status::Ok,
            "ssh-snippets",
            format!("{dest}{on} can write {dir} over SSH (snippets of storage {storage})"),
            &host_at,
            None,
        ),
        (Some(0), "sudo") => r.add(
            "site",
            Status::Ok,
            "ssh-snippets",
            format!("{dest}{on} may run pvesm and tee through passwordless sudo (snippets into {dir})"),
            &host_at,
            None,
        ),
        (Some(0), "missing") => r.add(
            "site",
            Status::Fail,
            "ssh-snippets",
            format!("{path}, the directory of storage {storage}, does not exist on {host}{on} (or {} cannot see it)", site.ssh_user),
            locs.site("storage.snippets"),
            Some(format!("on the node: `mkdir -p {}` (or fix the storage's path: `pvesm set {storage} --path ...`)", sh_quote(&dir))),
        ),
        (Some(0), "denied") => r.add(
            "site",
            Status::Fail,
            "ssh-snippets",
            format!("{dest}{on} cannot write {dir} and has no passwordless sudo for pvesm and tee: OpenTofu cannot upload snippets (user_data, cluster vendor data)"),
            locs.site("ssh_user"),
            Some(format!("use root (`ssh_user: root`), or on the node give {} passwordless sudo for /usr/sbin/pvesm, /usr/sbin/qm and tee (docs/tofu.md)", site.ssh_user)),
        ),
        _ => r.add(
            "site",
            Status::Fail,
            "ssh-snippets",
            format!(
                "ssh {dest}{on} failed{}: OpenTofu uploads snippets (user_data, cluster vendor data) over SSH",
                if err.is_empty() { String::new() } else { format!(": {err}") }
            ),
            &host_at,
            Some(format!("load the key of {} into your ssh-agent (`ssh-add`), and check that `ssh {dest} true` works", site.ssh_user)),
        ),
    }
}

/// A `make packer` with the qemu source uploads its disk with the rendered
/// `scripts/upload-to-proxmox.sh`: over SSH as `PROXMOX_SSH_USER` (Packer's
/// `proxmox_ssh_user`, default `site.ssh_user`) to `PROXMOX_SSH_HOST`
/// (`proxmox_ssh_host`, default `site.ssh_host`), port `PROXMOX_SSH_PORT` (22), key
/// `PROXMOX_SSH_IDENTITY`, known hosts `PROXMOX_SSH_KNOWN_HOSTS`; it stages the qcow2
/// in `REMOTE_TMPDIR` (`/var/tmp`) and runs `qm` and `pvesh` there, as root or, for
/// another user, through `sudo -n`. The same checks, read-only: the node answers, the
/// staging directory exists and is writable (`test -w`), its free space (`df -Pk`)
/// holds the image's disk, `qm list` runs as the script would run it.
fn ssh_upload(
    r: &mut Report,
    site: &homelabgen_spec::model::Site,
    images: &[&homelabgen_spec::model::Image],
    vars: &PackerVars,
    locs: &Locs,
) {
    const ID: &str = "ssh-upload";
    let (user, user_at) = vars
        .get("proxmox_ssh_user")
        .filter(|(u, _)| !u.trim().is_empty())
        .unwrap_or_else(|| (site.ssh_user.clone(), locs.site("ssh_user")));
    let (host, host_at) = vars
        .get("proxmox_ssh_host")
        .filter(|(h, _)| !h.trim().is_empty())
        .unwrap_or_else(|| (site.ssh_host.clone(), locs.site("ssh_host")));
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let port = env("PROXMOX_SSH_PORT").unwrap_or_else(|| "22".to_owned());
    let tmpdir = env("REMOTE_TMPDIR").unwrap_or_else(|| "/var/tmp".to_owned());
    let tmpdir_at = if env("REMOTE_TMPDIR").is_some() {
        "environment variable REMOTE_TMPDIR".to_owned()
    } else {
        "REMOTE_TMPDIR (default /var/tmp)".to_owned()
    };
    let dest = format!("{user}@{host}");
    let script = "scripts/upload-to-proxmox.sh";
    let probe = format!(
        "d={}; if [ ! -d \"$d\" ]; then echo dir=missing; elif [ -w \"$d\" ]; then echo dir=writable; else echo dir=denied; fi; \
         [ ! -d \"$d\" ] || df -Pk \"$d\" 2>/dev/null | awk 'NR == 2 {{ print \"avail=\" $4 }}'; \
         if [ \"$(id -u)\" = 0 ]; then echo uid=0; if qm list >/dev/null 2>&1; then echo qm=ok; else echo qm=failed; fi; \
         else echo uid=other; if command -v sudo >/dev/null 2>&1 && sudo -n qm list >/dev/null 2>&1; then echo qm=sudo; else echo qm=denied; fi; fi",
        sh_quote(&tmpdir)
    );
    let argv = ssh_command();
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]);
    if let Some(key) = env("PROXMOX_SSH_IDENTITY") {
        cmd.args(["-o", "IdentitiesOnly=yes", "-i", &key]);
    }
    if let Some(known) = env("PROXMOX_SSH_KNOWN_HOSTS") {
        cmd.args([
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &format!("UserKnownHostsFile={known}"),
        ]);
    }
    cmd.args(["-p", &port, "-l", &user, "--", &host, &probe]);
    let why = format!("the qemu build uploads its disk with {script} over SSH");
    let out = match run_with_deadline(&mut cmd, std::time::Duration::from_secs(30)) {
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            r.add(
                "images",
                Status::Fail,
                ID,
                format!("cannot run {} ({e}): {why}", argv[0]),
                &host_at,
                Some("install the OpenSSH client (or point HOMELABGEN_SSH at it)".to_owned()),
            );
            return;
        }
        None => {
            r.add(
                "images",
                Status::Fail,
                ID,
                format!("ssh {dest} (port {port}) did not answer within 30 s: {why}"),
                &host_at,
                Some(format!(
                    "check that `ssh -p {port} {dest} true` works (proxmox_ssh_host / site.ssh_host reaches the node; PROXMOX_SSH_PORT)"
                )),
            );
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let (Some(dir), Some(uid), Some(qm)) = (field("dir"), field("uid"), field("qm")) else {
        let err = String::from_utf8_lossy(&out.stderr);
        let err: String = err
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        r.add(
            "images",
            Status::Fail,
            ID,
            format!(
                "ssh {dest} (port {port}) failed{}: {why}",
                if err.is_empty() { String::new() } else { format!(": {err}") }
            ),
            &host_at,
            Some(format!(
                "load the key of {user} into your ssh-agent (`ssh-add`) or set PROXMOX_SSH_IDENTITY, and check that `ssh -p {port} {dest} true` works"
            )),
        );
        return;
    };
    r.add(
        "images",
        Status::Ok,
        ID,
        format!("{dest} answers over SSH (port {port}): the qemu build's upload logs in"),
        &host_at,
        None,
    );
    match dir.as_str() {
        "writable" => {
            let need = images.iter().map(|i| i.build.disk_gib).max().unwrap_or(0);
            let avail_kib: Option<u64> = field("avail").and_then(|a| a.parse().ok());
            match avail_kib {
                Some(a) if need > 0 && a < need << 20 => {
                    let at = images.first().map_or(tmpdir_at.clone(), |i| locs.image(&i.name));
                    r.add(
                        "images",
                        Status::Warn,
                        ID,
                        format!(
                            "{tmpdir} on {host} has {} MiB free; the image's disk is {need} GiB (images[].build.disk): the qcow2 is staged there and may not fit (it is at most that size, often smaller)",
                            a >> 10
                        ),
                        at,
                        Some(format!(
                            "free space in {tmpdir} on the node (`df -h {}`), or stage elsewhere: `export REMOTE_TMPDIR=/a/dir/with/room`",
                            sh_quote(&tmpdir)
                        )),
                    );
                }
                Some(a) => r.add(
                    "images",
                    Status::Ok,
                    ID,
                    format!(
                        "{user} can write {tmpdir} on {host} ({} GiB free, the image's disk is {need} GiB)",
                        a >> 20
                    ),
                    &tmpdir_at,
                    None,
                ),
                None => r.add(
                    "images",
                    Status::Ok,
                    ID,
                    format!("{user} can write {tmpdir} on {host} (free space unknown: `df -Pk` gave nothing)"),
                    &tmpdir_at,
                    None,
                ),
            }
        }
        "missing" => r.add(
            "images",
            Status::Fail,
            ID,
            format!("{tmpdir} does not exist on {host}: {script} stages the qcow2 there"),
            &tmpdir_at,
            Some(format!(
                "point REMOTE_TMPDIR at a directory of the node (`export REMOTE_TMPDIR=/var/tmp`), or create it there: `mkdir -p {}`",
                sh_quote(&tmpdir)
            )),
        ),
        _ => r.add(
            "images",
            Status::Fail,
            ID,
            format!("{user} cannot write {tmpdir} on {host}: {script} stages the qcow2 there"),
            &tmpdir_at,
            Some(format!(
                "`export REMOTE_TMPDIR=` a directory {user} may write on the node (e.g. its home), or on the node: `chmod 1777 {}`",
                sh_quote(&tmpdir)
            )),
        ),
    }
    match (uid.as_str(), qm.as_str()) {
        ("0", "ok") => r.add(
            "images",
            Status::Ok,
            ID,
            format!("{dest} runs qm as root (qm list works): the upload can create the template"),
            &user_at,
            None,
        ),
        (_, "sudo") => r.add(
            "images",
            Status::Ok,
            ID,
            format!("{dest} runs qm through passwordless sudo (sudo -n qm list works), as the upload does for a user other than root"),
            &user_at,
            None,
        ),
        ("0", _) => r.add(
            "images",
            Status::Fail,
            ID,
            format!("`qm list` fails as root on {host}: is it a Proxmox VE node? {script} runs qm there"),
            &host_at,
            Some("set `ssh_host:` (or proxmox_ssh_host) to a Proxmox VE node of the cluster; on it, `qm list` must work".to_owned()),
        ),
        _ => r.add(
            "images",
            Status::Fail,
            ID,
            format!("{dest} is not root and may not run qm through passwordless sudo (`sudo -n qm list` fails): {script} cannot create the template"),
            &user_at,
            Some(format!(
                "use root (`ssh_user: root` in the spec, or PKR_VAR_proxmox_ssh_user=root), or on the node: `echo '{user} ALL=(root) NOPASSWD: /usr/sbin/qm, /usr/bin/pvesh' > /etc/sudoers.d/homelabgen-upload`"
            )),
        ),
    }
}

fn content_set(v: &Value) -> BTreeSet<String> {
    v.as_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .or_else(|| v.as_f64().map(|f| f as u64))
}

/// The IPv4 addresses of `ipconfigN` keys of a VM config (`ip=A.B.C.D/N,gw=…`).
fn config_ips(config: &Value) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    if let Some(map) = config.as_object() {
        for (k, v) in map {
            if !k.starts_with("ipconfig") {
                continue;
            }
            for part in v.as_str().unwrap_or("").split(',') {
                if let Some(ip) = part.strip_prefix("ip=") {
                    if let Ok(ip) = ip.split('/').next().unwrap_or("").parse() {
                        out.push(ip);
                    }
                }
            }
        }
    }
    out
}

/// A VM as `cluster/resources` lists it.
struct Guest {
    vmid: u64,
    name: String,
    node: String,
    template: bool,
}

/// The step a run prepares (`--for`): which checks it makes and how strict they are.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum Scope {
    /// Every check (the default): both tools' privileges, templates must exist.
    #[default]
    All,
    /// A `SOURCE=proxmox-iso` Packer build: site, Packer privileges (blockers), storage
    /// `vm` and `iso` (blockers), and the template name must be free (it is built now).
    Packer {
        /// Only this image (default: every image).
        image: Option<String>,
        /// The release being built, when it is not the spec's (`IMAGE_VERSION`).
        release: Option<u32>,
        /// `make packer SOURCE=`: a `qemu` build only uploads its disk over SSH (no
        /// token needed, no Packer privileges, no ISO storage); `proxmox-iso` builds
        /// on Proxmox through the API.
        source: PackerSource,
    },
    /// `tofu apply`: site, OpenTofu privileges, the templates the environment clones,
    /// storage, vm ids and IPs; Packer's privileges are not asked.
    Tofu,
    /// `make up`: as `Tofu`, but a missing template is a warning (its image step builds it).
    Up,
}

/// Where a Packer build runs (`make packer SOURCE=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum PackerSource {
    /// On Proxmox, through the API (`proxmox-iso`).
    #[default]
    ProxmoxIso,
    /// Locally under QEMU; the disk goes to the node over SSH (upload-to-proxmox.sh).
    Qemu,
}

/// Run every check of `scope`. `env`: only this environment (default: all). `vars`:
/// the Packer var file of the build (`--var-file`), empty without one.
pub fn run(
    model: &Model,
    spec_file: &str,
    spec_text: &str,
    env: Option<&str>,
    scope: &Scope,
    vars: &PackerVars,
    probe_lan: bool,
) -> Vec<Check> {
    let packer_only = matches!(scope, Scope::Packer { .. });
    let qemu = matches!(
        scope,
        Scope::Packer {
            source: PackerSource::Qemu,
            ..
        }
    );
    // Packer's API privileges: a proxmox-iso build's (the qemu source uses no token).
    let want_packer = matches!(scope, Scope::All | Scope::Packer { .. }) && !qemu;
    let locs = Locs {
        file: spec_file,
        raw: homelabgen_spec::load::parse(spec_file, spec_text).ok(),
    };
    let mut r = Report { checks: Vec::new() };
    let site = &model.site;
    let envs: Vec<_> = model
        .environments
        .iter()
        .filter(|e| !packer_only && env.is_none_or(|n| e.name == n))
        .collect();
    let vms: Vec<(&str, &homelabgen_spec::model::Vm)> = envs
        .iter()
        .flat_map(|e| e.vms.iter().map(move |v| (e.name.as_str(), v)))
        .collect();
    // Snippets: a VM's own user_data, and the vendor data of every VM of a cluster
    // (its k3s role, join URL and token), both uploaded over SSH by the provider.
    let uses_snippets =
        vms.iter().any(|(_, v)| v.user_data.is_some()) || envs.iter().any(|e| e.cluster.is_some());
    // The images checked: those the selected environments clone (every image without --env).
    let images: Vec<_> = model
        .images
        .iter()
        .filter(|i| match scope {
            Scope::Packer { image, .. } => image.as_ref().is_none_or(|n| &i.name == n),
            _ => env.is_none() || vms.iter().any(|(_, v)| v.image == i.name),
        })
        .collect();
    // The qemu source's upload goes over SSH, not the API: checked first, so that an API
    // problem below does not hide it.
    if qemu {
        ssh_upload(&mut r, site, &images, vars, &locs);
        // The qemu build needs no API token: without one the API is not asked at all
        // (said once), so an API the build does not use cannot block it.
        if let Err(why) = token_from_env() {
            r.add(
                "site",
                Status::Warn,
                "token",
                format!("{why}: the qemu build does not need it, but without it the node's storage, bridge and the template name are not checked"),
                format!("environment variable {TOKEN_VAR}"),
                Some(format!("`export {TOKEN_VAR}='tofu@pve!homelab=<secret>'` (docs/tofu.md) to check them too")),
            );
            return r.checks;
        }
    }

    // ---------------------------------------------------------------- reachability + TLS
    let base = format!("{}/api2/json", site.endpoint);
    let verified = Api {
        agent: agent(false),
        base: base.clone(),
        auth: None,
    };
    let endpoint_at = locs.site("endpoint");
    let tls_at = format!("{}; site.insecure_tls", endpoint_at);
    match verified.get("version", &[]) {
        Ok(_) | Err(ApiError::Status(..) | ApiError::NotPve(_))
            if site.endpoint.starts_with("http://") =>
        {
            r.add(
                "site",
                Status::Warn,
                "tls",
                format!(
                    "{} answers over plain HTTP: the token crosses the network unencrypted",
                    site.endpoint
                ),
                &endpoint_at,
                Some("use `https://` (the Proxmox API listens with TLS on port 8006)".to_owned()),
            );
        }
        Ok(_) | Err(ApiError::Status(..) | ApiError::NotPve(_)) => r.add(
            "site",
            Status::Ok,
            "tls",
            format!(
                "{} answers over TLS with a trusted certificate",
                site.endpoint
            ),
            &tls_at,
            None,
        ),
        Err(ApiError::Transport(text)) => {
            let tls_problem = text.to_ascii_lowercase().contains("certificate");
            if !tls_problem {
                r.add(
                    "site",
                    Status::Fail,
                    "reachable",
                    format!("{} is not reachable: {text}", site.endpoint),
                    &endpoint_at,
                    Some(format!(
                        "check that the host is up and `site.endpoint` names it and port 8006: `curl -k {}/api2/json/version`",
                        site.endpoint
                    )),
                );
                return r.checks;
            }
            if site.insecure_tls {
                // The Proxmox default; the spec chose to accept it: said, not a warning.
                r.add(
                    "site",
                    Status::Ok,
                    "tls",
                    format!(
                        "the certificate of {} is not trusted: {text}; accepted because site.insecure_tls is true",
                        site.endpoint
                    ),
                    &tls_at,
                    None,
                );
            } else {
                r.add(
                    "site",
                    Status::Fail,
                    "tls",
                    format!(
                        "the certificate of {} is not trusted: {text}",
                        site.endpoint
                    ),
                    &tls_at,
                    Some("install a trusted certificate on the node (`pvenode acme cert order`), or set `insecure_tls: true` in the spec".to_owned()),
                );
                return r.checks;
            }
        }
    }

    // ---------------------------------------------------------------- token
    // A Packer build talks to the API with the Packer variables' token when they hold one.
    // A Packer build talks to the API with the token Packer gets: from the var file
    // (`--var-file`, `make packer VAR_FILE=`), else PKR_VAR_proxmox_username/_token.
    let build_token = if packer_only && !qemu {
        packer_token(vars)
    } else {
        None
    };
    let token_at = match &build_token {
        Some((_, _, at)) => at.clone(),
        None => format!("environment variable {TOKEN_VAR}"),
    };
    let build_token = build_token.map(|(id, auth, _)| (id, auth));
    let (token_id, auth) = match build_token.map_or_else(token_from_env, Ok) {
        Ok(t) => t,
        Err(why) => {
            let why = if packer_only {
                match vars.files.as_slice() {
                    [] => format!(
                        "{why}, and PKR_VAR_proxmox_username / PKR_VAR_proxmox_token are not both set"
                    ),
                    files => format!("{why}, and neither {} nor PKR_VAR_proxmox_username / PKR_VAR_proxmox_token hold both the token id and its secret", files.join(", ")),
                }
            } else {
                why
            };
            r.add("site", Status::Fail, "token", why, &token_at, Some(format!(
                "create a token (docs/tofu.md) and `export {TOKEN_VAR}='tofu@pve!homelab=<secret>'` in this shell"
            )));
            return r.checks;
        }
    };
    let api = Api {
        agent: agent(site.insecure_tls),
        base,
        auth: Some(auth),
    };
    let not_pve_fix = format!(
        "point `site.endpoint` at the Proxmox VE API itself (`https://<node>:8006`); now {}",
        site.endpoint
    );
    let version = match api.get("version", &[]) {
        Ok(v) => v,
        Err(ApiError::Status(401, msg)) => {
            r.add(
                "site",
                Status::Fail,
                "token",
                format!(
                    "the API refuses the token {token_id} (401 {})",
                    if msg.is_empty() {
                        "authentication failure"
                    } else {
                        &msg
                    }
                ),
                &token_at,
                Some(format!(
                    "check the secret, or create a new one: `pveum user token add {} {} --privsep 0` and export it as {TOKEN_VAR}",
                    token_id.split('!').next().unwrap_or(""),
                    token_id.split('!').nth(1).unwrap_or("")
                )),
            );
            return r.checks;
        }
        Err(e) => {
            let fix = matches!(e, ApiError::NotPve(_)).then(|| not_pve_fix.clone());
            r.add(
                "site",
                Status::Fail,
                "reachable",
                format!("GET /version failed: {}", e.text()),
                &endpoint_at,
                fix,
            );
            return r.checks;
        }
    };
    // Proxmox VE always names its version: an answer without one is another service,
    // and its 200 says nothing about the token.
    let Some(version_text) = version
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        r.add(
            "site",
            Status::Fail,
            "reachable",
            format!(
                "GET /version: {}",
                ApiError::NotPve("a JSON envelope without a version").text()
            ),
            &endpoint_at,
            Some(not_pve_fix.clone()),
        );
        return r.checks;
    };
    r.add(
        "site",
        Status::Ok,
        "token",
        format!("the API accepts the token {token_id}"),
        &token_at,
        None,
    );
    let major: u32 = version_text
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    match major {
        8 | 9 => r.add(
            "site",
            Status::Ok,
            "version",
            format!("Proxmox VE {version_text}"),
            &endpoint_at,
            None,
        ),
        m if m > 9 => r.add(
            "site",
            Status::Warn,
            "version",
            format!("Proxmox VE {version_text}: newer than the 8 and 9 this tree is tested with"),
            &endpoint_at,
            None,
        ),
        _ => r.add(
            "site",
            Status::Fail,
            "version",
            format!("Proxmox VE {version_text}: the tree needs Proxmox VE 8 or 9"),
            &endpoint_at,
            Some("upgrade the node (`pve7to8`, then `apt full-upgrade`)".to_owned()),
        ),
    }
    let monitor = |p: &str| -> String {
        if p == "VM.GuestAgent.Audit" && major < 9 {
            "VM.Monitor".to_owned()
        } else {
            p.to_owned()
        }
    };

    // ---------------------------------------------------------------- nodes
    let node_at = locs.site("node");
    let nodes: Vec<(String, String)> = match api.get("nodes", &[]) {
        Ok(list) => list
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|n| {
                        (
                            n.get("node")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                            n.get("status")
                                .and_then(Value::as_str)
                                .unwrap_or("unknown")
                                .to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) => {
            r.add(
                "site",
                Status::Fail,
                "node",
                format!("cannot list the nodes: {}", e.text()),
                &node_at,
                Some(format!(
                    "grant Sys.Audit on /nodes: `pveum acl modify /nodes --tokens {} --roles PVEAuditor`",
                    sh_quote(&token_id)
                )),
            );
            return r.checks;
        }
    };
    let mut names: Vec<&str> = nodes
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        names.push("(none listed)");
    }
    let node_ok = match nodes.iter().find(|(n, _)| *n == site.node) {
        Some((_, status)) if status == "online" => {
            r.add(
                "site",
                Status::Ok,
                "node",
                format!("node {} is online", site.node),
                &node_at,
                None,
            );
            true
        }
        Some((_, status)) => {
            r.add(
                "site",
                Status::Fail,
                "node",
                format!("node {} is {status}", site.node),
                &node_at,
                Some(format!(
                    "start the node, or check `pvecm status` on {}",
                    site.node
                )),
            );
            false
        }
        None => {
            r.add(
                "site",
                Status::Fail,
                "node",
                format!(
                    "node {} does not exist; the cluster has: {}",
                    site.node,
                    names.join(", ")
                ),
                &node_at,
                Some(format!(
                    "set `node:` to one of {} (`pvesh get /nodes` lists them)",
                    names.join(", ")
                )),
            );
            false
        }
    };

    // The other nodes VMs are placed on (site.nodes): each must exist and be online.
    let nodes_at = locs.site("nodes");
    for other in site.nodes.iter().filter(|n| **n != site.node) {
        match nodes.iter().find(|(n, _)| n == other) {
            Some((_, status)) if status == "online" => r.add(
                "site",
                Status::Ok,
                "node",
                format!("node {other} is online"),
                &nodes_at,
                None,
            ),
            Some((_, status)) => r.add(
                "site",
                Status::Fail,
                "node",
                format!("node {other} (site.nodes) is {status}: VMs placed on it cannot be created"),
                &nodes_at,
                Some(
                    "start the node, or take it out of `site.nodes` (its VMs move to the others on the next render)"
                        .to_owned(),
                ),
            ),
            None => r.add(
                "site",
                Status::Fail,
                "node",
                format!(
                    "node {other} (site.nodes) does not exist; the cluster has: {}",
                    names.join(", ")
                ),
                &nodes_at,
                Some(format!(
                    "list only nodes of the cluster in `site.nodes`: {}",
                    names.join(", ")
                )),
            ),
        }
    }

    // ---------------------------------------------------------------- privileges
    let has = |privs: &Value, p: &str| privs.get(p).is_some();
    // Where each privilege is checked: VM.* on /vms, Datastore.* on the storages the
    // tool writes to, Sys.* on the node, SDN.Use on the bridge (PVE 8+: a plain bridge
    // is /sdn/zones/localnetwork/<bridge>). Effective privileges, inherited included.
    let targets = |name: &str, packer: bool| -> Vec<String> {
        if name.starts_with("VM.") {
            vec!["/vms".to_owned()]
        } else if name.starts_with("Datastore.") {
            let mut t = vec![format!("/storage/{}", site.storage.vm)];
            let extra = if packer {
                Some(&site.storage.iso)
            } else {
                uses_snippets.then_some(&site.storage.snippets)
            };
            if let Some(x) = extra.filter(|x| **x != site.storage.vm) {
                t.push(format!("/storage/{x}"));
            }
            t
        } else if name.starts_with("Sys.") {
            vec![format!("/nodes/{}", site.node)]
        } else {
            vec![format!("/sdn/zones/localnetwork/{}", site.bridge)]
        }
    };
    // path -> (OpenTofu's privileges there, Packer's)
    let mut wanted: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let lists: &[(&[&str], bool)] = match scope {
        Scope::All => &[(TOFU_PRIVS, false), (PACKER_PRIVS, true)],
        Scope::Packer { .. } if qemu => &[],
        Scope::Packer { .. } => &[(PACKER_PRIVS, true)],
        Scope::Tofu | Scope::Up => &[(TOFU_PRIVS, false)],
    };
    for &(list, packer) in lists {
        for name in list.iter().map(|p| monitor(p)) {
            for t in targets(&name, packer) {
                let e = wanted.entry(t).or_default();
                let side = if packer { &mut e.1 } else { &mut e.0 };
                if !side.contains(&name) {
                    side.push(name.clone());
                }
            }
        }
    }
    let packer_token = packer_token(vars);
    let packer_api = packer_token.as_ref().map(|(_, auth, _)| Api {
        agent: agent(site.insecure_tls),
        base: api.base.clone(),
        auth: Some(auth.clone()),
    });
    let packer_id = packer_token
        .as_ref()
        .map_or(token_id.clone(), |(id, _, _)| id.clone());
    // A Packer token the API refuses: said once, instead of "lacks" every privilege.
    let packer_refused = match &packer_api {
        Some(pa) if !images.is_empty() => {
            matches!(pa.get("version", &[]), Err(ApiError::Status(401, _)))
        }
        _ => false,
    };
    let mut tofu_missing: Vec<(String, Vec<String>)> = Vec::new();
    let mut packer_missing: Vec<(String, Vec<String>)> = Vec::new();
    let mut perm_error = None;
    for (path, (tofu, packer)) in &wanted {
        let privs = match api.get("access/permissions", &[("path", path)]) {
            Ok(v) => v.get(path.as_str()).cloned().unwrap_or(Value::Null),
            Err(e) => {
                perm_error = Some(e.text());
                break;
            }
        };
        let miss: Vec<String> = tofu.iter().filter(|p| !has(&privs, p)).cloned().collect();
        if !miss.is_empty() {
            tofu_missing.push((path.clone(), miss));
        }
        let privs = match &packer_api {
            Some(pa) => pa
                .get("access/permissions", &[("path", path)])
                .ok()
                .and_then(|v| v.get(path.as_str()).cloned())
                .unwrap_or(Value::Null),
            None => privs,
        };
        let miss: Vec<String> = packer.iter().filter(|p| !has(&privs, p)).cloned().collect();
        if !miss.is_empty() {
            packer_missing.push((path.clone(), miss));
        }
    }
    let env_names = envs
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(err) = perm_error {
        r.add(
            "environment",
            Status::Warn,
            "privileges",
            format!("cannot read the token's privileges (GET /access/permissions: {err})"),
            &token_at,
            None,
        );
    } else if packer_only {
        // OpenTofu's privileges are not this step's.
    } else if tofu_missing.is_empty() {
        r.add(
            "environment",
            Status::Ok,
            "privileges",
            format!(
                "token {token_id} holds every privilege OpenTofu needs ({} privileges, docs/tofu.md)",
                TOFU_PRIVS.len()
            ),
            &token_at,
            None,
        );
    } else {
        for (path, miss) in &tofu_missing {
            r.add(
                "environment",
                Status::Fail,
                "privileges",
                format!(
                    "token {token_id} lacks {} on {path} (OpenTofu, environments {env_names})",
                    miss.join(", ")
                ),
                &token_at,
                Some(format!(
                    "`pveum role modify HomelabTofu --append 1 --privs {}` and `pveum acl modify {path} --tokens {} --roles HomelabTofu` (docs/tofu.md)",
                    sh_quote(&miss.join(",")),
                    sh_quote(&token_id)
                )),
            );
        }
    }
    // A Packer build needs them: a blocker there, a warning otherwise (qemu builds do not).
    let packer_severity = if packer_only {
        Status::Fail
    } else {
        Status::Warn
    };
    if want_packer && !images.is_empty() {
        let src_at = packer_token.as_ref().map_or_else(
            || format!("environment variable {TOKEN_VAR}"),
            |(_, _, at)| at.clone(),
        );
        if packer_refused {
            r.add(
                "images",
                packer_severity,
                "packer-privileges",
                format!("the API refuses the Packer token {packer_id} (401): `make packer SOURCE=proxmox-iso` would fail"),
                &src_at,
                Some("check the secret (PKR_VAR_proxmox_token, or proxmox_token of the var file), or create a new secret: `pveum user token add <user@realm> <id> --privsep 0` (docs/packer.md)".to_owned()),
            );
        } else if packer_missing.is_empty() {
            r.add(
                "images",
                Status::Ok,
                "packer-privileges",
                format!("token {packer_id} holds every privilege a proxmox-iso Packer build needs (docs/packer.md)"),
                &src_at,
                None,
            );
        } else {
            for (path, miss) in &packer_missing {
                r.add(
                    "images",
                    packer_severity,
                    "packer-privileges",
                    format!(
                        "token {packer_id} lacks {} on {path}: `make packer SOURCE=proxmox-iso` would fail (the default qemu build does not use the token)",
                        miss.join(", ")
                    ),
                    &src_at,
                    Some(format!(
                        "`pveum role add HomelabPacker --privs {}` (or `pveum role modify … --append 1`) and `pveum acl modify {path} --tokens {} --roles HomelabPacker` (docs/packer.md)",
                        sh_quote(&miss.join(",")),
                        sh_quote(&packer_id)
                    )),
                );
            }
        }
    }

    // ---------------------------------------------------------------- storage + bridge
    // On every node the checked VMs are placed on (the resolver's placement: `vm.node`,
    // the value the renderer writes into each VM's `node_name`), and on `site.node`,
    // where images are built and imported. Nodes that are missing or offline were
    // reported above and are skipped here.
    let mut check_nodes: Vec<&str> = Vec::new();
    if node_ok {
        check_nodes.push(&site.node);
    }
    for n in site
        .nodes
        .iter()
        .map(String::as_str)
        .chain(vms.iter().map(|(_, v)| v.node.as_str()))
    {
        let online = nodes.iter().any(|(name, st)| name == n && st == "online");
        let used = vms.iter().any(|(_, v)| v.node == n);
        if online && used && !check_nodes.contains(&n) {
            check_nodes.push(n);
        }
    }
    // Snippets go to the node of their VM: a VM with user_data, or any VM of a cluster.
    let snippet_vm = |v: &homelabgen_spec::model::Vm, env: &str| {
        v.user_data.is_some() || envs.iter().any(|e| e.name == env && e.cluster.is_some())
    };
    // Nodes other than site.node that get snippets, and where the provider sends them.
    let mut other_snippet_nodes: Vec<(String, NodeAddress)> = Vec::new();
    for node in &check_nodes {
        let node = *node;
        let here: Vec<&homelabgen_spec::model::Vm> = vms
            .iter()
            .filter(|(_, v)| v.node == node)
            .map(|(_, v)| *v)
            .collect();
        let is_site_node = node == site.node;
        let (storages, storage_error) = match api.get(&format!("nodes/{node}/storage"), &[]) {
            Ok(v) => (v.as_array().cloned().unwrap_or_default(), None),
            Err(e) => (Vec::new(), Some(e.text())),
        };
        let find = |id: &str| {
            storages
                .iter()
                .find(|s| s.get("storage").and_then(Value::as_str) == Some(id))
        };
        // Disk space: the VMs placed on this node, or all checked VMs on a shared storage.
        let here_gib: u64 = here.iter().map(|v| v.disk_gib).sum();
        let all_gib: u64 = vms.iter().map(|(_, v)| v.disk_gib).sum();
        let mut storage_check = |group: &'static str,
                                 field: &str,
                                 id: &str,
                                 content: &str,
                                 severity: Status,
                                 why: &str| {
            let at = locs.site(field);
            if let Some(err) = &storage_error {
                r.add(
                    group,
                    severity,
                    format!("storage-{content}"),
                    format!("cannot list the storages of node {node}: {err}"),
                    at,
                    Some(format!(
                        "grant Datastore.Audit on /storage/{id} (docs/tofu.md)"
                    )),
                );
                return;
            }
            let Some(s) = find(id) else {
                r.add(
                    group,
                    severity,
                    format!("storage-{content}"),
                    format!(
                        "storage {id} does not exist on node {node} ({why}), or the token may not see it (Datastore.Audit on /storage/{id})"
                    ),
                    at,
                    Some(format!(
                        "make {id} available on {node} (`pvesm set {id} --nodes <list with {node}>`, or `pvesm add` there), or set `{}:` to a storage every node of the VMs has (`pvesm status` on {node} lists them)",
                        field.rsplit('.').next().unwrap_or(field)
                    )),
                );
                return;
            };
            let active = s.get("active").and_then(as_u64_ref).unwrap_or(0) == 1;
            let enabled = s.get("enabled").and_then(as_u64_ref).unwrap_or(1) == 1;
            let have = content_set(s.get("content").unwrap_or(&Value::Null));
            if !enabled || !active {
                r.add(
                    group,
                    severity,
                    format!("storage-{content}"),
                    format!(
                        "storage {id} on node {node} is {} ({why})",
                        if enabled { "not active" } else { "disabled" }
                    ),
                    at,
                    Some(format!(
                        "`pvesm set {id} --disable 0`, then `pvesm status` on {node} shows it active (a network storage: check its mount on {node})"
                    )),
                );
            } else if !have.contains(content) {
                let mut new = have.clone();
                new.insert(content.to_owned());
                r.add(
                    group,
                    severity,
                    format!("storage-{content}"),
                    format!(
                        "storage {id} on node {node} does not allow content type {content} ({why}); it allows: {}",
                        have.iter().cloned().collect::<Vec<_>>().join(",")
                    ),
                    at,
                    Some(format!(
                        "`pvesm set {id} --content {}` (keeps the types it has)",
                        new.into_iter().collect::<Vec<_>>().join(",")
                    )),
                );
            } else {
                let avail = s.get("avail").and_then(as_u64_ref);
                let shared = s.get("shared").and_then(as_u64_ref).unwrap_or(0) == 1;
                let (need_gib, whose) = match (content, shared) {
                    ("images", true) => (all_gib, "the VMs' disks".to_owned()),
                    ("images", false) => {
                        (here_gib, format!("the disks of the VMs placed on {node}"))
                    }
                    _ => (0, String::new()),
                };
                let need = need_gib << 30;
                match avail {
                    Some(a) if need > 0 && a < need => r.add(
                        group,
                        Status::Warn,
                        format!("storage-{content}"),
                        format!(
                            "storage {id} on node {node} has {} GiB free, {whose} take {need_gib} GiB (fine only if it is thin-provisioned)",
                            a >> 30
                        ),
                        at,
                        Some(format!("free space on {id} on {node}, or pick another storage")),
                    ),
                    _ => r.add(
                        group,
                        Status::Ok,
                        format!("storage-{content}"),
                        format!("storage {id} on node {node} is active and allows {content}"),
                        at,
                        None,
                    ),
                }
            }
        };
        storage_check(
            "site",
            "storage.vm",
            &site.storage.vm,
            "images",
            Status::Fail,
            "VM disks, EFI disks, cloud-init drives",
        );
        if is_site_node && want_packer && !images.is_empty() {
            storage_check(
                "images",
                "storage.iso",
                &site.storage.iso,
                "iso",
                packer_severity,
                "the boot ISO of a SOURCE=proxmox-iso build",
            );
        }
        if vms.iter().any(|(e, v)| v.node == node && snippet_vm(v, e)) {
            storage_check(
                "site",
                "storage.snippets",
                &site.storage.snippets,
                "snippets",
                Status::Fail,
                "a VM placed here has user_data or is in a cluster (vendor data): both are uploaded as snippets",
            );
        }
        let bridge_at = locs.site("bridge");
        let gets_snippets = vms.iter().any(|(e, v)| v.node == node && snippet_vm(v, e));
        match api.get(&format!("nodes/{node}/network"), &[]) {
            Ok(list) => {
                let ifaces = list.as_array().cloned().unwrap_or_default();
                if gets_snippets && !is_site_node {
                    other_snippet_nodes
                        .push((node.to_owned(), provider_node_address(node, &ifaces)));
                }
                let bridges: Vec<&str> = ifaces
                    .iter()
                    .filter(|i| {
                        matches!(
                            i.get("type").and_then(Value::as_str),
                            Some("bridge" | "OVSBridge")
                        )
                    })
                    .filter_map(|i| i.get("iface").and_then(Value::as_str))
                    .collect();
                if bridges.contains(&site.bridge.as_str()) {
                    r.add(
                        "site",
                        Status::Ok,
                        "bridge",
                        format!("bridge {} exists on node {node}", site.bridge),
                        &bridge_at,
                        None,
                    );
                } else {
                    r.add(
                        "site",
                        Status::Fail,
                        "bridge",
                        format!(
                            "bridge {} does not exist on node {node}; it has: {}",
                            site.bridge,
                            if bridges.is_empty() {
                                "none".to_owned()
                            } else {
                                bridges.join(", ")
                            }
                        ),
                        &bridge_at,
                        Some(format!(
                            "create {} on {node} (System > Network, or /etc/network/interfaces and `ifreload -a`), or set `bridge:` to a bridge every node of the VMs has",
                            site.bridge
                        )),
                    );
                }
            }
            Err(e) => r.add(
                "site",
                Status::Warn,
                "bridge",
                format!("cannot list the network of node {node}: {}", e.text()),
                &bridge_at,
                None,
            ),
        }
    }
    if uses_snippets && node_ok {
        let target = SnippetTarget {
            node: site.node.clone(),
            host: site.ssh_host.clone(),
            origin: "site.ssh_host".to_owned(),
            at: locs.site("ssh_host"),
        };
        ssh_snippets(&mut r, &api, site, &locs, &target);
    }
    // The provider's `ssh {}` block names only site.node; for the others it looks the
    // address up itself, and doctor asks the same way.
    for (node, found) in other_snippet_nodes {
        match found {
            Ok((host, origin)) => {
                let target = SnippetTarget {
                    node,
                    host,
                    origin,
                    at: locs.site("nodes"),
                };
                ssh_snippets(&mut r, &api, site, &locs, &target);
            }
            Err(why) => r.add(
                "site",
                Status::Fail,
                "ssh-snippets",
                format!("OpenTofu cannot find where to upload the snippets of the VMs on node {node}: {why}"),
                locs.site("nodes"),
                Some(format!(
                    "give a management interface of {node} an address and gateway (System > Network), or make the name {node} resolve on this machine (DNS or /etc/hosts)"
                )),
            ),
        }
    }

    // ---------------------------------------------------------------- guests
    let guests: Vec<Guest> = match api.get("cluster/resources", &[("type", "vm")]) {
        Ok(list) => list
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|g| g.get("type").and_then(Value::as_str) == Some("qemu"))
            .map(|g| Guest {
                vmid: g.get("vmid").and_then(as_u64_ref).unwrap_or(0),
                name: g
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                node: g
                    .get("node")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                template: g.get("template").and_then(as_u64_ref).unwrap_or(0) == 1,
            })
            .collect(),
        Err(e) => {
            r.add(
                "images",
                Status::Fail,
                "guests",
                format!("cannot list the cluster's VMs: {}", e.text()),
                &token_at,
                Some("grant VM.Audit on /vms (docs/tofu.md)".to_owned()),
            );
            return r.checks;
        }
    };

    // ---------------------------------------------------------------- templates
    for image in &images {
        let at = locs.image(&image.name);
        let name = &image.template_name;
        if let Scope::Packer { release, .. } = scope {
            // The name the build is about to create must be free.
            let name = match release {
                Some(n) => image.template_name_for(*n),
                None => name.clone(),
            };
            let found: Vec<&Guest> = guests.iter().filter(|g| g.name == name).collect();
            if found.is_empty() {
                r.add(
                    "images",
                    Status::Ok,
                    "template",
                    format!(
                        "no VM is named {name} yet: the build of image {} can create it",
                        image.name
                    ),
                    &at,
                    None,
                );
            } else {
                let list = found
                    .iter()
                    .map(|g| format!("{} on {}", g.vmid, g.node))
                    .collect::<Vec<_>>()
                    .join(", ");
                r.add(
                    "images",
                    Status::Fail,
                    "template",
                    format!("{name} exists already ({list}): the build would make a second VM of that name"),
                    &at,
                    Some(format!(
                        "build a new release (`make packer IMAGE={} IMAGE_VERSION={}`), or remove the old one: `qm destroy {}` on {}",
                        image.name,
                        image.release + 1,
                        found[0].vmid,
                        found[0].node
                    )),
                );
            }
            continue;
        }
        let found: Vec<&Guest> = guests.iter().filter(|g| &g.name == name).collect();
        let templates: Vec<&&Guest> = found.iter().filter(|g| g.template).collect();
        let where_ = |list: &[&Guest]| {
            list.iter()
                .map(|g| format!("{} on {}", g.vmid, g.node))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if found.is_empty() && *scope == Scope::Up {
            r.add(
                "images",
                Status::Warn,
                "template",
                format!(
                    "template {name} does not exist yet (image {}): `make up` builds it first",
                    image.name
                ),
                &at,
                None,
            );
        } else if found.is_empty() {
            r.add(
                "images",
                Status::Fail,
                "template",
                format!("template {name} does not exist (image {})", image.name),
                &at,
                Some(format!(
                    "build it: `make packer IMAGE={} IMAGE_VERSION={}`",
                    image.name, image.release
                )),
            );
        } else if found.len() > 1 {
            r.add(
                "images",
                Status::Fail,
                "template",
                format!(
                    "{} VMs are named {name} ({}): the clone cannot tell which",
                    found.len(),
                    where_(&found)
                ),
                &at,
                Some(format!(
                    "keep one: on the node of the other, `qm destroy {}`",
                    found.last().map_or(0, |g| g.vmid)
                )),
            );
        } else if templates.is_empty() {
            let g = found[0];
            r.add(
                "images",
                Status::Fail,
                "template",
                format!("{name} ({} on {}) is a VM, not a template", g.vmid, g.node),
                &at,
                Some(format!("on {}: `qm template {}`", g.node, g.vmid)),
            );
        } else {
            let g = found[0];
            let mut problems = Vec::new();
            if let Ok(cfg) = api.get(&format!("nodes/{}/qemu/{}/config", g.node, g.vmid), &[]) {
                for key in ["scsi0", "efidisk0"] {
                    if cfg.get(key).is_none() {
                        problems.push(format!("no {key}"));
                    }
                }
                let has_ci = cfg.as_object().is_some_and(|m| {
                    m.values()
                        .any(|v| v.as_str().is_some_and(|s| s.contains("cloudinit")))
                });
                if !has_ci {
                    problems.push("no cloud-init drive".to_owned());
                }
            }
            let node_note = if g.node == site.node {
                String::new()
            } else {
                format!(" (not on {}: the module clones across nodes)", site.node)
            };
            if let Some(want) = image.template_vm_id {
                if u64::from(want) != g.vmid {
                    problems.push(format!(
                        "VM id {} and not the spec's template_vm_id {want}",
                        g.vmid
                    ));
                }
            }
            if problems.is_empty() {
                r.add(
                    "images",
                    Status::Ok,
                    "template",
                    format!("template {name} is VM {} on {}{node_note}", g.vmid, g.node),
                    &at,
                    None,
                );
            } else {
                r.add(
                    "images",
                    Status::Fail,
                    "template",
                    format!(
                        "template {name} (VM {} on {}) has {}: not the shape the module clones",
                        g.vmid,
                        g.node,
                        problems.join(", ")
                    ),
                    &at,
                    Some(format!(
                        "rebuild it: `qm destroy {}` on {}, then `make packer IMAGE={}`",
                        g.vmid, g.node, image.name
                    )),
                );
            }
        }
    }

    // ---------------------------------------------------------------- vm ids + IPs
    if packer_only {
        return r.checks;
    }
    let mut ip_owner: BTreeMap<Ipv4Addr, Vec<&Guest>> = BTreeMap::new();
    for g in guests.iter().filter(|g| !g.template) {
        if let Ok(cfg) = api.get(&format!("nodes/{}/qemu/{}/config", g.node, g.vmid), &[]) {
            for ip in config_ips(&cfg) {
                ip_owner.entry(ip).or_default().push(g);
            }
        }
    }
    for (env_name, vm) in &vms {
        if let Some(id) = vm.vm_id {
            let at = locs.vm(env_name, &vm.name, "vm_id");
            match guests.iter().find(|g| g.vmid == u64::from(id)) {
                None => r.add(
                    "environment",
                    Status::Ok,
                    "vm_id",
                    format!("{env_name}/{}: VM id {id} is free", vm.name),
                    at,
                    None,
                ),
                Some(g) if g.name == vm.name && !g.template => r.add(
                    "environment",
                    Status::Ok,
                    "vm_id",
                    format!(
                        "{env_name}/{}: VM id {id} is held by this VM already (on {})",
                        vm.name, g.node
                    ),
                    at,
                    None,
                ),
                Some(g) => {
                    let free = api
                        .get("cluster/nextid", &[])
                        .ok()
                        .and_then(|v| as_u64(&v))
                        .map_or(String::new(), |n| format!(" (the next free id is {n})"));
                    r.add(
                        "environment",
                        Status::Fail,
                        "vm_id",
                        format!(
                            "{env_name}/{}: VM id {id} is taken by {}{} {:?} on {}",
                            vm.name,
                            if g.template { "template " } else { "VM " },
                            g.vmid,
                            g.name,
                            g.node
                        ),
                        at,
                        Some(format!(
                            "pick a free `vm_id`{free} or leave it out; or remove the other: `qm destroy {}` on {}",
                            g.vmid, g.node
                        )),
                    );
                }
            }
        }
        let at = locs.vm(env_name, &vm.name, "ip");
        let others: Vec<&&Guest> = ip_owner
            .get(&vm.ip)
            .map(|v| v.iter().filter(|g| g.name != vm.name).collect())
            .unwrap_or_default();
        if others.is_empty() {
            r.add(
                "environment",
                Status::Ok,
                "ip",
                format!(
                    "{env_name}/{}: {} is not in another VM's ipconfig",
                    vm.name, vm.ip
                ),
                at,
                None,
            );
        } else {
            let g = others[0];
            r.add(
                "environment",
                Status::Fail,
                "ip",
                format!(
                    "{env_name}/{}: {} is already the address of VM {} {:?} on {}",
                    vm.name, vm.ip, g.vmid, g.name, g.node
                ),
                at,
                Some(format!(
                    "pick another `ip`, or free it: `qm set {} --ipconfig0 ip=dhcp` on {}",
                    g.vmid, g.node
                )),
            );
        }
    }
    if probe_lan {
        lan_checks(&mut r, &envs, &guests, &ip_owner, &locs);
    }
    r.checks
}

/// `--probe-lan`: each static address a VM that does not exist yet will take, and the
/// VIP of a cluster none of whose servers exists yet, tried on the LAN (crate::lan_probe),
/// all at once. Addresses Proxmox already lists in a VM's ipconfig are reported above.
fn lan_checks(
    r: &mut Report,
    envs: &[&homelabgen_spec::model::Environment],
    guests: &[Guest],
    ip_owner: &BTreeMap<Ipv4Addr, Vec<&Guest>>,
    locs: &Locs,
) {
    use crate::lan_probe::{self, Answer, Finding};
    let exists = |name: &str| guests.iter().any(|g| !g.template && g.name == name);
    // (who: `env/vm` or `env API address`, address, spec location)
    let mut targets: Vec<(String, Ipv4Addr, String)> = Vec::new();
    for env in envs {
        for vm in env.vms.iter().filter(|vm| !exists(&vm.name)) {
            if !ip_owner.contains_key(&vm.ip) {
                let at = locs.vm(&env.name, &vm.name, "ip");
                targets.push((format!("{}/{}", env.name, vm.name), vm.ip, at));
            }
        }
        let Some(vip) = env.cluster.as_ref().and_then(|c| c.vip) else {
            continue;
        };
        let servers_exist = env
            .vms
            .iter()
            .any(|vm| vm.role == homelabgen_spec::model::Role::Server && exists(&vm.name));
        if !servers_exist && !ip_owner.contains_key(&vip) {
            targets.push((
                format!("{} API address", env.name),
                vip,
                locs.cluster_api_address(&env.name),
            ));
        }
    }
    let findings: Vec<Finding> = std::thread::scope(|s| {
        let probes: Vec<_> = targets
            .iter()
            .map(|(_, ip, _)| s.spawn(move || lan_probe::probe_address(*ip)))
            .collect();
        probes
            .into_iter()
            .map(|p| p.join().unwrap_or(Finding::OffLink))
            .collect()
    });
    let ports = lan_probe::PORTS.map(|p| p.to_string()).join(", ");
    for ((who, ip, at), finding) in targets.into_iter().zip(findings) {
        match finding {
            Finding::OffLink => r.add(
                "environment",
                Status::Ok,
                "lan",
                format!("{who}: {ip} not probed: not on a network this machine is directly on"),
                at,
                None,
            ),
            Finding::Silent => r.add(
                "environment",
                Status::Ok,
                "lan",
                format!("{who}: {ip} does not answer on the LAN (TCP {ports})"),
                at,
                None,
            ),
            Finding::Answered(port, answer) => r.add(
                "environment",
                Status::Fail,
                "lan",
                format!(
                    "{who}: {ip} answers on the LAN (TCP {port} {}): a machine Proxmox does not list holds it",
                    if answer == Answer::Accepted { "open" } else { "refused" }
                ),
                at,
                Some(format!(
                    "pick another address, or find that machine: `ip neigh show {ip}` gives its MAC address"
                )),
            ),
        }
    }
}

fn as_u64_ref(v: &Value) -> Option<u64> {
    as_u64(v)
}

/// For `make up`'s image step (`doctor --templates`): each template the environments
/// `env` (default: all) clone, whether a VM of that name exists on the site —
/// `(image, template name, exists)`. The same site, token and TLS settings as the
/// checks, and the same test (a VM of that name in `cluster/resources`) as `--for up`'s
/// "does not exist yet", so the two cannot disagree.
pub fn templates(model: &Model, env: Option<&str>) -> Result<Vec<(String, String, bool)>, String> {
    let (_, auth) = token_from_env()?;
    let api = Api {
        agent: agent(model.site.insecure_tls),
        base: format!("{}/api2/json", model.site.endpoint),
        auth: Some(auth),
    };
    let list = api
        .get("cluster/resources", &[("type", "vm")])
        .map_err(|e| {
            format!(
                "cannot list the VMs of {}: {}",
                model.site.endpoint,
                e.text()
            )
        })?;
    let names: BTreeSet<&str> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|g| g.get("type").and_then(Value::as_str) == Some("qemu"))
                .filter_map(|g| g.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let cloned: BTreeSet<&str> = model
        .environments
        .iter()
        .filter(|e| env.is_none_or(|n| e.name == n))
        .flat_map(|e| e.vms.iter().map(|v| v.image.as_str()))
        .collect();
    Ok(model
        .images
        .iter()
        .filter(|i| cloned.contains(i.name.as_str()))
        .map(|i| {
            (
                i.name.clone(),
                i.template_name.clone(),
                names.contains(i.template_name.as_str()),
            )
        })
        .collect())
}

/// Print the checks (grouped) or their JSON; the exit code (0, 1 or 2).
pub fn report(checks: &[Check], json_out: bool, style: &crate::style::Style) -> u8 {
    let worst = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    let code = match worst {
        Status::Ok => 0,
        Status::Warn => 1,
        Status::Fail => 2,
    };
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    if json_out {
        let list: Vec<Value> = checks
            .iter()
            .map(|c| {
                json!({
                    "group": c.group,
                    "check": c.id,
                    "status": c.status.word(),
                    "message": c.message,
                    "at": c.at,
                    "fix": c.fix,
                })
            })
            .collect();
        let doc = json!({
            "exit_code": code,
            "ok": count(Status::Ok),
            "warnings": count(Status::Warn),
            "blockers": count(Status::Fail),
            "checks": list,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return code;
    }
    for group in ["site", "images", "environment"] {
        let in_group: Vec<&Check> = checks.iter().filter(|c| c.group == group).collect();
        if in_group.is_empty() {
            continue;
        }
        println!("{group}");
        for c in in_group {
            let mark = match c.status {
                Status::Ok => style.ok(c.status.mark()),
                Status::Warn => style.warning(c.status.mark()),
                Status::Fail => style.removed(c.status.mark()),
            };
            let text = homelabgen_spec::diag::terminal_safe(&c.message);
            println!(
                "  {mark} {text}  [{}]",
                homelabgen_spec::diag::terminal_safe(&c.at)
            );
            if let Some(fix) = &c.fix {
                if c.status != Status::Ok {
                    println!("      fix: {}", homelabgen_spec::diag::terminal_safe(fix));
                }
            }
        }
    }
    println!(
        "doctor: {} ok, {} warning{}, {} blocker{}",
        count(Status::Ok),
        count(Status::Warn),
        if count(Status::Warn) == 1 { "" } else { "s" },
        count(Status::Fail),
        if count(Status::Fail) == 1 { "" } else { "s" }
    );
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipconfig_addresses() {
        let cfg = json!({"ipconfig0": "ip=192.168.1.50/24,gw=192.168.1.1", "ipconfig1": "ip=dhcp", "name": "x"});
        assert_eq!(config_ips(&cfg), vec![Ipv4Addr::new(192, 168, 1, 50)]);
    }

    #[test]
    fn var_file_keys_only_and_no_secret_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.pkrvars.hcl");
        let path = path.to_str().unwrap();
        std::fs::write(
            path,
            "# c\nbuild_ssh_key = \"k\"\nproxmox_username = \"u@pve!t\"\nproxmox_token = <<EOT\ns3cret\nEOT\n",
        )
        .unwrap();
        let vars = PackerVars::read_all(&[path]).unwrap();
        assert_eq!(vars.values.len(), 2, "only the keys doctor needs");
        assert_eq!(
            vars.values["proxmox_username"],
            ("u@pve!t".to_owned(), path.to_owned(), 3)
        );
        assert_eq!(vars.values["proxmox_token"].0.trim(), "s3cret");
        let (_, auth, at) = packer_token(&vars).unwrap();
        assert_eq!(auth, "PVEAPIToken=u@pve!t=s3cret");
        assert!(at.contains(":3 (proxmox_username)") && at.contains(":4 (proxmox_token)"));
        std::fs::write(path, "proxmox_token = \"s3cret\n").unwrap();
        let err = PackerVars::read_all(&[path]).unwrap_err();
        assert!(
            err.contains("not a valid Packer var file") && !err.contains("s3cret"),
            "{err}"
        );
        std::fs::write(path, "proxmox_token = var.x\n").unwrap();
        let err = PackerVars::read_all(&[path]).unwrap_err();
        assert!(
            err.ends_with(
                ":1: proxmox_token is not a plain string: write it as proxmox_token = \"...\""
            ),
            "{err}"
        );
    }

    #[test]
    fn a_later_var_file_wins_and_only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let auto = dir.path().join("a.auto.pkrvars.hcl");
        let local = dir.path().join("local.pkrvars.hcl");
        std::fs::write(
            &auto,
            "proxmox_username = \"auto@pve!t\"\nproxmox_token = \"from-auto\"\n",
        )
        .unwrap();
        std::fs::write(&local, "\nproxmox_token = \"from-local\"\n").unwrap();
        let (auto, local) = (auto.to_str().unwrap(), local.to_str().unwrap());
        let vars = PackerVars::read_all(&[auto, local]).unwrap();
        let (id, header, at) = packer_token(&vars).unwrap();
        assert_eq!(id, "auto@pve!t");
        assert_eq!(header, "PVEAPIToken=auto@pve!t=from-local");
        assert_eq!(
            at,
            format!("{auto}:1 (proxmox_username), {local}:2 (proxmox_token)")
        );
        assert_eq!(vars.files, [auto, local]);
        // The other order: the auto file's token wins.
        let vars = PackerVars::read_all(&[local, auto]).unwrap();
        assert_eq!(
            packer_token(&vars).unwrap().1,
            "PVEAPIToken=auto@pve!t=from-auto"
        );

        let err = PackerVars::read_all(&["/dev/null"]).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let big = dir.path().join("big.pkrvars.hcl");
        std::fs::write(&big, "# x\n".repeat(300_000)).unwrap();
        let err = PackerVars::read_all(&[big.to_str().unwrap()]).unwrap_err();
        assert!(err.contains("larger than 1024 KiB"), "{err}");
    }

    #[test]
    fn the_providers_node_address_lookup_order() {
        let lookup =
            |ifaces: Value| provider_node_address("pve-x.invalid", ifaces.as_array().unwrap());
        // An address with a gateway wins over an earlier one without; priority orders.
        let got = lookup(json!([
            {"iface": "vmbr1", "priority": 1, "address": "10.9.0.2"},
            {"iface": "vmbr0", "priority": 4, "address": "10.0.0.2/24", "gateway": "10.0.0.1"},
            {"iface": "vmbr2", "priority": 3, "address": "10.1.0.2", "gateway": "10.1.0.1"},
        ]))
        .unwrap();
        assert_eq!(got.0, "10.1.0.2");
        assert!(got.1.ends_with("the IPv4 address of vmbr2"), "{}", got.1);
        // Then IPv6 with a gateway, then any IPv4 address (the prefix cut off).
        let got = lookup(json!([
            {"iface": "vmbr1", "priority": 1, "address": "10.9.0.2/24"},
            {"iface": "vmbr0", "priority": 2, "address6": "fd00::2", "gateway6": "fd00::1"},
        ]))
        .unwrap();
        assert_eq!(got.0, "fd00::2");
        let got = lookup(json!([{"iface": "vmbr1", "address": "10.9.0.2/24"}])).unwrap();
        assert_eq!(got.0, "10.9.0.2");
        // Nothing: the name is looked up (`.invalid` never resolves).
        let err = lookup(json!([{"iface": "vmbr0", "address": ""}])).unwrap_err();
        assert!(err.contains("does not resolve"), "{err}");
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("tofu@pve!homelab"), "'tofu@pve!homelab'");
        assert_eq!(sh_quote("VM.Clone,SDN.Use"), "VM.Clone,SDN.Use");
    }
}
