//! How the publisher family's checks talk: the Enumerator API (Start, Next, End) on the
//! `publisher` target, object writes through the `scsp` target, and the two ways a check
//! waits for the publisher to have seen a write. Checks compare only the objects they
//! wrote, as multisets (ENUM-11: no order), so other writers on a shared cluster never
//! disturb them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::client::{Endpoint, Request, Response};
use crate::rules::common::{expect_status, is_uuid, last_segment};
use crate::target::Ctx;
use crate::verdict::Verdict;

/// The unfiltered channel every publisher has.
pub const PUBLISH_ALL: &str = "PublishAll";

/// A channel whose filter leaves unnamed objects out (`kind=named` in the reference's
/// rules file): the family's simulated publisher defines it, and `replisim serve
/// --publisher-rules` can. Against a publisher without it, ENUM-8 is not observed.
pub const FILTERED_CHANNEL: &str = "replisim-named";

/// Most answers one enumeration is read for, so that a publisher that never runs dry still
/// ends the check.
const MAX_ANSWERS: usize = 400;

/// How long a check waits for the publisher to publish a write.
pub const PUBLISH_WAIT: Duration = Duration::from_secs(30);

/// Time between two looks while waiting.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// The publisher's Enumerator API as one check sees it.
pub struct Api<'a> {
    ctx: &'a Ctx,
    at: Endpoint,
}

/// What Start answered.
pub struct Started {
    /// The enumerator id (`Content-UUID`).
    pub id: String,
    /// `Content-Sync-Token`, when sent.
    pub token: Option<String>,
    /// The whole answer.
    pub response: Response,
}

impl<'a> Api<'a> {
    /// The first `publisher` target of the run; a skip when there is none.
    pub fn of(ctx: &'a Ctx) -> Result<Self, Verdict> {
        let at = *ctx
            .targets
            .get(crate::families::Role::Publisher)
            .first()
            .ok_or_else(|| Verdict::skip(crate::families::Role::Publisher.missing_reason()))?;
        Ok(Self { ctx, at })
    }

    /// One request to the publisher (no redirects: the API has none).
    pub async fn call(&self, method: &str, target: &str) -> Result<Response, Verdict> {
        let req = Request::new(method, target);
        let req = if method == "POST" {
            req.body(bytes::Bytes::new())
        } else {
            req
        };
        Ok(self
            .ctx
            .client
            .send(self.at, &self.at.to_string(), &req)
            .await?)
    }

    /// The answer to Start on `channel` with `query` (`type=UUID&maxItems=2`), as it came.
    pub async fn start_raw(&self, channel: &str, query: &str) -> Result<Response, Verdict> {
        self.call("POST", &with_query(channel, query)).await
    }

