//! Verdicts by clause. A rule's check is a list of clauses, each a one-line claim with its
//! basis, and each ends observed-pass, observed-fail (with the exchange that shows it), not
//! observed (with the reason) or, in the vendor profile, not judged (it rests on a choice of
//! the reference node). A rule passes only when every judged clause was observed and passed.
//!
//! Clause ids are `<RULE>.<slug>` (`SCSP-3.auth`): the slug is kebab-case, stable, and never
//! reused for another claim; a new claim gets a new slug. Rules declare their clauses in the
//! catalog ([`ClauseSpec`]); checks judge them through [`Clauses`], which every check gets in
//! `Ctx::clauses`.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::client::Client;
use crate::verdict::Verdict;

/// What judges a rule: only what the documents say, or the reference node's choices too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Every clause is judged, the reference node's own choices (docs/choices.md) included:
    /// the default in the simulator, so that every mutant is caught.
    Reference,
    /// Only \[DOC\] and consistency clauses are judged; clauses that rest on a choice of the
    /// reference node are listed as not judged: the default against `--target`.
    Vendor,
}

impl Profile {
    /// Lower-case name for the command line and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Reference => "reference",
            Profile::Vendor => "vendor",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reference" => Ok(Profile::Reference),
            "vendor" => Ok(Profile::Vendor),
            other => Err(format!(
                "unknown profile `{other}`; use reference or vendor"
            )),
        }
    }
}

/// Why a clause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The documents say so; the text cites where (a key of `sources`, e.g.
    /// `PF/2443821170`, possibly with a section).
    Doc(&'static str),
    /// A choice of the reference node: the row number of docs/choices.md. Judged only in
    /// the reference profile.
    Choice(u8),
    /// The target must agree with itself (a 202's trailer and body state one outcome; a
    /// refused request leaves nothing behind).
    Consistency,
}

impl Basis {
    /// Short tag for tables: `[DOC]`, `[CHOICE 22]`, `[CONSISTENCY]`.
    pub fn tag(self) -> String {
        match self {
            Basis::Doc(_) => "[DOC]".to_string(),
            Basis::Choice(row) => format!("[CHOICE {row}]"),
            Basis::Consistency => "[CONSISTENCY]".to_string(),
        }
    }

    /// Lower-case kind for JSON: `doc`, `choice`, `consistency`.
    pub fn kind(self) -> &'static str {
        match self {
            Basis::Doc(_) => "doc",
            Basis::Choice(_) => "choice",
            Basis::Consistency => "consistency",
        }
    }

    /// The citation (Doc), the docs/choices.md row (Choice), or nothing.
    pub fn detail(self) -> String {
        match self {
            Basis::Doc(source) => source.to_string(),
            Basis::Choice(row) => format!("docs/choices.md row {row}"),
            Basis::Consistency => String::new(),
        }
    }

    /// Whether a clause of this basis is judged in `profile`.
    pub fn judged_in(self, profile: Profile) -> bool {
        profile == Profile::Reference || !matches!(self, Basis::Choice(_))
    }
}

/// A clause as the catalog declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClauseSpec {
    /// The slug; the full id is `<RULE>.<slug>`.
    pub slug: &'static str,
    /// The claim, in one line.
    pub claim: &'static str,
    /// Why it holds.
    pub basis: Basis,
}

/// A \[DOC\] clause.
pub const fn doc(slug: &'static str, claim: &'static str, source: &'static str) -> ClauseSpec {
    ClauseSpec {
        slug,
        claim,
        basis: Basis::Doc(source),
    }
}

/// A clause that rests on row `row` of docs/choices.md.
pub const fn choice(slug: &'static str, claim: &'static str, row: u8) -> ClauseSpec {
    ClauseSpec {
        slug,
        claim,
        basis: Basis::Choice(row),
    }
}

/// A consistency clause.
pub const fn consistency(slug: &'static str, claim: &'static str) -> ClauseSpec {
    ClauseSpec {
        slug,
        claim,
        basis: Basis::Consistency,
    }
}

/// How a clause ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClauseState {
    /// Observed and held: what was seen.
    Pass(String),
    /// Observed and broken: what was wrong, and the index in the rule's transcript of the
    /// exchange that shows it (when there was one).
    Fail {
        /// What was wrong.
        evidence: String,
        /// Index into the rule's transcript.
        exchange: Option<usize>,
    },
    /// Not observed: why (needs clock control; the check stopped earlier; ...).
    NotObserved(String),
    /// A reference choice in the vendor profile: listed, never judged. The text says what
    /// was seen, if anything.
    NotJudged(String),
}

