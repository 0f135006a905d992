//! `RawSpec` → `Model`: defaults, cross-references, derived values and every check.
//!
//! All problems are collected, not just the first, so one `homelabgen check` run shows
//! everything to fix. Each carries the location of the offending value.

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Role;
use crate::model::*;
use crate::raw::Role as RawRole;
use crate::raw::*;
use crate::values;

mod gitops;
use serde_saphyr::Location;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// A k3s server needs at least this much (upstream's documented minimum).
const MIN_SERVER_CORES: u32 = 2;
const MIN_SERVER_MEMORY_MIB: u64 = 2048;
/// AlmaLinux 9 with k3s and airgap images does not fit in less.
const MIN_DISK_GIB: u64 = 10;
/// Proxmox VM ids: 100 ..= 999999999.
const VM_ID_RANGE: std::ops::RangeInclusive<i64> = 100..=999_999_999;

struct Resolver<'a> {
    file: &'a str,
    errors: Vec<Diagnostic>,
}

impl Resolver<'_> {
    fn error(
        &mut self,
        at: Location,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.errors
            .push(Diagnostic::new(self.file, at, path, message).help(help));
    }

    /// Run a value parser; on failure record the error and return `None`.
    fn check<T>(
        &mut self,
        value: &At<String>,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, values::Invalid>,
    ) -> Option<T> {
        match parse(&value.value) {
            Ok(parsed) => Some(parsed),
            Err(invalid) => {
                self.error(value.referenced, path, invalid.message, invalid.help);
                None
            }
        }
    }

    /// Check a value whose parser only validates, and keep it as written.
    fn valid<T>(
        &mut self,
        value: &At<String>,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, values::Invalid>,
    ) -> String {
        self.check(value, path, parse);
        value.value.clone()
    }

    fn label(&mut self, value: &At<String>, path: &str) -> String {
        self.valid(value, path, values::dns_label)
    }

    fn int(&mut self, value: &At<Int>, path: &str, min: i64, max: i64, what: &str) -> u32 {
        let Int(n) = value.value;
        if n < min || n > max {
            self.error(
                value.referenced,
                path,
                format!("{n} is not a valid {what}"),
                format!("use a whole number from {min} to {max}"),
            );
            return min as u32;
        }
        n as u32
    }
}

/// Resolve a parsed spec. `spec_name` is how generated files name their source.
pub fn resolve(file: &str, spec_name: &str, raw: &RawSpec) -> Result<Model, Diagnostics> {
    let mut r = Resolver {
        file,
        errors: Vec::new(),
    };

    let site = resolve_site(&mut r, &raw.site);
    let versions = Versions {
        proxmox_provider: r.valid(
            &raw.versions.proxmox_provider,
            "versions.proxmox_provider",
            values::semver,
        ),
        opentofu: r.valid(&raw.versions.opentofu, "versions.opentofu", values::semver),
        packer_proxmox_plugin: r.valid(
            &raw.versions.packer_proxmox_plugin,
            "versions.packer_proxmox_plugin",
            values::semver,
        ),
        packer_qemu_plugin: r.valid(
            &raw.versions.packer_qemu_plugin,
            "versions.packer_qemu_plugin",
            values::semver,
        ),
    };

    // MetalLB replaces k3s' own load balancer: the cross-tool rule lives here.
    let metallb_enabled = raw.kubernetes.as_ref().is_some_and(|k| k.metallb.is_some());
    let images = resolve_images(&mut r, &raw.images, metallb_enabled);
    let environments = resolve_environments(&mut r, &raw.environments, &images, &site.nodes);
    check_unique_vm_ids(&mut r, raw);
    let kubernetes = raw
        .kubernetes
        .as_ref()
        .and_then(|k| resolve_kubernetes(&mut r, k, &environments, &images));

    if r.errors.is_empty() {
        Ok(Model {
            spec_name: crate::header_name(spec_name),
            site,
            versions,
            images,
            environments,
            kubernetes,
        })
    } else {
        // Report in file order; defaults (no location) last.
        r.errors
            .sort_by_key(|d| d.line_col.unwrap_or((u64::MAX, u64::MAX)));
        Err(Diagnostics(r.errors))
    }
}

fn resolve_site(r: &mut Resolver, site: &RawSite) -> Site {
    let endpoint = r
        .check(&site.endpoint, "site.endpoint", values::proxmox_endpoint)
        .unwrap_or_default();
    let node = r.label(&site.node, "site.node");
    let nodes = resolve_nodes(r, site, &node);
    Site {
        api_url: format!("{endpoint}/api2/json"),
        endpoint,
        node,
        nodes,
        ssh_host: r.valid(&site.ssh_host, "site.ssh_host", values::host),
        ssh_user: r.valid(&site.ssh_user, "site.ssh_user", values::unix_user),
        insecure_tls: site.insecure_tls,
        storage: Storage {
            vm: r
                .check(&site.storage.vm, "site.storage.vm", values::storage_id)
                .unwrap_or_default(),
            iso: r
                .check(&site.storage.iso, "site.storage.iso", values::storage_id)
                .unwrap_or_default(),
            snippets: r
                .check(
                    &site.storage.snippets,
                    "site.storage.snippets",
                    values::storage_id,
                )
                .unwrap_or_default(),
        },
        bridge: r
            .check(&site.bridge, "site.bridge", values::bridge)
            .unwrap_or_default(),
    }
}

/// `site.nodes`: node names, unique, `site.node` among them; `[site.node]` by default.
fn resolve_nodes(r: &mut Resolver, site: &RawSite, node: &str) -> Vec<String> {
    let Some(raw) = &site.nodes else {
        return vec![node.to_owned()];
    };
    if raw.value.is_empty() {
        r.error(
            raw.referenced,
            "site.nodes",
            "no node is listed",
            format!("list the Proxmox nodes VMs may run on, e.g. `[{node}]`, or leave `nodes` out"),
        );
    }
    let mut seen = BTreeMap::new();
    let mut nodes = Vec::new();
    for (i, n) in raw.value.iter().enumerate() {
        let name = r.label(n, &format!("site.nodes[{i}]"));
        if let Some(first) = seen.insert(name.clone(), n.referenced) {
            r.error(
                n.referenced,
                format!("site.nodes[{i}]"),
                format!(
                    "node `{name}` is listed twice (first at line {})",
                    first.line()
                ),
                "list each node once",
            );
            continue;
        }
        nodes.push(name);
    }
    if !raw.value.is_empty() && !nodes.iter().any(|n| n == node) {
        r.error(
            site.node.referenced,
            "site.node",
            format!("node `{node}` is not in `site.nodes`"),
            format!(
                "templates are built on `site.node`: add `{node}` to `site.nodes`, or set `site.node` to one of {}",
                nodes.join(", ")
            ),
        );
    }
    nodes
}

