//! Rewrites `schemas/glue/track_observations.json` from the Avro schema and delivery settings.
//! Run from the repository root: `cargo run -p schemas --bin glue-table`.

fn main() -> std::io::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("glue/track_observations.json");
    std::fs::create_dir_all(path.parent().expect("a parent folder"))?;
    std::fs::write(&path, schemas::glue::table_definition_text())?;
    println!("wrote {}", path.display());
    Ok(())
}
