//! `packer/<image>/`: the golden image build for each image in the spec.

use crate::hcl;
use crate::Tree;
use ::hcl::{Block, Body};
use homelabgen_spec::model::{Image, Model};

pub fn render(model: &Model, tree: &mut Tree) {
    for image in &model.images {
        let dir = format!("packer/{}", image.name);
        tree.add(format!("{dir}/variables.pkr.hcl"), hcl::file(&model.header(), &variables(image)));
    }
}

fn variable(name: &str, description: &str, default: impl Into<::hcl::Expression>) -> Block {
    Block::builder("variable")
        .add_label(name)
        .add_attribute(("type", hcl::expr("string")))
        .add_attribute(("description", description))
        .add_attribute(("default", default.into()))
        .build()
}

fn variables(image: &Image) -> Body {
    Body::builder()
        .add_block(variable("os_version", "AlmaLinux release installed in the image.", image.os_version.as_str()))
        .add_block(variable("k3s_version", "k3s release baked into the image.", image.k3s_version.as_str()))
        .build()
}