fn resolve_images(r: &mut Resolver, raw: &At<Vec<RawImage>>, metallb_enabled: bool) -> Vec<Image> {
    let at = raw.referenced;
    let raw = &raw.value;
    let mut seen = BTreeMap::new();
    let mut template_names: BTreeMap<String, String> = BTreeMap::new();
    let mut images = Vec::new();
    if raw.is_empty() {
        r.error(
            at,
            "images",
            "no image is defined",
            "add one entry under `images:`",
        );
    }
    for (i, image) in raw.iter().enumerate() {
        let path = format!("images[{i}]");
        let name = r.label(&image.name, &format!("{path}.name"));
        if let Some(first) = seen.insert(name.clone(), image.name.referenced) {
            r.error(
                image.name.referenced,
                format!("{path}.name"),
                format!(
                    "image `{name}` is defined twice (first at line {})",
                    first.line()
                ),
                "give each image its own name",
            );
        }
        let os = r
            .check(
                &image.os_version,
                &format!("{path}.os_version"),
                values::almalinux_version,
            )
            .unwrap_or((9, 0));
        let k3s = r.check(
            &image.k3s_version,
            &format!("{path}.k3s_version"),
            values::k3s_version,
        );
        let release = r.int(
            &image.release,
            &format!("{path}.release"),
            1,
            99_999,
            "release number",
        );
        let template_vm_id = image.template_vm_id.as_ref().map(|id| {
            r.int(
                id,
                &format!("{path}.template_vm_id"),
                *VM_ID_RANGE.start(),
                *VM_ID_RANGE.end(),
                "Proxmox VM id",
            )
        });
        let build = resolve_build(r, &image.build, &path);
        let disable = resolve_k3s_disable(r, image, &path, metallb_enabled);
        let (arch, rpm_arch) = match image.arch {
            Arch::Amd64 => ("amd64", "x86_64"),
        };
        let os_version = format!("{}.{}", os.0, os.1);
        let (k3s_version, k3s_dashed, kubernetes_version) = match k3s {
            Some(v) => (image.k3s_version.value.clone(), v.dashed, v.kubernetes),
            None => Default::default(),
        };
        let template_name = crate::model::template_name(&os_version, arch, &k3s_dashed, release);
        if !k3s_dashed.is_empty() {
            check_template_name(r, image, &path, &name, &template_name, &mut template_names);
        }
        let iso_base = format!("https://repo.almalinux.org/almalinux/{os_version}/isos/{rpm_arch}");
        images.push(Image {
            name,
            os_major: os.0,
            arch: arch.to_owned(),
            rpm_arch: rpm_arch.to_owned(),
            k3s_version,
            k3s_version_dashed: k3s_dashed,
            kubernetes_version,
            release,
            template_name,
            template_vm_id,
            iso_url: format!("{iso_base}/AlmaLinux-{os_version}-{rpm_arch}-boot.iso"),
            iso_checksum: format!("file:{iso_base}/CHECKSUM"),
            baseos_url: format!(
                "https://repo.almalinux.org/almalinux/{os_version}/BaseOS/{rpm_arch}/os"
            ),
            os_version,
            build,
            k3s_disable: disable,
            airgap_images: image.airgap_images,
            openscap: image.openscap,
        });
    }
    images
}

fn resolve_build(r: &mut Resolver, build: &RawBuild, path: &str) -> BuildVm {
    BuildVm {
        cores: r.int(
            &build.cores,
            &format!("{path}.build.cores"),
            1,
            128,
            "core count",
        ),
        memory_mib: r
            .check(&build.memory, &format!("{path}.build.memory"), |s| {
                values::memory_mib(s, MIN_SERVER_MEMORY_MIB)
            })
            .unwrap_or(0),
        disk_gib: r
            .check(&build.disk, &format!("{path}.build.disk"), |s| {
                values::disk_gib(s, MIN_DISK_GIB)
            })
            .unwrap_or(0),
    }
}

/// k3s components the image disables: traefik always, servicelb when MetalLB replaces it.
fn resolve_k3s_disable(
    r: &mut Resolver,
    image: &RawImage,
    path: &str,
    metallb_enabled: bool,
) -> Vec<String> {
    let mut disable: BTreeSet<String> = BTreeSet::from(["traefik".to_owned()]);
    if metallb_enabled {
        disable.insert("servicelb".to_owned());
    }
    for (j, component) in image.k3s_disable.iter().enumerate() {
        if let Some(c) = r.check(
            component,
            &format!("{path}.k3s_disable[{j}]"),
            values::k3s_component,
        ) {
            disable.insert(c);
        }
    }
    disable.into_iter().collect()
}

/// The template name must be valid in Proxmox and unique: templates are found by name.
fn check_template_name(
    r: &mut Resolver,
    image: &RawImage,
    path: &str,
    name: &str,
    template_name: &str,
    template_names: &mut BTreeMap<String, String>,
) {
    if let Err(invalid) = values::dns_name(template_name) {
        r.error(
            image.name.referenced,
            format!("{path}.name"),
            format!(
                "the template name `{template_name}` is not valid in Proxmox: {}",
                invalid.message
            ),
            invalid.help,
        );
    }
    if let Some(first) = template_names.insert(template_name.to_owned(), name.to_owned()) {
        r.error(
            image.release.referenced,
            format!("{path}.release"),
            format!("image `{name}` builds the same template `{template_name}` as image `{first}`"),
            "templates are found by name: give one of them another release, k3s or OS version",
        );
    }
}

fn resolve_environments(
    r: &mut Resolver,
    raw: &[RawEnvironment],
    images: &[Image],
    nodes: &[String],
) -> Vec<Environment> {
    let mut env_names = BTreeMap::new();
    let mut taken = Taken::default();
    let mut environments = Vec::new();
    for (e, env) in raw.iter().enumerate() {
        let path = format!("environments[{e}]");
        let name = r.label(&env.name, &format!("{path}.name"));
        if let Some(first) = env_names.insert(name.clone(), env.name.referenced) {
            r.error(
                env.name.referenced,
                format!("{path}.name"),
                format!(
                    "environment `{name}` is defined twice (first at line {})",
                    first.line()
                ),
                "give each environment its own name",
            );
        }
        let (network, net) = resolve_network(r, &env.network, &path);
        let ssh_keys = resolve_ssh_keys(r, &env.ssh_keys, &path);
        let user = r.valid(&env.user, &format!("{path}.user"), values::unix_user);
        if env.vms.is_empty() {
            r.error(
                env.name.referenced,
                format!("{path}.vms"),
                "the environment has no VM",
                "add at least one entry under `vms:`",
            );
        }
        let on = VmNetwork {
            net,
            gateway: (network.gateway != Ipv4Addr::UNSPECIFIED).then_some(network.gateway),
        };
        let mut vms: Vec<Vm> = env
            .vms
            .iter()
            .enumerate()
            .map(|(v, vm)| {
                let vpath = format!("{path}.vms[{v}]");
                let mut resolved = resolve_vm(r, vm, &vpath, images, on, &mut taken);
                resolve_vm_role_node(r, env, vm, &vpath, nodes, &mut resolved);
                resolved
            })
            .collect();
        place_vms(&mut vms, nodes);
        let cluster = env
            .cluster
            .as_ref()
            .and_then(|c| resolve_cluster(r, env, c, &path, &name, &vms, on, &mut taken));
        if cluster.is_some() {
            check_version_skew(r, env, &path, &name, &vms, images);
        }
        environments.push(Environment {
            name,
            network,
            ssh_keys,
            user,
            vms,
            cluster,
        });
    }
    check_cross_environment_gateways(r, raw, &environments);
    assign_vrrp_router_ids(raw, &mut environments);
    environments
}

