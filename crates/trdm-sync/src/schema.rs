//! TitanRDM column definitions → Arrow schemas.
//!
//! Why this module exists: the sync engine must never guess a type from data. A column of `"007"` values is
//! text if TitanRDM says `varchar`, and a column that happens to hold only whole numbers is still
//! `decimal(14,2)`. So every Arrow schema the engine writes to a catalog is derived here, from the service's
//! column definitions alone, by one table of mappings implemented in one `match` ([`arrow_type`]). Each field
//! also carries the TitanRDM type text in its metadata (`trdm.type`), so a table read back from a catalog
//! still says exactly what it was, and the description as `comment`, which catalogs show to people.
//!
//! # Mappings
//!
//! | TitanRDM type | Arrow type | Notes |
//! |---|---|---|
//! | `varchar(n)`, `varchar`, `text`, `character(n)` | `Utf8` | `character` values are space-padded to `n` |
//! | `smallint` | `Int16` | |
//! | `integer` | `Int32` | |
//! | `bigint` | `Int64` | |
//! | `decimal(p,s)`, 1 ≤ p ≤ 38, s ≤ p | `Decimal128(p, s)` | `decimal(p)` means s = 0 |
//! | `decimal(p,s)`, 38 < p ≤ 76, s ≤ p | `Decimal256(p, s)` | |
//! | `decimal(p,s)`, p > 76 or s > p; unconstrained `decimal` | `Utf8` | canonical digits, no exponent |
//! | `real` | `Float32` | |
//! | `double` | `Float64` | |
//! | `boolean` | `Boolean` | |
//! | `date` | `Date32` | |
//! | `time` | `Time64(Microsecond)` | `24:00:00` is 86 400 000 000 µs |
//! | `timetz` | `Utf8` | canonical text, e.g. `10:30:00+05:30`: Arrow has no zoned time of day |
//! | `timestamp` | `Timestamp(Microsecond, None)` | wall-clock time, no zone |
//! | `timestamptz` | `Timestamp(Microsecond, "UTC")` | an instant |
//!
//! A user field is nullable unless the column is required or part of the primary key.
//!
//! The system columns ([`SYSTEM_COLUMNS`]) follow the same table through their TitanRDM types
//! ([`system_column_type`]): `trdm_sk`, `trdm_record_id` and `trdm_actor_id` are `bigint` (`Int64`),
//! `trdm_state`, `trdm_actor_type` and `trdm_tran_code` are `text` (`Utf8`), the three timestamps are
//! `timestamptz` and `trdm_is_deleted` is `boolean`. Only `trdm_actor_id` and `trdm_tran_code` are nullable.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use trdm_format::value::{ColumnType, DataType};

/// Field metadata key holding the column's TitanRDM type text, e.g. `decimal(14,2)` (see [`type_text`]).
pub const TYPE_METADATA_KEY: &str = "trdm.type";

/// Field metadata key holding the column's description; catalogs show it as the column comment.
pub const COMMENT_METADATA_KEY: &str = "comment";

/// The system columns of an export, in file order (protocol B §7.1); [`TRAN_CODE_COLUMN`] is last.
pub use trdm_format::SYSTEM_COLUMNS;

/// The transaction-code column, read from upload files and written to exports.
pub use trdm_format::TRAN_CODE_COLUMN;

/// One column of a TitanRDM table, as its (deployed) column definition describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name, as used in file headers.
    pub name: String,
    /// The TitanRDM data type.
    pub data_type: DataType,
    /// Max characters for `varchar`/`character`; the precision for `decimal`. Ignored by other types.
    pub length: Option<u32>,
    /// Digits after the decimal point for `decimal`. Ignored by other types.
    pub scale: Option<u32>,
    /// Part of the primary key (implies a value is required).
    pub is_primary_key: bool,
    /// NOT NULL.
    pub is_required: bool,
    /// Free-text description, carried to catalogs as the column comment.
    pub description: Option<String>,
}

impl ColumnDef {
    /// The type with its size parameters, as `trdm_format` parses and formats values.
    pub fn column_type(&self) -> ColumnType {
        ColumnType {
            data_type: self.data_type,
            length: self.length,
            scale: self.scale,
        }
    }

