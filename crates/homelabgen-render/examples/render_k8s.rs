//! Write the `k8s/` tree of a spec to a directory, for testing the k8s renderer with the
//! real tools before (and independently of) the CLI:
//!
//!     cargo run -q -p homelabgen-render --example render_k8s -- spec/homelab.yaml OUT_DIR
//!
//! Writes OUT_DIR/k8s/... (only that tree) and exits 2 on a spec error.

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [spec, out] = args.as_slice() else {
        eprintln!("usage: render_k8s SPEC OUT_DIR");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(spec).unwrap_or_else(|err| {
        eprintln!("render_k8s: {spec}: {err}");
        std::process::exit(2);
    });
    let model = homelabgen_spec::from_str(spec, &text).unwrap_or_else(|diagnostics| {
        eprintln!("{diagnostics}");
        std::process::exit(2);
    });
    let mut tree = homelabgen_render::Tree::default();
    homelabgen_render::k8s::render(&model, &mut tree);
    let out = Path::new(out);
    let _ = std::fs::remove_dir_all(out.join("k8s"));
    for (path, file) in tree.iter() {
        let target = out.join(path.as_str());
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(&target, &file.contents).expect("write file");
    }
}
