//! `trdm sync upload --plan`, `trdm sync download --plan` and the mass-delete guard, end to end: the plan
//! says what TitanRDM (or the download) then does, a plan and a refused upload change nothing on either side,
//! and `--allow-mass-delete` lets it through.

mod common;
mod support;

use common::{Server, changes};
use support::{Warehouse, server_state, snapshot};
use trdm_sync::catalog::Properties;

#[test]
fn a_plan_changes_nothing_the_guard_stops_a_mass_delete_and_allowing_it_applies_the_plan() {
    let server = Server::start();
    let warehouse = Warehouse::new();
    let wh = warehouse.path().to_owned();
    let args = |schema: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "sync",
            "upload",
            "--branch",
            "prod",
            "--catalog",
            "dev",
            "--domain",
            "Clinics",
            "--table",
            "Site",
            "--warehouse",
            &wh,
            "--schema",
            schema,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let run = |a: Vec<String>| server.trdm(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, _, out) = server.trdm(&[
        "sync",
        "download",
        "--branch",
        "prod",
        "--catalog",
        "dev",
        "--domain",
        "Clinics",
        "--schema",
        "rdmin",
        "--warehouse",
        &wh,
    ]);
    assert_eq!(code, 0, "{out}");
    // Keep one site in ten: a full upload would tombstone the other nine.
    warehouse.copy("clin_sites", "few", Properties::new(), |b| {
        let kept = b.num_rows() / 10;
        b.slice(0, kept)
    });
    let before = server_state(&server.url, &["few"]);

    let (code, report, out) = run(args("few", &["--plan", "--output", "json"]));
    assert_eq!(code, 0, "{out}");
    let site = &report["tables"][0];
    assert_eq!(site["status"], "planned", "{report}");
    let plan = &site["plan"];
    assert_eq!(plan["current"], 150, "{plan}");
    assert_eq!(plan["deleted"], 135, "{plan}");
    assert_eq!(plan["unchanged"], 15, "{plan}");
    assert_eq!(plan["changes"][0]["change"], "delete", "{plan}");
    assert!(plan["changes"][0]["key"]["site_code"].is_string(), "{plan}");
    assert!(
        site["note"]
            .as_str()
            .unwrap_or_default()
            .contains("would be refused"),
        "{site}"
    );
    assert!(report["import_id"].is_null());
    assert_eq!(
        server_state(&server.url, &["few"]),
        before,
        "a plan changes nothing"
    );

    let (code, _, text) = run(args("few", &["--plan"]));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Plan of uploading Clinics") && text.contains("would be +0 ~0 -135"),
        "{text}"
    );
    assert!(
        text.contains("delete site_code=\"") && text.contains("… and 125 more"),
        "{text}"
    );

    let (code, report, out) = run(args("few", &["--output", "json"]));
    assert_eq!(code, 1, "a refused table is a failed table: {out}");
    let status = report["tables"][0]["status"].as_str().unwrap();
    assert!(
        status.contains("would delete 135 of the 150 current records of Site")
            && status.contains("--allow-mass-delete"),
        "{status}"
    );
    assert!(
        report["import_id"].is_null(),
        "no batch for a refused upload"
    );
    assert_eq!(server_state(&server.url, &["few"]), before);

    let (code, report, out) = run(args("few", &["--allow-mass-delete", "--output", "json"]));
    assert_eq!(code, 0, "{out}");
    let site = &report["tables"][0];
    assert_eq!(site["status"], "success", "{report}");
    assert_eq!(changes(site), [Some(0), Some(0), Some(135)], "{report}");

    // The same upload again changes nothing: skipped, and no second batch.
    let (code, report, out) = run(args("few", &["--allow-mass-delete", "--output", "json"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        report["tables"][0]["status"], "skipped (unchanged)",
        "{report}"
    );
    assert!(report["import_id"].is_null());
    assert_eq!(server_state(&server.url, &["few"]).1, 1, "one batch in all");

    // A download plan says what the download then does (the 135 tombstoned sites leave rdmin) and writes
    // nothing to the warehouse.
    let download = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "sync",
            "download",
            "--branch",
            "prod",
            "--catalog",
            "dev",
            "--domain",
            "Clinics",
            "--table",
            "Site",
            "--warehouse",
            &wh,
            "--schema",
            "rdmin",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let files = snapshot(warehouse.path().as_ref());
    let (code, report, out) = run(download(&["--plan", "--output", "json"]));
    assert_eq!(code, 0, "{out}");
    let site = &report["tables"][0];
    assert_eq!(site["status"], "planned", "{report}");
    let plan = &site["plan"];
    assert_eq!(
        (
            plan["current"].as_u64(),
            plan["inserted"].as_u64(),
            plan["updated"].as_u64(),
            plan["deleted"].as_u64(),
            plan["unchanged"].as_u64()
        ),
        (Some(150), Some(0), Some(0), Some(135), Some(15)),
        "{plan}"
    );
    assert_eq!(plan["changes"][0]["key"]["site_code"], "1255", "{plan}");
    assert!(
        plan["changes"][0]["key"]["trdm_record_id"].is_string(),
        "{plan}"
    );
    let (code, _, text) = run(download(&["--plan"]));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("Plan of downloading Clinics") && text.contains("would be +0 ~0 -135"),
        "{text}"
    );
    assert_eq!(
        snapshot(warehouse.path().as_ref()),
        files,
        "a download plan writes nothing"
    );
    let (code, report, out) = run(download(&["--output", "json"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tables"][0]["rows"], 15, "{report}");
}
