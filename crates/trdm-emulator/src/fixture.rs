//! Fixtures: a TOML file declaring OAuth applications, branches, domains, tables (columns, import mappings)
//! and seed rows, loaded into a new database. The format is documented in `fixtures/README.md`.
//!
//! A fixture is validated whole before anything is written, and seed files go through the same import path as
//! uploads, so a seed row that would be rejected by an import is rejected here too, naming file, row and column.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rusqlite::params;
use serde::Deserialize;
use trdm_format::value::DataType;

use crate::db::Db;
use crate::error::Error;
use crate::records::{self, ImportPattern, ImportSpec};
use crate::store::{self, MappingColumn, MappingConfig};
use crate::{auth, decisions};

/// A parsed fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    oauth_applications: Vec<ApplicationSpec>,
    #[serde(default)]
    branches: Vec<BranchSpec>,
    #[serde(default)]
    domains: Vec<DomainSpec>,
    #[serde(default)]
    tables: Vec<TableSpec>,
    #[serde(skip)]
    path: PathBuf,
}

/// An OAuth application as the fixture declares it. `Debug` is safe: the secret prints as `<redacted>`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureApplication {
    /// Display name.
    pub name: String,
    /// The client id.
    pub client_id: String,
    /// The client secret (stored hashed in the database).
    pub client_secret: String,
    /// Scopes the application may request; also its default scopes.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for FixtureApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureApplication")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

type ApplicationSpec = FixtureApplication;

