//! Channels and their filter rules, read from a rules file.
//!
//! DX Content Router reads `rules.xml` (one `select`/Publish statement per channel); its
//! grammar is not public, so the reference reads a small line format of its own
//! (docs/choices.md, "Publisher rules file"):
//!
//! ```text
//! # comment
//! channel Photos kind=named bucket=photos
//! channel Blue meta:x-color-meta=blue kind=alias
//! channel Everything
//! ```
//!
//! A line `channel NAME COND...` defines a channel whose conditions must all hold (none: every
//! event). Conditions: `kind=immutable|alias|named`, `domain=D`, `bucket=B` (named objects),
//! `meta:HEADER=VALUE` (header names case-insensitive, values exact). Channel names are
//! case-sensitive. `PublishAll` is always there, unfiltered, and a file may not define it.

use std::collections::BTreeMap;
use std::fmt;

use crate::publisher::event::{Event, ObjectClass};

/// The reserved, unfiltered channel every publisher has.
pub const PUBLISH_ALL: &str = "PublishAll";

/// One condition of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The object is of this class.
    Class(ObjectClass),
    /// A named object in this domain.
    Domain(String),
    /// A named object in this bucket.
    Bucket(String),
    /// The revision carries this metadata header (lower-case name) with exactly this value.
    Meta(String, String),
}

impl Condition {
    fn holds(&self, event: &Event) -> bool {
        match self {
            Condition::Class(c) => event.class == *c,
            Condition::Domain(d) => event.class == ObjectClass::Named && event.domain == *d,
            Condition::Bucket(b) => {
                event.class == ObjectClass::Named
                    && event
                        .object
                        .strip_prefix('/')
                        .and_then(|rest| rest.split('/').next())
                        == Some(b.as_str())
            }
            Condition::Meta(name, value) => event.meta.get(name) == Some(value),
        }
    }
}

/// Why a rules file was refused (the publisher keeps its previous rules then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rules file line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RulesError {}

/// Every channel with its conditions; `PublishAll` included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    channels: BTreeMap<String, Vec<Condition>>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            channels: BTreeMap::from([(PUBLISH_ALL.to_string(), Vec::new())]),
        }
    }
}

impl Rules {
    /// Reads a rules file.
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let mut rules = Rules::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |message: String| RulesError { line, message };
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            if words.next() != Some("channel") {
                return Err(err("a line must start with `channel`".into()));
            }
            let name = words
                .next()
                .ok_or_else(|| err("`channel` needs a name".into()))?;
            if name == PUBLISH_ALL {
                return Err(err(format!("`{PUBLISH_ALL}` is reserved and unfiltered")));
            }
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            {
                return Err(err(format!(
                    "channel name `{name}`: letters, digits, `-`, `_`, `.` only"
                )));
            }
            if rules.channels.contains_key(name) {
                return Err(err(format!("channel `{name}` defined twice")));
            }
            let conditions = words
                .map(|w| parse_condition(w).map_err(&err))
                .collect::<Result<Vec<_>, _>>()?;
            rules.channels.insert(name.to_string(), conditions);
        }
        Ok(rules)
    }

    /// True when the channel exists.
    pub fn has(&self, channel: &str) -> bool {
        self.channels.contains_key(channel)
    }

    /// Channel names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// True when the event goes on the channel: deletes go on every channel (ENUM-8), other
    /// events when all the channel's conditions hold.
    pub fn matches(&self, channel: &str, event: &Event) -> bool {
        if event.code.is_delete() {
            return self.has(channel);
        }
        self.filter_holds(channel, event)
    }
}

impl Rules {
    /// True when the channel's own conditions hold for the event, deletes included: what
    /// [`Rules::matches`] decides for every event but deletes (the `delete-filtered`
    /// defect uses it for deletes too).
    pub fn filter_holds(&self, channel: &str, event: &Event) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|conditions| conditions.iter().all(|c| c.holds(event)))
    }
}

fn parse_condition(word: &str) -> Result<Condition, String> {
    let (name, value) = word
        .split_once('=')
        .ok_or_else(|| format!("condition `{word}` needs `=`"))?;
    if value.is_empty() {
        return Err(format!("condition `{word}` has no value"));
    }
    if let Some(header) = name.strip_prefix("meta:") {
        if header.is_empty() {
            return Err(format!("condition `{word}` names no header"));
        }
        return Ok(Condition::Meta(
            header.to_ascii_lowercase(),
            value.to_string(),
        ));
    }
    match name {
        "kind" => match value {
            "immutable" => Ok(Condition::Class(ObjectClass::Immutable)),
            "alias" => Ok(Condition::Class(ObjectClass::Alias)),
            "named" => Ok(Condition::Class(ObjectClass::Named)),
            other => Err(format!("unknown kind `{other}` (immutable, alias, named)")),
        },
        "domain" => Ok(Condition::Domain(value.to_string())),
        "bucket" => Ok(Condition::Bucket(value.to_string())),
        other => Err(format!(
            "unknown condition `{other}` (kind, domain, bucket, meta:HEADER)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publisher::event::EventCode;

    fn event(object: &str, class: ObjectClass, code: EventCode, meta: &[(&str, &str)]) -> Event {
        Event {
            seq: 1,
            object: object.into(),
            domain: String::new(),
            class,
            code,
            version_ms: 1,
            version_node: 1,
            created_ms: 1,
            meta: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn conditions_filter_and_publish_all_takes_everything() {
        let rules = Rules::parse(
            "# photos only\nchannel Photos kind=named bucket=photos\nchannel Blue meta:X-Color-Meta=blue\n",
        )
        .expect("valid");
        let photo = event("/photos/a", ObjectClass::Named, EventCode::Created, &[]);
        let doc = event("/docs/a", ObjectClass::Named, EventCode::Created, &[]);
        let blue = event(
            "u1",
            ObjectClass::Alias,
            EventCode::AliasWritten,
            &[("x-color-meta", "blue")],
        );
        assert!(rules.matches("Photos", &photo));
        assert!(!rules.matches("Photos", &doc));
        assert!(rules.matches("Blue", &blue));
        assert!(!rules.matches("Blue", &photo));
        assert!(!rules.matches("photos", &photo), "names are case-sensitive");
        for e in [&photo, &doc, &blue] {
            assert!(rules.matches(PUBLISH_ALL, e));
        }
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        for (text, line) in [
            ("channel PublishAll\n", 1),
            ("\nchannel A kind=folder\n", 2),
            ("channel A\nchannel A\n", 2),
            ("publish A\n", 1),
            ("channel A bucket\n", 1),
            ("channel A meta:=x\n", 1),
            ("channel\n", 1),
            ("channel a/b\n", 1),
        ] {
            let err = Rules::parse(text).expect_err(text);
            assert_eq!(err.line, line, "{text}: {err}");
        }
    }
}
