//! Where the app keeps what leaks: the declaration of the variable that holds it, and the
//! statements that store into that variable.
//!
//! Objects a library allocates (a body parser's JSON, a driver's records) have no frame of the
//! app on their allocation stack: the line a developer can change is where the app *keeps*
//! them. A retainer path starts at a variable the app wrote (see [`super::retainers`]); this
//! module finds that variable in the app's source with the parser (oxc): its declaration and
//! the stores into it (`name.set(…)`, `name.push(…)`, `name.add(…)`, `name[key] = …`,
//! `name.field = …`, the same through `globalThis.name`). An ES module's binding is declared
//! in its module and stored into wherever it is imported, so for those the importing files'
//! stores are listed too, and the holder is named with its declaration (`file:line`).

use std::path::Path;

use oxc_ast::ast::{
    AssignmentExpression, AssignmentTarget, BindingPatternKind, CallExpression, Expression,
    ImportDefaultSpecifier, ImportSpecifier, VariableDeclarator,
};
use oxc_ast_visit::{walk, Visit};
use oxc_span::{GetSpan, Span};
use serde::Serialize;

use super::retainers::{Holder, RetainerCluster};
use super::source::{source_type_of, with_program, LineIndex};

/// Stores listed per holder at most.
pub const MAX_STORES: usize = 5;
/// App files searched for a holder at most.
pub const MAX_FILES: usize = 200;

/// A place in the app's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// Relative to the app's folder.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What stands there, shortened: `const recent = …`, `recent.set(…)`.
    pub code: String,
}

/// Where the app keeps the objects of a retainer path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptAt {
    /// The holding variable's name.
    pub variable: String,
    /// Its declaration, when found.
    pub declared_at: Option<Place>,
    /// The statements that store into it, in source order.
    pub stored_at: Vec<Place>,
}

/// Finds the declaration of `name` and the stores into it in one source file (`file` is how
/// places name it). `None` when the file declares no such variable.
pub fn find_in_source(file: &str, source: &str, name: &str) -> Option<KeptAt> {
    find_in_module(file, source, name, false)
}

/// As [`find_in_source`]; with `imports`, also a file that imports `name` (its declaration
/// then `None`).
fn find_in_module(file: &str, source: &str, name: &str, imports: bool) -> Option<KeptAt> {
    let lines = LineIndex::new(source);
    let found = with_program(source, source_type_of(file), |program| {
        let mut finder = Finder {
            source,
            name,
            declared: None,
            imported: false,
            stores: Vec::new(),
        };
        finder.visit_program(program);
        (finder.declared, finder.imported, finder.stores)
    })?;
    let (declared, imported, mut stores) = found;
    if declared.is_none() && !(imports && imported) {
        return None;
    }
    stores.sort_by_key(|(span, _)| span.start);
    stores.truncate(MAX_STORES);
    let place = |span: Span, code: String| {
        let (line, column) = lines.position(source, span.start as usize);
        Place {
            file: file.to_string(),
            line,
            column,
            code,
        }
    };
    Some(KeptAt {
        variable: name.to_string(),
        declared_at: declared.map(|(span, code)| place(span, code)),
        stored_at: stores.into_iter().map(|(s, c)| place(s, c)).collect(),
    })
}

/// Finds where the app under `app_root` keeps `name`, searching `first` (files relative to the
/// app, e.g. the spec's script and the allocation sites) and then the app's other files.
pub fn find_in_app(app_root: &Path, first: &[String], name: &str) -> Option<KeptAt> {
    find_in_files(app_root, first, name, false)
}

