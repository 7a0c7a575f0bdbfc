//! The other answers a real SCSP implementation could give where the documents leave a
//! choice open (docs/choices.md). Each knob names the choices.md row it flips; all are off
//! (the reference's own choice) by default. The conformance choice sweep runs the vendor
//! profile against the reference under each alternative and under seeded combinations: a
//! rule that fails there judges a choice, not the documents.
//!
//! Text form (`replisim serve --choice`, scenario and test configs): `name=value` pairs
//! separated by commas, e.g. `redirect=always-301,result-body=text`; only knobs that differ
//! from the default are printed.

use std::fmt;
use std::str::FromStr;

use crate::seeded::{splitmix64, SeededRng};

/// What `--help` and docs list for one knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// The stable kebab-case name.
    pub name: &'static str,
    /// The docs/choices.md row whose choice it flips.
    pub row: u32,
    /// Its values; the first is the reference's own choice (the default).
    pub values: &'static [&'static str],
    /// One line on what the alternatives do.
    pub help: &'static str,
}

/// Declares the knobs once: an enum per knob (variants in value order, the first is the
/// default), the `Alternatives` struct, its knob table, and name-based get/set. One list
/// keeps the CLI help, the parser, the printer and the random draw in step.
macro_rules! alternatives {
    ($( $(#[$kdoc:meta])* $field:ident : $ty:ident = $name:literal, row $row:literal, $help:literal {
        $( $(#[$vdoc:meta])* $variant:ident = $value:literal ),+ $(,)?
    } )+) => {
        $(
            $(#[$kdoc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
            pub enum $ty {
                $( $(#[$vdoc])* $variant ),+
            }

            impl $ty {
                /// Every value, the default first.
                pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
                /// The value's text form.
                pub fn value(self) -> &'static str {
                    match self { $($ty::$variant => $value),+ }
                }
            }
        )+

        /// Every alternative choice of the reference node; `Default` is the reference itself.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct Alternatives {
            $( $(#[$kdoc])* pub $field: $ty, )+
        }

        impl Alternatives {
            /// Every knob, in a stable order.
            pub const KNOBS: &'static [Knob] = &[
                $( Knob { name: $name, row: $row, values: &[$($value),+], help: $help }, )+
            ];

            /// The current value of a knob by name.
            pub fn get(&self, name: &str) -> Option<&'static str> {
                match name {
                    $( $name => Some(self.$field.value()), )+
                    _ => None,
                }
            }

            /// Sets a knob by name; a clear error names what is known.
            pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
                match name {
                    $( $name => {
                        self.$field = $ty::ALL
                            .iter()
                            .copied()
                            .find(|v| v.value() == value)
                            .ok_or_else(|| format!(
                                "choice `{name}` has no value `{value}`; known: {}",
                                [$($value),+].join(", ")
                            ))?;
                        Ok(())
                    } )+
                    _ => Err(format!(
                        "unknown choice `{name}`; known: {}",
                        Self::KNOBS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }
    };
}

alternatives! {
    /// Which redirect a node sends (row 1).
    redirect: Redirect = "redirect", row 1,
        "307 for one request, 301 from a retiring node; or 301 for every redirect; or 307 for every redirect, a retiring node too" {
        /// 307 for this request, 301 when the access node is retiring.
        #[default] ByRole = "by-role",
        /// 301 for every redirect.
        Always301 = "always-301",
        /// 307 for every redirect, also from a retiring node.
        Always307 = "always-307",
    }
    /// The format of a 202's final result in its body (row 22).
    result_body: ResultBody = "result-body", row 22,
        "the 202 body's last line is JSON; or plain text lines; or an HTML page (the castor-system-result trailer is always sent)" {
        /// A JSON object on the last line.
        #[default] Json = "json",
        /// `201 Created` then `Name: value` lines.
        Text = "text",
        /// An HTML page stating the status.
        Html = "html",
    }
    /// When a completion naming duplicate, missing or foreign parts is refused (row 24).
    bad_manifest: BadManifest = "bad-manifest", row 24,
        "a manifest naming duplicate, missing or foreign parts fails after the 202; or is refused with 400 before any 202" {
        /// After the 202, in its result.
        #[default] After202 = "after-202",
        /// Synchronously: 400 before any 202.
        Before202 = "before-202",
    }
    /// Whether READ/INFO of an alias object say so in `Castor-System-Alias` (row 34).
    alias_header: AliasHeader = "alias-header", row 34,
        "READ/INFO of an alias object carry Castor-System-Alias; or they do not" {
        /// The header is sent.
        #[default] Sent = "sent",
        /// No such header.
        Omitted = "omitted",
    }
    /// The status for metadata over the SCSP-16 limits (row 30).
    oversized_headers: OversizedHeaders = "oversized-headers", row 30,
        "metadata over the limits is 400; or 431 Request Header Fields Too Large" {
        /// 400 Bad Request.
        #[default] Status400 = "400",
        /// 431 Request Header Fields Too Large.
        Status431 = "431",
    }
    /// Node clocks (row 8).
    clock_skew: ClockSkew = "clock-skew", row 8,
        "node clocks agree; or each node's clock is off by up to a minute (per-node skew from the seed; versions stay ordered by stamping after the current one)" {
        /// No skew.
        #[default] None = "none",
        /// Up to ±60 s per node, drawn from the placement seed.
        Minute = "minute",
    }
    /// The answer to a successful DELETE (row 11).
    delete_status: DeleteStatus = "delete-status", row 11,
        "a DELETE answers 200 with a short text; or 204 No Content" {
        /// 200 with a body.
        #[default] Status200 = "200",
        /// 204 without a body.
        Status204 = "204",
    }
    /// `Replica-Count` when one replica was made (row 7).
    replica_count_one: ReplicaCountOne = "replica-count-one", row 7,
        "Replica-Count is omitted for one replica; or sent as Replica-Count: 1" {
        /// Omitted.
        #[default] Omitted = "omitted",
        /// `Replica-Count: 1`.
        Present = "present",
    }
    /// The body of error answers (row 11).
    error_body: ErrorBody = "error-body", row 11,
        "error answers carry a Swarm-style HTML page; or plain text; or a JSON object" {
        /// `text/html` page.
        #[default] Html = "html",
        /// `text/plain` line.
        Text = "text",
        /// `application/json` object with status, reason and message.
        Json = "json",
    }
    /// What a multi-range `Range` gets (row 13).
    multi_range: MultiRange = "multi-range", row 13,
        "a multi-range Range is ignored (200, whole object); or answered 206 multipart/byteranges" {
        /// Ignored: 200 with the whole object.
        #[default] Whole = "whole",
        /// 206 with a `multipart/byteranges` body.
        Multipart = "multipart",
    }
    /// The status of a multipart initiate (row 23).
    initiate_status: InitiateStatus = "initiate-status", row 23,
        "a multipart initiate answers 200; or 201" {
        /// 200 OK.
        #[default] Status200 = "200",
        /// 201 Created.
        Status201 = "201",
    }
    /// The resolution of version stamps (row 28).
    version_resolution: VersionResolution = "version-resolution", row 28,
        "version stamps keep milliseconds; or whole seconds (same-second ties go to the higher node id)" {
        /// Milliseconds.
        #[default] Millisecond = "millisecond",
        /// Whole seconds.
        Second = "second",
    }
    /// The status of a DELETE of a context without `recursive` (row 35).
    context_delete_refusal: ContextDeleteRefusal = "context-delete-refusal", row 35,
        "DELETE of a bucket or domain without recursive is 400; or 409 Conflict" {
        /// 400 Bad Request.
        #[default] Status400 = "400",
        /// 409 Conflict.
        Status409 = "409",
    }
}

/// The largest clock offset the `clock-skew=minute` alternative gives a node.
pub const SKEW_MAX_MS: i64 = 60_000;

impl Alternatives {
    /// Every single alternative alone: one configuration per non-default value of each knob.
    pub fn each_alone() -> Vec<Alternatives> {
        let mut out = Vec::new();
        for knob in Self::KNOBS {
            for value in &knob.values[1..] {
                let mut a = Alternatives::default();
                // The table and the setter come from one macro list, so this cannot fail.
                if a.set(knob.name, value).is_ok() {
                    out.push(a);
                }
            }
        }
        out
    }

    /// A seeded random combination: each knob takes one of its values, uniformly.
    pub fn random(seed: u64) -> Alternatives {
        let mut rng = SeededRng::new(splitmix64(seed ^ 0x616c_7465_726e_6174));
        let mut a = Alternatives::default();
        for knob in Self::KNOBS {
            let value = knob.values[rng.below(knob.values.len() as u64) as usize];
            let _ = a.set(knob.name, value);
        }
        a
    }

    /// True when every knob has the reference's own value.
    pub fn is_reference(&self) -> bool {
        *self == Alternatives::default()
    }

    /// Node `id`'s clock offset under `clock-skew`: within ±[`SKEW_MAX_MS`], a pure
    /// function of the seed and the node.
    pub fn skew_ms(&self, seed: u64, id: usize) -> i64 {
        match self.clock_skew {
            ClockSkew::None => 0,
            ClockSkew::Minute => {
                let span = (2 * SKEW_MAX_MS + 1) as u64;
                let draw = splitmix64(seed ^ splitmix64(id as u64 + 1)) % span;
                draw as i64 - SKEW_MAX_MS
            }
        }
    }

    /// The `--help` text listing every knob with its values and row.
    pub fn help() -> String {
        let mut out = String::new();
        for k in Self::KNOBS {
            out.push_str(&format!(
                "  {}={}  (choices.md row {}): {}\n",
                k.name,
                k.values.join("|"),
                k.row,
                k.help
            ));
        }
        out
    }
}

impl fmt::Display for Alternatives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reference = Alternatives::default();
        let changed: Vec<String> = Self::KNOBS
            .iter()
            .filter(|k| self.get(k.name) != reference.get(k.name))
            .map(|k| format!("{}={}", k.name, self.get(k.name).unwrap_or("")))
            .collect();
        f.write_str(&changed.join(","))
    }
}

impl FromStr for Alternatives {
    type Err = String;

    /// `name=value[,name=value…]`; empty means the reference's own choices.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut a = Alternatives::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(format!("choice `{pair}` is not NAME=VALUE"));
            };
            a.set(name.trim(), value.trim())?;
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_prints_only_changes() {
        let a: Alternatives = "redirect=always-301, result-body=text"
            .parse()
            .expect("valid");
        assert_eq!(a.redirect, Redirect::Always301);
        assert_eq!(a.result_body, ResultBody::Text);
        assert_eq!(a.to_string(), "redirect=always-301,result-body=text");
        assert_eq!(a.to_string().parse::<Alternatives>(), Ok(a));
        assert_eq!("".parse::<Alternatives>(), Ok(Alternatives::default()));
        assert!(Alternatives::default().to_string().is_empty());
        assert!(Alternatives::default().is_reference());
    }

    #[test]
    fn bad_text_names_what_is_known() {
        let e = "redirekt=always-301".parse::<Alternatives>().unwrap_err();
        assert!(
            e.contains("unknown choice `redirekt`") && e.contains("result-body"),
            "{e}"
        );
        let e = "redirect=302".parse::<Alternatives>().unwrap_err();
        assert!(e.contains("always-307"), "{e}");
        let e = "redirect".parse::<Alternatives>().unwrap_err();
        assert!(e.contains("NAME=VALUE"), "{e}");
    }

    #[test]
    fn every_knob_names_a_row_and_has_an_alternative() {
        let mut names = std::collections::BTreeSet::new();
        for k in Alternatives::KNOBS {
            assert!(names.insert(k.name), "duplicate knob {}", k.name);
            assert!(k.values.len() >= 2, "{} has no alternative", k.name);
            assert_eq!(Alternatives::default().get(k.name), Some(k.values[0]));
            assert!(k.row >= 1);
            assert!(Alternatives::help().contains(k.name));
        }
        let alone = Alternatives::each_alone();
        let expected: usize = Alternatives::KNOBS.iter().map(|k| k.values.len() - 1).sum();
        assert_eq!(alone.len(), expected);
        assert!(alone.iter().all(|a| a.to_string().split(',').count() == 1));
    }

    #[test]
    fn random_draws_are_seeded_and_varied() {
        assert_eq!(Alternatives::random(7), Alternatives::random(7));
        let distinct: std::collections::BTreeSet<String> = (0..20)
            .map(|s| Alternatives::random(s).to_string())
            .collect();
        assert!(distinct.len() >= 15, "{distinct:?}");
        for knob in Alternatives::KNOBS {
            let seen: std::collections::BTreeSet<&str> = (0..40)
                .filter_map(|s| Alternatives::random(s).get(knob.name))
                .collect();
            assert_eq!(seen.len(), knob.values.len(), "{}", knob.name);
        }
    }

    #[test]
    fn skew_is_per_node_bounded_and_off_by_default() {
        let skewed: Alternatives = "clock-skew=minute".parse().expect("valid");
        let offsets: Vec<i64> = (0..8).map(|id| skewed.skew_ms(3, id)).collect();
        assert!(offsets.iter().all(|o| o.abs() <= SKEW_MAX_MS));
        assert!(offsets.windows(2).any(|w| w[0] != w[1]), "{offsets:?}");
        assert_eq!(
            offsets,
            (0..8).map(|id| skewed.skew_ms(3, id)).collect::<Vec<_>>()
        );
        assert_eq!(Alternatives::default().skew_ms(3, 1), 0);
    }
}
