//! Page-number pagination (protocol A §4): `page` from 1, `per_page` from the builder, stop once
//! `page >= meta.total_pages` (a missing `meta` counts as one page, as the incumbent SDK reads it) or a page
//! comes back empty.

use futures_util::{Stream, TryStreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Result;
use crate::client::Client;

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Envelope<T> {
    #[serde(default = "Vec::new", deserialize_with = "crate::models::null_default")]
    data: Vec<T>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    total_pages: Option<u64>,
}

impl Client {
    /// The pages of a collection, fetched one at a time as the stream is polled.
    pub(crate) fn pages<T>(
        &self,
        path: String,
        query: Vec<(&'static str, String)>,
    ) -> impl Stream<Item = Result<Vec<T>>> + Send + '_
    where
        T: DeserializeOwned + Send + 'static,
    {
        futures_util::stream::try_unfold(Some(1u64), move |page| {
            let (path, mut query) = (path.clone(), query.clone());
            async move {
                let Some(page) = page else { return Ok(None) };
                query.push(("page", page.to_string()));
                query.push(("per_page", self.inner.page_size.to_string()));
                let envelope: Envelope<T> = self.get_json(&path, &query).await?;
                let total_pages = envelope.meta.and_then(|m| m.total_pages).unwrap_or(1);
                let next = (page < total_pages && !envelope.data.is_empty()).then_some(page + 1);
                Ok(Some((envelope.data, next)))
            }
        })
    }

    /// The last item of a collection (the newest: lists are in `id` order, protocol A §4), from at most two
    /// one-item pages, so the cost does not grow with the collection. A server that sends no `meta` is
    /// read in full.
    pub(crate) async fn last_item(
        &self,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Option<serde_json::Value>> {
        let page = |n: u64| {
            let mut query = query.clone();
            query.push(("page", n.to_string()));
            query.push(("per_page", "1".to_owned()));
            async move {
                self.get_json::<Envelope<serde_json::Value>>(path, &query)
                    .await
            }
        };
        let first = page(1).await?;
        let Some(total) = first.meta.and_then(|m| m.total_pages) else {
            let all: Vec<serde_json::Value> = self.list_all(path, query.clone()).await?;
            return Ok(all.into_iter().last());
        };
        if total <= 1 {
            return Ok(first.data.into_iter().next());
        }
        Ok(page(total).await?.data.into_iter().next())
    }

    /// Every item of a collection.
    pub(crate) async fn list_all<T>(
        &self,
        path: impl Into<String>,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<T>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.pages(path.into(), query).try_concat().await
    }
}
