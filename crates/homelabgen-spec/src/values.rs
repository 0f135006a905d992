//! Parsers for the scalar values of a spec. Each either returns the parsed value or an
//! `Invalid` saying what is wrong and how to fix it; `resolve` adds the location.

use base64::Engine as _;
use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub help: String,
}

fn invalid<T>(message: impl Into<String>, help: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid {
        message: message.into(),
        help: help.into(),
    })
}

/// A DNS label (RFC 1123), as Kubernetes, host names and Proxmox VM names need:
/// lower-case letters, digits and `-`, starting and ending with a letter or digit.
pub fn dns_label(s: &str) -> Result<(), Invalid> {
    const HELP: &str = "use 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit";
    if s.is_empty() {
        return invalid("the name is empty", HELP);
    }
    if s.len() > 63 {
        return invalid(
            format!("`{s}` is {} characters long; the limit is 63", s.len()),
            HELP,
        );
    }
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = !s.starts_with('-') && !s.ends_with('-');
    if !ok_chars || !ok_ends {
        return invalid(format!("`{s}` is not a DNS label"), HELP);
    }
    Ok(())
}

/// A DNS name: DNS labels separated by dots, at most 253 characters.
pub fn dns_name(s: &str) -> Result<(), Invalid> {
    const HELP: &str = "use DNS labels (lower-case letters, digits, `-`) separated by dots";
    if s.len() > 253 {
        return invalid(format!("`{s}` is longer than 253 characters"), HELP);
    }
    if s.split('.').any(|label| dns_label(label).is_err()) {
        return invalid(format!("`{s}` is not a DNS name"), HELP);
    }
    Ok(())
}

/// A host to connect to: a DNS name or an IPv4 address.
pub fn host(s: &str) -> Result<(), Invalid> {
    if s.parse::<Ipv4Addr>().is_ok() || dns_name(s).is_ok() {
        return Ok(());
    }
    invalid(
        format!("`{s}` is neither a host name nor an IPv4 address"),
        "give the Proxmox host's DNS name or IPv4 address, without scheme or port",
    )
}

/// `X.Y.Z` with numeric parts.
pub fn semver(s: &str) -> Result<(), Invalid> {
    let parts: Vec<_> = s.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| is_number(p)) {
        return Ok(());
    }
    invalid(
        format!("`{s}` is not a version of the form X.Y.Z"),
        "write an exact version such as `1.2.3`, without `v` or ranges",
    )
}

/// `vX.Y.Z`, the form Argo CD tags its releases with.
pub fn v_semver(s: &str) -> Result<(), Invalid> {
    match s.strip_prefix('v') {
        Some(rest) if semver(rest).is_ok() => Ok(()),
        _ => invalid(
            format!("`{s}` is not a version of the form vX.Y.Z"),
            "write the release tag, such as `v3.6.3`",
        ),
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 9
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
}

/// The rule for the Proxmox API endpoint as an RE2 regular expression: the generated
/// OpenTofu validation of `proxmox_endpoint` uses this same text, and the tests check
/// that it accepts exactly what `proxmox_endpoint` accepts. `http(s)://`, a host of
/// DNS labels (an IPv4 address is one), an optional port 1-65535, an optional `/`.
pub const PROXMOX_ENDPOINT_PATTERN: &str = "^https?://[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?/?$";

/// The Proxmox API endpoint, normalised to `scheme://host:port` with no trailing `/`.
pub fn proxmox_endpoint(s: &str) -> Result<String, Invalid> {
    const HELP: &str =
        "write `https://HOST:PORT`, e.g. `https://pve.example.org:8006` (no path, no credentials)";
    let url = parse_url(s, &["https", "http"])?;
    let trimmed = s.trim_end_matches('/');
    if trimmed.ends_with("/api2/json") {
        return invalid(
            format!("`{s}` includes the API path"),
            format!(
                "write the endpoint without `/api2/json`: `{}`",
                trimmed.trim_end_matches("/api2/json")
            ),
        );
    }
    if !matches!(url.rest, "" | "/") {
        return invalid(
            format!("`{s}` has a path; the endpoint is only scheme, host and port"),
            HELP,
        );
    }
    if s.len() > 253 + 14 || dns_name(url.host).is_err() {
        return invalid(
            format!("`{s}`: `{}` is not a host name or IPv4 address", url.host),
            HELP,
        );
    }
    Ok(s.strip_suffix('/').unwrap_or(s).to_owned())
}

/// The parts of `scheme://host[:port]rest` this crate checks.
struct Url<'a> {
    host: &'a str,
    rest: &'a str,
}