/// A VM's role (`agent` only in a cluster) and node (one of `site.nodes`).
fn resolve_vm_role_node(
    r: &mut Resolver,
    env: &RawEnvironment,
    vm: &RawVm,
    vpath: &str,
    nodes: &[String],
    out: &mut Vm,
) {
    if let Some(role) = &vm.role {
        out.role = match role.value {
            RawRole::Server => Role::Server,
            RawRole::Agent => Role::Agent,
        };
        if out.role == Role::Agent && env.cluster.is_none() {
            r.error(
                role.referenced,
                format!("{vpath}.role"),
                "`role: agent` needs a cluster to join, and this environment declares none",
                "add `cluster: {}` to the environment (with at least one `server`), or remove `role`",
            );
        }
    }
    if let Some(node) = &vm.node {
        if nodes.contains(&node.value) {
            out.node = node.value.clone();
        } else {
            r.error(
                node.referenced,
                format!("{vpath}.node"),
                format!("node `{}` is not a node of the site", node.value),
                format!(
                    "use one of {} (add more under `site.nodes`), or leave `node` out to place the VM automatically",
                    nodes.join(", ")
                ),
            );
        }
    }
    if env.cluster.is_some() {
        check_user_data_keeps_vendor_data(r, vm, vpath);
    }
}

/// Cloud-init lets user-data keys override vendor-data keys: a custom user-data with
/// `write_files` would replace the cluster's files (the VM would come up as a lone
/// server), and `vendor_data` can switch vendor data off. Refuse both in a cluster.
fn check_user_data_keeps_vendor_data(r: &mut Resolver, vm: &RawVm, vpath: &str) {
    let Some(user_data) = &vm.user_data else {
        return;
    };
    let Ok(serde_json::Value::Object(doc)) =
        serde_saphyr::from_str::<serde_json::Value>(&user_data.value)
    else {
        return; // values::cloud_config reports a broken document
    };
    for key in ["write_files", "vendor_data"] {
        if doc.contains_key(key) {
            r.error(
                user_data.referenced,
                format!("{vpath}.user_data"),
                format!("the user_data sets `{key}`, which overrides the vendor data that makes the VM join the cluster (cloud-init: user-data keys win over vendor-data keys)"),
                "leave `write_files` and `vendor_data` out of a cluster VM's user_data (use runcmd or bootcmd), or move the VM out of the cluster",
            );
        }
    }
}

/// Spread the VMs without a node over the site's nodes, in spec order: a server goes to
/// the node with the fewest servers (then the fewest VMs), an agent to the node with
/// the fewest VMs; ties go to the node listed first. VMs pinned with `node` count
/// first, so no two servers share a node while there are enough nodes. Appending a VM
/// to the spec never moves one placed before it.
fn place_vms(vms: &mut [Vm], nodes: &[String]) {
    if nodes.is_empty() {
        return;
    }
    let mut servers = vec![0usize; nodes.len()];
    let mut total = vec![0usize; nodes.len()];
    let index = |name: &str| nodes.iter().position(|n| n == name);
    for vm in vms.iter() {
        if let Some(i) = index(&vm.node) {
            total[i] += 1;
            if vm.role == Role::Server {
                servers[i] += 1;
            }
        }
    }
    for vm in vms.iter_mut().filter(|vm| index(&vm.node).is_none()) {
        let is_server = vm.role == Role::Server;
        let i = (0..nodes.len())
            .min_by_key(|&i| (if is_server { servers[i] } else { 0 }, total[i], i))
            .unwrap_or(0);
        total[i] += 1;
        if is_server {
            servers[i] += 1;
        }
        vm.node = nodes[i].clone();
    }
}

/// The cluster of an environment: at least one server, an odd number of them when
/// there are several (etcd quorum), and an API address that is free.
#[allow(clippy::too_many_arguments)]
fn resolve_cluster(
    r: &mut Resolver,
    env: &RawEnvironment,
    raw: &RawCluster,
    path: &str,
    name: &str,
    vms: &[Vm],
    on: VmNetwork,
    taken: &mut Taken,
) -> Option<Cluster> {
    let servers: Vec<(usize, &Vm)> = vms
        .iter()
        .enumerate()
        .filter(|(_, vm)| vm.role == Role::Server)
        .collect();
    let Some(&(_, first)) = servers.first() else {
        if !vms.is_empty() {
            r.error(
                env.name.referenced,
                format!("{path}.cluster"),
                format!("cluster `{name}` has agents but no server: nothing for them to join"),
                "make at least one VM `role: server` (1, 3 or 5 servers for embedded etcd)",
            );
        }
        return None;
    };
    if servers.len() >= 2 && servers.len().is_multiple_of(2) {
        let (last, _) = servers[servers.len() - 1];
        let raw_vm = &env.vms[last];
        let at = raw_vm
            .role
            .as_ref()
            .map_or(raw_vm.name.referenced, |role| role.referenced);
        r.error(
            at,
            format!("{path}.vms[{last}].role"),
            format!(
                "cluster `{name}` has {} servers: embedded etcd needs a majority of them, so {} servers survive no more failures than {}",
                servers.len(),
                servers.len(),
                servers.len() - 1
            ),
            "use an odd number of servers (1, 3 or 5): make one of them `role: agent`, or add a server",
        );
    }
    if raw.initialized && servers.len() < 2 {
        r.error(
            env.name.referenced,
            format!("{path}.cluster.initialized"),
            format!("cluster `{name}` has one server: with `initialized` it would have no member to join"),
            "leave `initialized` out (a single server always starts the cluster), or add servers first",
        );
    }
    let vip = raw.api_address.as_ref().and_then(|a| {
        let at_path = format!("{path}.cluster.api_address");
        let ip = r.check(a, &at_path, values::ipv4)?;
        check_api_address(r, a, &at_path, ip, vms, on, taken);
        Some(ip)
    });
    let id_path = format!("{path}.cluster.vrrp_router_id");
    let vrrp_router_id = match &raw.vrrp_router_id {
        Some(id) if raw.api_address.is_none() => {
            r.error(
                id.referenced,
                id_path,
                "`vrrp_router_id` without `api_address`: there is no virtual IP for a VRRP group to hold",
                "remove `vrrp_router_id`, or set `api_address` to the virtual IP the servers share",
            );
            vrrp_router_id(name)
        }
        Some(id) => {
            let in_range = (1..=255).contains(&id.value.0);
            let n = r.int(id, &id_path, 1, 255, "VRRP virtual router id") as u8;
            let first = in_range
                .then(|| taken.vrrp_ids.insert(n, (name.to_owned(), id.referenced)))
                .flatten();
            if let Some((other, at)) = first {
                r.error(
                    id.referenced,
                    id_path,
                    format!("VRRP virtual router id {n} is already the id of cluster `{other}` (line {})", at.line()),
                    "give each cluster its own id, or leave `vrrp_router_id` out to have one derived",
                );
            }
            n
        }
        None => vrrp_router_id(name),
    };
    Some(Cluster {
        api_address: vip.unwrap_or(first.ip),
        vip,
        first_server: first.name.clone(),
        initialized: raw.initialized,
        vrrp_router_id,
    })
}

