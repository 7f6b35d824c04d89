//! trdm-sync's CSV → Arrow decoder (`CsvDecoder`) over arbitrary bytes, against the Clinics fixture's tables
//! and a table of every type: it never panics, and what it decodes survives the codec's promise of
//! losslessness (`encode_csv` then `CsvDecoder` gives equal batches, and the same text again).
//!
//! Input: byte 0 picks the table and schema (user columns, or the export's with system columns) and whether
//! the right header is put in front of the rest; byte 1 is the batch size.
#![no_main]

use std::sync::{Arc, LazyLock};

use arrow_array::RecordBatch;
use libfuzzer_sys::fuzz_target;
use trdm_sync::codec::{CsvDecoder, ImportPattern, encode_csv, encode_upload};
use trdm_sync::schema::{TableDef, export_schema, user_schema};

static TABLES: LazyLock<Vec<TableDef>> = LazyLock::new(|| {
    let mut tables = trdm_fuzz::clinics_tables();
    tables.push(trdm_fuzz::every_type_table());
    tables
});

fn decode(
    bytes: &[u8],
    table: &TableDef,
    schema: &arrow_schema::SchemaRef,
    size: usize,
) -> trdm_sync::Result<Vec<RecordBatch>> {
    CsvDecoder::new(bytes, table, Arc::clone(schema), size)?.collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let table = &TABLES[usize::from(data[0] & 7) % TABLES.len()];
    let schema = if data[0] & 8 != 0 {
        export_schema(table)
    } else {
        user_schema(table)
    };
    let batch_size = usize::from(data[1]);
    let mut file = Vec::new();
    if data[0] & 16 != 0 {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        file.extend_from_slice(names.join(",").as_bytes());
        file.push(b'\n');
    }
    file.extend_from_slice(&data[2..]);

    let Ok(batches) = decode(&file, table, &schema, batch_size) else {
        return;
    };

    // Lossless: the canonical file of the batches decodes to the same batches, and encodes to the same file.
    let mut canonical = Vec::new();
    encode_csv(
        &schema,
        batches.iter().cloned().map(Ok),
        table,
        &mut canonical,
    )
    .unwrap_or_else(|e| panic!("decoded batches do not encode: {e}"));
    let again = decode(&canonical, table, &schema, 1024).unwrap_or_else(|e| {
        panic!(
            "the canonical file does not decode: {e}\n{}",
            String::from_utf8_lossy(&canonical)
        )
    });
    let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    assert_eq!(rows(&batches), rows(&again));
    if !again.is_empty() {
        let merged = |b: &[RecordBatch]| arrow_select_concat(&schema, b);
        assert_eq!(
            merged(&batches),
            merged(&again),
            "decode → encode → decode changes values"
        );
    }
    let mut twice = Vec::new();
    encode_csv(&schema, again.into_iter().map(Ok), table, &mut twice).unwrap();
    assert_eq!(canonical, twice, "the canonical file is not stable");

    // An upload of the same batches validates or fails with a message, never a panic.
    if data[0] & 8 == 0 {
        let pattern = match data[1] % 3 {
            0 => ImportPattern::Full,
            1 => ImportPattern::IncrementalUpsertOnly,
            _ => ImportPattern::IncrementalWithDelete,
        };
        let _ = encode_upload(table, pattern, batches.into_iter().map(Ok), std::io::sink());
    }
});

/// All batches as one (batch boundaries depend on the batch size, values must not).
fn arrow_select_concat(schema: &arrow_schema::SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(schema, batches).unwrap()
}
