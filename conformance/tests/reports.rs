//! Reports and baselines through the real command line: every `--report` format is written
//! and parsed back (JSON with serde_json, JUnit XML with an XML parser, Markdown and HTML by
//! their structure), clauses included, each parsed back from every format; what a target
//! sends is escaped in each; PARTIAL is counted apart; baselines turn accepted failures
//! into known ones, report fixed entries, and still fail on new failures.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use replisim_conformance::cli::{main_with, Cli};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replisim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn replisim(args: &[&str]) -> ExitCode {
    let mut argv = vec!["replisim", "check", "--color", "never"];
    argv.extend_from_slice(args);
    main_with(Cli::try_parse_from(argv).expect("valid arguments"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn report_args(dir: &Path) -> Vec<String> {
    ["json", "junit", "markdown", "html"]
        .iter()
        .flat_map(|f| {
            [
                "--report".to_string(),
                format!("{f}={}", dir.join(format!("report.{f}")).display()),
            ]
        })
        .collect()
}

fn junit_case<'a, 'i>(doc: &'a roxmltree::Document<'i>, id: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .find(|n| {
            n.has_tag_name("testcase")
                && n.attribute("name")
                    .is_some_and(|name| name.starts_with(&format!("{id}:")))
        })
        .unwrap_or_else(|| panic!("no testcase for {id}"))
}

#[test]
fn every_format_is_written_and_parses_back() {
    let dir = temp_dir("reports");
    let mut args: Vec<String> = [
        "--seed",
        "2",
        "--defect",
        "omit-content-uuid",
        "--rule",
        "SCSP-1",
        "--rule",
        "SCSP-2",
        "--rule",
        "SCSP-3",
        "--rule",
        "SCSP-5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(report_args(&dir));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(replisim(&argv), ExitCode::from(1), "a failure exits 1");

    // JSON
    let json: Value = serde_json::from_str(&read(&dir.join("report.json"))).expect("JSON");
    assert_eq!(json["format"], 2);
    assert_eq!(json["profile"], "reference");
    assert_eq!(json["seed"], 2);
    assert!(json["target"]
        .as_str()
        .is_some_and(|t| t.contains("omit-content-uuid")));
    let outcomes: Vec<(&str, &str)> = json["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or(""),
                r["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("SCSP-1", "fail"),
            ("SCSP-2", "pass"),
            ("SCSP-3", "pass"),
            ("SCSP-5", "skip")
        ]
    );
    let s = &json["summary"];
    assert_eq!(
        (
            &s["rules"],
            &s["passed"],
            &s["partial"],
            &s["failed"],
            &s["skipped"],
            &s["new"]
        ),
        (
            &Value::from(4),
            &Value::from(2),
            &Value::from(0),
            &Value::from(1),
            &Value::from(1),
            &Value::from(1)
        )
    );
    let failed = &json["rules"][0];
    assert_eq!(failed["strength"], "MUST");
    assert_eq!(failed["source"], "SWARM/normal-write");
    assert!(failed["citation"]
        .as_str()
        .is_some_and(|c| c.contains("Normal Responses to WRITE") && c.contains("<https://")));
    // Clauses: the failing one points at the exchange that shows it; the next one was not
    // reached.
    let clauses: Vec<(String, String, Option<u64>)> = failed["clauses"]
        .as_array()
        .expect("clauses")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                c["state"].as_str().unwrap_or("").to_string(),
                c["exchange"].as_u64(),
            )
        })
        .collect();
    assert_eq!(clauses[0].0, "SCSP-1.unnamed-location");
    assert_eq!(clauses[0].1, "fail");
    let shown = clauses[0].2.expect("the failing exchange") as usize;
    assert!(failed["transcript"][shown]["request_head"]
        .as_str()
        .is_some_and(|h| h.starts_with("POST ")));
    assert_eq!(
        (clauses[1].0.as_str(), clauses[1].1.as_str()),
        ("SCSP-1.named-location", "not-observed")
    );
    assert_eq!(json["rules"][1]["clauses"][1]["basis"], "doc");
    assert!(failed["evidence"]
        .as_str()
        .is_some_and(|e| e.to_ascii_lowercase().contains("content-uuid")));
    let exchanges = failed["transcript"].as_array().expect("transcript");
    assert!(!exchanges.is_empty());
    assert!(exchanges[0]["request_head"]
        .as_str()
        .is_some_and(|h| h.starts_with("POST ")));
    assert!(exchanges[0]["status"].is_u64());
    assert!(json["rules"][3]["evidence"]
        .as_str()
        .is_some_and(|e| e.starts_with("not checked yet")));
    assert!(json["replay"]
        .as_str()
        .is_some_and(|r| r.contains("--defect omit-content-uuid")));

    // JUnit XML
    let xml = read(&dir.join("report.junit"));
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("4"));
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("skipped"), Some("1"));
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        4
    );
    let failure = junit_case(&doc, "SCSP-1")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("SCSP-1 has a <failure>");
    assert!(failure
        .attribute("message")
        .is_some_and(|m| m.to_ascii_lowercase().contains("content-uuid")));
    assert!(failure.text().is_some_and(|t| t.contains("POST ")));
    let skipped = junit_case(&doc, "SCSP-5")
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .expect("SCSP-5 has <skipped>");
    assert!(skipped
        .attribute("message")
        .is_some_and(|m| m.starts_with("not checked yet")));
    let passed = junit_case(&doc, "SCSP-2");
    assert!(!passed
        .children()
        .any(|n| n.has_tag_name("failure") || n.has_tag_name("skipped")));
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("property") && n.attribute("name") == Some("seed")));
    let clause_props: Vec<(String, String)> = junit_case(&doc, "SCSP-1")
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .filter_map(|n| {
            Some((
                n.attribute("name")?.strip_prefix("clause ")?.to_string(),
                n.attribute("value")?.to_string(),
            ))
        })
        .collect();
    assert_eq!(clause_props.len(), 2, "{clause_props:?}");
    assert_eq!(clause_props[0].0, "SCSP-1.unnamed-location");
    assert!(
        clause_props[0].1.starts_with("fail [DOC] "),
        "{clause_props:?}"
    );
    assert!(clause_props[1].1.starts_with("not-observed [DOC] "));

    // Markdown
    let md = read(&dir.join("report.markdown"));
    let (rule_part, clause_part) = md.split_once("## Clauses").expect("a clause section");
    let rows: Vec<&str> = rule_part
        .lines()
        .filter(|l| l.starts_with("| SCSP-"))
        .collect();
    assert_eq!(rows.len(), 4, "{md}");
    assert!(rows[0].contains("| FAIL |") && rows[3].contains("| SKIP |"));
    assert!(md.contains("2 passed, 0 partial, 1 failed, 1 skipped"));
    let clause_rows: Vec<Vec<&str>> = clause_part
        .lines()
        .filter(|l| l.starts_with("| SCSP-"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let first = &clause_rows[0];
    assert_eq!(first[0], "SCSP-1");
    assert_eq!(first[1], "SCSP-1.unnamed-location");
    assert_eq!(first[2], "\\[DOC\\]");
    assert_eq!(first[3], "fail");
    assert!(clause_rows
        .iter()
        .any(|r| r[1].starts_with("SCSP-3.") && r[3] == "pass"));

    // HTML
    let html = read(&dir.join("report.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<table>") && html.contains("</table>"));
    assert!(html.contains("<style>"), "the CSS is inline");
    assert!(!html.contains("<link") && !html.contains("<script") && !html.contains("src="));
    let row_start = html.find("<tr id=\"SCSP-1\"").expect("a row for SCSP-1");
    let row = &html[row_start..row_start + html[row_start..].find("</tr>").expect("row end")];
    assert!(row.contains("<details><summary>"), "{row}");
    assert!(
        row.contains("POST /"),
        "the transcript is inside the details"
    );
    assert!(
        html.contains("Normal Responses to WRITE")
            && html.contains("&lt;https://perifery.atlassian.net/"),
        "the public citation is shown"
    );
    let clause_states: Vec<(&str, &str)> = html
        .match_indices("data-clause=\"")
        .filter_map(|(i, m)| {
            let rest = &html[i + m.len()..];
            let (id, rest) = rest.split_once('"')?;
            let state = rest.strip_prefix(" data-state=\"")?.split('"').next()?;
            Some((id, state))
        })
        .collect();
    assert!(clause_states.contains(&("SCSP-1.unnamed-location", "fail")));
    assert!(clause_states.contains(&("SCSP-2.type", "pass")));
}

#[test]
fn baselines_accept_known_failures_and_report_fixes() {
    let dir = temp_dir("baseline");
    let base = dir.join("baseline.txt");
    let json = dir.join("r.json");
    let base_s = base.display().to_string();
    let json_s = format!("json={}", json.display());
    let broken = [
        "--defect",
        "omit-content-uuid",
        "--rule",
        "SCSP-1",
        "--rule",
        "SCSP-2",
    ];

    let mut args = broken.to_vec();
    args.extend(["--write-baseline", &base_s]);
    assert_eq!(replisim(&args), ExitCode::from(1));
    let written = read(&base);
    assert!(
        written.lines().any(|l| l.starts_with("SCSP-1 ")),
        "{written}"
    );
    assert!(!written.lines().any(|l| l.starts_with("SCSP-2")));

    // The same failure again, now accepted.
    let mut args = broken.to_vec();
    args.extend(["--baseline", &base_s, "--report", &json_s]);
    assert_eq!(replisim(&args), ExitCode::SUCCESS, "known failures exit 0");
    let v: Value = serde_json::from_str(&read(&json)).expect("JSON");
    assert_eq!(
        v["rules"][0]["outcome"], "fail",
        "a known failure is still shown"
    );
    assert_eq!(v["rules"][0]["baseline"], "known");
    assert_eq!(v["summary"]["known"], 1);
    assert_eq!(v["summary"]["new"], 0);

    // Fixed: the rule passes while the baseline still lists it.
    let args = [
        "--rule",
        "SCSP-1",
        "--baseline",
        &base_s,
        "--report",
        &json_s,
    ];
    assert_eq!(replisim(&args), ExitCode::SUCCESS);
    let v: Value = serde_json::from_str(&read(&json)).expect("JSON");
    assert_eq!(v["rules"][0]["baseline"], "fixed");
    assert_eq!(v["baseline"]["fixed"][0], "SCSP-1");

    // A failure the baseline does not list still fails the run.
    std::fs::write(&base, "SCSP-2  # something else\n").expect("write");
    let mut args = broken.to_vec();
    args.extend(["--baseline", &base_s]);
    assert_eq!(replisim(&args), ExitCode::from(1));

    // Harness errors exit 2.
    std::fs::write(&base, "SCSP-1 SCSP-2\n").expect("write");
    assert_eq!(
        replisim(&["--rule", "SCSP-1", "--baseline", &base_s]),
        ExitCode::from(2)
    );
    let missing = dir.join("no-such-dir").join("r.json");
    assert_eq!(
        replisim(&[
            "--rule",
            "SCSP-2",
            "--report",
            &format!("json={}", missing.display())
        ]),
        ExitCode::from(2)
    );
    assert_eq!(
        replisim(&["--rule", "SCSP-2", "--report", "pdf=x"]),
        ExitCode::from(2)
    );
}

/// A "node" that answers everything with a 500 whose reason phrase and body are hostile to
/// every report format.
fn hostile_server() -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = "<script>alert('body')</script> | ]]> &amp; \x1b[2J\x00";
                let answer = format!(
                    "HTTP/1.1 500 <script>alert(\"x\")</script> & ]]> |\r\nContent-Length: {}\r\nContent-Type: text/html\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while let Ok(n) = stream.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await;
            });
        }
    });
    (runtime, addr)
}