/// The Kubernetes minor version (`Y` of `vX.Y.Z+k3sN`) of a valid k3s version.
fn kubernetes_minor(k3s_version: &str) -> Option<(u32, u32)> {
    let mut parts = k3s_version.strip_prefix('v')?.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The Kubernetes version skew policy within one cluster, for VMs cloned from images
/// with different k3s versions: the API servers at most one minor version apart, and
/// no agent's kubelet newer than the oldest server, nor more than three minor versions
/// older. k3s refuses or misbehaves otherwise, long after the apply.
fn check_version_skew(
    r: &mut Resolver,
    env: &RawEnvironment,
    path: &str,
    name: &str,
    vms: &[Vm],
    images: &[Image],
) {
    let minor_of = |vm: &Vm| {
        let image = images.iter().find(|i| i.name == vm.image)?;
        Some((
            kubernetes_minor(&image.k3s_version)?,
            image.k3s_version.as_str(),
        ))
    };
    let servers: Vec<(usize, (u32, u32), &str)> = vms
        .iter()
        .enumerate()
        .filter(|(_, vm)| vm.role == Role::Server)
        .filter_map(|(v, vm)| minor_of(vm).map(|(m, k)| (v, m, k)))
        .collect();
    let (Some(oldest), Some(newest)) = (
        servers.iter().min_by_key(|s| s.1),
        servers.iter().max_by_key(|s| s.1),
    ) else {
        return;
    };
    let minors = |a: (u32, u32), b: (u32, u32)| {
        if a.0 == b.0 {
            Some(b.1.abs_diff(a.1))
        } else {
            None
        }
    };
    if minors(oldest.1, newest.1).is_none_or(|d| d > 1) {
        let (v, _, k3s) = *newest;
        r.error(
            env.vms[v].image.referenced,
            format!("{path}.vms[{v}].image"),
            format!(
                "cluster `{name}` mixes servers on k3s {} and {k3s}: Kubernetes API servers of one cluster may be at most one minor version apart",
                oldest.2
            ),
            "give the servers images of the same k3s version (upgrade one minor version at a time)",
        );
        return;
    }
    for (v, vm) in vms.iter().enumerate() {
        if vm.role != Role::Agent {
            continue;
        }
        let Some((minor, k3s)) = minor_of(vm) else {
            continue;
        };
        let problem = match minors(minor, oldest.1) {
            _ if minor > oldest.1 => Some("newer than"),
            Some(d) if d <= 3 => None,
            _ => Some("more than three minor versions older than"),
        };
        if let Some(problem) = problem {
            r.error(
                env.vms[v].image.referenced,
                format!("{path}.vms[{v}].image"),
                format!(
                    "agent `{}` runs k3s {k3s}, {problem} server `{}` ({}): a kubelet may not be newer than the API server, nor more than three minor versions older",
                    vm.name, vms[oldest.0].name, oldest.2
                ),
                "upgrade the servers first, then the agents; give the agent an image of the servers' k3s version",
            );
        }
    }
}

/// Give every cluster with a virtual IP whose id is derived (not set in the spec) an id
/// no other cluster of the spec has: its derived id, else the next free one (in spec
/// order, so the same spec always gives the same ids). Two keepalived groups with one
/// id on one network would fight over each other's advertisements.
fn assign_vrrp_router_ids(raw: &[RawEnvironment], environments: &mut [Environment]) {
    let pinned: BTreeSet<u8> = environments
        .iter()
        .zip(raw)
        .filter_map(|(env, raw)| {
            let cluster = env.cluster.as_ref()?;
            raw.cluster.as_ref()?.vrrp_router_id.as_ref()?;
            cluster.vip.map(|_| cluster.vrrp_router_id)
        })
        .collect();
    let mut used = pinned;
    for (env, raw) in environments.iter_mut().zip(raw) {
        let derived = raw
            .cluster
            .as_ref()
            .is_some_and(|c| c.vrrp_router_id.is_none());
        let Some(cluster) = env.cluster.as_mut().filter(|c| c.vip.is_some() && derived) else {
            continue;
        };
        let mut id = cluster.vrrp_router_id;
        for _ in 0..255 {
            if !used.contains(&id) {
                break;
            }
            id = id % 255 + 1;
        }
        used.insert(id);
        cluster.vrrp_router_id = id;
    }
}

/// The VIP: a host address of the network, not the gateway, no VM's address.
fn check_api_address(
    r: &mut Resolver,
    a: &At<String>,
    path: &str,
    ip: Ipv4Addr,
    vms: &[Vm],
    on: VmNetwork,
    taken: &mut Taken,
) {
    if let Some(net) = on.net {
        if let Err(invalid) = net.host_address(ip) {
            r.error(
                a.referenced,
                path,
                format!("API address {ip} {}", invalid.message),
                format!("{} (the servers hold it on the VMs' network)", invalid.help),
            );
        }
    }
    if Some(ip) == on.gateway {
        r.error(
            a.referenced,
            path,
            format!("API address {ip} is the gateway's address"),
            "pick a free address of the network for the servers to share",
        );
    }
    if let Some(vm) = vms.iter().find(|vm| vm.ip == ip) {
        r.error(
            a.referenced,
            path,
            format!("API address {ip} is the address of VM `{}`", vm.name),
            "the API address is a virtual IP that moves between servers: pick a free address, or leave `api_address` out to use the first server's",
        );
    } else if let Some(first) = taken.ips.insert(ip, a.referenced) {
        r.error(
            a.referenced,
            path,
            format!("API address {ip} is already used at line {}", first.line()),
            "pick an address no VM or other cluster uses",
        );
    }
}

/// A VRRP virtual router id from the environment name (FNV-1a), 1..=255: the same
/// spec always gives the same id.
fn vrrp_router_id(name: &str) -> u8 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % 255 + 1) as u8
}

/// Names and addresses already given to a VM, with where (unique across environments).
#[derive(Default)]
struct Taken {
    vm_names: BTreeMap<String, Location>,
    ips: BTreeMap<Ipv4Addr, Location>,
    /// VRRP router ids set in the spec, with the cluster and where.
    vrrp_ids: BTreeMap<u8, (String, Location)>,
}

/// The network a VM is placed in, as far as it resolved.
#[derive(Clone, Copy)]
struct VmNetwork {
    net: Option<values::Ipv4Net>,
    gateway: Option<Ipv4Addr>,
}

fn resolve_network(
    r: &mut Resolver,
    raw: &RawNetwork,
    path: &str,
) -> (Network, Option<values::Ipv4Net>) {
    let net = r.check(
        &raw.cidr,
        &format!("{path}.network.cidr"),
        values::ipv4_cidr,
    );
    let gateway = r.check(
        &raw.gateway,
        &format!("{path}.network.gateway"),
        values::ipv4,
    );
    if let (Some(net), Some(gw)) = (net, gateway) {
        if let Err(invalid) = net.host_address(gw) {
            r.error(
                raw.gateway.referenced,
                format!("{path}.network.gateway"),
                format!("gateway {gw} {}", invalid.message),
                invalid.help,
            );
        }
    }
    let mut nameservers = Vec::new();
    if raw.nameservers.value.is_empty() {
        r.error(
            raw.nameservers.referenced,
            format!("{path}.network.nameservers"),
            "no nameserver is given",
            "list at least one DNS server address",
        );
    }
    for (i, ns) in raw.nameservers.value.iter().enumerate() {
        let ns_path = format!("{path}.network.nameservers[{i}]");
        if let Some(ip) = r.check(ns, &ns_path, values::ipv4) {
            if let Err(why) = values::nameserver(ip) {
                r.error(
                    ns.referenced,
                    ns_path,
                    format!("{ip} {}", why.message),
                    why.help,
                );
            }
            nameservers.push(ip);
        }
    }
    let search_domain = raw.search_domain.as_ref().map(|d| {
        r.valid(
            d,
            &format!("{path}.network.search_domain"),
            values::dns_name,
        )
    });
    let network = Network {
        cidr: net.map(|n| n.to_string()).unwrap_or_default(),
        prefix_len: net.map(|n| n.prefix_len).unwrap_or(0),
        gateway: gateway.unwrap_or(Ipv4Addr::UNSPECIFIED),
        nameservers,
        search_domain,
    };
    (network, net)
}