fn default_scopes() -> Vec<String> {
    vec![decisions::SCOPE_ALL.to_owned()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchSpec {
    name: String,
    #[serde(default = "default_branch_type")]
    branch_type: String,
    #[serde(default)]
    description: String,
    parent: Option<String>,
    owner: Option<OwnerSpec>,
    #[serde(default = "default_status")]
    status: String,
    database_suffix: Option<String>,
    #[serde(default)]
    is_default_dev_branch: bool,
    #[serde(default)]
    is_integration_branch: bool,
}

fn default_branch_type() -> String {
    "shared".into()
}
fn default_status() -> String {
    "open".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerSpec {
    id: i64,
    email: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainSpec {
    name: String,
    abbreviation: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableSpec {
    domain: String,
    name: String,
    database_table_name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    allow_manual_rows: bool,
    branches: Vec<String>,
    seed_csv: Option<PathBuf>,
    key: Option<String>,
    columns: Vec<ColumnSpec>,
    #[serde(default)]
    import_mappings: Vec<MappingSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    name: String,
    data_type: String,
    length: Option<u32>,
    precision: Option<u32>,
    scale: Option<u32>,
    #[serde(default)]
    primary_key: bool,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    description: String,
    display_order: Option<i64>,
    key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingSpec {
    name: String,
    #[serde(default)]
    is_default: bool,
    #[serde(default = "default_date_style")]
    date_style: String,
    #[serde(default = "default_delimiter")]
    delimiter: String,
    #[serde(default)]
    columns: Vec<MappingColumn>,
    key: Option<String>,
}

fn default_date_style() -> String {
    "MDY".into()
}
fn default_delimiter() -> String {
    ",".into()
}

/// Lower case with spaces as underscores, as TitanRDM derives a database table name from a display name.
fn derive_database_table_name(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .replace(|c: char| c.is_whitespace(), "_")
}

fn stable_key(parts: &[&str]) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("trdm:{}", parts.join("\u{1f}")).as_bytes(),
    )
    .to_string()
}

impl Fixture {
    /// Reads and validates a fixture file.
    pub fn read(path: &Path) -> Result<Fixture, Error> {
        let fail = |message: String| Error::Fixture {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let mut fixture: Fixture = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        fixture.path = path.to_owned();
        fixture.validate().map_err(fail)?;
        Ok(fixture)
    }

    /// The applications it declares.
    pub fn applications(&self) -> Vec<FixtureApplication> {
        self.oauth_applications.clone()
    }

    fn validate(&self) -> Result<(), String> {
        let mut ids = HashSet::new();
        for app in &self.oauth_applications {
            if !ids.insert(&app.client_id) {
                return Err(format!("client_id {:?} is declared twice", app.client_id));
            }
            for scope in &app.scopes {
                if !["api", "api:read", "api:write", "api:delete", "api:admin"]
                    .contains(&scope.as_str())
                {
                    return Err(format!(
                        "application {:?}: unknown scope {scope:?}",
                        app.name
                    ));
                }
            }
        }
        let mut branches = HashSet::new();
        for b in &self.branches {
            if !["shared", "private"].contains(&b.branch_type.as_str()) {
                return Err(format!(
                    "branch {:?}: branch_type must be shared or private",
                    b.name
                ));
            }
            if !["open", "closed"].contains(&b.status.as_str()) {
                return Err(format!(
                    "branch {:?}: status must be open or closed",
                    b.name
                ));
            }
            if let Some(parent) = &b.parent
                && !branches.contains(parent)
            {
                return Err(format!(
                    "branch {:?}: parent {parent:?} must be declared before it",
                    b.name
                ));
            }
            if !branches.insert(&b.name) {
                return Err(format!("branch {:?} is declared twice", b.name));
            }
        }
        let mut domains = HashSet::new();
        for d in &self.domains {
            if !domains.insert(&d.name) {
                return Err(format!("domain {:?} is declared twice", d.name));
            }
            let ok_start = d
                .abbreviation
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !ok_start || d.abbreviation.chars().count() > 4 {
                return Err(format!(
                    "domain {:?}: the abbreviation must be 1 to 4 characters starting with a letter or _",
                    d.name
                ));
            }
        }
        let mut table_names = HashSet::new();
        for t in &self.tables {
            let at = |m: String| format!("table {:?}: {m}", t.name);
            if !domains.contains(&t.domain) {
                return Err(at(format!("unknown domain {:?}", t.domain)));
            }
            if t.branches.is_empty() {
                return Err(at(
                    "deploy it on at least one branch (branches = [...])".into()
                ));
            }
            for b in &t.branches {
                if !branches.contains(b) {
                    return Err(at(format!("unknown branch {b:?}")));
                }
            }
            let dtn = t
                .database_table_name
                .clone()
                .unwrap_or_else(|| derive_database_table_name(&t.name));
            let valid_dtn = dtn
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && dtn
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_dtn {
                return Err(at(format!(
                    "database_table_name {dtn:?} must be lower-case snake case"
                )));
            }
            if !table_names.insert(t.name.clone()) || !table_names.insert(format!("\u{0}{dtn}")) {
                return Err(at("the name or database_table_name is used twice".into()));
            }
            if t.columns.is_empty() {
                return Err(at("it has no columns".into()));
            }
            let mut columns = HashSet::new();
            for c in &t.columns {
                let at = |m: String| format!("table {:?}, column {:?}: {m}", t.name, c.name);
                if c.name.is_empty() || c.name.starts_with("trdm_") {
                    return Err(at(
                        "column names must be non-empty and must not start with trdm_".into(),
                    ));
                }
                if !columns.insert(&c.name) {
                    return Err(at("declared twice".into()));
                }
                let data_type: DataType = c.data_type.parse().map_err(|e| at(format!("{e}")))?;
                if data_type == DataType::Decimal {
                    if let Some(p) = c.precision {
                        if !(1..=1000).contains(&p) || c.scale.unwrap_or(0) > p {
                            return Err(at(
                                "decimal needs 1 <= precision <= 1000 and scale <= precision"
                                    .into(),
                            ));
                        }
                    } else if c.scale.is_some() {
                        return Err(at("a decimal scale needs a precision".into()));
                    }
                }
                if c.length == Some(0) {
                    return Err(at("length must be at least 1".into()));
                }
            }
            if !t.columns.iter().any(|c| c.primary_key) {
                return Err(at("it needs at least one primary key column".into()));
            }
            if t.import_mappings.iter().filter(|m| m.is_default).count() > 1 {
                return Err(at("at most one import mapping may be the default".into()));
            }
            for m in &t.import_mappings {
                if !["MDY", "DMY"].contains(&m.date_style.to_uppercase().as_str()) {
                    return Err(at(format!(
                        "mapping {:?}: date_style must be MDY or DMY",
                        m.name
                    )));
                }
                if m.delimiter.len() != 1 {
                    return Err(at(format!(
                        "mapping {:?}: the delimiter must be one ASCII character",
                        m.name
                    )));
                }
                for mc in &m.columns {
                    if !columns.contains(&mc.target_column) {
                        return Err(at(format!(
                            "mapping {:?}: unknown target column {:?}",
                            m.name, mc.target_column
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn seed_path(&self, relative: &Path) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).join(relative)
    }
}

/// Opens the database at `path`; loads `fixture` into it if it is new. Returns the database and the signing key.
pub(crate) fn open_database(
    path: &Path,
    fixture: Option<&Fixture>,
) -> Result<(Db, [u8; 32]), Error> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let db = Db::open(path)?;
    let mut conn = db.catalog_now()?;
    let key = match store::setting(&conn, "signing_key")? {
        Some(hex_key) => {
            let bytes = hex::decode(hex_key).map_err(|e| Error::Io(std::io::Error::other(e)))?;
            bytes
                .try_into()
                .map_err(|_| Error::Io(std::io::Error::other("malformed signing key")))?
        }
        None => {
            let mut key = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut key);
            store::set_setting(&conn, "signing_key", &hex::encode(key))?;
            key
        }
    };
    if store::setting(&conn, "initialized_at")?.is_some() {
        if fixture.is_some() {
            tracing::info!(db = %path.display(), "database already initialised; the fixture is not loaded again");
        }
        return Ok((db, key));
    }
    let Some(fixture) = fixture else {
        return Err(Error::NotInitialised(path.display().to_string()));
    };
    load(&db, &mut conn, fixture)?;
    Ok((db, key))
}

fn load(db: &Db, conn: &mut rusqlite::Connection, fx: &Fixture) -> Result<(), Error> {
    let fail = |message: String| Error::Fixture {
        path: fx.path.display().to_string(),
        message,
    };
    let now = crate::time::now();
    let tx = conn.transaction()?;
    for app in &fx.oauth_applications {
        tx.execute(
            "INSERT INTO oauth_applications (name, client_id, secret_sha256, scopes) VALUES (?1, ?2, ?3, ?4)",
            params![app.name, app.client_id, auth::hash_secret(&app.client_secret), app.scopes.join(" ")],
        )?;
    }
    let mut branch_ids = std::collections::HashMap::new();
    for b in &fx.branches {
        let parent = b.parent.as_ref().map(|p| branch_ids[p]);
        tx.execute(
            "INSERT INTO branches (name, description, branch_type, status, database_suffix, is_default_dev_branch,
                is_integration_branch, parent_id, owner_id, owner_email, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            params![
                b.name,
                b.description,
                b.branch_type,
                b.status,
                b.database_suffix.clone().unwrap_or_else(|| derive_database_table_name(&b.name)),
                b.is_default_dev_branch,
                b.is_integration_branch,
                parent,
                b.owner.as_ref().map(|o| o.id),
                b.owner.as_ref().map(|o| o.email.clone()),
                now
            ],
        )?;
        branch_ids.insert(b.name.clone(), tx.last_insert_rowid());
    }
    let mut domain_ids = std::collections::HashMap::new();
    for d in &fx.domains {
        tx.execute(
            "INSERT INTO domains (name, abbreviation, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![d.name, d.abbreviation, d.description, now],
        )?;
        domain_ids.insert(d.name.clone(), tx.last_insert_rowid());
    }
    let mut seeds = Vec::new();
    for t in &fx.tables {
        let dtn = t
            .database_table_name
            .clone()
            .unwrap_or_else(|| derive_database_table_name(&t.name));
        let key = t
            .key
            .clone()
            .unwrap_or_else(|| stable_key(&[&t.domain, &t.name]));
        for branch in &t.branches {
            let branch_id = branch_ids[branch];
            let physical = format!("b{branch_id}__{dtn}");
            tx.execute(
                "INSERT INTO tables (branch_id, domain_id, key, name, database_table_name, description,
                    allow_manual_rows, physical_name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![branch_id, domain_ids[&t.domain], key, t.name, dtn, t.description, t.allow_manual_rows, physical, now],
            )?;
            let table_id = tx.last_insert_rowid();
            for (position, c) in t.columns.iter().enumerate() {
                let data_type: DataType = c.data_type.parse().map_err(|e| fail(format!("{e}")))?;
                tx.execute(
                    "INSERT INTO columns (table_id, key, name, data_type, length, precision, scale, is_primary_key,
                        is_required, display_order, is_deleted, description)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11)",
                    params![
                        table_id,
                        c.key.clone().unwrap_or_else(|| stable_key(&[&key, &c.name])),
                        c.name,
                        data_type.as_str(),
                        c.length.or(if data_type == DataType::Character { Some(1) } else { None }),
                        c.precision,
                        c.precision.map(|_| c.scale.unwrap_or(0)),
                        c.primary_key,
                        c.required || c.primary_key,
                        c.display_order.unwrap_or(position as i64 + 1),
                        c.description
                    ],
                )?;
            }
            let mut mappings = t.import_mappings.clone();
            if mappings.is_empty() {
                mappings.push(MappingSpec {
                    name: "Default".into(),
                    is_default: true,
                    date_style: default_date_style(),
                    delimiter: default_delimiter(),
                    columns: Vec::new(),
                    key: None,
                });
            }
            let any_default = mappings.iter().any(|m| m.is_default);
            for (i, m) in mappings.iter().enumerate() {
                let config = MappingConfig {
                    date_style: m.date_style.to_uppercase(),
                    delimiter: m.delimiter.clone(),
                    columns: m.columns.clone(),
                };
                tx.execute(
                    "INSERT INTO import_mappings (table_id, key, name, is_default, config, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![
                        table_id,
                        m.key.clone().unwrap_or_else(|| stable_key(&[&key, "mapping", &m.name])),
                        m.name,
                        m.is_default || (!any_default && i == 0),
                        serde_json::to_string(&config).expect("mapping config serialises"),
                        now
                    ],
                )?;
            }
            let table = store::table(&tx, table_id).map_err(|e| fail(e.to_string()))?;
            seeds.push((table, t.seed_csv.clone()));
        }
    }
    let mut records = db.records_now()?;
    let identity = MappingConfig {
        date_style: default_date_style(),
        delimiter: default_delimiter(),
        columns: Vec::new(),
    };
    for (table, seed) in &seeds {
        records::create_table(&records, table)?;
        if let Some(seed) = seed {
            let path = fx.seed_path(seed);
            let file = std::fs::File::open(&path)
                .map_err(|e| fail(format!("seed file {}: {e}", path.display())))?;
            let spec = ImportSpec {
                table,
                mapping: &identity,
                pattern: ImportPattern::Full,
                actor_type: decisions::SEED_ACTOR_TYPE,
                actor_id: decisions::SEED_ACTOR_ID,
                import_table_id: None,
            };
            records::apply_file(&mut records, &spec, file).map_err(|e| {
                fail(format!(
                    "seed file {} for table {:?}: {e}",
                    path.display(),
                    table.name
                ))
            })?;
        }
    }
    store::set_setting(&tx, "initialized_at", &crate::time::iso(now))?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_debug_redacts_the_client_secret() {
        let app = FixtureApplication {
            name: "Demo".into(),
            client_id: "demo-client".into(),
            client_secret: "s3cret-value".into(),
            scopes: vec!["api".into()],
        };
        for printed in [format!("{app:?}"), format!("{app:#?}")] {
            assert!(!printed.contains("s3cret-value"), "{printed}");
            assert!(printed.contains("client_id: \"demo-client\""), "{printed}");
            assert!(printed.contains("\"<redacted>\""), "{printed}");
        }
        assert_eq!(
            format!("{app:?}"),
            r#"FixtureApplication { name: "Demo", client_id: "demo-client", client_secret: "<redacted>", scopes: ["api"] }"#
        );
        // A whole fixture prints its applications the same way.
        let fixture: Fixture = toml::from_str(
            "[[oauth_applications]]\nname = \"Demo\"\nclient_id = \"demo-client\"\nclient_secret = \"s3cret-value\"\n",
        )
        .unwrap();
        let printed = format!("{fixture:?}");
        assert!(!printed.contains("s3cret-value"), "{printed}");
        assert!(
            printed.contains("client_secret: \"<redacted>\""),
            "{printed}"
        );
    }
}
