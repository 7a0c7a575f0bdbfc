//! The small languages inside scenario strings: durations (`"1.1s"`), sizes (`"64KiB"`),
//! seed ranges (`"0..5"`), `${variable}` templates and value matchers (`"exact"`,
//! `"~regex"`), plus mapping byte offsets to `line:column` for error messages.
//!
//! Each parser returns a message saying what was expected; the caller adds the location.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

/// Longest duration a scenario may name (sleeps, timeouts, intervals): a bound on simulated
/// time, so a typo like `"100000h"` is an error instead of a run that never ends.
pub const DURATION_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// Largest size a scenario may name (disks, repeated bodies).
pub const SIZE_BYTES_MAX: u64 = 1 << 40;

/// Most seeds one scenario file may ask for.
pub const SEEDS_MAX: u64 = 10_000;

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Parses `"1.1s"`, `"500ms"`, `"2m"`, `"1h"`: a decimal number and a unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = || {
        format!("expected a duration such as \"500ms\", \"1.1s\", \"2m\" or \"1h\", found {s:?}")
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(expected)?;
    let (number, unit) = t.split_at(split);
    let millis_per_unit: f64 = match unit.trim() {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return Err(expected()),
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(expected());
    }
    let value: f64 = number.parse().map_err(|_| expected())?;
    let millis = value * millis_per_unit;
    if !millis.is_finite() || millis > DURATION_MAX.as_millis() as f64 {
        return Err(format!(
            "duration {s:?} is longer than the limit of {} hours",
            DURATION_MAX.as_secs() / 3600
        ));
    }
    let micros = (millis * 1000.0).round() as u64;
    Ok(Duration::from_micros(micros))
}

/// Renders a duration the way scenarios write them (`1.1s`, `500ms`).
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches('0'))
    }
}

/// Parses a size: `"4096"`, `"512B"`, `"64KiB"`, `"1MiB"`, `"1GiB"`, `"10KB"` (decimal).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let expected = || {
        format!("expected a size such as \"4096\", \"64KiB\", \"1MiB\" or \"1GiB\", found {s:?}")
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(expected()),
    };
    let value: u64 = number.parse().map_err(|_| expected())?;
    let bytes = value
        .checked_mul(factor)
        .filter(|b| *b <= SIZE_BYTES_MAX)
        .ok_or_else(|| format!("size {s:?} is larger than the limit of 1 TiB"))?;
    Ok(bytes)
}

/// Parses `"A..B"` (B exclusive) or a single seed `"N"`.
pub fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let expected = || format!("expected seeds as \"A..B\" (B exclusive) or \"N\", found {s:?}");
    let t = s.trim();
    let range = match t.split_once("..") {
        Some((a, b)) => {
            let a: u64 = a.trim().parse().map_err(|_| expected())?;
            let b: u64 = b.trim().parse().map_err(|_| expected())?;
            a..b
        }
        None => {
            let n: u64 = t.parse().map_err(|_| expected())?;
            n..n.saturating_add(1)
        }
    };
    check_seeds(range)
}

/// Checks that a seed range is non-empty and bounded.
pub fn check_seeds(range: Range<u64>) -> Result<Range<u64>, String> {
    if range.start >= range.end {
        return Err(format!(
            "the seed range {}..{} is empty (the end is exclusive)",
            range.start, range.end
        ));
    }
    if range.end - range.start > SEEDS_MAX {
        return Err(format!(
            "the seed range {}..{} has more than {SEEDS_MAX} seeds",
            range.start, range.end
        ));
    }
    Ok(range)
}

/// One piece of a template: literal text or a `${name}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A string with `${name}` references, filled in from captured values at run time.
/// `$${` writes a literal `${`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    source: String,
}

impl Template {
    /// Parses a template; fails on an unterminated `${` or a bad variable name.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            text.push_str(&rest[..i]);
            let after = &rest[i..];
            if let Some(tail) = after.strip_prefix("$${") {
                text.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let close = tail
                    .find('}')
                    .ok_or_else(|| format!("unterminated `${{` in {s:?}: expected `${{name}}`"))?;
                let name = &tail[..close];
                if !is_variable_name(name) {
                    return Err(format!(
                        "`${{{name}}}` in {s:?} is not a variable name (letters, digits and _, \
                         not starting with a digit)"
                    ));
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Var(name.to_string()));
                rest = &tail[close + 1..];
            } else {
                text.push('$');
                rest = &after[1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template {
            pieces,
            source: s.to_string(),
        })
    }

