//! Locating the statement that allocates, in the app's own source.
//!
//! V8's allocation tracking records stack frames as functions, positioned where each function
//! is defined; a leak is easier to fix when the report points at the allocating statement
//! itself. For classes whose allocation has a recognisable call (`new Date(`, `setInterval(`,
//! `Buffer.from(`, `new Session(`), the function's body is read from the app's source and the
//! call is reported when it appears exactly once there. Anything ambiguous stays at the
//! function: this narrows a position, it never guesses between two.

use std::path::Path;

use serde::Serialize;

/// A position in a source file and what stands there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The call that allocates, e.g. `new Date(`.
    pub call: String,
}

/// The calls that allocate objects of a class, as they appear in source.
fn allocating_calls(class: &str) -> Vec<String> {
    let buffers = [
        "Buffer.alloc(",
        "Buffer.allocUnsafe(",
        "Buffer.from(",
        "Buffer.concat(",
        "new Uint8Array(",
        "new ArrayBuffer(",
    ];
    match class {
        "Timeout" => vec!["setTimeout(".into(), "setInterval(".into()],
        "Immediate" => vec!["setImmediate(".into()],
        "Buffer" | "Uint8Array" | "ArrayBuffer" | "system / JSArrayBufferData" => {
            buffers.iter().map(|c| c.to_string()).collect()
        }
        name if !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') =>
        {
            vec![format!("new {name}(")]
        }
        _ => Vec::new(),
    }
}

/// Finds the one statement of the function at `file:line:column` (relative to `app_root`)
/// that allocates `class`. `None` when the file cannot be read, or the call is absent or
/// appears more than once in the function.
pub fn find_statement(
    app_root: &Path,
    file: &str,
    line: u32,
    column: u32,
    class: &str,
) -> Option<Statement> {
    let calls = allocating_calls(class);
    if calls.is_empty() || line == 0 || Path::new(file).is_absolute() || file.contains("..") {
        return None;
    }
    let source = std::fs::read_to_string(app_root.join(file)).ok()?;
    let start = offset_of(&source, line, column)?;
    let code = code_only(&source);
    let body = &code[start..start + function_len(&code[start..])];
    let mut found: Vec<(usize, &str)> = Vec::new();
    for call in &calls {
        for at in memchr::memmem::find_iter(body, call.as_bytes()) {
            let boundary = at == 0 || !body[at - 1].is_ascii_alphanumeric();
            if boundary {
                found.push((at, call));
            }
        }
    }
    let [(at, call)] = found.as_slice() else {
        return None;
    };
    let absolute = start + at;
    let line = source[..absolute].matches('\n').count() as u32 + 1;
    let line_start = source[..absolute].rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..absolute].chars().count() as u32 + 1;
    Some(Statement {
        line,
        column,
        call: call.to_string(),
    })
}

/// The byte offset of a 1-based line and column.
fn offset_of(source: &str, line: u32, column: u32) -> Option<usize> {
    let mut offset = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col: usize = text
                .char_indices()
                .nth(column.saturating_sub(1) as usize)
                .map(|(b, _)| b)?;
            return Some(offset + col);
        }
        offset += text.len();
    }
    None
}

/// `text` with the contents of strings, template literals and comments blanked to spaces
/// (newlines kept), so byte offsets stay those of the source and only code can match.
fn code_only(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        let to = to.min(out.len());
        for b in &mut out[from.min(to)..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while i < out.len() {
        match out[i] {
            q @ (b'"' | b'\'' | b'`') => {
                let start = i + 1;
                i += 1;
                while i < out.len() && out[i] != q {
                    if out[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                blank(&mut out, start, i);
            }
            b'/' if out.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < out.len() && out[i] != b'\n' {
                    i += 1;
                }
                blank(&mut out, start, i);
                continue;
            }
            b'/' if out.get(i + 1) == Some(&b'*') => {
                let start = i;
                i += 2;
                while i + 1 < out.len() && !(out[i] == b'*' && out[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                blank(&mut out, start, i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The length of a function's text from its parameter list to the end of its body, in code
/// with strings and comments blanked: balanced braces, or, for an arrow function with an
/// expression body, up to the end of the line.
fn function_len(code: &[u8]) -> usize {
    let mut depth: i32 = 0;
    let mut seen_brace = false;
    for (i, &b) in code.iter().enumerate() {
        match b {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' => {
                depth += 1;
                seen_brace = true;
            }
            b'}' => {
                depth -= 1;
                if seen_brace && depth <= 0 {
                    return i + 1;
                }
            }
            b'\n' if !seen_brace && depth <= 0 => {
                let head = String::from_utf8_lossy(&code[..i]);
                if head.contains("=>") && !head.trim_end().ends_with("=>") {
                    return i;
                }
            }
            _ => {}
        }
    }
    code.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_one_allocating_call_in_the_function_body() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = "const a = new Date();\n\
                      app.get('/x', (req, res) => {\n\
                      \x20 // new Date( in a comment is not code\n\
                      \x20 const s = \"new Date(\";\n\
                      \x20 log.push({ at: new Date(), t: setTimeout(() => {}, 10) });\n\
                      });\n\
                      const b = new Date();\n";
        std::fs::write(dir.path().join("app.js"), source).expect("write");
        let find = |class: &str| find_statement(dir.path(), "app.js", 2, 15, class);
        let st = find("Date").expect("found");
        assert_eq!((st.line, st.column), (5, 18));
        let st = find("Timeout").expect("found");
        assert_eq!(
            (st.line, st.column, st.call.as_str()),
            (5, 33, "setTimeout(")
        );
        // Object literals have no call; an absent call is no statement.
        assert_eq!(find("Object"), None);
        assert_eq!(find("Map"), None);
        // Outside the app, an unknown position, a missing file: nothing.
        assert_eq!(find_statement(dir.path(), "../app.js", 2, 15, "Date"), None);
        assert_eq!(find_statement(dir.path(), "app.js", 0, 0, "Date"), None);
        assert_eq!(find_statement(dir.path(), "gone.js", 2, 15, "Date"), None);
        // Two calls in one function: ambiguous, so no statement.
        std::fs::write(
            dir.path().join("two.js"),
            "f(() => {\n a = new Date(); b = new Date();\n});\n",
        )
        .expect("write");
        assert_eq!(find_statement(dir.path(), "two.js", 1, 3, "Date"), None);
    }
}
