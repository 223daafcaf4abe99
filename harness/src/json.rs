//! Parsing JSON whose nesting follows the app's call stacks: the inspector's messages and the
//! sampling heap profiles written from them.
//!
//! A sampling heap profile is a call tree: each frame nests one object and one array inside
//! its caller's, and V8 records up to 128 frames a stack, so a profile of an app with deep
//! stacks (a recursive compiler, a long middleware chain) nests about 260 levels. serde_json
//! stops at 128 by default, which failed whole runs; its limit is lifted here, and a nesting
//! bound of our own, checked by a plain byte scan before parsing, keeps the parser's recursion
//! (and the stack it uses) small whatever arrives.

use serde::de::{DeserializeOwned, Error as _};

/// The deepest nesting of arrays and objects accepted in one message: twice V8's 128 frames a
/// stack, with room to spare, and shallow enough for a 2 MiB thread stack in a debug build.
pub const MAX_NESTING: usize = 512;

/// Parses one protocol message (or a JSON text inside one), refusing one nested deeper than
/// [`MAX_NESTING`].
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    parse_slice(text.as_bytes())
}

/// [`parse`] for bytes, such as a file's.
pub fn parse_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let depth = nesting(bytes);
    if depth > MAX_NESTING {
        return Err(serde_json::Error::custom(format!(
            "nested {depth} levels deep, more than the {MAX_NESTING} accepted"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// The deepest nesting of `[` and `{` outside strings (malformed text is left to the parser).
fn nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn nested(levels: usize) -> String {
        let mut text = String::new();
        for _ in 0..levels / 2 {
            text.push_str(r#"{"children":["#);
        }
        for _ in 0..levels / 2 {
            text.push_str("]}");
        }
        text
    }

    #[test]
    fn a_profile_as_deep_as_v8_records_is_read() {
        // 128 frames: serde_json's own limit refuses this.
        let text = nested(2 * 128 + 4);
        assert!(serde_json::from_str::<Value>(&text).is_err());
        let value: Value = parse(&text).unwrap();
        assert!(value.get("children").is_some());
    }

    #[test]
    fn as_deep_as_the_bound_is_read_on_a_test_thread_stack() {
        let value: Value = parse(&nested(MAX_NESTING)).unwrap();
        assert!(value.is_object());
    }

    #[test]
    fn deeper_than_the_bound_is_refused_without_parsing() {
        let error = parse::<Value>(&nested(MAX_NESTING + 2)).unwrap_err();
        assert!(
            error.to_string().contains("more than the 512 accepted"),
            "{error}"
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!(r#"{{"a":"{}\"[[","b":[1]}}"#, "[".repeat(2000));
        assert_eq!(nesting(text.as_bytes()), 2);
        let value: Value = parse(&text).unwrap();
        assert_eq!(value["b"][0], 1);
    }

    #[test]
    fn trailing_text_is_an_error_as_with_from_str() {
        assert!(parse::<Value>("{} x").is_err());
    }
}