    /// The names this template refers to, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Fills in every reference; `escape` transforms each value (regex escaping in patterns).
    /// A name without a value is an error (validation rules this out before a run).
    pub fn render_with(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        escape: fn(&str) -> String,
    ) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => {
                    let value =
                        lookup(v).ok_or_else(|| format!("variable `${{{v}}}` has no value"))?;
                    out.push_str(&escape(&value));
                }
            }
        }
        Ok(out)
    }

    /// Fills in every reference as plain text.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        self.render_with(lookup, |s| s.to_string())
    }
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks that every variable a template uses is known at that point of the scenario.
pub fn check_known(template: &Template, known: &BTreeSet<String>) -> Result<(), String> {
    for v in template.variables() {
        if !known.contains(v) {
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!(
                    "; known here: {}",
                    known
                        .iter()
                        .map(|k| format!("${{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(format!(
                "variable `${{{v}}}` is used before any step captures it{hint}"
            ));
        }
    }
    Ok(())
}

/// How an expected value is compared with what was received.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal after trimming surrounding whitespace (`"text"`).
    Exact(Template),
    /// A regular expression found anywhere in the value (`"~regex"`; anchor with `^`/`$`).
    /// Variable values are regex-escaped before the pattern is compiled.
    Pattern(Template),
}

impl Matcher {
    /// Parses `"exact"` or `"~regex"`; checks the regex compiles when it has no variables.
    pub fn parse(s: &str) -> Result<Matcher, String> {
        match s.strip_prefix('~') {
            Some(pattern) => {
                let t = Template::parse(pattern)?;
                if t.variables().next().is_none() {
                    regex::Regex::new(pattern)
                        .map_err(|e| format!("bad regular expression after `~`: {e}"))?;
                }
                Ok(Matcher::Pattern(t))
            }
            None => Ok(Matcher::Exact(Template::parse(s)?)),
        }
    }

    /// The template inside.
    pub fn template(&self) -> &Template {
        match self {
            Matcher::Exact(t) | Matcher::Pattern(t) => t,
        }
    }

    /// True when `value` matches; an error when the pattern (after substitution) is invalid.
    pub fn matches(
        &self,
        value: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<bool, String> {
        match self {
            Matcher::Exact(t) => Ok(t.render(lookup)?.trim() == value.trim()),
            Matcher::Pattern(t) => {
                let pattern = t.render_with(lookup, regex::escape)?;
                let re = regex::Regex::new(&pattern)
                    .map_err(|e| format!("bad regular expression `{pattern}`: {e}"))?;
                Ok(re.is_match(value))
            }
        }
    }

    /// How the expectation reads in a failure message (with variables filled in).
    pub fn describe(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        match self {
            Matcher::Exact(t) => format!("{:?}", t.render(lookup).unwrap_or_default()),
            Matcher::Pattern(t) => format!(
                "matching /{}/",
                t.render_with(lookup, regex::escape).unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3), "columns count characters");
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("1.1s"), Ok(Duration::from_millis(1100)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "1", "s", "1.s", ".5s", "1 parsec", "-1s", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("100000h").unwrap_err().contains("limit"));
        assert_eq!(show_duration(Duration::from_millis(1100)), "1.1s");
        assert_eq!(show_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(show_duration(Duration::from_secs(60)), "60s");
    }

    #[test]
    fn sizes_and_seeds_parse() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("99999999999GiB").is_err());
        assert_eq!(parse_seeds("0..5"), Ok(0..5));
        assert_eq!(parse_seeds("7"), Ok(7..8));
        assert!(parse_seeds("5..5").unwrap_err().contains("empty"));
        assert!(parse_seeds("a..b").is_err());
    }

    #[test]
    fn templates_find_and_fill_variables() {
        let t = Template::parse("/b/${name}?x=$${lit}&y=$z").expect("parses");
        assert_eq!(t.variables().collect::<Vec<_>>(), vec!["name"]);
        let lookup = |v: &str| (v == "name").then(|| "cat".to_string());
        assert_eq!(t.render(&lookup), Ok("/b/cat?x=${lit}&y=$z".to_string()));
        assert!(Template::parse("${open").is_err());
        assert!(Template::parse("${1x}").is_err());
        let known = BTreeSet::from(["a".to_string()]);
        let err = check_known(&Template::parse("${b}").expect("parses"), &known).unwrap_err();
        assert!(
            err.contains("`${b}` is used before") && err.contains("${a}"),
            "{err}"
        );
    }

    #[test]
    fn matchers_compare_exactly_or_by_pattern() {
        let none = |_: &str| None;
        let exact = Matcher::parse("0").expect("parses");
        assert_eq!(exact.matches(" 0 ", &none), Ok(true));
        assert_eq!(exact.matches("00", &none), Ok(false));
        let pattern = Matcher::parse("~auth=[0-9a-f]{32}$").expect("parses");
        assert_eq!(
            pattern.matches("http://x/b?auth=0123456789abcdef0123456789abcdef", &none),
            Ok(true)
        );
        assert!(Matcher::parse("~(")
            .unwrap_err()
            .contains("regular expression"));
        let with_var = Matcher::parse("~/${u}$").expect("parses");
        let lookup = |_: &str| Some("a.b".to_string());
        assert_eq!(with_var.matches("/a.b", &lookup), Ok(true));
        assert_eq!(
            with_var.matches("/aXb", &lookup),
            Ok(false),
            "values are escaped"
        );
    }
}
