//! `tofu/`: the reusable `proxmox-vm` module and one root module per environment.

use crate::hcl;
use crate::Tree;
use ::hcl::{Block, Body};
use homelabgen_spec::model::Model;

pub fn render(model: &Model, tree: &mut Tree) {
    tree.add("tofu/modules/proxmox-vm/variables.tf", hcl::file(&model.header(), &module_variables()));
}

fn module_variables() -> Body {
    Body::builder()
        .add_block(
            Block::builder("variable")
                .add_label("name")
                .add_attribute(("type", hcl::expr("string")))
                .add_attribute(("description", "VM name and host name."))
                .build(),
        )
        .build()
}