/// Split a URL and refuse what never belongs in a spec: credentials (`user:pass@`),
/// a host starting with `-` (read as an option by git and ssh), a bad port, spaces and
/// control characters.
fn parse_url<'a>(s: &'a str, schemes: &[&str]) -> Result<Url<'a>, Invalid> {
    let example = if schemes.contains(&"ssh") {
        "`ssh://git@host/owner/repo.git`"
    } else {
        "`https://example.org/path`"
    };
    let Some((scheme, after)) = s
        .split_once("://")
        .filter(|(scheme, _)| schemes.contains(scheme))
    else {
        return invalid(
            format!(
                "`{s}` is not an {} URL",
                if schemes.contains(&"ssh") {
                    "http(s) or ssh"
                } else {
                    "http(s)"
                }
            ),
            format!("write a URL such as {example}"),
        );
    };
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid(
            format!("`{s}` contains spaces or control characters"),
            format!("write a URL such as {example}"),
        );
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let host_port = match authority.rsplit_once('@') {
        Some((user, host_port)) => {
            if scheme != "ssh" || user.contains(':') || user.is_empty() {
                return invalid(
                    format!("`{s}` has credentials in it"),
                    "secrets never belong in the spec: remove `user:password@` and give the credentials to the tool that needs them (a git credential helper, an Argo CD repository secret)",
                );
            }
            host_port
        }
        None => authority,
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    };
    if host.is_empty() {
        return invalid(
            format!("`{s}` has no host"),
            format!("write a URL such as {example}"),
        );
    }
    if host.starts_with('-') {
        return invalid(
            format!("`{s}`: the host `{host}` starts with `-`"),
            "a host starting with `-` would be read as an option by git and ssh; check the URL",
        );
    }
    if let Some(port) = port {
        if !is_number(port) || !(1..=65535).contains(&port.parse::<u32>().unwrap_or(0)) {
            return invalid(
                format!("`{s}`: `{port}` is not a port"),
                "a port is a number from 1 to 65535",
            );
        }
    }
    Ok(Url { host, rest })
}

/// An `http://` or `https://` URL with a host, without credentials.
pub fn http_url(s: &str) -> Result<String, Invalid> {
    parse_url(s, &["https", "http"])?;
    Ok(s.to_owned())
}

/// A Helm chart repository: an http(s) URL, or an OCI registry path `oci://host/path`
/// (no query, fragment or credentials). Returns the URL without a trailing `/` and
/// whether it is OCI.
pub fn chart_repo_url(s: &str) -> Result<(String, bool), Invalid> {
    if let Some(rest) = s.strip_prefix("oci://") {
        let https = format!("https://{rest}");
        let url = parse_url(&https, &["https"]).map_err(|mut e| {
            e.message = e.message.replace(&https, s);
            e
        })?;
        if url.rest.contains(['?', '#'])
            || url
                .rest
                .trim_end_matches('/')
                .split('/')
                .skip(1)
                .any(str::is_empty)
        {
            return invalid(
                format!("`{s}` is not an OCI registry path"),
                "write `oci://registry/path`, e.g. `oci://quay.io/jetstack/charts`",
            );
        }
        return Ok((s.trim_end_matches('/').to_owned(), true));
    }
    match parse_url(s, &["https", "http"]) {
        Ok(_) => Ok((s.to_owned(), false)),
        Err(e) if s.starts_with("http://") || s.starts_with("https://") => Err(e),
        Err(_) => invalid(
            format!("`{s}` is not a Helm repository URL"),
            "write an http(s) chart repository such as `https://traefik.github.io/charts`, or an OCI registry path such as `oci://quay.io/jetstack/charts`",
        ),
    }
}

/// A chart version: `X.Y.Z`, or `vX.Y.Z` for charts published with a leading `v`.
pub fn chart_version(s: &str) -> Result<(), Invalid> {
    if semver(s.strip_prefix('v').unwrap_or(s)).is_ok() {
        return Ok(());
    }
    invalid(
        format!("`{s}` is not a chart version of the form X.Y.Z or vX.Y.Z"),
        "write the exact version the chart publishes, such as `1.2.3` or `v1.21.2`, without ranges",
    )
}