impl ClauseState {
    /// `pass`, `fail`, `not-observed` or `not-judged`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ClauseState::Pass(_) => "pass",
            ClauseState::Fail { .. } => "fail",
            ClauseState::NotObserved(_) => "not-observed",
            ClauseState::NotJudged(_) => "not-judged",
        }
    }

    /// The text that goes with the state.
    pub fn text(&self) -> &str {
        match self {
            ClauseState::Pass(t) | ClauseState::NotObserved(t) | ClauseState::NotJudged(t) => t,
            ClauseState::Fail { evidence, .. } => evidence,
        }
    }
}

/// A judged clause of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `<RULE>.<slug>`.
    pub id: String,
    /// The claim.
    pub claim: &'static str,
    /// Why it holds.
    pub basis: Basis,
    /// How it ended.
    pub state: ClauseState,
}

/// Full id of a clause of `rule`.
pub fn clause_id(rule: &str, slug: &str) -> String {
    format!("{rule}.{slug}")
}

/// Records the clauses of one rule while its check runs. Clones share the record, so the
/// runner keeps a handle and still has what was judged when a check times out.
///
/// How a check uses it (see ARCHITECTURE.md, "Writing a check"):
///
/// ```text
/// let c = &ctx.clauses;
/// let r = ctx.request(0, &write).await?.response;   // a failure here lands on the first
/// expect_status(&r, &[201], "WRITE")?;               // clause not yet judged
/// c.pass("created", "201 with Location");
/// c.check("uuid", is_uuid(uuid), "32 hex digits", format!("`{uuid}`"))?;  // stops
/// c.record("type", ok, "text/html", "the object's type");                 // goes on
/// if c.judges("exact-400") { ... }                   // a reference choice: vendor skips it
/// ```
#[derive(Clone)]
pub struct Clauses {
    inner: Arc<Mutex<Record>>,
}

struct Record {
    rule: &'static str,
    specs: &'static [ClauseSpec],
    profile: Profile,
    states: Vec<Option<ClauseState>>,
    undeclared: Vec<Clause>,
    client: Option<Client>,
    /// Evidence of the verdicts [`Clauses::fail`] handed out, so that a check stopping
    /// with one is not blamed twice.
    handed_out: Vec<String>,
}