fn resolve_ssh_keys(r: &mut Resolver, raw: &At<Vec<At<String>>>, path: &str) -> Vec<String> {
    if raw.value.is_empty() {
        r.error(
            raw.referenced,
            format!("{path}.ssh_keys"),
            "no SSH public key is given: nobody could log in to the VMs",
            "add your OpenSSH public key, e.g. the contents of ~/.ssh/id_ed25519.pub",
        );
    }
    raw.value
        .iter()
        .enumerate()
        .filter_map(|(i, key)| {
            r.check(
                key,
                &format!("{path}.ssh_keys[{i}]"),
                values::ssh_public_key,
            )
        })
        .collect()
}

fn resolve_vm(
    r: &mut Resolver,
    vm: &RawVm,
    vpath: &str,
    images: &[Image],
    on: VmNetwork,
    taken: &mut Taken,
) -> Vm {
    let vm_name = r.label(&vm.name, &format!("{vpath}.name"));
    if let Some(first) = taken.vm_names.insert(vm_name.clone(), vm.name.referenced) {
        r.error(
            vm.name.referenced,
            format!("{vpath}.name"),
            format!(
                "VM name `{vm_name}` is already used at line {}",
                first.line()
            ),
            "VM names are host names and Proxmox names: make each one unique",
        );
    }
    let image = images.iter().find(|i| i.name == vm.image.value);
    if image.is_none() {
        let known: Vec<_> = images.iter().map(|i| i.name.as_str()).collect();
        r.error(
            vm.image.referenced,
            format!("{vpath}.image"),
            format!("no image is named `{}`", vm.image.value),
            if known.is_empty() {
                "define the image under `images:` first".to_owned()
            } else {
                format!("use one of the names under `images:`: {}", known.join(", "))
            },
        );
    }
    let cores = r.int(
        &vm.cores,
        &format!("{vpath}.cores"),
        MIN_SERVER_CORES as i64,
        512,
        "core count for a k3s server (at least 2)",
    );
    let memory_mib = r
        .check(&vm.memory, &format!("{vpath}.memory"), |s| {
            values::memory_mib(s, MIN_SERVER_MEMORY_MIB)
        })
        .unwrap_or(0);
    let disk_gib = r
        .check(&vm.disk, &format!("{vpath}.disk"), |s| {
            values::disk_gib(s, MIN_DISK_GIB)
        })
        .unwrap_or(0);
    if let Some(image) = image {
        check_disk_fits_image(r, vm, vpath, disk_gib, image);
    }
    let ip = r.check(&vm.ip, &format!("{vpath}.ip"), values::ipv4);
    if let Some(ip) = ip {
        check_vm_ip(r, vm, vpath, ip, on, taken);
    }
    let vm_id = vm.vm_id.as_ref().map(|id| {
        r.int(
            id,
            &format!("{vpath}.vm_id"),
            *VM_ID_RANGE.start(),
            *VM_ID_RANGE.end(),
            "Proxmox VM id",
        )
    });
    let user_data = vm
        .user_data
        .as_ref()
        .map(|u| r.valid(u, &format!("{vpath}.user_data"), values::cloud_config));
    let prefix_len = on.net.map(|n| n.prefix_len).unwrap_or(0);
    let ip = ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    Vm {
        name: vm_name,
        image: vm.image.value.clone(),
        template_name: image.map(|i| i.template_name.clone()).unwrap_or_default(),
        cores,
        memory_mib,
        disk_gib,
        ip,
        ip_cidr: format!("{ip}/{prefix_len}"),
        vm_id,
        user_data,
        node: String::new(),
        role: Role::Server,
    }
}

/// A clone starts with the template's disk and cannot shrink it.
fn check_disk_fits_image(r: &mut Resolver, vm: &RawVm, vpath: &str, disk_gib: u64, image: &Image) {
    if disk_gib > 0 && disk_gib < image.build.disk_gib {
        r.error(
            vm.disk.referenced,
            format!("{vpath}.disk"),
            format!(
                "{} is smaller than the {}GiB disk of image `{}`; a clone cannot shrink its template's disk",
                vm.disk.value, image.build.disk_gib, image.name
            ),
            format!(
                "give at least {}GiB, or make the image's `build.disk` smaller",
                image.build.disk_gib
            ),
        );
    }
}

/// A VM's address: a host address of its network, not the gateway, not another VM's.
fn check_vm_ip(
    r: &mut Resolver,
    vm: &RawVm,
    vpath: &str,
    ip: Ipv4Addr,
    on: VmNetwork,
    taken: &mut Taken,
) {
    let Some(net) = on.net else {
        return;
    };
    if let Err(invalid) = net.host_address(ip) {
        r.error(
            vm.ip.referenced,
            format!("{vpath}.ip"),
            format!("{ip} {}", invalid.message),
            invalid.help,
        );
    } else if Some(ip) == on.gateway {
        r.error(
            vm.ip.referenced,
            format!("{vpath}.ip"),
            format!("{ip} is the gateway's address"),
            "give the VM an address of its own",
        );
    }
    if let Some(first) = taken.ips.insert(ip, vm.ip.referenced) {
        r.error(
            vm.ip.referenced,
            format!("{vpath}.ip"),
            format!("IP address {ip} is already used at line {}", first.line()),
            "give every VM its own address",
        );
    }
}

/// All environments share the site's bridge: a VM may not take the gateway address of
/// another environment either.
fn check_cross_environment_gateways(
    r: &mut Resolver,
    raw: &[RawEnvironment],
    envs: &[Environment],
) {
    for (e, env) in raw.iter().enumerate() {
        for (v, vm) in env.vms.iter().enumerate() {
            let Ok(ip) = values::ipv4(&vm.ip.value) else {
                continue;
            };
            let other = envs
                .iter()
                .find(|o| o.name != env.name.value && o.network.gateway == ip);
            if let Some(other) = other {
                r.error(
                    vm.ip.referenced,
                    format!("environments[{e}].vms[{v}].ip"),
                    format!("{ip} is the gateway of environment `{}`", other.name),
                    "give the VM an address of its own",
                );
            }
        }
    }
}

/// Helm values are copied into YAML as numbers: a whole number too large for 64 bits
/// reaches us as a float and would be written rounded. Refuse it instead.
fn check_values_exact(
    r: &mut Resolver,
    values: &BTreeMap<String, serde_json::Value>,
    at: Location,
    path: &str,
) {
    fn walk(value: &serde_json::Value, path: String, out: &mut Vec<(String, f64)>) {
        match value {
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() >= 9_007_199_254_740_992.0 {
                    out.push((path, f));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    walk(item, format!("{path}.{key}"), out);
                }
            }
            _ => {}
        }
    }
    let mut inexact = Vec::new();
    for (key, value) in values {
        walk(value, format!("{path}.{key}"), &mut inexact);
    }
    for (path, f) in inexact {
        r.error(
            at,
            path,
            format!("the number {f:e} cannot be kept exact (it is beyond 64-bit integers or written as a float)"),
            "quote it if it is meant as text, or give a smaller number",
        );
    }
}