    /// Start, expecting 201 with an enumerator id.
    pub async fn start(&self, channel: &str, query: &str) -> Result<Started, Verdict> {
        let response = self.start_raw(channel, query).await?;
        expect_status(&response, &[201], &format!("Start on {channel}"))?;
        let id = response
            .header("content-uuid")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Verdict::fail("Start answered 201 without a Content-UUID"))?
            .to_string();
        let token = response.header("content-sync-token").map(str::to_string);
        Ok(Started {
            id,
            token,
            response,
        })
    }

    /// Next on enumerator `id` with `query` (`syncToken=3&maxItems=10`).
    pub async fn next(&self, id: &str, query: &str) -> Result<Response, Verdict> {
        self.call("GET", &with_query(id, query)).await
    }

    /// End of enumerator `id`.
    pub async fn end(&self, id: &str) -> Result<Response, Verdict> {
        self.call("DELETE", &format!("/{id}")).await
    }

    /// Reads enumerator `id` to its end, acknowledging every answer and sending `query`
    /// (`maxItems=…`) on each Next; returns the non-empty answers in order.
    pub async fn drain(
        &self,
        id: &str,
        token: Option<String>,
        query: &str,
    ) -> Result<Vec<Response>, Verdict> {
        let mut token = token;
        let mut answers = Vec::new();
        for _ in 0..MAX_ANSWERS {
            let mut args: Vec<String> = Vec::new();
            if let Some(t) = &token {
                args.push(format!("syncToken={t}"));
            }
            if !query.is_empty() {
                args.push(query.to_string());
            }
            let r = self.next(id, &args.join("&")).await?;
            expect_status(&r, &[200], "Next")?;
            token = r.header("content-sync-token").map(str::to_string);
            if r.body.is_empty() {
                return Ok(answers);
            }
            answers.push(r);
        }
        Err(Verdict::fail(format!(
            "enumerator {id} still had items after {MAX_ANSWERS} answers"
        )))
    }

    /// Starts an enumerator on `channel`, reads it to its end with `maxItems=1000` and ends
    /// it: every line of every answer (UUID and Event types).
    pub async fn lines_of(&self, channel: &str, query: &str) -> Result<Vec<String>, Verdict> {
        let started = self.start(channel, query).await?;
        let answers = self
            .drain(&started.id, started.token, "maxItems=1000")
            .await;
        let _ = self.end(&started.id).await;
        Ok(answers?.iter().flat_map(lines).collect())
    }

    /// Waits until an Event enumerator on `PublishAll` lists every `(uuid, code)` pair of
    /// `expect`: the publisher has seen those creates (2) and deletes (1).
    pub async fn settle(&self, expect: &[(&str, &str)]) -> Result<(), Verdict> {
        let mut waited = Duration::ZERO;
        loop {
            let seen = self
                .lines_of(PUBLISH_ALL, "type=Event&maxItems=1000")
                .await?;
            let missing: Vec<String> = expect
                .iter()
                .map(|(u, c)| format!("{u},{c}"))
                .filter(|pair| !seen.contains(pair))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if waited >= PUBLISH_WAIT {
                return Err(Verdict::fail(format!(
                    "the publisher did not publish {} within {PUBLISH_WAIT:?} (Event enumerator lines)",
                    missing.join(" ")
                )));
            }
            replisim_sim::rt::sleep(LOOK_EVERY).await;
            waited += LOOK_EVERY;
        }
    }
}

/// `/<name>` with `?query` when there is one.
fn with_query(name: &str, query: &str) -> String {
    if query.is_empty() {
        format!("/{name}")
    } else {
        format!("/{name}?{query}")
    }
}

/// The lines of an answer's body, without line ends, empty ones left out.
pub fn lines(r: &Response) -> Vec<String> {
    String::from_utf8_lossy(&r.body)
        .split('\n')
        .map(|l| l.trim_end_matches('\r').trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// How often each of `ours` occurs in `lines` (UUID lines, or the UUID before the comma of
/// Event lines).
pub fn counts(lines: &[String], ours: &[String]) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> = ours.iter().map(|u| (u.clone(), 0)).collect();
    for line in lines {
        let uuid = line.split(',').next().unwrap_or("").trim();
        if let Some(n) = counts.get_mut(uuid) {
            *n += 1;
        }
    }
    counts
}

/// A Metadata enumerator on `PublishAll` started before a check's writes, so a check can wait
/// until the item about a write has been published before it goes on.
pub struct Watch<'a> {
    api: &'a Api<'a>,
    id: String,
    token: Option<String>,
    /// Every item read so far: the object it names (`Content-UUID` or `Content-Name`) and
    /// its `Content-Event` code, in order.
    pub items: Vec<(String, String)>,
}