impl Clauses {
    /// A recorder for `rule`'s declared clauses; `client` is the rule's client, whose
    /// transcript a failure points into.
    pub fn new(
        rule: &'static str,
        specs: &'static [ClauseSpec],
        profile: Profile,
        client: Option<Client>,
    ) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Record {
                rule,
                specs,
                profile,
                states: vec![None; specs.len()],
                undeclared: Vec::new(),
                client,
                handed_out: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The profile the run judges in.
    pub fn profile(&self) -> Profile {
        self.lock().profile
    }

    /// Whether `slug` is judged in this run's profile (false for a reference choice in the
    /// vendor profile): guard steps that only make sense for the reference's choices.
    pub fn judges(&self, slug: &str) -> bool {
        let r = self.lock();
        r.position(slug)
            .is_some_and(|i| r.specs[i].basis.judged_in(r.profile))
    }

    /// Records that `slug` was observed and held.
    pub fn pass(&self, slug: &str, evidence: impl Into<String>) {
        self.set(slug, Judged::Pass(evidence.into()));
    }

    /// Records that `slug` was observed and broken, pointing at the newest exchange, and
    /// returns the verdict to stop the check with (`return Err(c.fail(..))`). In the
    /// vendor profile a reference choice is recorded as not judged instead.
    pub fn fail(&self, slug: &str, evidence: impl Into<String>) -> Verdict {
        let evidence = evidence.into();
        self.set(slug, Judged::Fail(evidence.clone()));
        let mut r = self.lock();
        let verdict = Verdict::fail(format!("{}: {evidence}", clause_id(r.rule, slug)));
        r.handed_out.push(verdict.evidence.clone());
        verdict
    }

    /// Records that `slug` could not be observed, and why.
    pub fn not_observed(&self, slug: &str, reason: impl Into<String>) {
        self.set(slug, Judged::NotObserved(reason.into()));
    }

    /// Passes or fails `slug` on `ok`. A failure of a judged clause is `Err` (stop the
    /// check with `?`); a failure of a clause the profile does not judge is recorded as not
    /// judged and the check goes on.
    pub fn check(
        &self,
        slug: &str,
        ok: bool,
        pass: impl Into<String>,
        fail: impl Into<String>,
    ) -> Result<(), Verdict> {
        if ok {
            self.pass(slug, pass);
            return Ok(());
        }
        let judged = self.judges(slug);
        let verdict = self.fail(slug, fail);
        if judged {
            Err(verdict)
        } else {
            Ok(())
        }
    }

    /// Passes or fails `slug` on `ok` and goes on either way (for clauses that do not
    /// depend on each other, so that one failure does not hide the next). Returns `ok`.
    pub fn record(
        &self,
        slug: &str,
        ok: bool,
        pass: impl Into<String>,
        fail: impl Into<String>,
    ) -> bool {
        if ok {
            self.pass(slug, pass);
        } else {
            let _ = self.fail(slug, fail);
        }
        ok
    }

    /// Judges `slug` by a step's result: `Ok` passes with its evidence; a failure is
    /// recorded on `slug` and returned (or, for a clause the profile does not judge,
    /// recorded as not judged and swallowed).
    pub fn judge(&self, slug: &str, step: Result<String, Verdict>) -> Result<(), Verdict> {
        match step {
            Ok(evidence) => {
                self.pass(slug, evidence);
                Ok(())
            }
            Err(v) if v.outcome == crate::verdict::Outcome::Skip => {
                self.not_observed(slug, v.evidence.clone());
                Err(v)
            }
            Err(v) => self.check(slug, false, "", v.evidence),
        }
    }

    fn set(&self, slug: &str, judged: Judged) {
        let mut r = self.lock();
        let exchange = match (&judged, &r.client) {
            (Judged::Fail(_), Some(client)) => client.transcript().len().checked_sub(1),
            _ => None,
        };
        let Some(i) = r.position(slug) else {
            // A check that names a clause the catalog does not declare is a harness bug;
            // it is reported as a failed clause rather than a panic.
            let id = clause_id(r.rule, slug);
            r.undeclared.push(Clause {
                id: id.clone(),
                claim: "(not declared in the catalog)",
                basis: Basis::Consistency,
                state: ClauseState::Fail {
                    evidence: format!("harness bug: the check judged undeclared clause {id}"),
                    exchange: None,
                },
            });
            return;
        };
        let judged_here = r.specs[i].basis.judged_in(r.profile);
        let state = match judged {
            Judged::Pass(e) if judged_here => ClauseState::Pass(e),
            Judged::Fail(e) if judged_here => ClauseState::Fail {
                evidence: e,
                exchange,
            },
            Judged::NotObserved(e) if judged_here => ClauseState::NotObserved(e),
            Judged::NotObserved(e) => ClauseState::NotJudged(format!("not observed: {e}")),
            Judged::Pass(e) | Judged::Fail(e) => ClauseState::NotJudged(format!("seen: {e}")),
        };
        // A failure is never overwritten by a later pass of the same clause.
        if !matches!(r.states[i], Some(ClauseState::Fail { .. })) {
            r.states[i] = Some(state);
        }
    }

    /// Whether any clause failed so far.
    pub fn any_failed(&self) -> bool {
        let r = self.lock();
        r.states
            .iter()
            .any(|s| matches!(s, Some(ClauseState::Fail { .. })))
            || !r.undeclared.is_empty()
    }

    /// The verdict once the check ended with `ended`: clauses it never judged become not
    /// observed (or not judged, for a reference choice in the vendor profile); a failure
    /// the check returned without naming a clause (a step's `?`, a timeout) lands on the
    /// first judged clause not yet judged; a skip keeps the rule skipped.
    pub fn finish(&self, ended: Result<(), Verdict>) -> Verdict {
        let mut r = self.lock();
        let profile = r.profile;
        let mut skip = None;
        let mut stopped = false;
        match ended {
            Ok(()) => {}
            Err(v) if v.outcome == crate::verdict::Outcome::Skip => skip = Some(v.evidence),
            Err(v) => {
                stopped = true;
                if !r.handed_out.contains(&v.evidence) {
                    let first = (0..r.specs.len())
                        .find(|&i| r.states[i].is_none() && r.specs[i].basis.judged_in(profile));
                    let exchange = r
                        .client
                        .as_ref()
                        .and_then(|c| c.transcript().len().checked_sub(1));
                    match first {
                        Some(i) => {
                            r.states[i] = Some(ClauseState::Fail {
                                evidence: v.evidence,
                                exchange,
                            })
                        }
                        None => {
                            let id = clause_id(r.rule, "run");
                            r.undeclared.push(Clause {
                                id,
                                claim: "the check runs to its end",
                                basis: Basis::Consistency,
                                state: ClauseState::Fail {
                                    evidence: v.evidence,
                                    exchange,
                                },
                            })
                        }
                    }
                }
            }
        }
        let mut clauses = Vec::with_capacity(r.specs.len());
        for (i, spec) in r.specs.iter().enumerate() {
            let state = match &r.states[i] {
                Some(s) => s.clone(),
                None if !spec.basis.judged_in(profile) => ClauseState::NotJudged(format!(
                    "a reference choice ({}); judged only with --profile reference",
                    spec.basis.detail()
                )),
                None => ClauseState::NotObserved(match (&skip, stopped) {
                    (Some(reason), _) => reason.clone(),
                    (None, true) => "not reached: the check stopped at an earlier failure".into(),
                    (None, false) => "the check did not observe it".into(),
                }),
            };
            clauses.push(Clause {
                id: clause_id(r.rule, spec.slug),
                claim: spec.claim,
                basis: spec.basis,
                state,
            });
        }
        clauses.extend(r.undeclared.iter().cloned());
        match skip {
            Some(reason) => Verdict::skip(reason).with_clauses(clauses),
            None => Verdict::from_clauses(clauses),
        }
    }
}

enum Judged {
    Pass(String),
    Fail(String),
    NotObserved(String),
}

impl Record {
    fn position(&self, slug: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.slug == slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Outcome;

    const SPECS: [ClauseSpec; 3] = [
        doc("a", "first", "PF/1"),
        choice("b", "second", 7),
        consistency("c", "third"),
    ];

    #[test]
    fn every_clause_passing_is_a_pass() {
        let c = Clauses::new("R-1", &SPECS, Profile::Reference, None);
        c.pass("a", "x");
        c.pass("b", "y");
        c.pass("c", "z");
        let v = c.finish(Ok(()));
        assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
        assert_eq!(v.clauses.len(), 3);
        assert_eq!(v.clauses[1].id, "R-1.b");
    }

    #[test]
    fn an_unobserved_clause_makes_a_partial_and_a_failure_a_fail() {
        let c = Clauses::new("R-1", &SPECS, Profile::Reference, None);
        c.pass("a", "x");
        c.not_observed("b", "needs clock control");
        c.pass("c", "z");
        assert_eq!(c.finish(Ok(())).outcome, Outcome::Partial);
        let c = Clauses::new("R-1", &SPECS, Profile::Reference, None);
        c.pass("a", "x");
        let v = c.finish(Err(Verdict::fail("boom")));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(
            matches!(&v.clauses[1].state, ClauseState::Fail { evidence, .. } if evidence == "boom")
        );
        assert!(v.clauses[2].state.text().starts_with("not reached"));
    }

    #[test]
    fn vendor_profile_lists_choices_without_judging_them() {
        let c = Clauses::new("R-1", &SPECS, Profile::Vendor, None);
        c.pass("a", "x");
        assert!(!c.judges("b"));
        assert!(c.check("b", false, "", "a 431").is_ok());
        c.pass("c", "z");
        let v = c.finish(Ok(()));
        assert_eq!(v.outcome, Outcome::Pass, "{v:?}");
        assert_eq!(v.clauses[1].state.as_str(), "not-judged");
        // A failure the check returns without naming a clause skips the choice clause.
        let c = Clauses::new("R-1", &SPECS, Profile::Vendor, None);
        c.pass("a", "x");
        let v = c.finish(Err(Verdict::fail("boom")));
        assert_eq!(v.clauses[1].state.as_str(), "not-judged");
        assert_eq!(v.clauses[2].state.as_str(), "fail");
        // Only choices: nothing to judge.
        const ONLY: [ClauseSpec; 1] = [choice("b", "second", 7)];
        let v = Clauses::new("R-2", &ONLY, Profile::Vendor, None).finish(Ok(()));
        assert_eq!(v.outcome, Outcome::Skip);
    }

    #[test]
    fn undeclared_clauses_fail_instead_of_panicking() {
        let c = Clauses::new("R-1", &SPECS, Profile::Reference, None);
        c.pass("a", "x");
        c.pass("nope", "x");
        let v = c.finish(Ok(()));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.evidence.contains("undeclared"));
        assert!("vendor".parse::<Profile>().is_ok() && "x".parse::<Profile>().is_err());
    }
}
