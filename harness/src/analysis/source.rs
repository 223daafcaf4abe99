//! Locating the expressions that allocate, in the app's own source, with a real parser.
//!
//! V8 records allocation stacks as functions, positioned where each function is defined (the
//! allocation tracker and the sampling heap profiler alike). A leak is easier to fix when the
//! report points at the expression that made the leaking object, so the function's source is
//! parsed (oxc: JavaScript, JSX and TypeScript) and, within that function and outside the
//! functions nested in it, the expressions that make objects of the leaking class are listed:
//!
//! | class | expressions |
//! |---|---|
//! | `Object` | object literals, `new Object(…)`, `Object.assign`/`create`/`fromEntries(…)`, `JSON.parse(…)` |
//! | `Array` | array literals, `new Array(…)`, `Array.from`/`of(…)`, `.map`/`.filter`/`.slice`/`.concat`/`.split(…)` |
//! | `(closure)` | function expressions and declarations, arrow functions, `.bind(…)` |
//! | `X` (a constructor's name) | `new X(…)`, `class … extends X`-free: exactly the constructor called |
//! | `(string)`, `(concatenated string)`, `(sliced string)` | template literals with substitutions, `+` or `+=` with a string operand, `.join`/`.toString`/`.slice`/`.toISOString`…(…), `JSON.stringify(…)`, `String(…)` |
//! | `Buffer`, `Uint8Array`, `ArrayBuffer`, `system / JSArrayBufferData` | `Buffer.alloc`/`allocUnsafe`/`from`/`concat(…)`, `new Uint8Array(…)`, `new ArrayBuffer(…)` |
//! | `Timeout`, `Immediate` | `setTimeout`/`setInterval(…)`, `setImmediate(…)` |
//! | `(array)` (V8's backing stores) | Map and Set inserts (`.set(…)`, `.add(…)`), `.push`/`.unshift(…)`, array literals |
//! | `(number)` | `Date.now()`, `performance.now()`, `Math.*(…)`, `Number`/`parseFloat(…)` |
//! | `(regexp)` | regular expression literals, `new RegExp(…)` |
//!
//! Every candidate is listed with its line and column: when there are several, the report
//! shows each rather than guessing between them. The search is a pure function of the source
//! text, the frame's position and the class, so it serves frames however they were recorded.

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    ArrayExpression, ArrowFunctionExpression, AssignmentExpression, AssignmentOperator,
    BinaryExpression, BinaryOperator, CallExpression, Class, Expression, Function, NewExpression,
    ObjectExpression, Program, RegExpLiteral, TemplateLiteral,
};
use oxc_ast_visit::{walk, Visit};
use oxc_span::{GetSpan, SourceType, Span};
use oxc_syntax::scope::ScopeFlags;
use serde::Serialize;

/// Candidates listed per site at most.
pub const MAX_CANDIDATES: usize = 8;

/// A position in a source file and what stands there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in UTF-16 code units, as V8 and editors count).
    pub column: u32,
    /// The expression that allocates, shortened, e.g. `new Date(…)`, `{…}`, `() => …`.
    pub call: String,
}

/// The source type for a file name: TypeScript for `.ts`/`.mts`/`.cts`/`.tsx`, JSX for
/// `.jsx`, modules for `.mjs`, and otherwise JavaScript that may be a script or a module.
pub fn source_type_of(file: &str) -> SourceType {
    let ext = Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    match ext {
        "ts" | "mts" | "cts" | "tsx" | "jsx" | "mjs" | "cjs" => {
            SourceType::from_extension(ext).unwrap_or_else(|_| SourceType::unambiguous())
        }
        _ => SourceType::unambiguous().with_jsx(true),
    }
}