impl<'a> Watch<'a> {
    /// Starts the Metadata enumerator.
    pub async fn start(api: &'a Api<'a>) -> Result<Watch<'a>, Verdict> {
        let started = api.start(PUBLISH_ALL, "").await?;
        Ok(Watch {
            api,
            id: started.id,
            token: started.token,
            items: Vec::new(),
        })
    }

    /// Reads on (acknowledging) until an item about `object` arrives; returns its answer.
    pub async fn await_item(&mut self, object: &str) -> Result<Response, Verdict> {
        let mut waited = Duration::ZERO;
        loop {
            let query = match &self.token {
                Some(t) => format!("syncToken={t}"),
                None => String::new(),
            };
            let r = self.api.next(&self.id, &query).await?;
            expect_status(&r, &[200], "Next on a Metadata enumerator")?;
            self.token = r.header("content-sync-token").map(str::to_string);
            if r.body.is_empty() {
                if waited >= PUBLISH_WAIT {
                    return Err(Verdict::fail(format!(
                        "no Metadata item about {object} within {PUBLISH_WAIT:?} of writing it"
                    )));
                }
                replisim_sim::rt::sleep(LOOK_EVERY).await;
                waited += LOOK_EVERY;
                continue;
            }
            let named = r
                .header("content-uuid")
                .or(r.header("content-name"))
                .unwrap_or("")
                .trim()
                .to_string();
            let code = r.header("content-event").unwrap_or("").trim().to_string();
            self.items.push((named.clone(), code));
            if named.eq_ignore_ascii_case(object) {
                return Ok(r);
            }
        }
    }

    /// Items read so far about `object`.
    pub fn about(&self, object: &str) -> usize {
        self.items
            .iter()
            .filter(|(o, _)| o.eq_ignore_ascii_case(object))
            .count()
    }

    /// Ends the enumerator.
    pub async fn end(self) {
        let _ = self.api.end(&self.id).await;
    }
}

/// Writes an unnamed object through the SCSP nodes (`alias` for a mutable one); returns
/// its UUID.
pub async fn write(ctx: &Ctx, alias: bool, body: &'static str) -> Result<String, Verdict> {
    let target = if alias { "/?alias=yes" } else { "/" };
    let req = Request::new("POST", target).body(bytes::Bytes::from_static(body.as_bytes()));
    let r = ctx.request(0, &req).await?.response;
    expect_status(&r, &[201], "SCSP write")?;
    let uuid = r
        .header("content-uuid")
        .map(str::to_string)
        .or_else(|| r.header("location").map(|l| last_segment(l).to_string()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !is_uuid(&uuid) {
        return Err(Verdict::fail(format!(
            "the SCSP write's 201 names no UUID (`{uuid}`)"
        )));
    }
    Ok(uuid)
}

/// Updates an alias through the SCSP nodes (after the once-per-second spacing).
pub async fn update(ctx: &Ctx, uuid: &str, body: &'static str) -> Result<(), Verdict> {
    ctx.next_second().await;
    let req =
        Request::new("PUT", format!("/{uuid}")).body(bytes::Bytes::from_static(body.as_bytes()));
    let r = ctx.request(0, &req).await?.response;
    expect_status(&r, &[201], "SCSP update of an alias")
}

/// Deletes an object through the SCSP nodes.
pub async fn delete(ctx: &Ctx, uuid: &str) -> Result<(), Verdict> {
    ctx.next_second().await;
    let r = ctx
        .request(0, &Request::new("DELETE", format!("/{uuid}")))
        .await?
        .response;
    expect_status(&r, &[200, 204], "SCSP delete")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch; the date alone with `date_only`.
pub fn iso8601(secs: u64, date_only: bool) -> String {
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
    if date_only {
        date
    } else {
        format!(
            "{date}T{:02}:{:02}:{:02}Z",
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_counts() {
        assert_eq!(iso8601(0, false), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_287_187_180, false), "2010-10-15T23:59:40Z");
        assert_eq!(iso8601(1_287_187_180, true), "2010-10-15");
        let lines = vec!["a,2".to_string(), "b".to_string(), "a,1".to_string()];
        let c = counts(&lines, &["a".to_string(), "c".to_string()]);
        assert_eq!(c.get("a"), Some(&2));
        assert_eq!(c.get("c"), Some(&0));
    }
}
