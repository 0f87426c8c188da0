//! Helpers shared by the integration tests: run the real `jifen` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn jifen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jifen"))
}

/// `../shared` beside the checkout.
pub fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(
        dir.is_dir(),
        "the shared folder is missing at {}",
        dir.display()
    );
    dir
}

/// Runs a command and describes it fully, for failure messages.
pub fn run(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("the jifen binary runs");
    let text = format!(
        "command: {cmd:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jifen-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