/// A fully qualified host name: at least two DNS labels, lower case, at most 253 characters.
pub fn host_name(s: &str) -> Result<(), Invalid> {
    let labels: Vec<&str> = s.split('.').collect();
    if s.len() <= 253 && labels.len() >= 2 && labels.iter().all(|l| dns_label(l).is_ok()) {
        return Ok(());
    }
    invalid(
        format!("`{s}` is not a host name"),
        "write a lower-case name of at least two labels, such as `grafana.home.arpa` (no wildcard, no scheme, no port)",
    )
}

/// A git clone URL Argo CD can read: http(s), ssh:// or `git@host:path`, without
/// credentials and with a host that cannot be taken for an option.
pub fn git_url(s: &str) -> Result<String, Invalid> {
    if s.contains("://") {
        parse_url(s, &["https", "http", "ssh"])?;
        return Ok(s.to_owned());
    }
    let scp = s
        .strip_prefix("git@")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(host, path)| !host.is_empty() && !path.is_empty());
    match scp {
        Some((host, _)) if host.starts_with('-') => invalid(
            format!("`{s}`: the host `{host}` starts with `-`"),
            "a host starting with `-` would be read as an option by git and ssh; check the URL",
        ),
        Some(_) if !s.chars().any(|c| c.is_whitespace() || c.is_control()) && s.matches('@').count() == 1 => {
            Ok(s.to_owned())
        }
        _ => invalid(format!("`{s}` is not a git URL"), "use `https://host/owner/repo.git`, `ssh://git@host/owner/repo.git` or `git@host:owner/repo.git`"),
    }
}

/// A branch, tag or commit: no spaces, no `..`, no leading `-`.
pub fn git_revision(s: &str) -> Result<(), Invalid> {
    if s.is_empty() || s.contains(char::is_whitespace) || s.contains("..") || s.starts_with('-') {
        return invalid(
            format!("`{s}` is not a git revision"),
            "name a branch, tag or commit, e.g. `main`",
        );
    }
    Ok(())
}

/// A relative path inside a repository, normalised without leading or trailing `/`.
pub fn repo_path(s: &str) -> Result<String, Invalid> {
    let trimmed = s.trim_end_matches('/');
    let bad = trimmed.is_empty()
        || trimmed.starts_with('/')
        || trimmed.split('/').any(|seg| {
            seg.is_empty() || seg == "." || seg == ".." || seg.contains(char::is_whitespace)
        });
    if bad {
        return invalid(
            format!("`{s}` is not a relative path inside the repository"),
            "write a path such as `generated/k8s`, without `..` or a leading `/`",
        );
    }
    Ok(trimmed.to_owned())
}

/// A Unix user name.
pub fn unix_user(s: &str) -> Result<(), Invalid> {
    let mut bytes = s.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok =
        bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if first_ok && rest_ok && s.len() <= 32 {
        return Ok(());
    }
    invalid(format!("`{s}` is not a valid user name"), "use lower-case letters, digits, `_` and `-`, starting with a letter, at most 32 characters")
}

/// A Proxmox storage id such as `local-lvm`.
pub fn storage_id(s: &str) -> Result<String, Invalid> {
    let mut bytes = s.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if first_ok && rest_ok && s.len() <= 64 {
        return Ok(s.to_owned());
    }
    invalid(
        format!("`{s}` is not a Proxmox storage id"),
        "use the id shown under Datacenter → Storage, e.g. `local-lvm`",
    )
}

/// A Linux bridge name such as `vmbr0` (at most 15 characters, as the kernel allows).
pub fn bridge(s: &str) -> Result<String, Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        return Ok(s.to_owned());
    }
    invalid(
        format!("`{s}` is not a Linux bridge name"),
        "use the bridge shown under the node's System → Network, e.g. `vmbr0`",
    )
}

/// AlmaLinux `9.N` → (9, N). Only AlmaLinux 9 is supported.
pub fn almalinux_version(s: &str) -> Result<(u32, u32), Invalid> {
    const HELP: &str = "write the AlmaLinux 9 minor release, e.g. `9.8`";
    let Some((major, minor)) = s.split_once('.') else {
        return invalid(
            format!("`{s}` is not an AlmaLinux version of the form 9.N"),
            HELP,
        );
    };
    if !is_number(major) || !is_number(minor) {
        return invalid(
            format!("`{s}` is not an AlmaLinux version of the form 9.N"),
            HELP,
        );
    }
    let (major, minor) = (major.parse().unwrap_or(0), minor.parse().unwrap_or(0));
    if major != 9 {
        return invalid(format!("AlmaLinux {major} is not supported"), HELP);
    }
    Ok((major, minor))
}

