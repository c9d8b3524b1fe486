//! The command line: `portcullis check` on good and bad configs.

mod common;

use common::portcullis;

#[test]
fn check_accepts_the_annotated_default_config() {
    let out = portcullis()
        .args([
            "check",
            "-c",
            concat!(env!("CARGO_MANIFEST_DIR"), "/conf/portcullis.yaml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn check_reports_every_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "server: {threadz: 2}\n\
         listen: [{address: nowhere}]\n\
         limits: {body_max: lots}\n\
         upstreams: {api: {backends: []}}\n\
         routes:\n  - {path: /a/, upstream: api, auth: sometimes}\n  - {path: b, upstream: missing}\n\
         surprise: true\n",
    )
    .unwrap();
    let out = portcullis()
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "server.threadz: unknown field",
        "listen[0].address: \"nowhere\" is not an ip:port address",
        "limits.body_max: invalid size",
        "upstreams.api.backends: list at least one backend",
        "routes[0].auth: unknown variant `sometimes`",
        "routes[1].path: must start with /",
        "routes[1].upstream: \"missing\" is not a configured upstream",
        "surprise: unknown section",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_reports_a_missing_file_and_broken_yaml() {
    let out = portcullis()
        .args(["check", "-c", "/nonexistent/portcullis.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "routes: [unclosed\n").unwrap();
    let out = portcullis()
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid YAML"));
}

#[test]
fn help_lists_the_commands() {
    let out = portcullis().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run") && text.contains("check"), "{text}");
}