/// VM ids are global on a Proxmox cluster: templates and VMs share one space.
fn check_unique_vm_ids(r: &mut Resolver, raw: &RawSpec) {
    let mut seen: BTreeMap<i64, Location> = BTreeMap::new();
    let image_ids = raw
        .images
        .value
        .iter()
        .enumerate()
        .filter_map(|(i, image)| {
            Some((
                format!("images[{i}].template_vm_id"),
                image.template_vm_id.as_ref()?,
            ))
        });
    let vm_ids = raw.environments.iter().enumerate().flat_map(|(e, env)| {
        env.vms.iter().enumerate().filter_map(move |(v, vm)| {
            Some((
                format!("environments[{e}].vms[{v}].vm_id"),
                vm.vm_id.as_ref()?,
            ))
        })
    });
    for (path, id) in image_ids.chain(vm_ids) {
        if let Some(first) = seen.insert(id.value.0, id.referenced) {
            r.error(
                id.referenced,
                path,
                format!(
                    "VM id {} is already used at line {}",
                    id.value.0,
                    first.line()
                ),
                "Proxmox VM ids are unique across the cluster: pick another, or leave it out",
            );
        }
    }
}

fn resolve_kubernetes(
    r: &mut Resolver,
    k: &RawKubernetes,
    environments: &[Environment],
    images: &[Image],
) -> Option<Kubernetes> {
    let Some(env) = environments.iter().find(|e| e.name == k.cluster.value) else {
        let known: Vec<_> = environments.iter().map(|e| e.name.as_str()).collect();
        r.error(
            k.cluster.referenced,
            "kubernetes.cluster",
            format!("no environment is named `{}`", k.cluster.value),
            format!(
                "use one of the names under `environments:`: {}",
                known.join(", ")
            ),
        );
        return None;
    };
    if env.cluster.is_none() && env.vms.len() > 1 {
        r.error(
            k.cluster.referenced,
            "kubernetes.cluster",
            format!(
                "environment `{}` is not one cluster: its {} VMs each run a single-node k3s of their own",
                env.name,
                env.vms.len()
            ),
            format!(
                "add `cluster: {{}}` to environment `{}` (and `role: agent` to its workers), or name an environment with one VM",
                env.name
            ),
        );
        return None;
    }
    let server = match &env.cluster {
        Some(c) => env.vms.iter().find(|vm| vm.name == c.first_server)?,
        None => env.vms.first()?,
    };
    let api_address = env.cluster.as_ref().map_or(server.ip, |c| c.api_address);
    let kubernetes_version = images
        .iter()
        .find(|i| i.name == server.image)
        .map(|i| i.kubernetes_version.clone())
        .unwrap_or_default();
    let repo_url = r
        .check(&k.git.repo_url, "kubernetes.git.repo_url", values::git_url)
        .unwrap_or_default();
    let revision = r.valid(
        &k.git.revision,
        "kubernetes.git.revision",
        values::git_revision,
    );
    let path = r
        .check(&k.git.path, "kubernetes.git.path", values::repo_path)
        .unwrap_or_default();
    let argocd_version = r.valid(
        &k.argocd.version,
        "kubernetes.argocd.version",
        values::v_semver,
    );
    let argocd_namespace = r.label(&k.argocd.namespace, "kubernetes.argocd.namespace");
    check_argocd_namespace(r, k, &argocd_namespace);
    let metallb = k
        .metallb
        .as_ref()
        .map(|m| resolve_metallb(r, m, env, environments));
    let ingress = k.ingress.as_ref().map(|i| IngressController {
        version: r.valid(
            &i.version,
            "kubernetes.ingress.version",
            values::chart_version,
        ),
    });
    let cert_manager = k.cert_manager.as_ref().map(|c| CertManager {
        version: r.valid(
            &c.version,
            "kubernetes.cert_manager.version",
            values::chart_version,
        ),
    });
    let mut names = BTreeMap::new();
    let ctx = AppContext {
        metallb: k.metallb.is_some(),
        ingress: k.ingress.is_some(),
        cert_manager: k.cert_manager.is_some(),
        git_path: path.clone(),
    };
    let mut helm_apps = |list: &[RawHelmApp], section: &str, r: &mut Resolver| -> Vec<HelmApp> {
        list.iter()
            .enumerate()
            .map(|(i, app)| {
                let path = format!("kubernetes.{section}[{i}]");
                resolve_helm_app(r, app, &path, &ctx, &mut names)
            })
            .collect()
    };
    let infra = helm_apps(&k.infra, "infra", r);
    let apps = helm_apps(&k.apps, "apps", r);
    check_pod_security(r, k);
    check_unique_hosts(r, k);
    let sealed_secrets = k
        .sealed_secrets
        .as_ref()
        .map(|s| gitops::resolve_sealed_secrets(r, s, &path));
    let server_k3s = images
        .iter()
        .find(|i| i.name == server.image)
        .map(|i| i.k3s_version.as_str());
    let system_upgrade = k
        .system_upgrade
        .as_ref()
        .map(|s| gitops::resolve_system_upgrade(r, s, server_k3s));
    gitops::check_reserved_names(r, k);
    Some(Kubernetes {
        cluster: env.name.clone(),
        server_vm: server.name.clone(),
        server_ip: server.ip,
        api_address,
        context: format!("homelab-{}", env.name),
        kubernetes_version,
        git: Git {
            repo_url,
            revision,
            path,
        },
        argocd: ArgoCd {
            install_url: format!("https://raw.githubusercontent.com/argoproj/argo-cd/{argocd_version}/manifests/install.yaml"),
            version: argocd_version,
            namespace: argocd_namespace,
        },
        metallb,
        infra,
        apps,
        ingress,
        cert_manager,
        sealed_secrets,
        system_upgrade,
    })
}

fn check_argocd_namespace(r: &mut Resolver, k: &RawKubernetes, argocd_namespace: &str) {
    let taken_by = match argocd_namespace {
        "default" | "kube-system" | "kube-public" | "kube-node-lease" => Some("Kubernetes itself"),
        "metallb-system" if k.metallb.is_some() => Some("MetalLB (with its pod-security labels)"),
        _ => None,
    };
    if let Some(owner) = taken_by {
        r.error(
            k.argocd.namespace.referenced,
            "kubernetes.argocd.namespace",
            format!("namespace `{argocd_namespace}` belongs to {owner}"),
            "give Argo CD a namespace of its own, e.g. `argocd`",
        );
    }
}

