//! Wall-clock helpers: the API's timestamps are RFC 3339 strings in UTC; the databases store microseconds.

/// Microseconds since the Unix epoch, now.
pub(crate) fn now() -> i64 {
    trdm_format::temporal::now_micros()
}

/// RFC 3339 text (`2026-01-02T03:04:05.123456Z`) of a microsecond timestamp.
pub(crate) fn iso(micros: i64) -> String {
    let mut out = String::with_capacity(32);
    trdm_format::temporal::format_timestamp(micros, &mut out);
    out.push('Z');
    out
}
