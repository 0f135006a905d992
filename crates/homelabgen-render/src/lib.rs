//! Model → Tree: every generated file, rendered in memory.
//!
//! Rendering is pure: no I/O, no clock, no environment. The same Model always gives
//! byte-identical files. One module per generated tree, named after its directory:
//!
//! | module   | renders                                             |
//! |----------|-----------------------------------------------------|
//! | `packer` | `packer/<image>/`: the golden image build           |
//! | `tofu`   | `tofu/modules/proxmox-vm/`, `tofu/envs/<env>/`      |
//! | `k8s`    | `k8s/`: Argo CD bootstrap, root app, infra, apps    |
//!
//! Shared output helpers: `template` (every file but Kubernetes YAML, from the
//! minijinja template of the same path under `templates/`), `yaml` (typed structs to
//! YAML).

pub mod k8s;
pub mod packer;
pub mod template;
pub mod tofu;
pub mod tree;
pub mod yaml;

pub use tree::{path_cmp, File, PathKey, Tree};

use homelabgen_spec::Model;

/// Render every tree of the homelab.
pub fn render(model: &Model) -> Tree {
    let mut tree = Tree::default();
    packer::render(model, &mut tree);
    tofu::render(model, &mut tree);
    k8s::render(model, &mut tree);
    tree
}
