//! The REST resources, one module per resource. Each method is a thin `async fn` on [`Client`] that names the
//! path, the query and how the call may be retried; the machinery is in `http`.

mod branches;
mod domains;
mod exports;
mod imports;
mod tables;

use serde_json::Value;

use crate::client::Client;
use crate::{Error, Result};

/// A `q=field:eq:value` filter (protocol A §4).
pub(crate) fn eq(field: &str, value: &str) -> (&'static str, String) {
    ("q", format!("{field}:eq:{value}"))
}

/// A correlation code for a create whose caller gave none: unique, so a recovery lookup finds only ours.
pub(crate) fn new_correlation_code() -> String {
    format!("trdm-{}", uuid::Uuid::new_v4())
}

/// The one match of a lookup by name, or `NotFound` / `Ambiguous`.
pub(crate) fn pick_one<T>(mut matches: Vec<T>, what: &str, hint: &str) -> Result<T> {
    match matches.len() {
        0 => Err(Error::NotFound {
            message: format!("no {what}"),
        }),
        1 => Ok(matches.remove(0)),
        n => Err(Error::Ambiguous {
            message: format!("{n} matches for {what}; {hint}"),
        }),
    }
}

/// A JSON field as text: strings as they are, numbers printed (keys may be either).
pub(crate) fn text(value: &Value, field: &str) -> Option<String> {
    match value.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub(crate) fn id(value: &Value) -> Option<i64> {
    value.get("id").and_then(Value::as_i64)
}

/// What a create's recovery lookup must ignore: resources that already carried the caller's correlation code
/// before the create was sent, i.e. every id up to the newest of them (lists are in `id` order). Empty (and
/// free) for generated codes, which nothing else carries.
pub(crate) struct Baseline {
    after: Option<i64>,
}

impl Baseline {
    pub(crate) fn empty() -> Self {
        Baseline { after: None }
    }

    pub(crate) fn of(items: &[Value]) -> Self {
        Baseline {
            after: items.iter().filter_map(id).max(),
        }
    }

    /// The first item (lowest id) newer than the baseline that `matches`.
    pub(crate) fn newest_match(
        &self,
        items: Vec<Value>,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        items
            .into_iter()
            .filter(|v| {
                id(v).is_some_and(|i| self.after.is_none_or(|after| i > after)) && matches(v)
            })
            .min_by_key(|v| id(v).unwrap_or(i64::MAX))
    }
}

impl Client {
    /// Whether a correlation code was given, and the code to send.
    pub(crate) fn correlation_code(given: Option<&str>) -> (bool, String) {
        match given.filter(|c| !c.is_empty()) {
            Some(code) => (true, code.to_owned()),
            None => (false, new_correlation_code()),
        }
    }

    /// The baseline of a create into the collection at `path` under a correlation code: the newest item
    /// already carrying `code`, read in at most two requests however many earlier runs used the same code
    /// (the convention syncs' default codes repeat on every run). Empty for generated codes.
    pub(crate) async fn baseline(&self, given: bool, path: &str, code: &str) -> Result<Baseline> {
        if !given {
            return Ok(Baseline::empty());
        }
        let newest = self
            .last_item(path, vec![eq("correlation_code", code)])
            .await?;
        Ok(Baseline::of(newest.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_lookups_fail_clearly_on_zero_or_several() {
        assert_eq!(
            pick_one(vec![1], "branch named \"dev\"", "hint").unwrap(),
            1
        );
        let zero = pick_one(Vec::<i32>::new(), "branch named \"dev\"", "hint").unwrap_err();
        assert_eq!(zero.to_string(), "not found: no branch named \"dev\"");
        let two = pick_one(vec![1, 2], "branch named \"dev\"", "pass owner_id").unwrap_err();
        assert_eq!(
            two.to_string(),
            "ambiguous: 2 matches for branch named \"dev\"; pass owner_id"
        );
    }

    #[test]
    fn baselines_hide_older_resources_with_the_same_code() {
        let old = serde_json::json!({"id": 3, "k": "a"});
        let baseline = Baseline::of(std::slice::from_ref(&old));
        let items = vec![
            old,
            serde_json::json!({"id": 9, "k": "a"}),
            serde_json::json!({"id": 7, "k": "b"}),
        ];
        let found = baseline.newest_match(items, |v| v["k"] == "a").unwrap();
        assert_eq!(id(&found), Some(9));
    }
}