/// A parsed k3s release `vX.Y.Z+k3sN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K3sVersion {
    /// `vX.Y.Z-k3sN`
    pub dashed: String,
    /// `X.Y.Z`
    pub kubernetes: String,
}

pub fn k3s_version(s: &str) -> Result<K3sVersion, Invalid> {
    let fail = || {
        invalid(
            format!("`{s}` is not a k3s version of the form vX.Y.Z+k3sN"),
            "copy the release name from the k3s releases page, e.g. `v1.36.3+k3s1`",
        )
    };
    let Some((kube, build)) = s.strip_prefix('v').and_then(|rest| rest.split_once("+k3s")) else {
        return fail();
    };
    if semver(kube).is_err() || !is_number(build) || build == "0" {
        return fail();
    }
    Ok(K3sVersion {
        dashed: format!("v{kube}-k3s{build}"),
        kubernetes: kube.to_owned(),
    })
}

/// Packaged components k3s can disable (`k3s server --disable`).
pub const K3S_COMPONENTS: &[&str] = &[
    "coredns",
    "local-storage",
    "metrics-server",
    "runtimes",
    "servicelb",
    "traefik",
];

pub fn k3s_component(s: &str) -> Result<String, Invalid> {
    if K3S_COMPONENTS.contains(&s) {
        return Ok(s.to_owned());
    }
    invalid(
        format!("`{s}` is not a k3s component that can be disabled"),
        format!("use one of: {}", K3S_COMPONENTS.join(", ")),
    )
}

/// A size with a binary unit: `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (Proxmox reads `G` as GiB).
/// Returns MiB.
fn size_mib(s: &str) -> Result<u64, Invalid> {
    const HELP: &str = "write a whole number with a unit: `24GiB`, `24576MiB`, `64G` (binary units, as Proxmox uses)";
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if !is_number(number) {
        return invalid(format!("`{s}` is not a size"), HELP);
    }
    if let Some(fraction) = unit.strip_prefix(['.', ',']) {
        let digits = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        let (fraction, unit) = fraction.split_at(digits);
        let exact = format!("{number}.{fraction}")
            .parse::<f64>()
            .ok()
            .filter(|_| matches!(unit, "G" | "GiB" | "T" | "TiB"))
            .map(|v| v * if unit.starts_with('T') { 1024.0 } else { 1.0 } * 1024.0)
            .filter(|mib| mib.fract() == 0.0);
        return invalid(
            format!("`{s}` is not a whole number of {unit}: sizes are whole numbers of a unit"),
            match exact {
                Some(mib) => format!("write it in a smaller unit: `{mib}MiB`"),
                None => HELP.to_owned(),
            },
        );
    }
    let factor: u64 = match unit {
        "M" | "MiB" => 1,
        "G" | "GiB" => 1024,
        "T" | "TiB" => 1024 * 1024,
        "" => return invalid(format!("`{s}` has no unit"), HELP),
        "MB" | "GB" | "TB" => {
            return invalid(
                format!("`{s}` uses a decimal unit"),
                format!(
                    "write `{number}{}` (binary units, as Proxmox uses)",
                    &unit[..1]
                ),
            )
        }
        _ => return invalid(format!("`{s}` has an unknown unit `{unit}`"), HELP),
    };
    let number: u64 = number.parse().unwrap_or(u64::MAX);
    number
        .checked_mul(factor)
        .map_or_else(|| invalid(format!("`{s}` is too large"), HELP), Ok)
}

pub fn memory_mib(s: &str, min_mib: u64) -> Result<u64, Invalid> {
    let mib = size_mib(s)?;
    if mib < min_mib {
        return invalid(
            format!("{s} is below the minimum of {min_mib}MiB"),
            format!("give at least {}GiB", min_mib / 1024),
        );
    }
    if mib > 16 * 1024 * 1024 {
        return invalid(
            format!("{s} is more memory than Proxmox supports in one VM"),
            "give at most 16TiB",
        );
    }
    Ok(mib)
}

