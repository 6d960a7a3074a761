//! Helpers shared by the integration tests.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether an external program the tests compare against can run.
///
/// On a developer's machine without it the test is skipped with a note; under CI (where
/// `.ci/run` installs it and sets `CI`) a missing tool fails the test, so an oracle test can
/// never pass by not running.
pub fn external_tool(program: &str, probe: &[&str]) -> bool {
    let runs = Command::new(program)
        .args(probe)
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if !runs {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{program}` is required under CI; .ci/run installs it"
        );
        eprintln!("skipping: `{program}` is not installed (see .ci/run)");
    }
    runs
}

/// Whether `python3` can import the `pyotp` module (see [`external_tool`]).
pub fn pyotp_available() -> bool {
    external_tool("python3", &["-c", "import pyotp"])
}

/// Runs a Python script with `input` on stdin (and `TZ=UTC`) and returns its stdout.
pub fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
