//! The checked-in JSON Schemas must equal what the Rust types generate. After changing a contract, run
//! `UPDATE_SCHEMAS=1 cargo test -p tdjaasa-schemas` and commit the files.

use std::path::PathBuf;

#[test]
fn checked_in_json_schemas_match_the_rust_types() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    for (file, schema) in schemas::json_schemas() {
        let path = dir.join(file);
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&schema).expect("serialize")
        );
        if update {
            std::fs::write(&path, &generated).expect("write schema");
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            on_disk, generated,
            "{file} is stale: run UPDATE_SCHEMAS=1 cargo test -p tdjaasa-schemas"
        );
    }
}
