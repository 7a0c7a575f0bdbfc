//! The other answers a real publisher could give where the Enumerator API leaves a choice
//! open (docs/choices.md rows P6, P8, P10, P11, P13). The reference's own choice is the
//! default; the conformance choice sweep runs the `publisher` family in the vendor profile
//! under each alternative, so that a check that leans on one of these choices shows up as a
//! FAIL there.
//!
//! Text form (`replisim serve --publisher-choice`, test configs): `name=value` pairs
//! separated by commas, e.g. `order=newest-first,line-end=crlf`.

use std::fmt;
use std::str::FromStr;

/// One knob: its name, its docs/choices.md row, its values (the reference's first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherKnob {
    /// The stable kebab-case name.
    pub name: &'static str,
    /// The docs/choices.md row whose choice it flips.
    pub row: &'static str,
    /// Its values; the first is the reference's own choice.
    pub values: &'static [&'static str],
    /// What the alternative does.
    pub help: &'static str,
}

/// Every knob, in a stable order.
pub const KNOBS: [PublisherKnob; 5] = [
    PublisherKnob {
        name: "order",
        row: "P13",
        values: &["journal", "newest-first"],
        help: "the items of one answer come newest first (the document promises no order)",
    },
    PublisherKnob {
        name: "line-end",
        row: "P11",
        values: &["lf", "crlf"],
        help: "UUID and Event lines end in CRLF",
    },
    PublisherKnob {
        name: "token",
        row: "P6",
        values: &["counter", "opaque"],
        help: "Content-Sync-Token is an opaque hex string instead of a counter",
    },
    PublisherKnob {
        name: "bad-argument",
        row: "P10",
        values: &["400", "404"],
        help: "bad argument values are refused with 404, the document's blanket failure status",
    },
    PublisherKnob {
        name: "max-items-default",
        row: "P8",
        values: &["100", "10"],
        help: "UUID and Event answers carry at most 10 items until a maxItems is given",
    },
];

/// The publisher's choices; `Default` is the reference itself. Each field is the index of
/// the chosen value in its knob's `values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PublisherAlternatives {
    picks: [u8; KNOBS.len()],
}

impl PublisherAlternatives {
    fn index(name: &str) -> Result<usize, String> {
        KNOBS.iter().position(|k| k.name == name).ok_or_else(|| {
            let names: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
            format!(
                "unknown publisher choice `{name}`; known: {}",
                names.join(", ")
            )
        })
    }

    /// The value chosen for knob `name`.
    pub fn get(&self, name: &str) -> Option<&'static str> {
        let i = Self::index(name).ok()?;
        Some(KNOBS[i].values[usize::from(self.picks[i])])
    }

    /// Sets knob `name` to `value`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let i = Self::index(name.trim())?;
        let knob = &KNOBS[i];
        let v = knob
            .values
            .iter()
            .position(|v| *v == value.trim())
            .ok_or_else(|| {
                format!(
                    "publisher choice `{}` has no value `{value}`; use {}",
                    knob.name,
                    knob.values.join(" or ")
                )
            })?;
        self.picks[i] = u8::try_from(v).unwrap_or(0);
        Ok(())
    }

    /// Each alternative alone, every other knob at the reference's choice.
    pub fn each_alone() -> Vec<PublisherAlternatives> {
        let mut all = Vec::new();
        for (i, knob) in KNOBS.iter().enumerate() {
            for v in 1..knob.values.len() {
                let mut a = PublisherAlternatives::default();
                a.picks[i] = u8::try_from(v).unwrap_or(0);
                all.push(a);
            }
        }
        all
    }

    /// Every knob at its alternative at once.
    pub fn all_alternatives() -> PublisherAlternatives {
        let mut a = PublisherAlternatives::default();
        for (i, knob) in KNOBS.iter().enumerate() {
            a.picks[i] = u8::try_from(knob.values.len() - 1).unwrap_or(0);
        }
        a
    }

    /// Items newest first within an answer (P13).
    pub fn newest_first(&self) -> bool {
        self.get("order") == Some("newest-first")
    }

    /// The line ending of UUID and Event answers (P11).
    pub fn line_end(&self) -> &'static str {
        if self.get("line-end") == Some("crlf") {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// Tokens are opaque strings (P6).
    pub fn opaque_tokens(&self) -> bool {
        self.get("token") == Some("opaque")
    }

    /// The status of a refused argument (P10).
    pub fn bad_argument_status(&self) -> u16 {
        if self.get("bad-argument") == Some("404") {
            404
        } else {
            400
        }
    }

    /// Items per UUID or Event answer until a `maxItems` is given (P8).
    pub fn default_max_items(&self) -> u64 {
        self.get("max-items-default")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
    }
}

impl fmt::Display for PublisherAlternatives {
    /// The knobs that differ from the reference, `name=value` comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = KNOBS
            .iter()
            .zip(self.picks)
            .filter(|(_, p)| *p != 0)
            .map(|(k, p)| format!("{}={}", k.name, k.values[usize::from(p)]))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for PublisherAlternatives {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut a = PublisherAlternatives::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("publisher choice `{pair}` needs name=value"))?;
            a.set(name, value)?;
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_parse_print_and_refuse_unknowns() {
        let a: PublisherAlternatives = "order=newest-first, line-end=crlf".parse().expect("valid");
        assert!(a.newest_first());
        assert_eq!(a.line_end(), "\r\n");
        assert!(!a.opaque_tokens());
        assert_eq!(a.to_string(), "order=newest-first,line-end=crlf");
        assert_eq!(a.to_string().parse::<PublisherAlternatives>(), Ok(a));
        assert_eq!(PublisherAlternatives::default().to_string(), "");
        assert_eq!(PublisherAlternatives::each_alone().len(), KNOBS.len());
        let all = PublisherAlternatives::all_alternatives();
        assert_eq!(
            (all.bad_argument_status(), all.default_max_items()),
            (404, 10)
        );
        assert!("nope=1"
            .parse::<PublisherAlternatives>()
            .unwrap_err()
            .contains("known:"));
        assert!("order=random"
            .parse::<PublisherAlternatives>()
            .unwrap_err()
            .contains("journal or newest-first"));
        assert!("order".parse::<PublisherAlternatives>().is_err());
    }
}
