//! `leakgate run` with CI reports, end to end: the real binary on real sample apps, a spec whose
//! app crashes at start and a spec whose `expect` is wrong; then the JUnit XML, the SVG charts,
//! the per-spec JSON, the GitHub annotations and the step summary are checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A small, strict XML well-formedness checker: one root, balanced tags, quoted attributes,
/// only the predefined entities and character references, no raw `<`, `>` or `&` in text, no
/// control characters.
mod xml {
    /// An element, with its attributes and its direct text, both unescaped.
    #[derive(Debug)]
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub text: String,
    }

    impl Element {
        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn is_name_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
    }

    fn unescape(s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find(['&', '<', '>']) {
            out.push_str(&rest[..i]);
            if !rest[i..].starts_with('&') {
                return Err(format!("unescaped {:?} in {s:?}", &rest[i..i + 1]));
            }
            let end = rest[i..]
                .find(';')
                .ok_or_else(|| format!("unterminated entity in {s:?}"))?;
            let entity = &rest[i + 1..i + end];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = if let Some(hex) = entity.strip_prefix("#x") {
                        u32::from_str_radix(hex, 16)
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse()
                    } else {
                        return Err(format!("unknown entity &{entity};"));
                    };
                    code.ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad character reference &{entity};"))?
                }
            };
            out.push(c);
            rest = &rest[i + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Checks `doc` and returns its elements in document order.
    pub fn parse(doc: &str) -> Result<Vec<Element>, String> {
        if let Some(c) = doc
            .chars()
            .find(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(format!("control character {c:?}"));
        }
        let mut rest = doc;
        if rest.starts_with("<?xml") {
            let end = rest.find("?>").ok_or("unterminated XML declaration")?;
            rest = &rest[end + 2..];
        }
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut roots = 0;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("<!--") {
                let end = after.find("-->").ok_or("unterminated comment")?;
                rest = &after[end + 3..];
            } else if let Some(after) = rest.strip_prefix("</") {
                let end = after.find('>').ok_or("unterminated end tag")?;
                let name = after[..end].trim_end();
                let top = open.pop().ok_or(format!("</{name}> closes nothing"))?;
                if elements[top].name != name {
                    return Err(format!("<{}> closed by </{name}>", elements[top].name));
                }
                rest = &after[end + 1..];
            } else if let Some(after) = rest.strip_prefix('<') {
                let name_len = after
                    .find(|c: char| !is_name_char(c))
                    .ok_or("unterminated start tag")?;
                if name_len == 0 {
                    return Err(format!("bad tag at {:?}", &rest[..rest.len().min(20)]));
                }
                let name = after[..name_len].to_string();
                let mut tag = &after[name_len..];
                let mut attrs = Vec::new();
                let self_closing = loop {
                    let trimmed = tag.trim_start();
                    let had_space = trimmed.len() < tag.len();
                    tag = trimmed;
                    if let Some(t) = tag.strip_prefix("/>") {
                        tag = t;
                        break true;
                    }
                    if let Some(t) = tag.strip_prefix('>') {
                        tag = t;
                        break false;
                    }
                    if !had_space {
                        return Err(format!("attributes of <{name}> need spaces"));
                    }
                    let eq = tag
                        .find('=')
                        .ok_or(format!("attribute without value in <{name}>"))?;
                    let attr = tag[..eq].trim_end().to_string();
                    if attr.is_empty() || !attr.chars().all(is_name_char) {
                        return Err(format!("bad attribute name {attr:?} in <{name}>"));
                    }
                    if attrs.iter().any(|(n, _)| *n == attr) {
                        return Err(format!("duplicate attribute {attr} in <{name}>"));
                    }
                    let value = tag[eq + 1..].trim_start();
                    let quote = value
                        .chars()
                        .next()
                        .filter(|&q| q == '"' || q == '\'')
                        .ok_or(format!("unquoted attribute {attr} in <{name}>"))?;
                    let end = value[1..]
                        .find(quote)
                        .ok_or(format!("unterminated attribute {attr} in <{name}>"))?;
                    attrs.push((attr, unescape(&value[1..1 + end])?));
                    tag = &value[end + 2..];
                };
                if open.is_empty() {
                    roots += 1;
                }
                elements.push(Element {
                    name,
                    attrs,
                    text: String::new(),
                });
                if !self_closing {
                    open.push(elements.len() - 1);
                }
                rest = tag;
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = unescape(&rest[..end])?;
                match open.last() {
                    Some(&top) => elements[top].text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(format!("text outside the root: {text:?}")),
                }
                rest = &rest[end..];
            }
        }
        if let Some(&top) = open.last() {
            return Err(format!("<{}> is never closed", elements[top].name));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(elements)
    }

    #[test]
    fn the_checker_rejects_what_it_should() {
        assert!(parse("<a x=\"1 &amp; 2\"><b/>t &lt; u</a>").is_ok());
        for bad in [
            "<a><b></a></b>",
            "<a>",
            "<a>x & y</a>",
            "<a>x > y</a>",
            "<a x=\"<\"/>",
            "<a x=1/>",
            "<a/><b/>",
            "<a>&nbsp;</a>",
            "<a>\u{1}</a>",
            "<a x=\"1\"y=\"2\"/>",
        ] {
            assert!(parse(bad).is_err(), "{bad} passed");
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// The specs written for these tests, in a temporary folder that is also the working folder.
struct Fixture {
    dir: tempfile::TempDir,
    /// `crashes-at-boot`, whose app exits 3 at start.
    crash_spec: &'static str,
    /// `request-log-fixed-expects-leak`, request-log-fixed's spec with the wrong `expect`.
    wrong_spec: &'static str,
}

/// 1-based line of the first line starting with `key`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(key))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("crash.js"),
            "console.error('crash.js: missing DATABASE_URL, giving up');\nprocess.exit(3);\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("crash.yaml"),
            "# An app that dies before it listens.\nname: crashes-at-boot\n\napp:\n  script: crash.js\nload:\n  requests:\n    - \"GET /\"\nexpect: clean\n",
        )
        .unwrap();
        let fixed = std::fs::read_to_string(repo_root().join("specs/request-log-fixed.yaml"))
            .expect("request-log-fixed spec");
        let script = repo_root().join("sample-apps/request-log-fixed/server.js");
        let wrong = fixed
            .replace(
                "../sample-apps/request-log-fixed/server.js",
                &script.display().to_string(),
            )
            .replace("expect: clean", "expect: leak")
            .replacen('\n', "\nname: request-log-fixed-expects-leak\n", 1);
        assert!(wrong.contains("expect: leak") && wrong.contains(&*script.to_string_lossy()));
        std::fs::write(dir.path().join("wrong-expect.yaml"), wrong).unwrap();
        Fixture {
            dir,
            crash_spec: "crash.yaml",
            wrong_spec: "wrong-expect.yaml",
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().expect("temp dir")
    }

    fn spec_text(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }

    /// `leakgate run ARGS...` in the fixture folder, with no CI variables unless `env` sets them.
    fn leakgate(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakgate"));
        cmd.arg("run").args(args).current_dir(self.path());
        for var in [
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "RUNNER_TEMP",
            "LEAKGATE_KEEP_SNAPSHOTS",
            "LEAKGATE_ARTIFACTS",
        ] {
            cmd.env_remove(var);
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd.output().expect("leakgate runs");
        eprintln!(
            "leakgate {args:?}: {}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The JUnit elements, checked for the suite's counts.
fn junit(path: &Path, tests: usize, failures: usize, errors: usize) -> Vec<xml::Element> {
    let text = read(path);
    let elements = xml::parse(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
    let suites: Vec<_> = elements.iter().filter(|e| e.name == "testsuite").collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].attr("name"), Some("leakgate"));
    assert_eq!(suites[0].attr("tests"), Some(&*tests.to_string()));
    assert_eq!(suites[0].attr("failures"), Some(&*failures.to_string()));
    assert_eq!(suites[0].attr("errors"), Some(&*errors.to_string()));
    let count = |name: &str| elements.iter().filter(|e| e.name == name).count();
    assert_eq!(count("testcase"), tests);
    assert_eq!(count("failure"), failures);
    assert_eq!(count("error"), errors);
    for case in elements.iter().filter(|e| e.name == "testcase") {
        assert_eq!(case.attr("classname"), Some("leakgate.specs"));
        assert!(case.attr("file").is_some_and(|f| f.ends_with(".yaml")));
        let time: f64 = case.attr("time").unwrap().parse().expect("time in seconds");
        assert!(time >= 0.0);
    }
    elements
}

/// The heap slope the SVG must show, from the spec's JSON (rounded there to 0.01, shown to 0.1).
fn assert_slope_in_svg(svg: &str, json: &Value) {
    let heap = json["heap_bytes_per_request"].as_f64().expect("heap slope");
    // Clean apps read near 0 B/request, where rounding may print either sign of zero.
    let svg = svg.replace("heap -0.0 B/request", "heap +0.0 B/request");
    let shown = [heap - 0.05, heap, heap + 0.05]
        .map(|v| format!("heap {v:+.1} B/request").replace("-0.0", "+0.0"))
        .into_iter()
        .any(|text| svg.contains(&text));
    assert!(shown, "heap slope {heap} not in the chart");
    assert!(svg.contains("array buffers ") && svg.contains(" B/request"));
}

#[test]
fn reports_for_a_pass_a_leak_a_wrong_expect_and_a_crash() {
    let fx = Fixture::new();
    let root = repo_root();
    let summary = fx.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let wrong_abs = fx.path().join(fx.wrong_spec);
    let args = [
        root.join("specs/request-log.yaml").display().to_string(),
        root.join("specs/request-log-fixed.yaml")
            .display()
            .to_string(),
        fx.crash_spec.to_string(),
        // Absolute, but inside the working folder: annotated relative to it.
        wrong_abs.display().to_string(),
        "--report-dir".to_string(),
        "reports".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = fx.leakgate(
        &args,
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", &summary),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "an errored spec exits 2");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let reports = fx.path().join("reports");

    // JUnit: four cases, one failure, one error.
    let elements = junit(&reports.join("junit.xml"), 4, 1, 1);
    let names: Vec<&str> = elements
        .iter()
        .filter(|e| e.name == "testcase")
        .filter_map(|e| e.attr("name"))
        .collect();
    assert_eq!(
        names,
        [
            "request-log",
            "request-log-fixed",
            "crashes-at-boot",
            "request-log-fixed-expects-leak"
        ]
    );
    let failure = elements.iter().find(|e| e.name == "failure").unwrap();
    assert_eq!(failure.attr("message"), Some("expected leak, found clean"));
    assert!(failure
        .text
        .starts_with("FAIL request-log-fixed-expects-leak ("));
    let error = elements.iter().find(|e| e.name == "error").unwrap();
    assert!(!error.attr("message").unwrap_or("").is_empty());
    assert!(error.text.starts_with("FAIL crashes-at-boot ("));
    // An app that exits before it listens is the app's failure.
    assert_eq!(error.attr("type"), Some("leakgate.error.app"));
    assert!(error.text.contains("exit"), "{}", error.text);
    // The app's last words, once: under the message, not inside it.
    assert_eq!(
        error.text.matches("missing DATABASE_URL").count(),
        1,
        "{}",
        error.text
    );
    assert!(
        !error.attr("message").unwrap_or("").contains("DATABASE_URL"),
        "{:?}",
        error.attr("message")
    );

    // Per-spec JSON, and a chart for every spec that ran.
    let expected = [
        ("request-log", "leak", true),
        ("request-log-fixed", "clean", true),
        ("crashes-at-boot", "error", false),
        ("request-log-fixed-expects-leak", "clean", false),
    ];
    for (name, verdict, passed) in expected {
        let json: Value =
            serde_json::from_str(&read(&reports.join(format!("{name}.json")))).expect("spec JSON");
        assert_eq!(json["name"], name);
        assert_eq!(json["verdict"], verdict);
        assert_eq!(json["passed"], passed);
        let kind = if verdict == "error" { "app" } else { "" };
        assert_eq!(json["error_kind"].as_str().unwrap_or(""), kind, "{name}");
        if verdict == "error" {
            let tail = json["app_log_tail"].to_string();
            assert!(tail.contains("missing DATABASE_URL"), "{tail}");
            let error = json["error"].as_str().unwrap_or("");
            assert!(!error.contains("DATABASE_URL"), "{error}");
        } else {
            assert!(json["app_log_tail"].is_null(), "{name}");
        }
        let svg_path = reports.join(format!("{name}.svg"));
        if verdict == "error" {
            assert!(!svg_path.exists(), "no chart without a measurement");
            continue;
        }
        let svg = read(&svg_path);
        assert!(
            svg.starts_with("<svg"),
            "{name}.svg starts with {:?}",
            &svg[..20]
        );
        assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("viewBox=\"0 0 640 570\""));
        let elements = xml::parse(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert_eq!(elements[0].name, "svg");
        assert_eq!(
            elements.iter().filter(|e| e.name == "polyline").count(),
            2,
            "two series"
        );
        assert!(svg.contains(&format!("{name}: {verdict}, expected ")));
        assert!(svg.contains("iB<"), "byte tick labels");
        assert!(svg.contains(">6000<"), "request tick labels");
        assert_slope_in_svg(&svg, &json);
    }
    let mut files: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // Per spec its JSON and text report, a chart for each of the three that ran, junit.xml.
    assert_eq!(files.len(), 4 * 2 + 3 + 1, "{files:?}");
    assert_eq!(files.iter().filter(|f| f.ends_with(".txt")).count(), 4);

    // Annotations: one per failing or erroring spec, at `app:` or `expect:`.
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 2, "{stdout}");
    let crash_line = line_of(&fx.spec_text(fx.crash_spec), "app:");
    assert_eq!(crash_line, 4);
    assert!(
        annotations[0].starts_with(&format!(
            "::error file=crash.yaml,line={crash_line},title=leakgate crashes-at-boot::could not run (app error): "
        )),
        "{}",
        annotations[0]
    );
    assert_eq!(annotations[0].matches("missing DATABASE_URL").count(), 1);
    let expect_line = line_of(&fx.spec_text(fx.wrong_spec), "expect:");
    assert!(
        annotations[1].starts_with(&format!(
            "::error file=wrong-expect.yaml,line={expect_line},\
             title=leakgate request-log-fixed-expects-leak::expected leak, found clean"
        )),
        "{}",
        annotations[1]
    );
    assert!(annotations.iter().all(|a| !a.contains('\r')));
    assert!(stdout.ends_with("4 specs: 2 passed, 1 failed, 1 error\n"));

    // Step summary: appended, one table row per spec.
    let md = read(&summary);
    assert!(md.starts_with("earlier step\n"));
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).skip(2).collect();
    assert_eq!(rows.len(), 4, "{md}");
    for (row, (name, verdict, passed)) in rows.iter().zip(expected) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 7, "{row}");
        assert_eq!(cells[0], name);
        let mark = if passed { "✅" } else { "❌" };
        assert_eq!(cells[2], format!("{mark} {verdict}"));
    }
    assert!(
        rows[0].contains("per 1k)"),
        "request-log has a suspect: {}",
        rows[0]
    );
}

#[test]
fn a_missed_expect_exits_1_and_writes_junit_alone() {
    let fx = Fixture::new();
    let out = fx.leakgate(&[fx.wrong_spec, "--junit", "out/junit.xml"], &[]);
    assert_eq!(out.status.code(), Some(1), "a missed expect exits 1");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("::error"), "no annotations outside GitHub");
    junit(&fx.path().join("out/junit.xml"), 1, 1, 0);
    assert!(!fx.path().join("reports").exists());
}

#[test]
fn the_steps_of_one_job_share_fifty_annotations() {
    let fx = Fixture::new();
    // Earlier steps of the job printed 49; two specs that cannot start make two findings.
    let crash = fx
        .spec_text(fx.crash_spec)
        .replace("crashes-at-boot", "crashes-again");
    std::fs::write(fx.path().join("crash-again.yaml"), crash).unwrap();
    let runner_temp = fx.path().join("runner-temp");
    std::fs::create_dir(&runner_temp).unwrap();
    let count = runner_temp.join("leakgate-annotations");
    std::fs::write(&count, "49\n").unwrap();
    let summary = fx.path().join("step-summary.md");
    let out = fx.leakgate(
        &[fx.crash_spec, "crash-again.yaml"],
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", &summary),
            ("RUNNER_TEMP", &runner_temp),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "specs that cannot run exit 2");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.matches("::error").count(), 1, "{stdout}");
    assert_eq!(read(&count), "50\n");
    let summary = read(&summary);
    assert!(
        summary
            .contains("#### 1 more findings (GitHub shows 10 annotations per step and 50 per job)"),
        "{summary}"
    );
}
