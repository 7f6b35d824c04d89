# Databricks notebook source
# MAGIC %md
# MAGIC # TitanRDM ⇄ Databricks with `SparkSync`
# MAGIC
# MAGIC This notebook keeps the **Clinics** reference-data domain in step between TitanRDM and a Spark catalog:
# MAGIC
# MAGIC 1. pull every deployed Clinics table from a TitanRDM branch into `{catalog}.{download_schema}`;
# MAGIC 2. push edited copies from `{catalog}.{upload_schema}` back to TitanRDM, first the whole domain and then
# MAGIC    a single table;
# MAGIC 3. fetch only what changed since step 1 with an incremental download.
# MAGIC
# MAGIC Tables are found by name: `{catalog}.{schema}.{domain_abbreviation}_{database_table_name}`, so the
# MAGIC `Site` table of the `Clinics` domain (abbreviation `clin`) lives in `{catalog}.{schema}.clin_sites`.
# MAGIC
# MAGIC The package (distribution `trdm`) is imported as `titan_rdm_sdk`, with the same classes and calls as
# MAGIC `titan-rdm-sdk`, so existing notebooks only change their `%pip install` line. It is not published on
# MAGIC PyPI: build the wheel from the trdm repository (Rust 1.95 and maturin 1.16 needed) on Linux of the
# MAGIC cluster's architecture (x86_64, or aarch64 for Graviton) with a glibc no newer than the cluster's, and
# MAGIC put it in a Unity Catalog volume:
# MAGIC
# MAGIC ```bash
# MAGIC cd python && maturin build --release   # prints the wheel: target/wheels/trdm-0.1.0-cp310-abi3-manylinux_….whl
# MAGIC databricks fs cp target/wheels/trdm-0.1.0-*.whl dbfs:/Volumes/main/default/libraries/
# MAGIC ```
# MAGIC
# MAGIC Then set the next cell's path to your volume and the wheel's exact file name.

# COMMAND ----------

# MAGIC %pip install /Volumes/main/default/libraries/trdm-0.1.0-cp310-abi3-manylinux_2_34_x86_64.whl

# COMMAND ----------

# Restart the Python process so the freshly installed package is the one imported below.
dbutils.library.restartPython()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Parameters
# MAGIC
# MAGIC Set these in the widget bar at the top of the notebook (or pass them as job parameters).
# MAGIC `catalog` defaults to `hive_metastore`; with Unity Catalog use the catalog you write to, e.g. `dev`.

# COMMAND ----------

dbutils.widgets.text("branch_name", "prod", "Branch Name")
dbutils.widgets.text("download_schema", "rdmin", "Download Schema")
dbutils.widgets.text("upload_schema", "rdmout", "Upload Schema")
dbutils.widgets.text("catalog", "hive_metastore", "Catalog")

BRANCH_NAME = dbutils.widgets.get("branch_name")
DOWNLOAD_SCHEMA = dbutils.widgets.get("download_schema")
UPLOAD_SCHEMA = dbutils.widgets.get("upload_schema")
CATALOG = dbutils.widgets.get("catalog")

DOMAIN = "Clinics"

# COMMAND ----------

# MAGIC %md
# MAGIC ## Connect
# MAGIC
# MAGIC The service URL and the OAuth client credentials come from the secret scope `titan-rdm`, created once:
# MAGIC
# MAGIC ```bash
# MAGIC databricks secrets create-scope --scope titan-rdm
# MAGIC databricks secrets put --scope titan-rdm --key url
# MAGIC databricks secrets put --scope titan-rdm --key client_id
# MAGIC databricks secrets put --scope titan-rdm --key client_secret
# MAGIC ```
# MAGIC
# MAGIC Databricks redacts secret values in cell output, so they never show up in the notebook.

# COMMAND ----------

from titan_rdm_sdk import TitanRDMClient
from titan_rdm_sdk.spark_sync import SparkSync

TITAN_URL = dbutils.secrets.get(scope="titan-rdm", key="url")
TITAN_CLIENT_ID = dbutils.secrets.get(scope="titan-rdm", key="client_id")
TITAN_CLIENT_SECRET = dbutils.secrets.get(scope="titan-rdm", key="client_secret")

client = TitanRDMClient(
    url=TITAN_URL,
    client_id=TITAN_CLIENT_ID,
    client_secret=TITAN_CLIENT_SECRET,
)
branch = client.get_branch_by_name(BRANCH_NAME)

# `spark` is the notebook's SparkSession.
sync = SparkSync(client=client, spark=spark)