/// MetalLB's pool must lie in the cluster's network (its L2 mode answers ARP there),
/// clear of the network's edges, of every VM and gateway, and of its other ranges.
fn resolve_metallb(
    r: &mut Resolver,
    m: &RawMetalLb,
    env: &Environment,
    environments: &[Environment],
) -> MetalLb {
    let version = r.valid(&m.version, "kubernetes.metallb.version", values::semver);
    if m.addresses.is_empty() {
        r.error(
            m.version.referenced,
            "kubernetes.metallb.addresses",
            "MetalLB has no address to hand out",
            "list a range such as `192.168.1.240-192.168.1.250`",
        );
    }
    // The pool must lie in the cluster's network (MetalLB's L2 mode answers ARP
    // there) and must not hand out an address a VM or the gateway already has.
    let network = values::ipv4_cidr(&env.network.cidr).ok();
    let mut addresses = Vec::new();
    let mut ranges: Vec<values::AddressRange> = Vec::new();
    for (i, a) in m.addresses.iter().enumerate() {
        let path = format!("kubernetes.metallb.addresses[{i}]");
        let Some(range) = r.check(a, &path, values::address_range) else {
            continue;
        };
        if let Some(net) = network {
            let edge = [net.network, net.broadcast()]
                .into_iter()
                .find(|ip| range.contains(*ip));
            if let Some(ip) = edge {
                let which = if ip == net.network {
                    "network"
                } else {
                    "broadcast"
                };
                r.error(
                    a.referenced,
                    &path,
                    format!("{} includes {ip}, the {which} address of {net}", range.text),
                    format!(
                        "start after {} and end before {}",
                        net.network,
                        net.broadcast()
                    ),
                );
            } else if !net.contains(range.first) || !net.contains(range.last) {
                r.error(
                    a.referenced,
                    &path,
                    format!("{} is not inside the cluster's network {net}", range.text),
                    format!(
                        "use free addresses of {net} (environment `{}`), outside your DHCP range",
                        env.name
                    ),
                );
            }
        }
        // Every environment shares the site's bridge: no VM or gateway of any of them.
        let taken =
            environments
                .iter()
                .flat_map(|e| {
                    e.vms
                        .iter()
                        .map(|vm| (vm.ip, format!("VM `{}`", vm.name)))
                        .chain([(e.network.gateway, format!("the gateway of `{}`", e.name))])
                        .chain(e.cluster.iter().filter_map(|c| c.vip).map(|vip| {
                            (vip, format!("cluster `{}`'s API (its virtual IP)", e.name))
                        }))
                })
                .find(|(ip, _)| range.contains(*ip));
        if let Some(other) = ranges
            .iter()
            .find(|o: &&values::AddressRange| o.first <= range.last && range.first <= o.last)
        {
            r.error(
                a.referenced,
                &path,
                format!("{} overlaps {}", range.text, other.text),
                "give each range its own addresses, or merge them into one",
            );
        }
        ranges.push(range.clone());
        if let Some((ip, owner)) = taken {
            r.error(
                a.referenced,
                &path,
                format!("{} includes {ip}, the address of {owner}", range.text),
                "MetalLB would hand that address to a Service too: leave it out of the range",
            );
        }
        addresses.push(range.text);
    }
    MetalLb { version, addresses }
}

/// One host name, one Ingress: two entries serving the same name would fight over it.
fn check_unique_hosts(r: &mut Resolver, k: &RawKubernetes) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (section, list) in [("infra", &k.infra), ("apps", &k.apps)] {
        for (i, app) in list.iter().enumerate() {
            let Some(ingress) = &app.ingress else {
                continue;
            };
            let host = &ingress.host;
            if let Some(other) = seen.get(&host.value) {
                r.error(
                    host.referenced,
                    format!("kubernetes.{section}[{i}].ingress.host"),
                    format!("host `{}` is already served by `{other}`", host.value),
                    "give each application a host name of its own",
                );
            } else {
                seen.insert(host.value.clone(), app.name.value.clone());
            }
        }
    }
}

/// A namespace has one Namespace object, so entries sharing it must agree on its Pod
/// Security Standard (MetalLB's namespace is `privileged`, its speaker needs that).
fn check_pod_security(r: &mut Resolver, k: &RawKubernetes) {
    let mut levels: BTreeMap<String, (PodSecurity, String)> = BTreeMap::new();
    if k.metallb.is_some() {
        levels.insert(
            "metallb-system".to_owned(),
            (PodSecurity::Privileged, "MetalLB".to_owned()),
        );
    }
    for (section, list) in [("infra", &k.infra), ("apps", &k.apps)] {
        for (i, app) in list.iter().enumerate() {
            let Some(level) = app.pod_security else {
                continue;
            };
            let ns = app
                .namespace
                .as_ref()
                .map_or(&app.name.value, |n| &n.value)
                .clone();
            match levels.get(&ns) {
                Some((other, owner)) if *other != level => r.error(
                    app.name.referenced,
                    format!("kubernetes.{section}[{i}].pod_security"),
                    format!(
                        "namespace `{ns}` is `{}` for {owner}, and `{}` here",
                        other.as_str(),
                        level.as_str()
                    ),
                    "entries sharing a namespace share its Pod Security Standard: use the same level, or leave it out here",
                ),
                Some(_) => {}
                None => {
                    levels.insert(ns, (level, format!("`{}`", app.name.value)));
                }
            }
        }
    }
}

/// What an entry's checks need to know about the rest of the `kubernetes:` section.
struct AppContext {
    metallb: bool,
    ingress: bool,
    cert_manager: bool,
    /// `kubernetes.git.path`: the generated tree, which render owns.
    git_path: String,
}

/// The Application names the generated tree takes itself (when that part is enabled).
fn reserved_name(name: &str, ctx: &AppContext) -> bool {
    match name {
        "root" => true,
        "metallb" => ctx.metallb,
        "traefik" => ctx.ingress,
        "cert-manager" => ctx.cert_manager,
        _ => false,
    }
}

fn resolve_helm_app(
    r: &mut Resolver,
    app: &RawHelmApp,
    path: &str,
    ctx: &AppContext,
    names: &mut BTreeMap<String, Location>,
) -> HelmApp {
    let name = r.label(&app.name, &format!("{path}.name"));
    check_values_exact(
        r,
        &app.values,
        app.name.referenced,
        &format!("{path}.values"),
    );
    if let Some(first) = names.insert(name.clone(), app.name.referenced) {
        r.error(
            app.name.referenced,
            format!("{path}.name"),
            format!(
                "application `{name}` is already defined at line {}",
                first.line()
            ),
            "Argo CD Application names are unique: rename one",
        );
    }
    // The generated k8s tree names some Applications (and `infra/` directories) itself.
    if reserved_name(&name, ctx) {
        r.error(
            app.name.referenced,
            format!("{path}.name"),
            format!(
                "the name `{name}` is taken by the generated Argo CD Application of the same name"
            ),
            "rename this application",
        );
    }
    let namespace = match &app.namespace {
        Some(ns) => r.label(ns, &format!("{path}.namespace")),
        None => name.clone(),
    };
    check_phpipam_namespace(r, app, path, &namespace);

    let (kind, chart_repo_url, chart, chart_version) = match (&app.chart, &app.path) {
        (Some(c), None) => {
            let (url, oci) = r
                .check(
                    &c.repo_url,
                    &format!("{path}.chart.repo_url"),
                    values::chart_repo_url,
                )
                .unwrap_or_default();
            (
                if oci { AppKind::Oci } else { AppKind::Helm },
                url,
                r.label(&c.name, &format!("{path}.chart.name")),
                r.valid(
                    &c.version,
                    &format!("{path}.chart.version"),
                    values::chart_version,
                ),
            )
        }
        (None, Some(p)) => {
            let dir = user_repo_path(r, p, &format!("{path}.path"), &ctx.git_path);
            if !app.values.is_empty() {
                r.error(
                    p.referenced,
                    format!("{path}.values"),
                    "`values:` are Helm values, but this entry has no chart",
                    "remove `values:`, or give the entry a `chart:` instead of `path:`",
                );
            }
            if let Some(f) = &app.values_file {
                r.error(
                    f.referenced,
                    format!("{path}.values_file"),
                    "`values_file:` is a Helm values file, but this entry has no chart",
                    "remove `values_file:`, or give the entry a `chart:` instead of `path:`",
                );
            }
            (
                AppKind::Path(dir),
                String::new(),
                String::new(),
                String::new(),
            )
        }
        (Some(_), Some(p)) => {
            r.error(
                p.referenced,
                format!("{path}.path"),
                "an entry has either a `chart:` or a `path:`, not both",
                "keep `chart:` for a Helm chart, or `path:` for manifests in this repository",
            );
            (AppKind::Helm, String::new(), String::new(), String::new())
        }
        (None, None) => {
            r.error(
                app.name.referenced,
                format!("{path}.chart"),
                format!("application `{name}` has neither a `chart:` nor a `path:`"),
                "add `chart: {repo_url, name, version}` for a Helm chart, or `path: manifests/<name>` for manifests in this repository",
            );
            (AppKind::Helm, String::new(), String::new(), String::new())
        }
    };
    let values_file = app.values_file.as_ref().map(|f| {
        let file = user_repo_path(r, f, &format!("{path}.values_file"), &ctx.git_path);
        if !(file.is_empty() || file.ends_with(".yaml") || file.ends_with(".yml")) {
            r.error(
                f.referenced,
                format!("{path}.values_file"),
                format!("`{file}` is not a YAML file"),
                "name a Helm values file ending in `.yaml` or `.yml`",
            );
        }
        file
    });
    let ingress = app
        .ingress
        .as_ref()
        .map(|i| resolve_app_ingress(r, app, i, path, ctx, &chart));
    let options = resolve_sync_options(r, &app.sync, path);
    HelmApp {
        chart_repo_url,
        chart,
        chart_version,
        name,
        namespace,
        values: app.values.clone(),
        sync: SyncPolicy {
            automated: app.sync.automated,
            prune: app.sync.prune,
            self_heal: app.sync.self_heal,
        },
        kind,
        values_file,
        ingress,
        pod_security: app.pod_security.map(|p| p.as_str().to_owned()),
        options,
    }
}

