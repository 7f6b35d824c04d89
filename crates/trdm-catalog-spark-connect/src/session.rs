//! The few Spark Connect operations the catalog needs, over `apache-spark-connect-core`'s client: run SQL
//! and collect its result as Arrow, read a table, ask the catalog whether a table or schema exists, and
//! hand the server a local relation (Arrow IPC) as a temporary view.
//!
//! Results arrive as Arrow IPC streams, decoded here with this workspace's own `arrow-ipc`; data sent goes
//! the same way. A relation larger than [`INLINE_LIMIT`] is not put into the plan (a gRPC message has a
//! size limit: 128 MiB on Spark's default server) but uploaded first as a cached artifact
//! (`cache/<sha-256>`, in 32 KiB chunks) and named by its hash, as PySpark does past its threshold.

use std::io::{Cursor, Write};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::SchemaRef;
use sha2::{Digest, Sha256};
use spark_connect_core::client::SparkConnectClient;
use spark_connect_core::error::SparkError;
use spark_connect_proto as proto;
use spark_connect_proto::execute_plan_response::ResponseType;
use trdm_sync::{Error, Result};

use crate::BACKEND;
use crate::remote::SparkRemote;

/// Local relations up to this many bytes of Arrow IPC travel inside the plan; larger ones as an artifact.
pub(crate) const INLINE_LIMIT: usize = 16 * 1024 * 1024;

/// A failure of the server or the connection, as the engine's catalog error. Spark's messages name the
/// table or column at fault; they carry no part of the connection string.
pub(crate) fn spark_error(what: &str, e: SparkError) -> Error {
    Error::Catalog {
        backend: BACKEND,
        source: format!("{what}: {}", e.message()).into(),
    }
}

fn arrow_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Catalog {
        backend: BACKEND,
        source: format!("{what}: {e}").into(),
    }
}

/// Whether the server's error says the table (or its schema) does not exist.
pub(crate) fn is_not_found(e: &SparkError) -> bool {
    let condition = e.get_condition().unwrap_or_default();
    condition.starts_with("TABLE_OR_VIEW_NOT_FOUND")
        || condition.starts_with("SCHEMA_NOT_FOUND")
        || condition.starts_with("NO_SUCH_")
}

/// One Spark Connect session (one server-side session id; temporary views live in it).
pub(crate) struct Session {
    client: SparkConnectClient,
}

impl Session {
    pub(crate) async fn connect(remote: &SparkRemote) -> Result<Session> {
        let builder = remote.channel_builder().map_err(|e| Error::Catalog {
            backend: BACKEND,
            source: Box::new(e),
        })?;
        let client = SparkConnectClient::connect(&builder)
            .await
            .map_err(|e| spark_error(&format!("connecting to {remote}"), e))?;
        Ok(Session { client })
    }

    fn request(&self, plan: proto::Plan) -> proto::ExecutePlanRequest {
        proto::ExecutePlanRequest {
            session_id: self.client.session_id().to_owned(),
            user_context: Some(proto::UserContext {
                user_id: self.client.user_id().unwrap_or_default().to_owned(),
                ..Default::default()
            }),
            plan: Some(plan),
            client_type: Some("trdm".to_owned()),
            ..Default::default()
        }
    }

    /// Executes `plan` and returns the Arrow batches of its result (none for a command without one), with
    /// the result's schema when the server sent one.
    async fn execute(
        &self,
        plan: proto::Plan,
        what: &str,
    ) -> std::result::Result<(Option<SchemaRef>, Vec<RecordBatch>), ExecuteError> {
        let mut responses = self
            .client
            .execute_plan(self.request(plan))
            .await
            .map_err(ExecuteError::Spark)?;
        let mut schema = None;
        let mut batches = Vec::new();
        loop {
            let response = match responses.message().await {
                Ok(Some(response)) => response,
                Ok(None) => break,
                Err(status) => {
                    return Err(ExecuteError::Spark(SparkError::from_grpc_status(status)));
                }
            };
            match response.response_type {
                Some(ResponseType::ArrowBatch(batch)) => {
                    let reader = StreamReader::try_new(Cursor::new(batch.data), None)
                        .map_err(|e| ExecuteError::Other(arrow_error(what, e)))?;
                    schema = Some(reader.schema());
                    for b in reader {
                        let b = b.map_err(|e| ExecuteError::Other(arrow_error(what, e)))?;
                        if b.num_rows() > 0 {
                            batches.push(b);
                        }
                    }
                }
                Some(ResponseType::ResultComplete(_)) => break,
                _ => {}
            }
        }
        Ok((schema, batches))
    }

    /// Runs one SQL statement; its result rows (a MERGE's counts, SHOW's rows) as Arrow.
    pub(crate) async fn sql(&self, query: &str, what: &str) -> Result<Vec<RecordBatch>> {
        self.sql_raw(query, what)
            .await
            .map_err(|e| e.into_error(what))
    }

    /// [`Session::sql`], the server's error kept apart so the caller can tell "not found".
    pub(crate) async fn sql_raw(
        &self,
        query: &str,
        what: &str,
    ) -> std::result::Result<Vec<RecordBatch>, ExecuteError> {
        let relation = relation(proto::relation::RelType::Sql(proto::Sql {
            query: query.to_owned(),
            ..Default::default()
        }));
        Ok(self.execute(root(relation), what).await?.1)
    }

