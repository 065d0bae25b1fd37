//! Rebuild when a migration is added: `sqlx::migrate!` embeds the directories at compile time,
//! and without this a new file would not be picked up by an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
