//! Keeps `docs/CONFORMANCE.md` honest: every test its table names must exist, every row must say
//! how it is checked, IDs must be unique, and the summary counts must match the table.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What the Test column of a row says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    /// Test functions that check the requirement.
    Tests(Vec<String>),
    /// No test checks it yet.
    Gap,
    /// The embedding application's requirement.
    Application,
}

/// One row of a conformance table.
#[derive(Debug)]
struct Row {
    line: usize,
    id: String,
    level: String,
    requirement: String,
    place: String,
    check: Result<Check, String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn document() -> String {
    let path = root().join("docs/CONFORMANCE.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The cells of a table line, trimmed; `\|` inside a cell is not a separator.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().expect("one cell at least").push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().expect("one cell at least").push(c),
        }
    }
    cells.iter().map(|cell| cell.trim().to_string()).collect()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a Test cell: `gap`, `n/a`, or backticked function names separated by commas.
fn parse_check(cell: &str) -> Result<Check, String> {
    match cell {
        "" => return Err("the Test column is empty".into()),
        "gap" => return Ok(Check::Gap),
        "n/a" => return Ok(Check::Application),
        _ => {}
    }
    let mut names = Vec::new();
    for part in cell.split(',').map(str::trim) {
        let name = part
            .strip_prefix('`')
            .and_then(|rest| rest.strip_suffix('`'))
            .ok_or_else(|| format!("{part:?} is not a backticked test name, `gap` or `n/a`"))?;
        if !is_identifier(name) {
            return Err(format!("{name:?} is not a function name"));
        }
        names.push(name.to_string());
    }
    Ok(Check::Tests(names))
}

/// Every data row of every table in the document (header and separator lines left out).
fn rows(document: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (index, line) in document.lines().enumerate() {
        if !line.trim_start().starts_with('|') {
            continue;
        }
        let cells = cells(line);
        let separator = cells.iter().all(|cell| !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':')));
        if separator || cells.first().is_some_and(|cell| cell == "ID") {
            continue;
        }
        assert_eq!(cells.len(), 6, "line {}: a row has 6 columns, this one {}: {line}", index + 1, cells.len());
        rows.push(Row {
            line: index + 1,
            id: cells[0].clone(),
            level: cells[2].clone(),
            requirement: cells[3].clone(),
            place: cells[4].clone(),
            check: parse_check(&cells[5]),
        });
    }
    rows
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The names of the functions defined (`fn name`) in `source`.
fn defined_functions(source: &str, names: &mut HashSet<String>) {
    let bytes = source.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(found) = source[from..].find("fn ") {
        let at = from + found;
        from = at + 3;
        if at > 0 && is_ident(bytes[at - 1]) {
            continue;
        }
        let start = at + 3 + source[at + 3..].len() - source[at + 3..].trim_start().len();
        let end = start + bytes[start..].iter().take_while(|&&b| is_ident(b)).count();
        if end > start {
            names.insert(source[start..end].to_string());
        }
    }
}

/// Every function defined under `tests/`, under `src/` and in `fuzz/checks.rs`.
fn all_defined_functions() -> HashSet<String> {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("tests"), &mut files);
    rust_files(&root.join("src"), &mut files);
    files.push(root.join("fuzz/checks.rs"));
    let mut names = HashSet::new();
    for file in files {
        let source = fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        defined_functions(&source, &mut names);
    }
    names
}

fn is_row_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let (Some(role), Some(rfc), Some(number), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    !role.is_empty() && role.bytes().all(|b| b.is_ascii_uppercase()) && digits(rfc) && digits(number)
}

#[test]
fn every_named_conformance_test_exists() {
    let document = document();
    let rows = rows(&document);
    assert!(rows.len() >= 80, "only {} rows in docs/CONFORMANCE.md", rows.len());
    let defined = all_defined_functions();
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for row in &rows {
        let at = format!("line {} ({})", row.line, row.id);
        if !is_row_id(&row.id) {
            problems.push(format!("{at}: the ID is not like S-5321-1"));
        }
        if !ids.insert(row.id.clone()) {
            problems.push(format!("{at}: the ID is used twice"));
        }
        if row.level.is_empty() || row.requirement.is_empty() || row.place.is_empty() {
            problems.push(format!("{at}: Level, Requirement and Where must not be empty"));
        }
        let application = row.place.starts_with("application");
        match &row.check {
            Err(problem) => problems.push(format!("{at}: {problem}")),
            Ok(Check::Application) if !application => {
                problems.push(format!("{at}: `n/a` is for rows whose Where is \"application ...\""));
            }
            Ok(Check::Tests(_) | Check::Gap) if application => {
                problems.push(format!("{at}: an application row's Test is `n/a`"));
            }
            Ok(Check::Tests(names)) => {
                for name in names.iter().filter(|name| !defined.contains(*name)) {
                    problems.push(format!("{at}: no `fn {name}` under tests/, src/ or in fuzz/checks.rs"));
                }
            }
            Ok(Check::Gap | Check::Application) => {}
        }
    }
    assert!(problems.is_empty(), "docs/CONFORMANCE.md:\n{}", problems.join("\n"));
}

#[test]
fn conformance_counts_are_current() {
    let document = document();
    let rows = rows(&document);
    let summaries: Vec<&str> = document.lines().filter(|line| line.starts_with("Rows: ")).collect();
    assert_eq!(summaries.len(), 1, "one summary line `Rows: N. Tested: N. Gaps: N. Application: N.` is expected");
    let numbers: Vec<(String, usize)> = summaries[0]
        .split('.')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, number) = part.split_once(": ").unwrap_or_else(|| panic!("{part:?} is not `Name: N`"));
            (name.to_string(), number.parse().unwrap_or_else(|_| panic!("{number:?} is not a number")))
        })
        .collect();
    let count = |wanted: fn(&Check) -> bool| rows.iter().filter(|row| row.check.as_ref().is_ok_and(wanted)).count();
    let expected = vec![
        ("Rows".to_string(), rows.len()),
        ("Tested".to_string(), count(|check| matches!(check, Check::Tests(_)))),
        ("Gaps".to_string(), count(|check| matches!(check, Check::Gap))),
        ("Application".to_string(), count(|check| matches!(check, Check::Application))),
    ];
    assert_eq!(numbers, expected, "the summary line of docs/CONFORMANCE.md is stale: {}", summaries[0]);
}
