//! The GitOps parts of `kubernetes:`: sealed secrets, the system-upgrade-controller and
//! the names of the Applications the generated tree adds by itself.

use super::Resolver;
use crate::model::{SealedSecrets, SystemUpgrade};
use crate::raw::{RawKubernetes, RawSealedSecrets, RawSystemUpgrade};
use crate::values;

/// Applications (and `infra/` directories) the generated tree names itself, and when.
pub const ARGOCD_APP: &str = "argocd";
pub const SEALED_SECRETS_APP: &str = "sealed-secrets";
pub const SECRETS_APP: &str = "secrets";
pub const SYSTEM_UPGRADE_APP: &str = "system-upgrade";

pub(super) fn check_reserved_names(r: &mut Resolver, k: &RawKubernetes) {
    let mut reserved = vec![(ARGOCD_APP, "Argo CD's own Application (it manages itself)")];
    if k.sealed_secrets.is_some() {
        reserved.push((
            SEALED_SECRETS_APP,
            "the sealed-secrets controller's Application",
        ));
        reserved.push((
            SECRETS_APP,
            "the Application syncing kubernetes.sealed_secrets.path",
        ));
    }
    if k.system_upgrade.is_some() {
        reserved.push((
            SYSTEM_UPGRADE_APP,
            "the system-upgrade-controller's Application",
        ));
    }
    for (section, list) in [("infra", &k.infra), ("apps", &k.apps)] {
        for (i, app) in list.iter().enumerate() {
            if let Some((name, owner)) = reserved.iter().find(|(n, _)| *n == app.name.value) {
                r.error(
                    app.name.referenced,
                    format!("kubernetes.{section}[{i}].name"),
                    format!("the name `{name}` is taken by {owner}"),
                    "rename this application",
                );
            }
        }
    }
}

pub(super) fn resolve_sealed_secrets(
    r: &mut Resolver,
    s: &RawSealedSecrets,
    git_path: &str,
) -> SealedSecrets {
    let version = r.valid(
        &s.version,
        "kubernetes.sealed_secrets.version",
        values::semver,
    );
    let field = "kubernetes.sealed_secrets.path";
    let path = r
        .check(&s.path, field, values::repo_path)
        .unwrap_or_default();
    if !path.is_empty() {
        let plain = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
        let inside =
            |outer: &str, inner: &str| inner == outer || inner.starts_with(&format!("{outer}/"));
        if !plain {
            r.error(
                s.path.referenced,
                field,
                format!(
                    "`{path}` has characters other than letters, digits, `.`, `_`, `-` and `/`"
                ),
                "use a plain directory name such as `secrets` (make targets write files there)",
            );
        } else if !git_path.is_empty() && (inside(git_path, &path) || inside(&path, git_path)) {
            r.error(
                s.path.referenced,
                field,
                format!("`{path}` overlaps the generated tree `{git_path}` (kubernetes.git.path)"),
                "keep the encrypted secrets in a directory of their own, e.g. `secrets`: render owns the generated tree",
            );
        }
    }
    SealedSecrets { version, path }
}

/// `vX.Y.Z+k3sN` as numbers, for ordering.
fn k3s_order(v: &str) -> Option<(u64, u64, u64, u64)> {
    let (kube, build) = v.strip_prefix('v')?.split_once("+k3s")?;
    let mut parts = kube.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next()??,
        build.parse().ok()?,
    ))
}

pub(super) fn resolve_system_upgrade(
    r: &mut Resolver,
    s: &RawSystemUpgrade,
    image_k3s: Option<&str>,
) -> SystemUpgrade {
    let version = r.valid(
        &s.version,
        "kubernetes.system_upgrade.version",
        values::v_semver,
    );
    let field = "kubernetes.system_upgrade.k3s_version";
    let k3s_version = match &s.k3s_version {
        Some(v) => {
            if r.check(v, field, values::k3s_version).is_some() {
                if let Some(image) = image_k3s {
                    if let (Some(want), Some(have)) = (k3s_order(&v.value), k3s_order(image)) {
                        if want.0 == have.0 && want.1 > have.1 + 1 {
                            r.error(
                                v.referenced,
                                field,
                                format!("`{}` skips a Kubernetes minor release from the cluster's image ({image})", v.value),
                                format!("Kubernetes upgrades one minor release at a time: go to v{}.{}.x first, then on", have.0, have.1 + 1),
                            );
                        } else if want < have {
                            r.error(
                                v.referenced,
                                field,
                                format!("`{}` is older than the cluster's image ({image}): k3s does not downgrade in place", v.value),
                                format!("use `{image}` or newer, or leave it out to follow the image"),
                            );
                        }
                    }
                }
            }
            v.value.clone()
        }
        None => image_k3s.unwrap_or_default().to_owned(),
    };
    SystemUpgrade {
        version,
        k3s_version,
    }
}

#[cfg(test)]
mod tests {
    use super::k3s_order;

    #[test]
    fn k3s_versions_order_by_kubernetes_release_then_build() {
        assert!(k3s_order("v1.36.3+k3s1") < k3s_order("v1.36.3+k3s2"));
        assert!(k3s_order("v1.36.3+k3s9") < k3s_order("v1.36.10+k3s1"));
        assert!(k3s_order("v1.37.0+k3s1") > k3s_order("v1.36.10+k3s3"));
        assert_eq!(k3s_order("1.36.3+k3s1"), None);
    }
}