/// Parses `source` and hands the program to `f`; `None` when the parser gave up.
pub fn with_program<R>(
    source: &str,
    source_type: SourceType,
    f: impl FnOnce(&Program<'_>) -> R,
) -> Option<R> {
    let allocator = Allocator::default();
    let parsed = oxc_parser::Parser::new(&allocator, source, source_type).parse();
    if parsed.panicked {
        return None;
    }
    Some(f(&parsed.program))
}

/// The expressions that allocate `class` within the function defined at `line`:`column`
/// (1-based, the column in UTF-16 units, as V8 reports a frame) of `source`, in source order,
/// at most [`MAX_CANDIDATES`]. `line` 1 `column` 1 with no function there means the module's
/// top level. Empty when the class has no recognisable expression, the position is outside the
/// source, or the source does not parse.
pub fn allocation_candidates(
    source: &str,
    source_type: SourceType,
    line: u32,
    column: u32,
    class: &str,
) -> Vec<Statement> {
    let Some(kind) = ClassKind::of(class) else {
        return Vec::new();
    };
    let Some(offset) = byte_offset(source, line, column) else {
        return Vec::new();
    };
    let lines = LineIndex::new(source);
    with_program(source, source_type, |program| {
        let mut finder = FunctionAt {
            offset: offset as u32,
            best: None,
        };
        finder.visit_program(program);
        let scope = finder.best.unwrap_or(program.span);
        let mut collect = Collect {
            source,
            kind: &kind,
            scope,
            found: Vec::new(),
        };
        collect.visit_program(program);
        let mut found = collect.found;
        found.sort_by_key(|(at, _)| *at);
        found.dedup_by_key(|(at, _)| *at);
        found
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|(at, call)| {
                let (line, column) = lines.position(source, at as usize);
                Statement { line, column, call }
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Reads `file` (relative to `app_root`, inside it) and lists the candidates of
/// [`allocation_candidates`]. Empty when the file is outside the app or cannot be read.
pub fn find_candidates(
    app_root: &Path,
    file: &str,
    line: u32,
    column: u32,
    class: &str,
) -> Vec<Statement> {
    if line == 0 || Path::new(file).is_absolute() || file.split('/').any(|p| p == "..") {
        return Vec::new();
    }
    let Ok(source) = std::fs::read_to_string(app_root.join(file)) else {
        return Vec::new();
    };
    allocation_candidates(&source, source_type_of(file), line, column, class)
}

/// What makes objects of a class.
enum ClassKind {
    Object,
    Array,
    Closure,
    Strings,
    Buffers,
    Timers(&'static [&'static str]),
    BackingStore,
    Number,
    RegExp,
    /// Instances of a constructor, by its name.
    Constructor(String),
}

impl ClassKind {
    fn of(class: &str) -> Option<ClassKind> {
        Some(match class {
            "Object" => ClassKind::Object,
            "Array" => ClassKind::Array,
            "(closure)" => ClassKind::Closure,
            "(string)" | "(concatenated string)" | "(sliced string)" => ClassKind::Strings,
            "Buffer" | "Uint8Array" | "ArrayBuffer" | "system / JSArrayBufferData" => {
                ClassKind::Buffers
            }
            "Timeout" => ClassKind::Timers(&["setTimeout", "setInterval"]),
            "Immediate" => ClassKind::Timers(&["setImmediate"]),
            "(array)" => ClassKind::BackingStore,
            "(number)" => ClassKind::Number,
            "(regexp)" => ClassKind::RegExp,
            name if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$') =>
            {
                ClassKind::Constructor(name.to_string())
            }
            _ => return None,
        })
    }
}

/// Finds the innermost function whose header (from its start to its body) holds `offset`.
struct FunctionAt {
    offset: u32,
    best: Option<Span>,
}

impl FunctionAt {
    fn consider(&mut self, span: Span, body_start: u32) {
        let header = span.start <= self.offset && self.offset <= body_start.max(span.start);
        let smaller = self.best.is_none_or(|b| span.size() < b.size());
        if header && smaller {
            self.best = Some(span);
        }
    }
}

impl<'a> Visit<'a> for FunctionAt {
    fn visit_function(&mut self, it: &Function<'a>, flags: ScopeFlags) {
        if let Some(body) = &it.body {
            self.consider(it.span, body.span.start);
        }
        walk::walk_function(self, it, flags);
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        self.consider(it.span, it.body.span.start);
        walk::walk_arrow_function_expression(self, it);
    }
}

/// Collects the allocating expressions of one function, not entering nested functions.
struct Collect<'s, 'k> {
    source: &'s str,
    kind: &'k ClassKind,
    scope: Span,
    found: Vec<(u32, String)>,
}

impl Collect<'_, '_> {
    fn inside(&self, span: Span) -> bool {
        self.scope.start <= span.start && span.end <= self.scope.end
    }

    /// Whether `span` is the scope itself (the function being searched).
    fn is_scope(&self, span: Span) -> bool {
        span == self.scope
    }

    fn add(&mut self, span: Span, what: String) {
        if self.inside(span) {
            self.found.push((span.start, what));
        }
    }

    fn text(&self, span: Span) -> &str {
        self.source
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// `callee` written short: `Buffer.from`, `log.push`, `…`.
    fn short(&self, callee: &Expression<'_>) -> String {
        let text: String = self.text(callee.span()).split_whitespace().collect();
        if text.chars().count() > 40 {
            let tail: String = text
                .chars()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("…{tail}")
        } else {
            text
        }
    }

    fn is_stringy(e: &Expression<'_>) -> bool {
        matches!(
            e,
            Expression::StringLiteral(_) | Expression::TemplateLiteral(_)
        ) || matches!(e, Expression::BinaryExpression(b) if b.operator == BinaryOperator::Addition
            && (Self::is_stringy(&b.left) || Self::is_stringy(&b.right)))
    }

    /// A nested function: a closure candidate, and its body belongs to another frame.
    fn nested_function(&mut self, span: Span, what: String) {
        if matches!(self.kind, ClassKind::Closure) {
            self.add(span, what);
        }
    }
}

/// The method name of a call `x.name(…)` and its object, or the plain callee name.
fn callee_parts<'e>(callee: &'e Expression<'_>) -> (Option<&'e str>, &'e str) {
    match callee {
        Expression::StaticMemberExpression(m) => {
            let object = match &m.object {
                Expression::Identifier(id) => Some(id.name.as_str()),
                _ => None,
            };
            (object, m.property.name.as_str())
        }
        Expression::Identifier(id) => (None, id.name.as_str()),
        _ => (None, ""),
    }
}

const STRING_METHODS: [&str; 16] = [
    "join",
    "toString",
    "toISOString",
    "toUTCString",
    "toLowerCase",
    "toUpperCase",
    "trim",
    "slice",
    "substring",
    "substr",
    "replace",
    "replaceAll",
    "padStart",
    "padEnd",
    "repeat",
    "concat",
];

impl<'a> Visit<'a> for Collect<'_, '_> {
    fn visit_function(&mut self, it: &Function<'a>, flags: ScopeFlags) {
        if self.is_scope(it.span) || !self.inside(it.span) {
            walk::walk_function(self, it, flags);
            return;
        }
        let name = it.id.as_ref().map_or("", |id| id.name.as_str());
        self.nested_function(it.span, format!("function {name}(…)").replace("  ", " "));
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        if self.is_scope(it.span) || !self.inside(it.span) {
            walk::walk_arrow_function_expression(self, it);
            return;
        }
        self.nested_function(it.span, "(…) => …".to_string());
    }

    fn visit_class(&mut self, it: &Class<'a>) {
        // A class expression makes a constructor (a closure) each time it is evaluated.
        if self.inside(it.span) && !self.is_scope(it.span) {
            self.nested_function(it.span, "class …".to_string());
        }
        walk::walk_class(self, it);
    }

    fn visit_object_expression(&mut self, it: &ObjectExpression<'a>) {
        if matches!(self.kind, ClassKind::Object) {
            self.add(it.span, "{…}".to_string());
        }
        walk::walk_object_expression(self, it);
    }

    fn visit_array_expression(&mut self, it: &ArrayExpression<'a>) {
        if matches!(self.kind, ClassKind::Array | ClassKind::BackingStore) {
            self.add(it.span, "[…]".to_string());
        }
        walk::walk_array_expression(self, it);
    }

    fn visit_template_literal(&mut self, it: &TemplateLiteral<'a>) {
        if matches!(self.kind, ClassKind::Strings) && !it.expressions.is_empty() {
            self.add(it.span, "`…${…}`".to_string());
        }
        walk::walk_template_literal(self, it);
    }

    fn visit_binary_expression(&mut self, it: &BinaryExpression<'a>) {
        // `a + b + c` is one candidate: the outermost string addition.
        if matches!(self.kind, ClassKind::Strings)
            && it.operator == BinaryOperator::Addition
            && (Self::is_stringy(&it.left) || Self::is_stringy(&it.right))
        {
            self.add(it.span, "… + …".to_string());
            // Nested additions are the same string; other allocations inside still count.
            walk_operands_skipping_additions(self, it);
            return;
        }
        walk::walk_binary_expression(self, it);
    }

    fn visit_assignment_expression(&mut self, it: &AssignmentExpression<'a>) {
        if matches!(self.kind, ClassKind::Strings)
            && it.operator == AssignmentOperator::Addition
            && Self::is_stringy(&it.right)
        {
            self.add(it.span, "… += …".to_string());
        }
        walk::walk_assignment_expression(self, it);
    }

    fn visit_reg_exp_literal(&mut self, it: &RegExpLiteral<'a>) {
        if matches!(self.kind, ClassKind::RegExp) {
            self.add(it.span, "/…/".to_string());
        }
    }

    fn visit_new_expression(&mut self, it: &NewExpression<'a>) {
        let (_, name) = callee_parts(&it.callee);
        let hit = match self.kind {
            ClassKind::Constructor(c) => name == c,
            ClassKind::Object => name == "Object",
            ClassKind::Array => name == "Array",
            ClassKind::Buffers => matches!(name, "Uint8Array" | "ArrayBuffer" | "Buffer"),
            ClassKind::RegExp => name == "RegExp",
            _ => false,
        };
        if hit {
            let what = format!("new {}(…)", self.short(&it.callee));
            self.add(it.span, what);
        }
        walk::walk_new_expression(self, it);
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        let (object, method) = callee_parts(&it.callee);
        let member = matches!(it.callee, Expression::StaticMemberExpression(_));
        let hit = match self.kind {
            ClassKind::Object => {
                matches!(
                    (object, method),
                    (Some("Object"), "assign" | "create" | "fromEntries") | (Some("JSON"), "parse")
                )
            }
            ClassKind::Array => {
                matches!((object, method), (Some("Array"), "from" | "of"))
                    || (member
                        && matches!(
                            method,
                            "map" | "filter" | "slice" | "concat" | "split" | "flat" | "flatMap"
                        ))
            }
            ClassKind::Closure => member && method == "bind",
            ClassKind::Strings => {
                (member && STRING_METHODS.contains(&method) && object != Some("Buffer"))
                    || matches!((object, method), (Some("JSON"), "stringify"))
                    || (!member && method == "String")
            }
            ClassKind::Buffers => matches!(
                (object, method),
                (
                    Some("Buffer"),
                    "alloc" | "allocUnsafe" | "allocUnsafeSlow" | "from" | "concat"
                )
            ),
            ClassKind::Timers(names) => !member && names.contains(&method),
            ClassKind::BackingStore => {
                member && matches!(method, "set" | "add" | "push" | "unshift")
            }
            ClassKind::Number => {
                matches!(
                    (object, method),
                    (Some("Date"), "now") | (Some("performance"), "now") | (Some("Math"), _)
                ) || (!member && matches!(method, "Number" | "parseFloat"))
            }
            ClassKind::Constructor(_) | ClassKind::RegExp => false,
        };
        if hit {
            let what = format!("{}(…)", self.short(&it.callee));
            self.add(it.span, what);
        }
        walk::walk_call_expression(self, it);
    }
}

/// Walks the operands of a string addition, treating nested additions as part of it.
fn walk_operands_skipping_additions<'a>(v: &mut Collect<'_, '_>, it: &BinaryExpression<'a>) {
    for operand in [&it.left, &it.right] {
        match operand {
            Expression::BinaryExpression(b) if b.operator == BinaryOperator::Addition => {
                walk_operands_skipping_additions(v, b);
            }
            other => v.visit_expression(other),
        }
    }
}

/// Line starts, to turn byte offsets into 1-based lines and UTF-16 columns.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `source`.
    pub fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', source.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line and UTF-16 column of byte `offset`.
    pub fn position(&self, source: &str, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.starts[line];
        let column: usize = source
            .get(start..offset)
            .map_or(0, |t| t.chars().map(char::len_utf16).sum());
        (line as u32 + 1, column as u32 + 1)
    }
}

/// The byte offset of a 1-based line and UTF-16 column; `None` outside the source.
pub fn byte_offset(source: &str, line: u32, column: u32) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut offset = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let mut units = 0usize;
            let want = column.saturating_sub(1) as usize;
            for (b, c) in text.char_indices() {
                if units >= want {
                    return Some(offset + b);
                }
                units += c.len_utf16();
            }
            return (units >= want).then_some(offset + text.len());
        }
        offset += text.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(list: &[Statement]) -> Vec<(u32, u32, &str)> {
        list.iter()
            .map(|s| (s.line, s.column, s.call.as_str()))
            .collect()
    }

    const HANDLER: &str = "const bus = new EventEmitter();\n\
app.get('/x', (req, res) => {\n\
\x20 // new Date() in a comment is not code\n\
\x20 const s = \"new Date(\";\n\
\x20 const draft = { id: req.params.id, at: new Date() };\n\
\x20 bus.on('shutdown', () => draft.id);\n\
\x20 res.json(`item ${draft.id}`);\n\
});\n\
const b = new Date();\n";

    #[test]
    fn each_class_finds_its_own_expressions_in_the_frame_function() {
        let find = |class: &str| allocation_candidates(HANDLER, SourceType::cjs(), 2, 15, class);
        assert_eq!(at(&find("Date")), vec![(5, 42, "new Date(…)")]);
        assert_eq!(at(&find("Object")), vec![(5, 17, "{…}")]);
        assert_eq!(at(&find("(closure)")), vec![(6, 22, "(…) => …")]);
        assert_eq!(at(&find("(string)")), vec![(7, 12, "`…${…}`")]);
        // Not in this function: the module's `new EventEmitter()`.
        assert!(find("EventEmitter").is_empty());
        // The module's top level, not entering functions.
        let top = allocation_candidates(HANDLER, SourceType::cjs(), 1, 1, "Date");
        assert_eq!(at(&top), vec![(9, 11, "new Date(…)")]);
        // A class with no expression, a position outside the source: nothing.
        assert!(find("(system)").is_empty());
        assert!(allocation_candidates(HANDLER, SourceType::cjs(), 99, 1, "Date").is_empty());
    }

    #[test]
    fn several_candidates_are_all_listed_and_strings_count_once() {
        let source =
            "function f(a) {\n  const x = 'k' + a + 'v';\n  const t = setTimeout(g, 1);\n  \
                      return [x.toUpperCase(), setInterval(g, 9), t];\n}\n";
        let find = |class| allocation_candidates(source, SourceType::cjs(), 1, 11, class);
        assert_eq!(
            at(&find("(string)")),
            vec![(2, 13, "… + …"), (4, 11, "x.toUpperCase(…)")]
        );
        assert_eq!(
            at(&find("Timeout")),
            vec![(3, 13, "setTimeout(…)"), (4, 28, "setInterval(…)")]
        );
        assert_eq!(at(&find("Array")), vec![(4, 10, "[…]")]);
    }

    #[test]
    fn typescript_and_modules_parse_and_columns_count_utf16() {
        let source = "const s: string = 'é😀';\nexport function make(id: number): Item {\n  \
                      return { id } as Item;\n}\n";
        let list = allocation_candidates(source, source_type_of("a.ts"), 2, 21, "Object");
        assert_eq!(at(&list), vec![(3, 10, "{…}")]);
        let (line, col) = LineIndex::new(source).position(source, source.find(';').unwrap());
        assert_eq!((line, col), (1, 24));
        assert_eq!(byte_offset(source, 1, 24), source.find(';'));
        // A file that does not parse gives nothing, never a panic.
        assert!(allocation_candidates("function (", SourceType::cjs(), 1, 1, "Object").is_empty());
    }

    #[test]
    fn files_outside_the_app_are_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("app.js"), HANDLER).expect("write");
        assert_eq!(
            find_candidates(dir.path(), "app.js", 2, 15, "Date").len(),
            1
        );
        assert!(find_candidates(dir.path(), "../app.js", 2, 15, "Date").is_empty());
        assert!(find_candidates(dir.path(), "app.js", 0, 0, "Date").is_empty());
        assert!(find_candidates(dir.path(), "gone.js", 2, 15, "Date").is_empty());
    }
}