/// Disk sizes must be whole GiB: the provider takes an integer number of GiB.
pub fn disk_gib(s: &str, min_gib: u64) -> Result<u64, Invalid> {
    let mib = size_mib(s)?;
    if mib % 1024 != 0 {
        return invalid(
            format!("{s} is not a whole number of GiB"),
            format!("round it to whole GiB, e.g. `{}GiB`", mib.div_ceil(1024)),
        );
    }
    let gib = mib / 1024;
    if gib < min_gib {
        return invalid(
            format!("{s} is below the minimum of {min_gib}GiB"),
            format!("give at least {min_gib}GiB"),
        );
    }
    Ok(gib)
}

pub fn ipv4(s: &str) -> Result<Ipv4Addr, Invalid> {
    s.parse().or_else(|_| {
        invalid(
            format!("`{s}` is not an IPv4 address"),
            "write four numbers 0-255 separated by dots, e.g. `192.168.1.10`",
        )
    })
}

/// A DNS server address: a host's address, not `0.0.0.0`, a broadcast, multicast or
/// loopback address (the VM's own resolver is not a nameserver cloud-init can give).
pub fn nameserver(ip: Ipv4Addr) -> Result<(), Invalid> {
    let why = if ip.is_unspecified() || ip.octets()[0] == 0 {
        "is not an address a host can have"
    } else if ip.is_broadcast() {
        "is the broadcast address"
    } else if ip.is_loopback() {
        "is a loopback address: inside the VM it would be the VM itself"
    } else if ip.is_multicast() || ip.octets()[0] >= 240 {
        "is a multicast or reserved address"
    } else {
        return Ok(());
    };
    invalid(
        why,
        "give the address of a DNS server on your network, e.g. your router's",
    )
}

/// An IPv4 network written as its network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub network: Ipv4Addr,
    pub prefix_len: u8,
}

impl Ipv4Net {
    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0)
    }

    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// Whether `ip` may be given to a host: inside, and neither network nor broadcast address.
    pub fn host_address(self, ip: Ipv4Addr) -> Result<(), Invalid> {
        let range = format!(
            "{} to {}",
            Ipv4Addr::from(u32::from(self.network) + 1),
            Ipv4Addr::from(u32::from(self.broadcast()) - 1)
        );
        if !self.contains(ip) {
            return invalid(
                format!("is outside the network {self}"),
                format!("use an address from {range}, or change `network.cidr`"),
            );
        }
        if ip == self.network || ip == self.broadcast() {
            let which = if ip == self.network {
                "network"
            } else {
                "broadcast"
            };
            return invalid(
                format!("is the {which} address of {self}"),
                format!("use an address from {range}"),
            );
        }
        Ok(())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

/// `A.B.C.D/N` with N from 8 to 30 and no host bits set.
pub fn ipv4_cidr(s: &str) -> Result<Ipv4Net, Invalid> {
    const HELP: &str = "write the network address and prefix length, e.g. `192.168.1.0/24`";
    let Some((addr, len)) = s.split_once('/') else {
        return invalid(format!("`{s}` is not an IPv4 network in CIDR form"), HELP);
    };
    let (Ok(addr), Some(len)) = (
        addr.parse::<Ipv4Addr>(),
        is_number(len).then(|| len.parse::<u8>().ok()).flatten(),
    ) else {
        return invalid(format!("`{s}` is not an IPv4 network in CIDR form"), HELP);
    };
    if !(8..=30).contains(&len) {
        return invalid(
            format!("prefix length /{len} is not supported"),
            "use a prefix length from /8 to /30",
        );
    }
    let net = Ipv4Net {
        network: addr,
        prefix_len: len,
    };
    let normal = Ipv4Net {
        network: Ipv4Addr::from(u32::from(addr) & net.mask()),
        prefix_len: len,
    };
    if normal != net {
        return invalid(
            format!("`{s}` has host bits set"),
            format!("write the network address: `{normal}`"),
        );
    }
    Ok(net)
}

/// A MetalLB address pool entry as written, with its first and last address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRange {
    pub text: String,
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AddressRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&ip)
    }
}

