//! Records the git revision the binary was built from, for `manifest.toml`.
//! Without git (or outside a checkout) the revision is "unknown".
//!
//! The revision is `HEAD`'s, with `-dirty` when the files compiled into the
//! binary (`src/`, `crates/`, `Cargo.toml`, `Cargo.lock`, `build.rs`)
//! differ from that commit. Cargo reruns this script when any of those
//! files change and when `HEAD`, the branch it names or the index moves
//! (found through `git rev-parse`, so it works in a linked worktree, whose
//! `.git` is a file), so the recorded revision is never stale. Edits to
//! other files (docs, results) do not change the binary and do not count.

use std::path::PathBuf;
use std::process::Command;

/// The files whose changes make the binary differ from the commit.
const SOURCES: [&str; 5] = ["src", "crates", "Cargo.toml", "Cargo.lock", "build.rs"];

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
}

fn main() {
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    let rev = git(&["rev-parse", "--short=12", "HEAD"]).filter(|s| !s.is_empty());
    let Some(rev) = rev else {
        println!("cargo:rustc-env=SLIVERS_GIT_REVISION=unknown");
        return;
    };
    // HEAD, the branch it points to (loose or packed) and the index.
    let path = |p: &str| git(&["rev-parse", "--path-format=absolute", "--git-path", p]).map(PathBuf::from);
    let mut watched: Vec<Option<PathBuf>> = vec![path("HEAD"), path("index"), path("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(path(&branch));
    }
    // (A missing file would make cargo rerun this script on every build.)
    for p in watched.into_iter().flatten().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(SOURCES);
    let dirty = git(&status).is_some_and(|o| !o.is_empty());
    let rev = if dirty { format!("{rev}-dirty") } else { rev };
    println!("cargo:rustc-env=SLIVERS_GIT_REVISION={rev}");
}
