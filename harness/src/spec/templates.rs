//! Placeholders in `load` request templates (`{i}`), checked when the spec is read so that a
//! typo (`{j}`), a stray brace or a character a URI cannot hold is reported at
//! `file:line:column` before any process starts, instead of being sent literally.
//!
//! [`PLACEHOLDERS`] is the one table of names: a new placeholder is a new row here (and its
//! substitution in [`crate::load`]).

/// A placeholder the load generator fills in.
pub(super) struct Placeholder {
    /// The name between braces.
    pub name: &'static str,
    /// What it becomes, for error messages.
    pub meaning: &'static str,
    /// A value of the kind it becomes, used to check that a rendered path is a valid URI.
    pub sample: &'static str,
}

/// Every placeholder a request template may use.
pub(super) const PLACEHOLDERS: &[Placeholder] = &[
    Placeholder {
        name: "i",
        meaning: "the request's global index",
        sample: "0",
    },
    Placeholder {
        name: "uuid",
        meaning: "a random UUID",
        sample: "00000000-0000-4000-8000-000000000000",
    },
    Placeholder {
        name: "random",
        meaning: "a random number",
        sample: "0",
    },
];

/// Where a template text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// A path: braces other than placeholders are errors (a URI cannot hold them).
    Path,
    /// A header value or a body: other braces are literal text (JSON in a text body).
    Text,
}

/// Checks the placeholders of `text`; `Err` says what is wrong. With `captures_allowed` (flow
/// steps, which may use values captured by earlier steps, checked by the flow's own rule),
/// any name is accepted and only stray braces are errors.
pub(super) fn check(text: &str, part: Part, captures_allowed: bool) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                let name_len = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let close = i + 1 + name_len;
                if name_len > 0 && bytes.get(close) == Some(&b'}') {
                    let name = &text[i + 1..close];
                    if !captures_allowed && !PLACEHOLDERS.iter().any(|p| p.name == name) {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}`; valid placeholders: {}",
                            valid_list()
                        ));
                    }
                    i = close + 1;
                    continue;
                }
                if part == Part::Path {
                    return Err(format!(
                        "stray `{{` at character {}: a path may hold braces only as a \
                         placeholder ({})",
                        i + 1,
                        valid_list()
                    ));
                }
            }
            b'}' if part == Part::Path => {
                return Err(format!(
                    "stray `}}` at character {}: a path may hold braces only as a placeholder \
                     ({})",
                    i + 1,
                    valid_list()
                ));
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// `text` with every placeholder replaced by its sample value (a captured value by `0`).
pub(super) fn sample(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if len > 0 && after.as_bytes().get(len) == Some(&b'}') {
            let name = &after[..len];
            out.push_str(&rest[..open]);
            let known = PLACEHOLDERS.iter().find(|p| p.name == name);
            out.push_str(known.map_or("0", |p| p.sample));
            rest = &after[len + 1..];
        } else {
            out.push_str(&rest[..=open]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn valid_list() -> String {
    PLACEHOLDERS
        .iter()
        .map(|p| format!("`{{{}}}` ({})", p.name, p.meaning))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_placeholders_pass_and_others_are_named() {
        assert!(check("/items/{i}?q={uuid}", Part::Path, false).is_ok());
        let err = check("/items/{j}", Part::Path, false).unwrap_err();
        assert!(
            err.starts_with("unknown placeholder `{j}`; valid placeholders: `{i}`"),
            "{err}"
        );
        assert!(check("/items/{token}", Part::Path, true).is_ok());
        let err = check("/a{b", Part::Path, true).unwrap_err();
        assert!(err.contains("stray `{` at character 3"), "{err}");
        let err = check("/a}b", Part::Path, false).unwrap_err();
        assert!(err.contains("stray `}`"), "{err}");
        assert!(check(r#"{"order": "{i}"}"#, Part::Text, false).is_ok());
        assert!(check("{x}", Part::Text, false).is_err());
        assert_eq!(sample("/items/{i}/{token}/{"), "/items/0/0/{");
    }

    #[test]
    fn the_table_names_what_the_load_generator_fills_in() {
        let names: Vec<&str> = PLACEHOLDERS.iter().map(|p| p.name).collect();
        assert_eq!(names, crate::load::BUILTIN_PLACEHOLDERS);
    }
}
