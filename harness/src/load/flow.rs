//! What makes a sequence of requests a flow: placeholders filled per request (`{i}`,
//! `{uuid}`, `{random}`) and per virtual user (values captured from earlier answers, such as
//! a login's token), and the captures themselves.
//!
//! A flow (`load.flow` in a spec) is run by each virtual user from its first step to its last,
//! over and over, with its own cookie jar and its own captured values: log in, then use the
//! token. A step that fails sends the user back to the first step, as a client that lost its
//! session would start again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The placeholders every template may use, besides captured names.
pub const BUILTIN_PLACEHOLDERS: [&str; 3] = ["i", "uuid", "random"];

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSource {
    /// A field of a JSON answer, by path: `json.token`, `json.items.0.id`.
    Json(Vec<String>),
    /// A response header (case-insensitive): `header.x-request-id`.
    Header(String),
    /// A cookie the answer sets: `cookie.sid`.
    Cookie(String),
}

impl CaptureSource {
    /// Parses `json.PATH`, `header.NAME` or `cookie.NAME`.
    pub fn parse(text: &str) -> Option<CaptureSource> {
        let (kind, rest) = text.trim().split_once('.')?;
        if rest.is_empty() {
            return None;
        }
        match kind {
            "json" => {
                let path: Vec<String> = rest.split('.').map(str::to_owned).collect();
                (!path.iter().any(String::is_empty)).then_some(CaptureSource::Json(path))
            }
            "header" => Some(CaptureSource::Header(rest.to_ascii_lowercase())),
            "cookie" => Some(CaptureSource::Cookie(rest.to_owned())),
            _ => None,
        }
    }

    /// Whether the JSON body must be read to capture this.
    pub fn needs_body(&self) -> bool {
        matches!(self, CaptureSource::Json(_))
    }
}

/// `name: source` of a template's `capture:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// The placeholder name later templates use: `{token}`.
    pub name: String,
    /// Where the value comes from.
    pub source: CaptureSource,
}

/// The value of a JSON field at `path` as text (strings unquoted, other values as JSON).
pub(super) fn json_field(body: &[u8], path: &[String]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut at = &value;
    for key in path {
        at = match at {
            serde_json::Value::Object(map) => map.get(key)?,
            serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match at {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The value a `Set-Cookie` header gives to `name`.
pub(super) fn cookie_value<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    let (key, value) = set_cookie.split(';').next()?.split_once('=')?;
    (key.trim() == name).then_some(value.trim())
}

/// A small, fast pseudo-random generator (xorshift64*), one per virtual user: `{uuid}` and
/// `{random}` need to differ, not to be unpredictable.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = SEQUENCE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) ^ nanos;
        Rng(seed | 1)
    }
}

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A random (version 4) UUID.
    pub(super) fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let a = (a & !0xf000) | 0x4000; // version 4
        let b = (b & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// What placeholders stand for in one request.
pub(super) struct Values<'a> {
    pub(super) index: u64,
    pub(super) captured: &'a BTreeMap<String, String>,
    pub(super) rng: &'a mut Rng,
}

impl Values<'_> {
    /// `text` with every `{name}` it knows replaced; anything else is left as written.
    pub(super) fn fill(&mut self, text: &str) -> String {
        if !text.contains('{') {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 16);
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_end = after.find('}');
            let value = name_end.and_then(|end| self.lookup(&after[..end]));
            match (name_end, value) {
                (Some(end), Some(value)) => {
                    out.push_str(&value);
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        match name {
            "i" => Some(self.index.to_string()),
            "uuid" => Some(self.rng.uuid()),
            "random" => Some((self.rng.next() >> 32).to_string()),
            other => self.captured.get(other).cloned(),
        }
    }
}

/// The placeholder names `{name}` used in `text`.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(end) if !after[..end].is_empty() && !after[..end].contains('{') => {
                names.push(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_builtin_and_captured_placeholders() {
        let captured = BTreeMap::from([("token".to_string(), "abc".to_string())]);
        let mut rng = Rng::default();
        let mut values = Values {
            index: 7,
            captured: &captured,
            rng: &mut rng,
        };
        assert_eq!(
            values.fill("/u/{i}?t={token}&x={nope}&{"),
            "/u/7?t=abc&x={nope}&{"
        );
        let uuid = values.fill("{uuid}");
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_ne!(uuid, values.fill("{uuid}"));
        assert!(values.fill("{random}").parse::<u64>().is_ok());
        assert_eq!(placeholders("/a/{i}/{token}/{}/{x"), vec!["i", "token"]);
    }

    #[test]
    fn captures_from_json_headers_and_cookies() {
        let body = br#"{"token": "t1", "user": {"id": 42}, "items": [{"id": "a"}]}"#;
        let path = |p: &str| p.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(json_field(body, &path("token")).as_deref(), Some("t1"));
        assert_eq!(json_field(body, &path("user.id")).as_deref(), Some("42"));
        assert_eq!(json_field(body, &path("items.0.id")).as_deref(), Some("a"));
        assert_eq!(json_field(body, &path("missing")), None);
        assert_eq!(
            cookie_value("sid=s%3A1; Path=/; HttpOnly", "sid"),
            Some("s%3A1")
        );
        assert_eq!(cookie_value("other=1", "sid"), None);
        assert_eq!(
            CaptureSource::parse("header.X-Id"),
            Some(CaptureSource::Header("x-id".into()))
        );
        for bad in ["json", "json.", "body.x", "json.a..b", ""] {
            assert_eq!(CaptureSource::parse(bad), None, "{bad}");
        }
    }
}
