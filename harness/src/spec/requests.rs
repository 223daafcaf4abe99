//! The `load` section of a spec: request templates and flows, their placeholders, statuses
//! and captures, checked here so that every mistake in them is reported at its `file:line:column`
//! before the app starts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::build::{absolute, normalize};
use super::locate::Cx;
use super::templates::{self, Part};
use super::{SpecError, DEFAULT_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT, MAX_CONCURRENCY, METHODS};
use crate::load::{
    BodyTemplate, Capture, CaptureSource, LoadConfig, RequestTemplate, StatusPattern,
    BUILTIN_PLACEHOLDERS, DEFAULT_MAX_FAILURE_RATE,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLoad {
    pub(super) warmup: Option<Spanned<u64>>,
    concurrency: Option<Spanned<u64>>,
    requests: Option<Vec<Spanned<RawRequest>>>,
    flow: Option<Vec<Spanned<RawRequest>>>,
    script: Option<Spanned<String>>,
    cookies: Option<bool>,
    timeout: Option<Spanned<String>>,
    max_failure_rate: Option<Spanned<f64>>,
}

/// A request: `"METHOD /path"` or a mapping.
enum RawRequest {
    Line(String),
    Map(Box<RawRequestMap>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequestMap {
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    headers: Option<BTreeMap<String, String>>,
    json: Option<serde_json::Value>,
    body: Option<String>,
    status: Option<Spanned<serde_json::Value>>,
    capture: Option<BTreeMap<String, Spanned<String>>>,
}

impl<'de> Deserialize<'de> for RawRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRequest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a request: \"METHOD /path\" or a mapping with `path`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRequest, E> {
                Ok(RawRequest::Line(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRequest, A::Error> {
                RawRequestMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| RawRequest::Map(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

impl Cx<'_> {
    pub(super) fn load(&self, raw: RawLoad) -> Result<LoadConfig, SpecError> {
        let concurrency = match raw.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(c) => match usize::try_from(c.value) {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    let message = format!(
                        "`load.concurrency` must be from 1 to {MAX_CONCURRENCY} (found {})",
                        c.value
                    );
                    return self.fail(c.referenced, message);
                }
            },
        };
        let max_failure_rate = match raw.max_failure_rate {
            None => DEFAULT_MAX_FAILURE_RATE,
            Some(r) if (0.0..=1.0).contains(&r.value) => r.value,
            Some(r) => {
                let message = format!(
                    "`load.max_failure_rate` must be a fraction from 0 to 1, e.g. 0.05 for 5% (found {})",
                    r.value
                );
                return self.fail(r.referenced, message);
            }
        };
        let given: Vec<&str> = [
            raw.requests.as_ref().map(|_| "requests"),
            raw.flow.as_ref().map(|_| "flow"),
            raw.script.as_ref().map(|_| "script"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() != 1 {
            let message = if given.is_empty() {
                "`load` needs one of `requests` (request templates, cycled), `flow` (a sequence \
                 of requests per virtual user) or `script` (a module run once per iteration)"
                    .to_owned()
            } else {
                format!(
                    "`load` has {}; keep one: `requests`, `flow` and `script` are exclusive",
                    given
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            };
            let at = match given.last() {
                Some(last) => self.key_or_top(&format!("load.{last}")),
                None => self.key_or_top("load"),
            };
            return self.fail(at, message);
        }
        let (list, kind) = match (raw.requests, raw.flow) {
            (Some(list), _) => (list, "requests"),
            (None, Some(list)) => (list, "flow"),
            (None, None) => (Vec::new(), "script"),
        };
        if kind != "script" && list.is_empty() {
            let message = format!("`load.{kind}` must list at least one request, e.g. \"GET /\"");
            return self.fail(self.key_or_top(&format!("load.{kind}")), message);
        }
        let script = match raw.script {
            None => None,
            Some(script) => {
                let base = absolute(self.file.parent().unwrap_or(Path::new("")));
                let path = normalize(&base.join(&script.value));
                if !path.is_file() {
                    let problem = ["does not exist", "is not a file"][usize::from(path.exists())];
                    let message = format!(
                        "load.script `{}` {problem} (resolved to {})",
                        script.value,
                        path.display()
                    );
                    return self.fail(script.referenced, message);
                }
                Some(path)
            }
        };
        let flow = kind == "flow";
        let requests: Vec<RequestTemplate> = list
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.request(kind, i, r))
            .collect::<Result<_, _>>()?;
        if flow {
            self.check_flow_placeholders(&requests)?;
        }
        Ok(LoadConfig {
            concurrency,
            requests,
            cookies: raw.cookies.unwrap_or(flow),
            flow,
            script,
            request_timeout: self.duration(raw.timeout, "load.timeout", DEFAULT_REQUEST_TIMEOUT)?,
            max_failure_rate,
        })
    }

    /// Every `{name}` of a flow step is built in or captured by an earlier step.
    fn check_flow_placeholders(&self, steps: &[RequestTemplate]) -> Result<(), SpecError> {
        let mut captured: Vec<&str> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            for name in step.placeholders() {
                if BUILTIN_PLACEHOLDERS.contains(&name.as_str())
                    || captured.contains(&name.as_str())
                {
                    continue;
                }
                let earlier = if captured.is_empty() {
                    "none".to_owned()
                } else {
                    captured.join(", ")
                };
                let message = format!(
                    "`load.flow[{i}]` uses `{{{name}}}`, which no earlier step captures; \
                     valid placeholders here: {}, and captured before this step: {earlier}",
                    BUILTIN_PLACEHOLDERS.join(", ")
                );
                let at = self.key_or_top(&format!("load.flow[{i}]"));
                return self.fail(at, message);
            }
            captured.extend(step.capture.iter().map(|c| c.name.as_str()));
        }
        Ok(())
    }

    fn request(
        &self,
        kind: &str,
        i: usize,
        raw: Spanned<RawRequest>,
    ) -> Result<RequestTemplate, SpecError> {
        let (at, here) = (raw.referenced, format!("load.{kind}[{i}]"));
        let map = match raw.value {
            RawRequest::Map(map) => *map,
            RawRequest::Line(line) => {
                let mut words = line.split_whitespace();
                let (method, path) = match (words.next(), words.next(), words.next()) {
                    (Some(path), None, None) if path.starts_with('/') => ("GET", path),
                    (Some(method), Some(path), None) => (method, path),
                    _ => {
                        let message =
                            format!("request `{line}` must be \"METHOD /path\" or \"/path\"");
                        return self.fail(at, message);
                    }
                };
                let path = Spanned::new(path.to_owned(), at, at);
                return Ok(RequestTemplate::new(
                    self.method(method, at)?,
                    self.url_path(path, &here)?,
                ));
            }
        };
        let body = match (map.json, map.body) {
            (Some(_), Some(_)) => {
                let message = format!("`{here}` has both `json` and `body`; keep one");
                return self.fail(
                    self.index.key(&format!("{here}.body")).unwrap_or(at),
                    message,
                );
            }
            (json, text) => json
                .map(BodyTemplate::Json)
                .or(text.map(BodyTemplate::Text)),
        };
        let headers = map.headers.unwrap_or_default();
        for (name, value) in &headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) || value.contains(['\r', '\n']) {
                let key = self.index.key(&format!("{here}.headers.{name}"));
                let message = format!(
                    "header `{name}` must be a valid HTTP header name with a one-line value"
                );
                return self.fail(key.unwrap_or(at), message);
            }
        }
        self.template_texts(&here, at, &headers, body.as_ref())?;
        Ok(RequestTemplate {
            method: match map.method {
                None => "GET".to_owned(),
                Some(m) => self.method(&m.value, m.referenced)?,
            },
            path: self.url_path(map.path, &format!("{here}.path"))?,
            headers: headers.into_iter().collect(),
            body,
            status: match map.status {
                None => Vec::new(),
                Some(status) => self.status(status, &format!("{here}.status"))?,
            },
            capture: match map.capture {
                None => Vec::new(),
                Some(_) if kind != "flow" => {
                    let message = format!(
                        "`{here}.capture` needs a flow: captured values belong to one virtual \
                         user, so list the requests under `load.flow` instead of `load.{kind}`"
                    );
                    let at = self.index.key(&format!("{here}.capture")).unwrap_or(at);
                    return self.fail(at, message);
                }
                Some(capture) => self.captures(capture, &here)?,
            },
        })
    }

    /// `capture: {token: json.token, sid: cookie.sid, rid: header.x-request-id}`.
    fn captures(
        &self,
        raw: BTreeMap<String, Spanned<String>>,
        here: &str,
    ) -> Result<Vec<Capture>, SpecError> {
        let mut out = Vec::new();
        for (name, source) in raw {
            let key = self.index.key(&format!("{here}.capture.{name}"));
            let valid_name = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !BUILTIN_PLACEHOLDERS.contains(&name.as_str());
            if !valid_name {
                let message = format!(
                    "capture name `{name}` must be letters, digits or `_`, and not one of the \
                     built-in placeholders ({})",
                    BUILTIN_PLACEHOLDERS.join(", ")
                );
                return self.fail(key.unwrap_or(source.referenced), message);
            }
            let Some(parsed) = CaptureSource::parse(&source.value) else {
                let message = format!(
                    "`{here}.capture.{name}` must be json.FIELD (a dotted path, e.g. \
                     json.user.id), header.NAME or cookie.NAME (found `{}`)",
                    source.value
                );
                return self.fail(source.referenced, message);
            };
            out.push(Capture {
                name,
                source: parsed,
            });
        }
        Ok(out)
    }

    /// `status: 404`, `status: 4xx` or `status: [200, 404]`.
    fn status(
        &self,
        raw: Spanned<serde_json::Value>,
        what: &str,
    ) -> Result<Vec<StatusPattern>, SpecError> {
        use serde_json::Value;
        let one = |v: &Value| match v {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .and_then(StatusPattern::code),
            Value::String(s) => StatusPattern::parse(s),
            _ => None,
        };
        let patterns = match &raw.value {
            Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
            Value::Array(_) => None,
            single => one(single).map(|p| vec![p]),
        };
        match patterns {
            Some(patterns) => Ok(patterns),
            None => {
                let message = format!(
                    "`{what}` must be a status code from 100 to 599, a class (1xx, 2xx, 3xx, 4xx, 5xx) or a list of them (found `{}`)",
                    raw.value
                );
                self.fail(raw.referenced, message)
            }
        }
    }

    fn method(&self, method: &str, at: Location) -> Result<String, SpecError> {
        let upper = method.to_ascii_uppercase();
        if !METHODS.contains(&upper.as_str()) {
            let message = format!(
                "unknown method `{method}`; valid methods: {}",
                METHODS.join(", ")
            );
            return self.fail(at, message);
        }
        Ok(upper)
    }

    pub(super) fn url_path(&self, path: Spanned<String>, what: &str) -> Result<String, SpecError> {
        if !path.value.starts_with('/') || path.value.contains(char::is_whitespace) {
            let found = &path.value;
            let message =
                format!("`{what}` must start with `/` and contain no spaces (found `{found}`)");
            return self.fail(path.referenced, message);
        }
        if what.starts_with("load.") {
            let in_flow = what.starts_with("load.flow");
            if let Err(why) = templates::check(&path.value, Part::Path, in_flow) {
                return self.fail(path.referenced, format!("`{what}`: {why}"));
            }
        }
        let rendered = templates::sample(&path.value);
        let bad = rendered
            .chars()
            .find(|&c| !c.is_ascii_graphic() || "\"<>\\^`{|}".contains(c));
        let invalid = match bad {
            Some(c) => Some(format!("`{c}` is not allowed in a URI")),
            None => rendered.parse::<hyper::Uri>().err().map(|e| e.to_string()),
        };
        if let Some(why) = invalid {
            let found = &path.value;
            let message = format!(
                "`{what}` is not a valid request target ({why}; found `{found}`): percent-encode \
                 such characters (`%22` for `\"`, `%C3%A9` for `é`)"
            );
            return self.fail(path.referenced, message);
        }
        Ok(path.value)
    }

    /// Checks the placeholders in a request's header values and body.
    fn template_texts(
        &self,
        here: &str,
        at: Location,
        headers: &BTreeMap<String, String>,
        body: Option<&BodyTemplate>,
    ) -> Result<(), SpecError> {
        for (name, value) in headers {
            if let Err(why) = templates::check(value, Part::Text, here.starts_with("load.flow")) {
                let key = self.index.key(&format!("{here}.headers.{name}"));
                return self.fail(key.unwrap_or(at), format!("header `{name}`: {why}"));
            }
        }
        let (key, texts) = match body {
            None => return Ok(()),
            Some(BodyTemplate::Text(text)) => ("body", vec![text.as_str()]),
            Some(BodyTemplate::Json(value)) => {
                let mut texts = Vec::new();
                json_strings(value, &mut texts);
                ("json", texts)
            }
        };
        for text in texts {
            if let Err(why) = templates::check(text, Part::Text, here.starts_with("load.flow")) {
                let at = self.index.key(&format!("{here}.{key}")).unwrap_or(at);
                return self.fail(at, format!("`{here}.{key}`: {why}"));
            }
        }
        Ok(())
    }
}

/// Every string of a JSON body, keys included (where `{i}` is substituted).
fn json_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    use serde_json::Value;
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// A byte allowed in an HTTP header name (RFC 9110 `tchar`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
