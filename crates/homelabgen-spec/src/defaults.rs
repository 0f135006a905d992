//! Upstream versions the project pins by default, in one place. A spec may override
//! each of them. `tools/versions.env` pins the test toolchain; where the Go module
//! proxy serves the same release, the two agree (tests/versions.rs checks it). Where it
//! refuses the newest release (the Packer plugins, Argo CD), the generated tree keeps
//! the current upstream release and the tests validate against the newest one served;
//! tools/README.md has the evidence.

/// bpg/proxmox, the maintained Proxmox provider for OpenTofu.
pub const PROXMOX_PROVIDER: &str = "0.111.1";
/// The OpenTofu version the generated configuration requires at least
/// (`mock_provider` in `tofu test` needs 1.8).
pub const OPENTOFU: &str = "1.8.0";
pub const PACKER_PROXMOX_PLUGIN: &str = "1.2.4";
pub const PACKER_QEMU_PLUGIN: &str = "1.1.4";
pub const ALMALINUX: &str = "9.8";
pub const ARGOCD: &str = "v3.6.3";
pub const METALLB: &str = "0.16.1";
/// The k3s release the default spec bakes in (stable channel).
pub const K3S: &str = "v1.36.3+k3s1";
/// The Traefik Helm chart (Traefik v3.7.13); the Go module proxy serves the chart's
/// repository as `github.com/traefik/traefik-helm-chart@v41.6.0+incompatible`.
pub const TRAEFIK_CHART: &str = "41.6.0";
/// cert-manager's chart, tagged with a leading `v` (Go module proxy: v1.21.2 newest).
pub const CERT_MANAGER: &str = "v1.21.2";
/// The sealed-secrets Helm chart (its `helm/sealed-secrets/Chart.yaml` in the
/// sealed-secrets module v0.40.0 says version 2.19.3, appVersion 0.39.1).
pub const SEALED_SECRETS: &str = "2.19.3";
/// k3s' system-upgrade-controller release tag (its manifests and Plan CRD are read
/// from this tag; the controller creates the CRD itself at start).
pub const SYSTEM_UPGRADE_CONTROLLER: &str = "v0.20.1";
