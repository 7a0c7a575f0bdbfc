//! Read rules: SCSP-37 (Range requests behave as in HTTP: 206, and 416 out of bounds).

use bytes::Bytes;

use crate::catalog::{Rule, Strength};
use crate::check_fn;
use crate::clause::{choice, doc, ClauseSpec};
use crate::client::{Request, Response};
use crate::rules::common::{expect_status, http_rule};
use crate::target::Ctx;
use crate::verdict::Verdict;

const RANGE: &str = "PF/2443821518";

const SCSP_37: [ClauseSpec; 5] = [
    doc(
        "closed-range",
        "`Range: bytes=2-5` of a 10-byte object is 206 with bytes 2..=5 and `Content-Range: bytes 2-5/10`",
        RANGE,
    ),
    doc(
        "open-range",
        "`Range: bytes=7-` is 206 with the last three bytes and `Content-Range: bytes 7-9/10`",
        RANGE,
    ),
    doc(
        "suffix-range",
        "`Range: bytes=-3` is 206 with the last three bytes",
        RANGE,
    ),
    doc(
        "out-of-bounds-416",
        "`Range: bytes=20-30` of a 10-byte object is 416",
        RANGE,
    ),
    choice(
        "unsatisfiable-content-range",
        "the 416 carries `Content-Range: bytes */10`",
        13,
    ),
];

/// The read rules.
pub const RULES: [Rule; 1] = [http_rule(
    "SCSP-37",
    "Range requests behave as in HTTP: 206, 416 out of bounds",
    RANGE,
    Strength::Must,
    scsp_37,
    &SCSP_37,
)];

check_fn!(scsp_37, check_scsp_37);

/// What a ranged answer showed, for evidence.
fn shown(r: &Response) -> String {
    format!(
        "{} Content-Range `{}` body `{}`",
        r.status,
        r.header("content-range").unwrap_or("-"),
        String::from_utf8_lossy(&r.body)
    )
}

async fn check_scsp_37(ctx: &Ctx) -> Result<(), Verdict> {
    let c = &ctx.clauses;
    ctx.ensure_bucket().await?;
    let path = ctx.object("digits");
    let w = ctx
        .request(
            0,
            &Request::new("POST", path.clone()).body(Bytes::from_static(b"0123456789")),
        )
        .await?
        .response;
    expect_status(&w, &[201], "WRITE of a 10-byte object")?;
    let get = |range: &'static str| Request::new("GET", path.clone()).header("Range", range);
    let expected = [
        (
            "closed-range",
            "bytes=2-5",
            &b"2345"[..],
            Some("bytes 2-5/10"),
        ),
        ("open-range", "bytes=7-", &b"789"[..], Some("bytes 7-9/10")),
        ("suffix-range", "bytes=-3", &b"789"[..], None),
    ];
    for (slug, range, body, content_range) in expected {
        let r = ctx.request(0, &get(range)).await?.response;
        let ok = r.status == 206
            && &r.body[..] == body
            && content_range.is_none_or(|cr| r.header("content-range") == Some(cr));
        c.record(
            slug,
            ok,
            format!("{range} → {}", shown(&r)),
            format!(
                "{range} answered {}; expected 206 with `{}`{}",
                shown(&r),
                String::from_utf8_lossy(body),
                content_range
                    .map(|cr| format!(" and Content-Range `{cr}`"))
                    .unwrap_or_default()
            ),
        );
    }
    let r = ctx.request(0, &get("bytes=20-30")).await?.response;
    c.record(
        "out-of-bounds-416",
        r.status == 416,
        format!("bytes=20-30 → {}", r.status),
        format!("bytes=20-30 of a 10-byte object answered {}", shown(&r)),
    );
    c.record(
        "unsatisfiable-content-range",
        r.status == 416 && r.header("content-range") == Some("bytes */10"),
        "Content-Range `bytes */10`",
        format!(
            "bytes=20-30 answered {}; the reference answers 416 with `bytes */10`",
            shown(&r)
        ),
    );
    Ok(())
}
