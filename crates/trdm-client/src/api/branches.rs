//! Branches: `GET /api/v1/branches[/{id}]`.

use crate::Result;
use crate::api::{eq, pick_one};
use crate::client::Client;
use crate::models::Branch;

impl Client {
    /// Every branch (all pages).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn branches(&self) -> Result<Vec<Branch>> {
        self.list_all("/api/v1/branches", Vec::new()).await
    }

    /// One branch by id; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn branch(&self, id: i64) -> Result<Branch> {
        self.get_json(&format!("/api/v1/branches/{id}"), &[]).await
    }

    /// The branch with exactly this name (and owner, when given). Private branches of different developers
    /// may share a name: zero matches is [`Error::NotFound`](crate::Error::NotFound), several is
    /// [`Error::Ambiguous`](crate::Error::Ambiguous).
    #[tracing::instrument(level = "debug", skip(self))]
    pub async fn branch_by_name(&self, name: &str, owner_id: Option<i64>) -> Result<Branch> {
        let found: Vec<Branch> = self
            .list_all("/api/v1/branches", vec![eq("name", name)])
            .await?;
        let matches: Vec<Branch> = found
            .into_iter()
            .filter(|b| b.name == name && owner_id.is_none_or(|o| b.owner_id == Some(o)))
            .collect();
        let what = match owner_id {
            Some(owner) => format!("branch named {name:?} owned by user {owner}"),
            None => format!("branch named {name:?}"),
        };
        pick_one(
            matches,
            &what,
            "pass owner_id to choose one, or use branch(id)",
        )
    }
}