    /// Whether the column may hold NULL: neither required nor part of the primary key.
    pub fn is_nullable(&self) -> bool {
        !(self.is_required || self.is_primary_key)
    }
}

/// A TitanRDM table: its names and its user columns (system columns are implied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Display name.
    pub name: String,
    /// Physical name without prefix, lower-case snake case (`sites`); used in error messages.
    pub database_table_name: String,
    /// User columns in display order, which is also the file column order.
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    /// The user column called `name` (exact match).
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The Arrow type of a TitanRDM column type: the table in the module docs, in one `match`.
pub fn arrow_type(column_type: &ColumnType) -> ArrowType {
    match column_type.data_type {
        DataType::Varchar | DataType::Text | DataType::Character | DataType::Timetz => {
            ArrowType::Utf8
        }
        DataType::Smallint => ArrowType::Int16,
        DataType::Integer => ArrowType::Int32,
        DataType::Bigint => ArrowType::Int64,
        // Precision and scale are at most 76 in these arms, so the narrowing casts are exact.
        DataType::Decimal => match (column_type.length, column_type.scale.unwrap_or(0)) {
            (Some(p @ 1..=38), s) if s <= p => ArrowType::Decimal128(p as u8, s as i8),
            (Some(p @ 39..=76), s) if s <= p => ArrowType::Decimal256(p as u8, s as i8),
            _ => ArrowType::Utf8,
        },
        DataType::Real => ArrowType::Float32,
        DataType::Double => ArrowType::Float64,
        DataType::Boolean => ArrowType::Boolean,
        DataType::Date => ArrowType::Date32,
        DataType::Time => ArrowType::Time64(TimeUnit::Microsecond),
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamptz => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// The TitanRDM type text stored under [`TYPE_METADATA_KEY`]: `varchar(10)`, `varchar`, `character(4)`,
/// `decimal(14,2)`, `decimal(14)`, `decimal`, `decimal(*,2)` (a scale without a precision), `timestamptz`...
/// Size parameters are printed only for the types that use them.
pub fn type_text(column_type: &ColumnType) -> String {
    let name = column_type.data_type.as_str();
    match (column_type.data_type, column_type.length, column_type.scale) {
        (DataType::Varchar | DataType::Character, Some(length), _) => format!("{name}({length})"),
        (DataType::Decimal, Some(precision), Some(scale)) => format!("{name}({precision},{scale})"),
        (DataType::Decimal, Some(precision), None) => format!("{name}({precision})"),
        (DataType::Decimal, None, Some(scale)) => format!("{name}(*,{scale})"),
        _ => name.to_owned(),
    }
}

/// Reads a [`type_text`] back (also PostgreSQL aliases such as `numeric(10,2)`). None if it is not one.
pub fn parse_type_text(text: &str) -> Option<ColumnType> {
    let text = text.trim();
    let (name, args) = match text.split_once('(') {
        Some((name, rest)) => (name, Some(rest.strip_suffix(')')?)),
        None => (text, None),
    };
    let data_type: DataType = name.parse().ok()?;
    let number = |s: &str| s.trim().parse::<u32>().ok();
    let (length, scale) = match (data_type, args) {
        (_, None) => (None, None),
        (DataType::Varchar | DataType::Character, Some(args)) => (Some(number(args)?), None),
        (DataType::Decimal, Some(args)) => match args.split_once(',') {
            Some((p, s)) if p.trim() == "*" => (None, Some(number(s)?)),
            Some((p, s)) => (Some(number(p)?), Some(number(s)?)),
            None => (Some(number(args)?), None),
        },
        _ => return None,
    };
    Some(ColumnType {
        data_type,
        length,
        scale,
    })
}

/// The TitanRDM type recorded in a field's [`TYPE_METADATA_KEY`] metadata, if it has a valid one.
pub fn field_column_type(field: &Field) -> Option<ColumnType> {
    field
        .metadata()
        .get(TYPE_METADATA_KEY)
        .and_then(|text| parse_type_text(text))
}

fn field_with(
    name: &str,
    column_type: &ColumnType,
    nullable: bool,
    comment: Option<&str>,
) -> Field {
    let mut metadata = HashMap::from([(TYPE_METADATA_KEY.to_owned(), type_text(column_type))]);
    if let Some(comment) = comment {
        metadata.insert(COMMENT_METADATA_KEY.to_owned(), comment.to_owned());
    }
    Field::new(name, arrow_type(column_type), nullable).with_metadata(metadata)
}

/// The Arrow field of a user column: name, mapped type, nullability and metadata (`trdm.type`, and
/// `comment` when the column has a description).
pub fn arrow_field(col: &ColumnDef) -> Field {
    field_with(
        &col.name,
        &col.column_type(),
        col.is_nullable(),
        col.description.as_deref(),
    )
}

/// The schema of a table's user columns, in display order.
pub fn user_schema(table: &TableDef) -> SchemaRef {
    Arc::new(Schema::new(
        table.columns.iter().map(arrow_field).collect::<Vec<_>>(),
    ))
}

/// The schema of an export file: the user columns, then the ten system columns in file order.
pub fn export_schema(table: &TableDef) -> SchemaRef {
    let user = table.columns.iter().map(arrow_field);
    let system = SYSTEM_COLUMNS.iter().filter_map(|name| system_field(name));
    Arc::new(Schema::new(user.chain(system).collect::<Vec<_>>()))
}

/// A short, stable digest of a schema's field names, types, nullability and metadata (FNV-1a, hex), stored
/// with a downloaded table so that the next incremental download notices when TitanRDM changed the columns.
pub fn schema_fingerprint(schema: &Schema) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |text: &str| {
        // Each part ends in a byte no text of ours contains, so no two schemas feed the same bytes.
        for byte in text.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for field in schema.fields() {
        feed(field.name());
        feed(&field.data_type().to_string());
        feed(if field.is_nullable() {
            "null"
        } else {
            "not null"
        });
        let mut metadata: Vec<_> = field.metadata().iter().collect();
        metadata.sort();
        for (key, value) in metadata {
            feed(key);
            feed(value);
        }
    }
    format!("{hash:016x}")
}

/// The TitanRDM type of a system column (see the module docs), None for any other name.
pub fn system_column_type(name: &str) -> Option<ColumnType> {
    let data_type = match name {
        "trdm_sk" | "trdm_record_id" | "trdm_actor_id" => DataType::Bigint,
        "trdm_state" | "trdm_actor_type" | TRAN_CODE_COLUMN => DataType::Text,
        "trdm_created_at" | "trdm_effective_from" | "trdm_effective_to" => DataType::Timestamptz,
        "trdm_is_deleted" => DataType::Boolean,
        _ => return None,
    };
    Some(ColumnType {
        data_type,
        length: None,
        scale: None,
    })
}

/// The Arrow field of a system column, with `trdm.type` and a `comment` saying what it means; None for
/// any other name.
pub fn system_field(name: &str) -> Option<Field> {
    let column_type = system_column_type(name)?;
    let (nullable, comment) = match name {
        "trdm_sk" => (false, "Surrogate key of this version row"),
        "trdm_record_id" => (false, "Stable id of the record, shared by all its versions"),
        "trdm_state" => (false, "C = current version, H = historical version"),
        "trdm_created_at" => (false, "When this version was written (UTC)"),
        "trdm_effective_from" => (false, "Start of this version's validity (UTC)"),
        "trdm_effective_to" => (
            false,
            "End of this version's validity (UTC); 9999-12-31 for current versions",
        ),
        "trdm_is_deleted" => (false, "True on tombstone versions"),
        "trdm_actor_type" => (
            false,
            "Who wrote this version: U = user, A = application, I = import",
        ),
        "trdm_actor_id" => (
            true,
            "Id of the user, application or import that wrote this version",
        ),
        _ => (
            true,
            "i = insert, u = update, d = delete; empty in a plain full export",
        ),
    };
    Some(field_with(name, &column_type, nullable, Some(comment)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(data_type: DataType, length: Option<u32>, scale: Option<u32>) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            data_type,
            length,
            scale,
            is_primary_key: false,
            is_required: false,
            description: None,
        }
    }

    fn mapped(data_type: DataType, length: Option<u32>, scale: Option<u32>) -> ArrowType {
        arrow_field(&column(data_type, length, scale))
            .data_type()
            .clone()
    }

    #[test]
    fn every_mapping() {
        use ArrowType as A;
        let cases = [
            (DataType::Varchar, Some(10), None, A::Utf8),
            (DataType::Varchar, None, None, A::Utf8),
            (DataType::Text, None, None, A::Utf8),
            (DataType::Character, Some(3), None, A::Utf8),
            (DataType::Smallint, None, None, A::Int16),
            (DataType::Integer, None, None, A::Int32),
            (DataType::Bigint, None, None, A::Int64),
            (DataType::Decimal, Some(14), Some(2), A::Decimal128(14, 2)),
            (DataType::Decimal, Some(1), Some(0), A::Decimal128(1, 0)),
            (DataType::Decimal, Some(10), None, A::Decimal128(10, 0)),
            (DataType::Decimal, Some(38), Some(38), A::Decimal128(38, 38)),
            (DataType::Decimal, Some(39), Some(4), A::Decimal256(39, 4)),
            (DataType::Decimal, Some(76), Some(10), A::Decimal256(76, 10)),
            (DataType::Decimal, Some(77), Some(2), A::Utf8),
            (DataType::Decimal, Some(1000), Some(2), A::Utf8),
            (DataType::Decimal, None, None, A::Utf8),
            (DataType::Decimal, None, Some(2), A::Utf8),
            (DataType::Decimal, Some(2), Some(5), A::Utf8),
            (DataType::Decimal, Some(0), None, A::Utf8),
            (DataType::Real, None, None, A::Float32),
            (DataType::Double, None, None, A::Float64),
            (DataType::Boolean, None, None, A::Boolean),
            (DataType::Date, None, None, A::Date32),
            (DataType::Time, None, None, A::Time64(TimeUnit::Microsecond)),
            (DataType::Timetz, None, None, A::Utf8),
            (
                DataType::Timestamp,
                None,
                None,
                A::Timestamp(TimeUnit::Microsecond, None),
            ),
            (
                DataType::Timestamptz,
                None,
                None,
                A::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
        ];
        for (data_type, length, scale, expected) in cases.clone() {
            assert_eq!(
                mapped(data_type, length, scale),
                expected,
                "{data_type:?}({length:?},{scale:?})"
            );
        }
        // Every TitanRDM type is covered.
        for data_type in DataType::ALL {
            assert!(cases.iter().any(|c| c.0 == data_type), "{data_type:?}");
        }
    }

    #[test]
    fn nullability_and_metadata() {
        let mut col = ColumnDef {
            name: "amount".into(),
            description: Some("Net amount".into()),
            ..column(DataType::Decimal, Some(14), Some(2))
        };
        let field = arrow_field(&col);
        assert_eq!(field.name(), "amount");
        assert!(field.is_nullable());
        assert_eq!(field.metadata()["trdm.type"], "decimal(14,2)");
        assert_eq!(field.metadata()["comment"], "Net amount");
        col.is_required = true;
        assert!(!arrow_field(&col).is_nullable());
        col.is_required = false;
        col.is_primary_key = true;
        assert!(!arrow_field(&col).is_nullable());
        col.description = None;
        let field = arrow_field(&col);
        assert!(!field.metadata().contains_key("comment"));
        assert_eq!(field.metadata().len(), 1);
    }

    #[test]
    fn type_texts_round_trip() {
        let cases = [
            (DataType::Varchar, Some(10), None, "varchar(10)"),
            (DataType::Varchar, None, None, "varchar"),
            (DataType::Character, Some(4), None, "character(4)"),
            (DataType::Character, None, None, "character"),
            (DataType::Text, None, None, "text"),
            (DataType::Decimal, Some(14), Some(2), "decimal(14,2)"),
            (DataType::Decimal, Some(14), None, "decimal(14)"),
            (DataType::Decimal, None, Some(3), "decimal(*,3)"),
            (DataType::Decimal, None, None, "decimal"),
            (DataType::Smallint, None, None, "smallint"),
            (DataType::Integer, None, None, "integer"),
            (DataType::Bigint, None, None, "bigint"),
            (DataType::Real, None, None, "real"),
            (DataType::Double, None, None, "double"),
            (DataType::Boolean, None, None, "boolean"),
            (DataType::Date, None, None, "date"),
            (DataType::Time, None, None, "time"),
            (DataType::Timetz, None, None, "timetz"),
            (DataType::Timestamp, None, None, "timestamp"),
            (DataType::Timestamptz, None, None, "timestamptz"),
        ];
        for (data_type, length, scale, text) in cases {
            let column_type = ColumnType {
                data_type,
                length,
                scale,
            };
            assert_eq!(type_text(&column_type), text);
            assert_eq!(parse_type_text(text), Some(column_type.clone()), "{text}");
            let field = arrow_field(&column(data_type, length, scale));
            assert_eq!(field_column_type(&field), Some(column_type));
        }
        // Parameters that a type ignores are not printed.
        let ignored = ColumnType {
            data_type: DataType::Integer,
            length: Some(4),
            scale: Some(1),
        };
        assert_eq!(type_text(&ignored), "integer");
        assert_eq!(
            parse_type_text(" numeric( 10 , 2 ) "),
            Some(ColumnType {
                data_type: DataType::Decimal,
                length: Some(10),
                scale: Some(2)
            })
        );
        for bad in [
            "money",
            "integer(4)",
            "varchar(x)",
            "varchar(10",
            "decimal(1,2,3)",
            "",
        ] {
            assert_eq!(parse_type_text(bad), None, "{bad}");
        }
        assert_eq!(
            field_column_type(&Field::new("x", ArrowType::Utf8, true)),
            None
        );
    }

    #[test]
    fn system_columns() {
        use ArrowType as A;
        let utc = A::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let expected = [
            ("trdm_sk", A::Int64, false),
            ("trdm_record_id", A::Int64, false),
            ("trdm_state", A::Utf8, false),
            ("trdm_created_at", utc.clone(), false),
            ("trdm_effective_from", utc.clone(), false),
            ("trdm_effective_to", utc, false),
            ("trdm_is_deleted", A::Boolean, false),
            ("trdm_actor_type", A::Utf8, false),
            ("trdm_actor_id", A::Int64, true),
            ("trdm_tran_code", A::Utf8, true),
        ];
        for (i, (name, data_type, nullable)) in expected.iter().enumerate() {
            assert_eq!(SYSTEM_COLUMNS[i], *name);
            let field = system_field(name).unwrap();
            assert_eq!(field.name(), name);
            assert_eq!(field.data_type(), data_type, "{name}");
            assert_eq!(field.is_nullable(), *nullable, "{name}");
            assert!(field.metadata().contains_key("comment"));
            assert_eq!(
                field_column_type(&field),
                system_column_type(name),
                "{name}"
            );
        }
        assert_eq!(SYSTEM_COLUMNS[9], TRAN_CODE_COLUMN);
        assert_eq!(system_field("trdm_updated_at"), None);
        assert_eq!(system_field("code"), None);
    }

    #[test]
    fn schemas() {
        let table = TableDef {
            name: "Sites".into(),
            database_table_name: "sites".into(),
            columns: vec![
                ColumnDef {
                    name: "code".into(),
                    is_primary_key: true,
                    ..column(DataType::Varchar, Some(10), None)
                },
                ColumnDef {
                    name: "opened".into(),
                    ..column(DataType::Date, None, None)
                },
            ],
        };
        let user = user_schema(&table);
        let names: Vec<_> = user.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["code", "opened"]);
        assert!(!user.field(0).is_nullable());
        assert!(user.field(1).is_nullable());
        let export = export_schema(&table);
        assert_eq!(export.fields().len(), 12);
        assert_eq!(export.field(0), user.field(0));
        for (i, name) in SYSTEM_COLUMNS.iter().enumerate() {
            assert_eq!(export.field(2 + i), &system_field(name).unwrap());
        }
        assert_eq!(table.column("opened").unwrap().data_type, DataType::Date);
        assert!(table.column("Opened").is_none());
    }
}
