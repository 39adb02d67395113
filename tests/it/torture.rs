//! The crash-torture driver (`tools/crash_torture.rs`) as CI runs it: 200 kill -9s of a
//! writer with `Always`, zero acknowledged loss, a clean verify after each, and the
//! recovered state equal to a full replay at the end.

use std::process::Command;

#[test]
fn two_hundred_kills_lose_no_acknowledged_event() {
    let out = Command::new(env!("CARGO_BIN_EXE_wfstore-torture"))
        .args(["--iterations", "200", "--seed", "1", "--max-run-ms", "20"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("wfstore-torture: seed 1, 200 iterations"), "{stdout}");
    assert!(stdout.contains("200 kills, zero acknowledged loss"), "{stdout}");
    assert!(stdout.contains("= full replay"), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