/// As [`find_in_app`]; with `imports` (an ES module binding), every file is searched and the
/// stores of the files that import `name` are added to those of the declaring file.
fn find_in_files(app_root: &Path, first: &[String], name: &str, imports: bool) -> Option<KeptAt> {
    let mut files: Vec<String> = first.to_vec();
    for path in super::sourcemaps::app_files(app_root)
        .into_iter()
        .take(MAX_FILES)
    {
        if let Ok(rel) = Path::new(&path).strip_prefix(app_root) {
            let rel = rel.to_string_lossy().into_owned();
            if !files.contains(&rel) {
                files.push(rel);
            }
        }
    }
    let mut found = files.into_iter().filter_map(|file| {
        if Path::new(&file).is_absolute()
            || file.split('/').any(|p| p == ".." || p == "node_modules")
        {
            return None;
        }
        let source = std::fs::read_to_string(app_root.join(&file)).ok()?;
        find_in_module(&file, &source, name, imports)
    });
    if !imports {
        return found.next();
    }
    let (mut declaring, importing): (Vec<KeptAt>, Vec<KeptAt>) =
        found.partition(|k| k.declared_at.is_some());
    let mut kept = if declaring.is_empty() {
        return None;
    } else {
        declaring.swap_remove(0)
    };
    for other in importing {
        kept.stored_at.extend(other.stored_at);
    }
    kept.stored_at.truncate(MAX_STORES);
    Some(kept)
}

/// For an ES module binding held in `holder`: its module's file relative to `app_root`, when
/// it is one of the app's.
fn module_file(holder: &Holder, app_root: &Path) -> Option<String> {
    let Holder::ModuleVariable {
        file: Some(file), ..
    } = holder
    else {
        return None;
    };
    let file = Path::new(file);
    let rel = match file.strip_prefix(app_root) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => file
            .strip_prefix(std::fs::canonicalize(app_root).ok()?)
            .ok()?
            .to_path_buf(),
    };
    Some(rel.to_string_lossy().into_owned())
}

/// Names an ES module binding by where it is declared (`src/bus.mjs:3`), when found.
pub fn declare(holder: &mut Holder, app_root: &Path) {
    let Some(module) = module_file(holder, app_root) else {
        return;
    };
    let Some(name) = holder.variable().map(str::to_string) else {
        return;
    };
    let Ok(source) = std::fs::read_to_string(app_root.join(&module)) else {
        return;
    };
    let line = find_in_source(&module, &source, &name).and_then(|k| k.declared_at);
    if let (Holder::ModuleVariable { declared_at, .. }, Some(place)) = (holder, line) {
        *declared_at = Some(format!("{}:{}", place.file, place.line));
    }
}

/// Fills `kept_at` of every cluster whose holder is a variable the app declares.
pub fn locate(clusters: &mut [RetainerCluster], app_root: &Path, first: &[String]) {
    for cluster in clusters {
        let module = module_file(&cluster.holder, app_root);
        declare(&mut cluster.holder, app_root);
        cluster.path.holder = cluster.holder.clone();
        if let Some(name) = cluster.holder.variable() {
            cluster.kept_at = match &module {
                Some(module) => {
                    let files: Vec<String> = std::iter::once(module.clone())
                        .chain(first.iter().cloned())
                        .collect();
                    find_in_files(app_root, &files, name, true)
                }
                None => find_in_app(app_root, first, name),
            };
        }
    }
}

struct Finder<'s> {
    source: &'s str,
    name: &'s str,
    declared: Option<(Span, String)>,
    /// Whether the file imports the name from another module.
    imported: bool,
    stores: Vec<(Span, String)>,
}

impl Finder<'_> {
    /// Whether `e` names the holder: `name`, `globalThis.name`, `global.name`, `this.name`.
    fn is_holder(&self, e: &Expression<'_>) -> bool {
        match e {
            Expression::Identifier(id) => id.name == self.name,
            Expression::StaticMemberExpression(m) => {
                let global = matches!(&m.object, Expression::Identifier(o) if o.name == "globalThis" || o.name == "global");
                let this = matches!(m.object, Expression::ThisExpression(_));
                m.property.name == self.name && (global || this)
            }
            _ => false,
        }
    }

    fn short(&self, span: Span) -> String {
        let text: String = self
            .source
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.chars().count() > 60 {
            let head: String = text.chars().take(57).collect();
            format!("{head}…")
        } else {
            text
        }
    }
}