/// A MetalLB address pool entry: `A.B.C.D-E.F.G.H` or a CIDR.
pub fn address_range(s: &str) -> Result<AddressRange, Invalid> {
    const HELP: &str = "write a range such as `192.168.1.240-192.168.1.250` or a network such as `192.168.1.224/28`";
    let range = |first: Ipv4Addr, last: Ipv4Addr| AddressRange {
        text: s.to_owned(),
        first,
        last,
    };
    if let Some((start, end)) = s.split_once('-') {
        return match (start.parse::<Ipv4Addr>(), end.parse::<Ipv4Addr>()) {
            (Ok(a), Ok(b)) if a <= b => Ok(range(a, b)),
            (Ok(_), Ok(_)) => invalid(format!("`{s}` ends before it starts"), HELP),
            _ => invalid(format!("`{s}` is not an address range"), HELP),
        };
    }
    let (addr, len) = s.split_once('/').unwrap_or((s, ""));
    match (addr.parse::<Ipv4Addr>(), len.parse::<u8>()) {
        (Ok(addr), Ok(len)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            if u32::from(addr) & !mask != 0 {
                return invalid(format!("`{s}` has host bits set"), HELP);
            }
            Ok(range(addr, Ipv4Addr::from(u32::from(addr) | !mask)))
        }
        _ => invalid(format!("`{s}` is not an address range"), HELP),
    }
}

/// Key types OpenSSH accepts in `authorized_keys`.
const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// An OpenSSH public key line `TYPE BASE64 [COMMENT]`, checked down to the key type
/// recorded inside the base64 blob. A private key is refused outright.
pub fn ssh_public_key(s: &str) -> Result<String, Invalid> {
    const HELP: &str =
        "paste one line of a `.pub` file, e.g. the contents of ~/.ssh/id_ed25519.pub";
    let line = s.trim();
    if line.contains("PRIVATE KEY") {
        return invalid(
            "this is a private key; it must never be in the spec",
            "remove it now, and paste the matching public key (`ssh-keygen -y -f KEY`)",
        );
    }
    if line.contains('\n') {
        return invalid("an SSH public key is one line", HELP);
    }
    let mut fields = line.split_whitespace();
    let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
        return invalid(format!("`{line}` is not an OpenSSH public key"), HELP);
    };
    if !SSH_KEY_TYPES.contains(&kind) {
        return invalid(
            format!("`{kind}` is not an OpenSSH public key type"),
            format!("{HELP}; known types: {}", SSH_KEY_TYPES.join(", ")),
        );
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(blob) else {
        return invalid("the key data is not valid base64", HELP);
    };
    // The blob starts with the key type as an SSH string: a u32 length, then the bytes.
    let inner = bytes
        .get(..4)
        .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| bytes.get(4..4 + len));
    if inner != Some(kind.as_bytes()) {
        return invalid(format!("the key data does not hold a `{kind}` key"), HELP);
    }
    // The whole blob is a sequence of SSH strings: the type, then the key itself.
    let mut parts = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let Some(len) = rest
            .get(..4)
            .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        else {
            return invalid(format!("the `{kind}` key data is cut short"), HELP);
        };
        let Some(part) = rest.get(4..4 + len) else {
            return invalid(format!("the `{kind}` key data is cut short"), HELP);
        };
        parts.push(part);
        rest = &rest[4 + len..];
    }
    let complete = parts.len() >= 2 && parts[1..].iter().all(|p| !p.is_empty());
    let ed25519_ok = kind != "ssh-ed25519" || (parts.len() == 2 && parts[1].len() == 32);
    if !complete || !ed25519_ok {
        return invalid(
            format!(
                "the `{kind}` key data holds no complete key (only {} bytes)",
                bytes.len()
            ),
            HELP,
        );
    }
    Ok(line.to_owned())
}

/// Custom user-data must be a cloud-config document.
pub fn cloud_config(s: &str) -> Result<(), Invalid> {
    if s.starts_with("#cloud-config\n") {
        return match serde_saphyr::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Object(_) | serde_json::Value::Null) => Ok(()),
            Ok(_) => invalid(
                "user_data is not a YAML mapping",
                "cloud-config is a mapping of modules, e.g. `packages: [htop]`",
            ),
            Err(err) => invalid(
                format!(
                    "user_data is not valid YAML: {}",
                    err.to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ")
                ),
                "fix the YAML inside user_data (it is parsed by cloud-init)",
            ),
        };
    }
    invalid(
        "user_data is not a cloud-config document",
        "start it with the line `#cloud-config` (use a YAML block scalar: `user_data: |`)",
    )
}