#[test]
fn what_a_target_sends_is_escaped_in_every_format() {
    let (_server, addr) = hostile_server();
    let dir = temp_dir("hostile");
    // Two "nodes" (the same server twice), so that SCSP-3 has the nodes it needs.
    let target = format!("http://{addr},http://{addr}");
    let mut args: Vec<String> = [
        "--target", &target, "--rule", "SCSP-1", "--rule", "SCSP-3", "--rule", "SCSP-18",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(report_args(&dir));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(replisim(&argv), ExitCode::from(1));

    let json: Value = serde_json::from_str(&read(&dir.join("report.json"))).expect("JSON");
    // SCSP-18's first request gets the 500, and its evidence quotes status line and body.
    let evidence = json["rules"][2]["evidence"].as_str().expect("evidence");
    // SCSP-3 needs a node retired, which this target cannot do: PARTIAL, counted apart.
    assert_eq!(json["rules"][1]["outcome"], "partial");
    assert_eq!(json["summary"]["partial"], 1);
    assert_eq!(json["summary"]["passed"], 0);
    assert!(
        evidence.contains("<script>alert(\"x\")</script>"),
        "{evidence}"
    );

    let xml = read(&dir.join("report.junit"));
    let doc = roxmltree::Document::parse(&xml).expect("well-formed despite the target");
    let failure = junit_case(&doc, "SCSP-18")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("failure");
    assert!(failure
        .attribute("message")
        .is_some_and(|m| m.contains("<script>alert(\"x\")</script> & ]]>")));
    assert!(failure.text().is_some_and(|t| t.contains("\\u{1b}[2J")));
    assert!(!xml.contains('\u{1b}'));
    let partial = junit_case(&doc, "SCSP-3")
        .children()
        .find(|n| n.has_tag_name("skipped"))
        .expect("PARTIAL is reported as skipped, never as a pass");
    assert!(partial
        .attribute("message")
        .is_some_and(|m| m.starts_with("PARTIAL: ")));

    let html = read(&dir.join("report.html"));
    assert!(
        !html.contains("<script"),
        "target text reached the page unescaped"
    );
    assert!(html.contains("&lt;script&gt;alert("));
    assert!(!html.contains('\u{1b}'));
    assert!(html.contains("<tr id=\"SCSP-3\" class=\"partial\">"));

    let md = read(&dir.join("report.markdown"));
    let (rule_part, clause_part) = md.split_once("## Clauses").expect("a clause section");
    assert!(rule_part.contains("| PARTIAL |"));
    let rows: Vec<(&str, usize)> = rule_part
        .lines()
        .filter(|l| l.starts_with("| SCSP-"))
        .map(|l| (l, 5))
        .chain(
            clause_part
                .lines()
                .filter(|l| l.starts_with("| SCSP-"))
                .map(|l| (l, 4)),
        )
        .collect();
    assert!(rows.len() > 3);
    for (row, separators) in rows {
        assert_eq!(
            row.matches(" | ").count(),
            separators,
            "a pipe from the target split a cell: {row}"
        );
        assert!(
            row.match_indices('<')
                .all(|(i, _)| row[..i].ends_with('\\')),
            "an unescaped < from the target: {row}"
        );
    }
}
