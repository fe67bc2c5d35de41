//! Embeds every shipped hardware profile (`hardware-profiles/*.toml`) in the
//! binary, so `rackd` knows the library without an installed copy.

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hardware-profiles");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
        out += &format!(
            "    ({name:?}, include_str!({:?})),\n",
            abs.display().to_string()
        );
    }
    out += "]\n";
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("shipped_profiles.rs");
    std::fs::write(dest, out).expect("write shipped_profiles.rs");
}
