fn main() {
    // include_dir! does not tell cargo which files it read: rebuild when a template changes.
    println!("cargo:rerun-if-changed=templates");
}