print(f"Branch {branch.name!r} has id {branch.id}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Schemas
# MAGIC
# MAGIC Both schemas must exist before anything is synced: downloads write into `DOWNLOAD_SCHEMA`, uploads read
# MAGIC from `UPLOAD_SCHEMA`.

# COMMAND ----------

spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{DOWNLOAD_SCHEMA}")
spark.sql(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{UPLOAD_SCHEMA}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Download the Clinics domain
# MAGIC
# MAGIC One call exports every table of the domain deployed on the branch and replaces the matching tables in
# MAGIC `DOWNLOAD_SCHEMA`. The moment just before it starts is kept as the starting point of the incremental
# MAGIC download at the end of the notebook.

# COMMAND ----------

from datetime import datetime, timezone

CHANGES_SINCE = datetime.now(timezone.utc).isoformat(timespec="seconds")

download_results = sync.download_sync_by_convention(
    branch_id=branch.id,
    target_catalog=CATALOG,
    target_schema=DOWNLOAD_SCHEMA,
    source_domain_name=DOMAIN,
)

for r in download_results:
    print(f"  {r['table']}: {r['rows']} rows — {r['status']}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## What arrived
# MAGIC
# MAGIC Each result names the TitanRDM table (`database_table_name`); the Spark table adds the domain
# MAGIC abbreviation in front. The TitanRDM system columns (`trdm_record_id`, `trdm_effective_from`, …) follow
# MAGIC the table's own columns.

# COMMAND ----------

display(spark.sql(f"SHOW TABLES IN {CATALOG}.{DOWNLOAD_SCHEMA}"))

# COMMAND ----------

display(spark.table(f"{CATALOG}.{DOWNLOAD_SCHEMA}.clin_sites").limit(20))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Upload the domain from `UPLOAD_SCHEMA`
# MAGIC
# MAGIC Put the edited tables in `UPLOAD_SCHEMA` under the same names (`clin_sites`, `clin_delivery_centre`,
# MAGIC `clin_org_unit`) with the table's own columns. All of them go to TitanRDM in one import batch; a table
# MAGIC that is missing from the schema is reported as skipped.
# MAGIC
# MAGIC To try the round trip on a development branch, seed `UPLOAD_SCHEMA` from the download and edit a few
# MAGIC rows before running the next cell:
# MAGIC
# MAGIC ```python
# MAGIC for name in ["clin_sites", "clin_delivery_centre", "clin_org_unit"]:
# MAGIC     df = spark.table(f"{CATALOG}.{DOWNLOAD_SCHEMA}.{name}")
# MAGIC     own_columns = [c for c in df.columns if not c.startswith("trdm_")]
# MAGIC     df.select(own_columns).write.mode("overwrite").saveAsTable(f"{CATALOG}.{UPLOAD_SCHEMA}.{name}")
# MAGIC ```

# COMMAND ----------

# MAGIC %md
# MAGIC ### First, the plan
# MAGIC
# MAGIC `dry_run=True` sends nothing: each table's result is `planned`, with `plan` holding what TitanRDM would
# MAGIC insert, update, delete and leave unchanged (against a full export of the branch's current records) and
# MAGIC the first changes. The real upload below plans the same way first: a table it would not change is
# MAGIC `skipped (unchanged)`, and a `full` upload that would delete more than half of a table is refused unless
# MAGIC `allow_mass_delete=True`.

# COMMAND ----------

plan_results = sync.upload_sync_by_convention(
    branch_id=branch.id,
    source_catalog=CATALOG,
    source_schema=UPLOAD_SCHEMA,
    target_domain_name=DOMAIN,
    dry_run=True,
)

for r in plan_results:
    p = r["plan"] or {}
    print(
        f"  {r['table']}: +{p.get('inserted')} ~{p.get('updated')} -{p.get('deleted')}, "
        f"{p.get('unchanged')} unchanged — {r['status']}"
    )

# COMMAND ----------

upload_results = sync.upload_sync_by_convention(
    branch_id=branch.id,
    source_catalog=CATALOG,
    source_schema=UPLOAD_SCHEMA,
    target_domain_name=DOMAIN,
)

for r in upload_results:
    print(f"  {r['table']}: {r['rows']} rows — {r['status']}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Upload one table
# MAGIC
# MAGIC `target_table_names` limits the batch to the listed tables, by their TitanRDM display names. Here only
# MAGIC `Site` is sent; `Delivery Centre` and `Org Unit` are left as they are.

# COMMAND ----------

site_results = sync.upload_sync_by_convention(
    branch_id=branch.id,
    source_catalog=CATALOG,
    source_schema=UPLOAD_SCHEMA,
    target_domain_name=DOMAIN,
    target_table_names=["Site"],
    description="Site edits from Databricks",
)

for r in site_results:
    print(f"  {r['table']}: {r['rows']} rows — {r['status']}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Incremental download
# MAGIC
# MAGIC `pattern="incremental"` asks TitanRDM only for the records that changed after `high_water_mark` (here:
# MAGIC the start of the full download above, so it picks up the uploads this notebook just made) and merges them
# MAGIC into the tables in `DOWNLOAD_SCHEMA` by `trdm_record_id`: changed records are replaced, deleted ones
# MAGIC removed, every other row stays. Changed records carry `trdm_tran_code` (`i` inserted, `u` updated).
# MAGIC
# MAGIC `high_water_mark` may be left out: each download stores the newest change it saw in the table's
# MAGIC properties (`trdm.high_water_mark`), and the next incremental download starts from there.

# COMMAND ----------

incremental_results = sync.download_sync_by_convention(
    branch_id=branch.id,
    target_catalog=CATALOG,
    target_schema=DOWNLOAD_SCHEMA,
    source_domain_name=DOMAIN,
    pattern="incremental",
    high_water_mark=CHANGES_SINCE,
)

for r in incremental_results:
    print(f"  {r['table']}: {r['rows']} changed rows — {r['status']}")

# COMMAND ----------

display(
    spark.table(f"{CATALOG}.{DOWNLOAD_SCHEMA}.clin_sites")
    .where("trdm_tran_code IN ('i', 'u', 'd')")
    .select("site_code", "site_name", "trdm_tran_code", "trdm_effective_from")
)