impl<'a> Visit<'a> for Finder<'_> {
    fn visit_import_specifier(&mut self, it: &ImportSpecifier<'a>) {
        self.imported |= it.local.name == self.name;
    }

    fn visit_import_default_specifier(&mut self, it: &ImportDefaultSpecifier<'a>) {
        self.imported |= it.local.name == self.name;
    }

    fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
        if self.declared.is_none() {
            if let BindingPatternKind::BindingIdentifier(id) = &it.id.kind {
                if id.name == self.name {
                    let kind = it.kind.as_str();
                    self.declared = Some((it.span, format!("{kind} {} = …", self.name)));
                }
            }
        }
        walk::walk_variable_declarator(self, it);
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if let Expression::StaticMemberExpression(m) = &it.callee {
            let method = m.property.name.as_str();
            if self.is_holder(&m.object)
                && matches!(
                    method,
                    "set" | "push" | "add" | "unshift" | "splice" | "on" | "addListener" | "once"
                )
            {
                let code = format!("{}.{method}(…)", self.short(m.object.span()));
                self.stores.push((it.span, code));
            }
        }
        walk::walk_call_expression(self, it);
    }

    fn visit_assignment_expression(&mut self, it: &AssignmentExpression<'a>) {
        let target = match &it.left {
            AssignmentTarget::ComputedMemberExpression(m) if self.is_holder(&m.object) => {
                Some(format!("{}[…] = …", self.short(m.object.span())))
            }
            AssignmentTarget::StaticMemberExpression(m) if self.is_holder(&m.object) => Some(
                format!("{}.{} = …", self.short(m.object.span()), m.property.name),
            ),
            AssignmentTarget::StaticMemberExpression(m)
                if m.property.name == self.name
                    && matches!(&m.object, Expression::Identifier(o) if o.name == "globalThis" || o.name == "global") =>
            {
                // `globalThis.name = […]` declares a global.
                if self.declared.is_none() {
                    self.declared = Some((it.span, format!("{} = …", self.short(m.span))));
                }
                None
            }
            _ => None,
        };
        if let Some(code) = target {
            self.stores.push((it.span, code));
        }
        walk::walk_assignment_expression(self, it);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_and_stores_of_the_holder_are_found() {
        let source = "'use strict';\nconst express = require('express');\n\
                      const recent = new Map();\nconst other = [];\n\
                      app.post('/e', (req, res) => {\n  const event = req.body;\n  \
                      recent.set(event.id, event);\n  other.push(1);\n  recent[k] = 2;\n});\n";
        let kept = find_in_source("server.js", source, "recent").expect("found");
        let declared = kept.declared_at.expect("declared");
        assert_eq!((declared.line, declared.column), (3, 7));
        assert_eq!(declared.code, "const recent = …");
        let stores: Vec<(u32, &str)> = kept
            .stored_at
            .iter()
            .map(|p| (p.line, p.code.as_str()))
            .collect();
        assert_eq!(stores, vec![(7, "recent.set(…)"), (9, "recent[…] = …")]);
        assert_eq!(find_in_source("server.js", source, "missing"), None);
        // Globals are declared by assignment.
        let g = "globalThis.keep = [];\nfunction f(x) { globalThis.keep.push(x); }\n";
        let kept = find_in_source("a.js", g, "keep").expect("found");
        assert_eq!(kept.declared_at.map(|p| p.line), Some(1));
        assert_eq!(kept.stored_at[0].code, "globalThis.keep.push(…)");
    }

    #[test]
    fn the_app_is_searched_but_not_its_dependencies() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("node_modules/lib")).unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("node_modules/lib/i.js"), "const bus = 1;\n").unwrap();
        std::fs::write(
            dir.path().join("src/bus.mjs"),
            "\n\nexport const bus = new E();\n",
        )
        .unwrap();
        let kept = find_in_app(dir.path(), &[], "bus").expect("found");
        let at = kept.declared_at.expect("declared");
        assert_eq!((at.file.as_str(), at.line), ("src/bus.mjs", 3));
        assert_eq!(
            find_in_app(dir.path(), &["../x.js".into()], "nothing"),
            None
        );
    }
}
