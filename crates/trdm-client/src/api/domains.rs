//! Domains: `GET /api/v1/domains[/{id}]`.

use crate::Result;
use crate::api::{eq, pick_one};
use crate::client::Client;
use crate::models::Domain;

impl Client {
    /// Every domain (all pages).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        self.list_all("/api/v1/domains", Vec::new()).await
    }

    /// One domain by id.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn domain(&self, id: i64) -> Result<Domain> {
        self.get_json(&format!("/api/v1/domains/{id}"), &[]).await
    }

    /// The domain with exactly this name: [`Error::NotFound`](crate::Error::NotFound) on none,
    /// [`Error::Ambiguous`](crate::Error::Ambiguous) on several.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn domain_by_name(&self, name: &str) -> Result<Domain> {
        let found: Vec<Domain> = self
            .list_all("/api/v1/domains", vec![eq("name", name)])
            .await?;
        let matches = found.into_iter().filter(|d| d.name == name).collect();
        pick_one(matches, &format!("domain named {name:?}"), "use domain(id)")
    }
}
