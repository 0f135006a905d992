//! Builders for `tofu test` files (`*.tftest.hcl`): `mock_provider`, `variables`
//! and `run` blocks.

use crate::hcl;
use ::hcl::expr::{Expression, ObjectKey};
use ::hcl::{Block, Body};

/// A `run` block.
pub(crate) struct Run {
    name: &'static str,
    command: &'static str,
    providers: Option<Expression>,
    variables: Vec<(String, Expression)>,
    asserts: Vec<(Expression, Expression)>,
    expect_failures: Vec<&'static str>,
}

impl Run {
    /// A run that applies against the mock provider (nothing real is created), so
    /// computed values are known to the assertions.
    pub(crate) fn apply(name: &'static str) -> Self {
        Run {
            name,
            command: "apply",
            providers: None,
            variables: Vec::new(),
            asserts: Vec::new(),
            expect_failures: Vec::new(),
        }
    }

    pub(crate) fn plan(name: &'static str) -> Self {
        Run {
            command: "plan",
            ..Run::apply(name)
        }
    }

    /// Run with a differently configured mock provider (`proxmox.<alias>`).
    pub(crate) fn provider(mut self, source: &'static str) -> Self {
        self.providers = Some(hcl::expr(source));
        self
    }

    pub(crate) fn var(mut self, name: &str, value: impl Into<Expression>) -> Self {
        self.variables.push((name.to_owned(), value.into()));
        self
    }

    /// An `assert` whose condition is constant renderer source.
    pub(crate) fn check(self, condition: &'static str, message: &str) -> Self {
        self.assert(hcl::expr(condition), message)
    }

    pub(crate) fn assert(mut self, condition: Expression, message: &str) -> Self {
        self.asserts.push((condition, Expression::from(message)));
        self
    }

    /// `expect_failures`: the run passes only if these checkable objects fail.
    pub(crate) fn expect_failure(mut self, address: &'static str) -> Self {
        self.expect_failures.push(address);
        self
    }

    pub(crate) fn block(self) -> Block {
        let mut block = Block::builder("run")
            .add_label(self.name)
            .add_attribute(("command", hcl::expr(self.command)));
        if let Some(providers) = self.providers {
            block = block.add_attribute(("providers", providers));
        }
        if !self.expect_failures.is_empty() {
            let addresses = self.expect_failures.iter().map(|a| hcl::expr(a)).collect();
            block = block.add_attribute(("expect_failures", Expression::Array(addresses)));
        }
        if !self.variables.is_empty() {
            block = block.add_block(variables_block(self.variables));
        }
        for (condition, message) in self.asserts {
            block = block.add_block(
                Block::builder("assert")
                    .add_attribute(("condition", condition))
                    .add_attribute(("error_message", message))
                    .build(),
            );
        }
        block.build()
    }
}

/// A `variables { ... }` block.
pub(crate) fn variables_block(variables: Vec<(String, Expression)>) -> Block {
    let mut block = Block::builder("variables");
    for (name, value) in variables {
        block = block.add_attribute((name, value));
    }
    block.build()
}

/// An object expression from key/value pairs, keys as identifiers where possible.
pub(crate) fn object<K: Into<String>>(
    pairs: impl IntoIterator<Item = (K, Expression)>,
) -> Expression {
    Expression::Object(
        pairs
            .into_iter()
            .map(|(key, value)| {
                let key: String = key.into();
                let key = match ::hcl::Identifier::new(key.clone()) {
                    Ok(ident) => ObjectKey::Identifier(ident),
                    Err(_) => ObjectKey::Expression(Expression::String(key)),
                };
                (key, value)
            })
            .collect(),
    )
}

/// An object expression whose keys are always quoted strings (names such as
/// `k3s-1` read like subtractions when bare).
pub(crate) fn string_keyed(pairs: impl IntoIterator<Item = (String, Expression)>) -> Expression {
    Expression::Object(
        pairs
            .into_iter()
            .map(|(key, value)| (ObjectKey::Expression(Expression::String(key)), value))
            .collect(),
    )
}

/// One entry of the `vms` list the VM lookup data source returns.
pub(crate) fn template_vm(name: &str, node: &str, vm_id: u32) -> Expression {
    object([
        ("name", Expression::from(name)),
        ("node_name", Expression::from(node)),
        ("vm_id", Expression::from(vm_id)),
        ("template", Expression::from(true)),
        ("status", Expression::from("stopped")),
        ("tags", Expression::Array(Vec::new())),
    ])
}

/// The id the mock gives an uploaded snippet.
pub(crate) const MOCK_SNIPPET_ID: &str = "local:snippets/mock-user-data.yaml";

/// `mock_provider "proxmox"` whose template lookup returns `templates` and whose
/// VMs report `agent_addresses` through the guest agent.
pub(crate) fn mock_provider(
    alias: Option<&str>,
    templates: Vec<Expression>,
    agent_addresses: Option<Expression>,
) -> Block {
    let mut block = Block::builder("mock_provider").add_label("proxmox");
    if let Some(alias) = alias {
        block = block.add_attribute(("alias", alias));
    }
    block = block.add_block(
        Block::builder("mock_data")
            .add_label("proxmox_virtual_environment_vms")
            .add_attribute(("defaults", object([("vms", Expression::Array(templates))])))
            .build(),
    );
    // The provider validates the VM's user_data_file_id even under a mock: the
    // snippet's mocked id must look like a real file id.
    block = block.add_block(
        Block::builder("mock_resource")
            .add_label("proxmox_virtual_environment_file")
            .add_attribute((
                "defaults",
                object([("id", Expression::from(MOCK_SNIPPET_ID))]),
            ))
            .build(),
    );
    if let Some(addresses) = agent_addresses {
        block = block.add_block(
            Block::builder("mock_resource")
                .add_label("proxmox_virtual_environment_vm")
                .add_attribute(("defaults", object([("ipv4_addresses", addresses)])))
                .build(),
        );
    }
    block.build()
}

/// A test file body: blocks in order.
pub(crate) fn body(blocks: impl IntoIterator<Item = Block>) -> Body {
    Body::builder().add_blocks(blocks).build()
}
