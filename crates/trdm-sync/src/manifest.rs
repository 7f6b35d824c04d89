//! Which tables a sync covers: the domain by exact name, its deployed tables on the branch, optionally
//! filtered by display name, each with its typed definition and its convention name `{abbr}_{table}`.

use std::str::FromStr;

use trdm_client::{Client, DeployedTableDefinition};
use trdm_format::value::DataType;

use crate::catalog::TableRef;
use crate::error::{Error, Result};
use crate::schema::{ColumnDef, TableDef};

/// The tables of one domain on one branch.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The domain's exact name.
    pub domain_name: String,
    /// The domain's abbreviation, used as stored (no case folding).
    pub abbreviation: String,
    /// The selected tables, in the server's order.
    pub tables: Vec<ManifestTable>,
}

/// One deployed table and what the engine derives from it.
#[derive(Debug, Clone)]
pub struct ManifestTable {
    /// As TitanRDM describes it.
    pub definition: DeployedTableDefinition,
    /// Its typed column definitions.
    pub table: TableDef,
    /// `{abbreviation}_{database_table_name}`.
    pub convention_name: String,
}

impl ManifestTable {
    /// The catalog table this maps to under `catalog.schema`.
    pub fn target(&self, catalog: &str, schema: &str) -> TableRef {
        TableRef::new(catalog, schema, &self.convention_name)
    }
}

/// Converts TitanRDM column definitions into the engine's typed table definition. A data type the engine does
/// not know is an error naming table and column: guessing a type would break the lossless round trip.
pub fn table_def(def: &DeployedTableDefinition) -> Result<TableDef> {
    let mut columns: Vec<_> = def
        .columns
        .iter()
        .filter(|c| !c.is_deleted && !c.name.is_empty())
        .collect();
    columns.sort_by_key(|c| c.display_order.unwrap_or(i64::MAX));
    let columns = columns
        .into_iter()
        .map(|c| {
            let data_type = DataType::from_str(&c.data_type).map_err(|_| {
                Error::Invalid(format!(
                    "table {}, column {}: unknown data type {:?}",
                    def.database_table_name, c.name, c.data_type
                ))
            })?;
            let length = if data_type == DataType::Decimal {
                c.precision.or(c.length)
            } else {
                c.length
            };
            Ok(ColumnDef {
                name: c.name.clone(),
                data_type,
                length,
                scale: c.scale,
                is_primary_key: c.is_primary_key,
                is_required: c.is_required,
                description: c.description.clone().filter(|d| !d.is_empty()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TableDef {
        name: def.name.clone(),
        database_table_name: def.database_table_name.clone(),
        columns,
    })
}

/// Builds the manifest. `table_names` filters by display name (`Site`, `Delivery Centre`); a name that matches
/// nothing is an error listing the valid names.
pub async fn manifest(
    client: &Client,
    branch_id: i64,
    domain_name: &str,
    table_names: Option<&[String]>,
) -> Result<Manifest> {
    // TitanRDM lists no tables for a branch that does not exist: ask for the branch itself, so a mistyped id
    // is an error rather than a sync of nothing.
    let (branch, domain) =
        tokio::join!(client.branch(branch_id), client.domain_by_name(domain_name));
    match branch {
        Ok(_) => {}
        Err(trdm_client::Error::NotFound { .. }) => {
            return Err(Error::Invalid(format!("branch {branch_id} does not exist")));
        }
        Err(e) => return Err(e.into()),
    }
    let domain = domain?;
    let abbreviation = domain
        .abbreviation
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::Invalid(format!("domain {domain_name} has no abbreviation")))?;
    let deployed = client
        .deployed_table_definitions(branch_id, Some(domain.id))
        .await?;
    if deployed.is_empty() {
        return Err(Error::Invalid(format!(
            "domain {domain_name} has no deployed tables on branch {branch_id}"
        )));
    }
    if let Some(names) = table_names {
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !deployed.iter().any(|t| &t.name == *n))
            .collect();
        if !unknown.is_empty() {
            let valid: Vec<&str> = deployed.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::Invalid(format!(
                "no table named {} in domain {domain_name} on branch {branch_id}; the valid names are: {}",
                unknown
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                valid.join(", ")
            )));
        }
    }
    let tables = deployed
        .into_iter()
        .filter(|t| table_names.is_none_or(|names| names.iter().any(|n| n == &t.name)))
        .map(|definition| {
            let table = table_def(&definition)?;
            let convention_name = format!("{abbreviation}_{}", definition.database_table_name);
            Ok(ManifestTable {
                definition,
                table,
                convention_name,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Manifest {
        domain_name: domain.name,
        abbreviation,
        tables,
    })
}
