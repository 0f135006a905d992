fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    match homelabgen_spec::from_str(&path, &text) {
        Ok(m) => println!("{}", serde_json::to_string_pretty(&m).unwrap()),
        Err(d) => println!("{d}"),
    }
}