    /// Every row of a table, with the schema Spark gives it.
    pub(crate) async fn read_table(
        &self,
        identifier: &str,
        what: &str,
    ) -> std::result::Result<(Option<SchemaRef>, Vec<RecordBatch>), ExecuteError> {
        let relation = relation(proto::relation::RelType::Read(proto::Read {
            read_type: Some(proto::read::ReadType::NamedTable(proto::read::NamedTable {
                unparsed_identifier: identifier.to_owned(),
                ..Default::default()
            })),
            ..Default::default()
        }));
        self.execute(root(relation), what).await
    }

    /// `spark.catalog.tableExists(identifier)`.
    pub(crate) async fn table_exists(&self, identifier: &str) -> Result<bool> {
        let what = format!("checking whether {identifier} exists");
        self.catalog_answer(
            proto::catalog::CatType::TableExists(proto::TableExists {
                table_name: identifier.to_owned(),
                db_name: None,
            }),
            &what,
        )
        .await
    }

    /// `spark.catalog.databaseExists(identifier)`.
    pub(crate) async fn schema_exists(&self, identifier: &str) -> Result<bool> {
        let what = format!("checking whether schema {identifier} exists");
        self.catalog_answer(
            proto::catalog::CatType::DatabaseExists(proto::DatabaseExists {
                db_name: identifier.to_owned(),
            }),
            &what,
        )
        .await
    }

    async fn catalog_answer(&self, question: proto::catalog::CatType, what: &str) -> Result<bool> {
        let relation = relation(proto::relation::RelType::Catalog(proto::Catalog {
            cat_type: Some(question),
        }));
        let (_, batches) = self
            .execute(root(relation), what)
            .await
            .map_err(|e| e.into_error(what))?;
        batches
            .first()
            .and_then(|b| {
                use arrow_array::cast::AsArray;
                b.column(0).as_boolean_opt().map(|c| c.value(0))
            })
            .ok_or_else(|| arrow_error(what, "the server's answer is not one boolean"))
    }

    /// Registers `batches` (already in Spark's types, see `types::spark_ready`) as the temporary view
    /// `view` of this session, with Spark's JSON schema `spark_schema` (names, types, nullability,
    /// comments).
    pub(crate) async fn create_view(
        &self,
        view: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        spark_schema: String,
        what: &str,
    ) -> Result<()> {
        let data = if batches.is_empty() {
            None
        } else {
            let mut buffer = Vec::new();
            let mut writer =
                StreamWriter::try_new(&mut buffer, schema).map_err(|e| arrow_error(what, e))?;
            for batch in batches {
                writer.write(batch).map_err(|e| arrow_error(what, e))?;
            }
            writer.finish().map_err(|e| arrow_error(what, e))?;
            drop(writer);
            Some(buffer.into())
        };
        let local = proto::LocalRelation {
            data,
            schema: Some(spark_schema),
        };
        let input = if local.data.as_ref().is_some_and(|d| d.len() > INLINE_LIMIT) {
            let hash = self.cache_relation(&local, what).await?;
            relation(proto::relation::RelType::CachedLocalRelation(
                proto::CachedLocalRelation { hash },
            ))
        } else {
            relation(proto::relation::RelType::LocalRelation(local))
        };
        let command = proto::Command {
            command_type: Some(proto::command::CommandType::CreateDataframeView(
                proto::CreateDataFrameViewCommand {
                    input: Some(input),
                    name: view.to_owned(),
                    is_global: false,
                    replace: true,
                },
            )),
        };
        self.execute(
            proto::Plan {
                op_type: Some(proto::plan::OpType::Command(command)),
            },
            what,
        )
        .await
        .map_err(|e| e.into_error(what))?;
        Ok(())
    }

    /// Uploads the serialized relation as the artifact `cache/<sha-256 of it>` and returns the hash. The
    /// bytes go through a temporary file, which the client streams in chunks.
    async fn cache_relation(&self, local: &proto::LocalRelation, what: &str) -> Result<String> {
        use prost::Message as _;
        let mut file = tempfile::NamedTempFile::new().map_err(|e| arrow_error(what, e))?;
        let bytes = local.encode_to_vec();
        let hash = hex::encode(Sha256::digest(&bytes));
        file.write_all(&bytes).map_err(|e| arrow_error(what, e))?;
        file.flush().map_err(|e| arrow_error(what, e))?;
        drop(bytes);
        let path = file
            .path()
            .to_str()
            .ok_or_else(|| arrow_error(what, "the temporary file's path is not UTF-8"))?;
        self.client
            .add_named_artifact(&format!("cache/{hash}"), path)
            .await
            .map_err(|e| spark_error(what, e))?;
        Ok(hash)
    }
}

/// An execution's failure: the server's (which may say "not found") or ours.
pub(crate) enum ExecuteError {
    Spark(SparkError),
    Other(Error),
}

impl ExecuteError {
    pub(crate) fn into_error(self, what: &str) -> Error {
        match self {
            ExecuteError::Spark(e) => spark_error(what, e),
            ExecuteError::Other(e) => e,
        }
    }
}

fn relation(rel_type: proto::relation::RelType) -> proto::Relation {
    proto::Relation {
        common: None,
        rel_type: Some(rel_type),
    }
}

fn root(relation: proto::Relation) -> proto::Plan {
    proto::Plan {
        op_type: Some(proto::plan::OpType::Root(relation)),
    }
}
