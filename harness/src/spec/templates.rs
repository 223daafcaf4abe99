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
pub(super) const PLACEHOLDERS: &[Placeholder] = &[Placeholder {
    name: "i",
    meaning: "the request's global index",
    sample: "0",
}];

/// Where a template text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// A path: braces other than placeholders are errors (a URI cannot hold them).
    Path,
    /// A header value or a body: other braces are literal text (JSON in a text body).
    Text,
}

/// Checks the placeholders of `text`; `Err` says what is wrong.
pub(super) fn check(text: &str, part: Part) -> Result<(), String> {
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
                    if !PLACEHOLDERS.iter().any(|p| p.name == name) {
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

/// `text` with every placeholder replaced by its sample value.
pub(super) fn sample(text: &str) -> String {
    PLACEHOLDERS.iter().fold(text.to_string(), |t, p| {
        t.replace(&format!("{{{}}}", p.name), p.sample)
    })
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
        assert!(check("/items/{i}?q={i}", Part::Path).is_ok());
        let err = check("/items/{j}", Part::Path).unwrap_err();
        assert!(
            err.starts_with("unknown placeholder `{j}`; valid placeholders: `{i}`"),
            "{err}"
        );
        assert!(check("/a{b", Part::Path)
            .unwrap_err()
            .contains("stray `{` at character 3"));
        assert!(check("/a}b", Part::Path).unwrap_err().contains("stray `}`"));
        assert!(check(r#"{"order": "{i}"}"#, Part::Text).is_ok());
        assert!(check("{x}", Part::Text).is_err());
        assert_eq!(sample("/items/{i}"), "/items/0");
    }
}
