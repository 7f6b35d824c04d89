//! Collections (part A §4): `page`/`per_page` pagination with a `data` + `meta` envelope, and the `q` filter
//! grammar `field:op:value` (ops `eq` and `cont`; a bare `q` searches `name`). Filtering runs over the JSON
//! objects a collection returns, so every endpoint filters on exactly the fields it shows.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::decisions::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use crate::error::{ApiError, ApiResult};

/// Query parameters common to every collection.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    page: Option<String>,
    per_page: Option<String>,
    q: Option<String>,
}

enum Op {
    Eq,
    Cont,
}

struct Filter {
    field: String,
    op: Op,
    value: String,
}

fn parse_q(q: &str) -> ApiResult<Filter> {
    let mut parts = q.splitn(3, ':');
    let first = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => Ok(Filter {
            field: "name".into(),
            op: Op::Cont,
            value: q.to_owned(),
        }),
        (Some(op), Some(value)) => {
            let op = match op {
                "eq" => Op::Eq,
                "cont" => Op::Cont,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown operator {other:?} in q (supported: eq, cont)"
                    )));
                }
            };
            Ok(Filter {
                field: first.to_owned(),
                op,
                value: value.to_owned(),
            })
        }
        (Some(_), None) => Err(ApiError::BadRequest(format!(
            "q must look like field:op:value, got {q:?}"
        ))),
    }
}

fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => "null".into(),
        other => other.to_string(),
    }
}

/// A `page` or `per_page` value: a whole number of at least 1 in ASCII digits. `None` when it has too many
/// digits for any integer (the caller decides what that means).
fn parse_positive(name: &str, raw: Option<&str>, default: u64) -> ApiResult<Option<u64>> {
    let bad = |s: &str| {
        ApiError::BadRequest(format!(
            "{name} must be a whole number of at least 1, got {s:?}"
        ))
    };
    match raw {
        None | Some("") => Ok(Some(default)),
        Some(s) if !s.bytes().all(|b| b.is_ascii_digit()) => Err(bad(s)),
        Some(s) => match s.parse::<u64>() {
            Ok(0) => Err(bad(s)),
            Ok(n) => Ok(Some(n)),
            // Only digits, so the only way to fail is having too many of them.
            Err(_) => Ok(None),
        },
    }
}

/// Filters `items` by `q` and cuts out the requested page. `fields` are the names `q` may use.
pub(crate) fn page(items: Vec<Json>, params: &ListParams, fields: &[&str]) -> ApiResult<Json> {
    let page = parse_positive("page", params.page.as_deref(), 1)?.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "page {:?} is too large",
            params.page.as_deref().unwrap_or_default()
        ))
    })?;
    // Any per_page above the maximum is clamped to it, however many digits it has.
    let per_page = parse_positive(
        "per_page",
        params.per_page.as_deref(),
        u64::from(DEFAULT_PER_PAGE),
    )?
    .map_or(u64::from(MAX_PER_PAGE), |n| n.min(u64::from(MAX_PER_PAGE)));
    let filtered: Vec<Json> = match params.q.as_deref().filter(|q| !q.is_empty()) {
        None => items,
        Some(q) => {
            let f = parse_q(q)?;
            if !fields.contains(&f.field.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "unknown field {:?} in q (this collection filters on: {})",
                    f.field,
                    fields.join(", ")
                )));
            }
            let needle = f.value.to_lowercase();
            items
                .into_iter()
                .filter(|item| {
                    let got = text_of(item.get(&f.field).unwrap_or(&Json::Null));
                    match f.op {
                        Op::Eq => got == f.value,
                        Op::Cont => got.to_lowercase().contains(&needle),
                    }
                })
                .collect()
        }
    };
    let total = filtered.len();
    // per_page is at most MAX_PER_PAGE, so it fits any usize; the offset saturates instead of wrapping.
    let per_page_n = per_page as usize;
    let total_pages = total.div_ceil(per_page_n);
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let data: Vec<Json> = filtered.into_iter().skip(skip).take(per_page_n).collect();
    Ok(json!({
        "data": data,
        "meta": { "page": page, "per_page": per_page, "total_count": total, "total_pages": total_pages },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(page: Option<&str>, per_page: Option<&str>, q: Option<&str>) -> ListParams {
        ListParams {
            page: page.map(Into::into),
            per_page: per_page.map(Into::into),
            q: q.map(Into::into),
        }
    }

    #[test]
    fn q_grammar_and_pages() {
        let items: Vec<Json> = (1..=5)
            .map(|i| json!({"id": i, "name": format!("Name:{i}"), "flag": i % 2 == 0}))
            .collect();
        let all = page(
            items.clone(),
            &params(Some("2"), Some("2"), None),
            &["name"],
        )
        .unwrap();
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        assert_eq!(all["data"][0]["id"], 3);
        assert_eq!(all["meta"]["total_pages"], 3);
        let eq = page(
            items.clone(),
            &params(None, None, Some("name:eq:Name:3")),
            &["name"],
        )
        .unwrap();
        assert_eq!(eq["meta"]["total_count"], 1, "the value may contain ':'");
        let flag = page(
            items.clone(),
            &params(None, None, Some("flag:eq:true")),
            &["flag"],
        )
        .unwrap();
        assert_eq!(flag["meta"]["total_count"], 2);
        let bare = page(
            items.clone(),
            &params(None, None, Some("name:4")),
            &["name"],
        );
        assert!(
            bare.is_err(),
            "two parts is neither bare nor field:op:value"
        );
        let sub = page(items.clone(), &params(None, None, Some("NAME")), &["name"]).unwrap();
        assert_eq!(sub["meta"]["total_count"], 5);
        assert!(
            page(
                items.clone(),
                &params(None, None, Some("nope:eq:1")),
                &["name"]
            )
            .is_err()
        );
        assert!(
            page(
                items.clone(),
                &params(None, None, Some("name:gt:1")),
                &["name"]
            )
            .is_err()
        );
        assert!(page(items.clone(), &params(Some("0"), None, None), &["name"]).is_err());
        let empty = page(Vec::new(), &params(None, None, None), &["name"]).unwrap();
        assert_eq!(empty["meta"]["total_pages"], 0);
        let clamp = page(items, &params(None, Some("5000"), None), &["name"]).unwrap();
        assert_eq!(clamp["meta"]["per_page"], 1000);
    }
}