/// A path of the user's repository, from its root: relative, no `..`, and outside the
/// generated tree (render owns that and would prune a file it did not write).
fn user_repo_path(r: &mut Resolver, value: &At<String>, field: &str, git_path: &str) -> String {
    let Some(p) = r.check(value, field, |v| {
        values::repo_path(v).map_err(|mut e| {
            e.help = "write a path from the repository's root, such as `manifests/<app>` or `values/<app>.yaml`, without `..` or a leading `/`".to_owned();
            e
        })
    }) else {
        return String::new();
    };
    let generated = git_path.rsplit_once('/').map_or(git_path, |(root, _)| root);
    let inside = |base: &str| !base.is_empty() && (p == base || p.starts_with(&format!("{base}/")));
    if inside(git_path) || (generated == "generated" && inside("generated")) {
        r.error(
            value.referenced,
            field,
            format!("`{p}` is inside the generated tree, which `homelabgen render` owns"),
            "keep your own files outside it, e.g. `manifests/<app>/` or `values/<app>.yaml`",
        );
    }
    p
}

fn resolve_app_ingress(
    r: &mut Resolver,
    app: &RawHelmApp,
    ingress: &RawAppIngress,
    path: &str,
    ctx: &AppContext,
    chart: &str,
) -> AppIngress {
    let field = format!("{path}.ingress");
    r.check(&ingress.host, &format!("{field}.host"), values::host_name);
    if !ctx.ingress {
        r.error(
            ingress.host.referenced,
            format!("{field}.host"),
            "an application has a host name, but no ingress controller is enabled",
            "add `ingress: {}` under `kubernetes:` (Traefik from its chart)",
        );
    }
    let phpipam = chart == PHPIPAM_CHART;
    let service = match &ingress.service {
        Some(s) => r.label(s, &format!("{field}.service")),
        None if phpipam => app
            .values
            .get("phpipamWeb")
            .and_then(|w| w.get("name"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or(PHPIPAM_WEB_SERVICE)
            .to_owned(),
        None => {
            r.error(
                ingress.host.referenced,
                format!("{field}.service"),
                "homelabgen does not know this chart's Service",
                "name the Service the host should reach: `service: <name>` (and `port:` when it is not 80)",
            );
            String::new()
        }
    };
    let default_port = if phpipam {
        app.values
            .get("phpipamWeb")
            .and_then(|w| w.get("service"))
            .and_then(|s| s.get("port"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(80)
    } else {
        80
    };
    let port = match &ingress.port {
        Some(p) => r.int(p, &format!("{field}.port"), 1, 65535, "port") as u16,
        None => default_port,
    };
    AppIngress {
        host: ingress.host.value.clone(),
        service,
        port,
    }
}

fn resolve_sync_options(r: &mut Resolver, sync: &RawSync, path: &str) -> SyncOptions {
    let wave = sync.wave.as_ref().map(|w| {
        let Int(n) = w.value;
        if !(-1000..=1000).contains(&n) {
            r.error(
                w.referenced,
                format!("{path}.sync.wave"),
                format!("{n} is not a useful sync wave"),
                "use a whole number from -1000 to 1000 (infra entries default to 0, apps to 1)",
            );
        }
        n.clamp(-1000, 1000) as i32
    });
    let ignore_differences = sync
        .ignore_differences
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let field = format!("{path}.sync.ignore_differences[{i}]");
            if d.kind.value.is_empty() || d.kind.value.contains(char::is_whitespace) {
                r.error(
                    d.kind.referenced,
                    format!("{field}.kind"),
                    format!("`{}` is not a Kubernetes kind", d.kind.value),
                    "write the kind as the API spells it, e.g. `Deployment`",
                );
            }
            if d.json_pointers.is_empty() && d.jq_path_expressions.is_empty() {
                r.error(
                    d.kind.referenced,
                    field.clone(),
                    "nothing to ignore: neither `json_pointers` nor `jq_path_expressions` is given",
                    "add e.g. `json_pointers: [/spec/replicas]`",
                );
            }
            for (j, p) in d.json_pointers.iter().enumerate() {
                if !p.value.starts_with('/') {
                    r.error(
                        p.referenced,
                        format!("{field}.json_pointers[{j}]"),
                        format!("`{}` is not a JSON pointer", p.value),
                        "a JSON pointer starts with `/`, e.g. `/spec/replicas`",
                    );
                }
            }
            IgnoreDifference {
                group: d.group.clone(),
                kind: d.kind.value.clone(),
                name: d.name.clone(),
                namespace: d.namespace.clone(),
                json_pointers: d.json_pointers.iter().map(|p| p.value.clone()).collect(),
                jq_path_expressions: d.jq_path_expressions.clone(),
            }
        })
        .collect();
    SyncOptions {
        wave,
        server_side_apply: sync.server_side_apply,
        ignore_differences,
    }
}

/// The phpIPAM chart's name and its web Service's default name (FACTS.md).
const PHPIPAM_CHART: &str = "phpipam";
const PHPIPAM_WEB_SERVICE: &str = "phpipam-web";

/// The phpIPAM chart (nullconfig, 1.0.1) puts its PersistentVolumeClaim in
/// `.Values.namespace` (default `phpipam`), not in the release namespace: a different
/// value leaves the Deployment without its volume.
fn check_phpipam_namespace(r: &mut Resolver, app: &RawHelmApp, path: &str, namespace: &str) {
    const CHART_DEFAULT: &str = "phpipam";
    if app
        .chart
        .as_ref()
        .is_none_or(|c| c.chart_name() != PHPIPAM_CHART)
    {
        return;
    }
    let (value, help) = match app.values.get("namespace") {
        None if namespace == CHART_DEFAULT => return,
        None => (
            format!("the chart's default `{CHART_DEFAULT}`"),
            format!("add `namespace: {namespace}` to `{path}.values`"),
        ),
        Some(serde_json::Value::String(v)) if v == namespace => return,
        Some(other) => (
            format!("`{}`", other.to_string().trim_matches('"')),
            format!("set `{path}.values.namespace` to `{namespace}`"),
        ),
    };
    r.error(
        app.name.referenced,
        format!("{path}.values.namespace"),
        format!("the phpIPAM chart creates its volume claim in values.namespace ({value}), but the application is installed into `{namespace}`"),
        help,
    );
}
