//! `trdm branches`, `trdm domains`, `trdm tables`.

use serde_json::json;

use super::{ExitStatus, branch_id, connect};
use crate::args::{ConnectArgs, OutputFormat, TablesArgs};
use crate::error::CliError;
use crate::output::line;

pub(super) async fn branches(args: ConnectArgs) -> Result<ExitStatus, CliError> {
    let client = connect(&args).await?;
    let branches = client.branches().await?;
    match args.output {
        OutputFormat::Json => {
            let items: Vec<_> = branches
                .iter()
                .map(|b| json!({"id": b.id, "name": b.name, "branch_type": b.branch_type, "status": b.status}))
                .collect();
            line(&serde_json::to_string_pretty(&items).expect("json"));
        }
        OutputFormat::Text => {
            for b in &branches {
                line(&format!(
                    "{:>4}  {:<20} {}",
                    b.id,
                    b.name,
                    b.branch_type.clone().unwrap_or_default()
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub(super) async fn domains(args: ConnectArgs) -> Result<ExitStatus, CliError> {
    let client = connect(&args).await?;
    let domains = client.domains().await?;
    match args.output {
        OutputFormat::Json => {
            let items: Vec<_> = domains
                .iter()
                .map(|d| json!({"id": d.id, "name": d.name, "abbreviation": d.abbreviation}))
                .collect();
            line(&serde_json::to_string_pretty(&items).expect("json"));
        }
        OutputFormat::Text => {
            for d in &domains {
                line(&format!(
                    "{:>4}  {:<6} {}",
                    d.id,
                    d.abbreviation.clone().unwrap_or_default(),
                    d.name
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}

pub(super) async fn tables(args: TablesArgs) -> Result<ExitStatus, CliError> {
    let client = connect(&args.connect).await?;
    let branch = branch_id(&client, &args.branch, None).await?;
    let m = trdm_sync::manifest::manifest(&client, branch, &args.domain, None).await?;
    match args.connect.output {
        OutputFormat::Json => {
            let items: Vec<_> = m
                .tables
                .iter()
                .map(|t| {
                    json!({
                        "name": t.definition.name,
                        "database_table_name": t.definition.database_table_name,
                        "convention_name": t.convention_name,
                        "key": t.definition.key,
                        "columns": t.table.columns.iter().map(|c| json!({
                            "name": c.name, "type": trdm_sync::schema::type_text(&c.column_type()),
                            "primary_key": c.is_primary_key, "required": c.is_required})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            line(&serde_json::to_string_pretty(&items).expect("json"));
        }
        OutputFormat::Text => {
            line(&format!(
                "[{}] {}: {} deployed table(s)",
                m.abbreviation,
                m.domain_name,
                m.tables.len()
            ));
            for t in &m.tables {
                line(&format!(
                    "  {:<24} {:<20} key={} cols={}",
                    t.convention_name,
                    t.definition.name,
                    t.definition.key,
                    t.table.columns.len()
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}
