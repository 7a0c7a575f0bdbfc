//! DS3 in scenario files: `[[cluster]]` tables with `ds3 = { ... }` are BlackPearl systems
//! (one reference gateway each, built like the `ds3` family's simulated systems, so two of
//! them joined by a `[[wan]]` are a source and a target for replication); `sign = "user"` on
//! a `send` signs the request DS3-style as a fixture user; `expect.xml` and `capture.xml`
//! reach into an XML answer by a small path (`MasterObjectList@JobId`,
//! `Error/Code`, `Jobs/Job[1]@Status`).

use std::collections::BTreeSet;

use replisim_sim::ds3::auth::{self, Credentials, Signed, User};
use replisim_sim::ds3::defects::Defect;
use replisim_sim::ds3::host::Ds3Factory;

/// The users a scenario may sign as: the simulated systems' fixture users.
pub fn user(name: &str) -> Result<User, String> {
    let creds = Credentials::fixture();
    let found = creds.users().find(|u| u.name == name).cloned();
    found.ok_or_else(|| {
        let known: Vec<&str> = creds.users().map(|u| u.name.as_str()).collect();
        format!(
            "no DS3 user {name:?}; the simulated systems know {}",
            known.join(", ")
        )
    })
}

/// The `Date` and `Authorization` headers that sign a request as `user` (the path without
/// its query; `Content-MD5` and `Content-Type` as the request sends them, or empty).
pub fn signing_headers(
    user: &User,
    method: &str,
    target: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
) -> Vec<(String, String)> {
    let path = target.split('?').next().unwrap_or(target);
    let signed = Signed {
        verb: method,
        path,
        content_md5,
        content_type,
        date,
        ..Default::default()
    };
    vec![
        ("Date".to_string(), date.to_string()),
        (
            "Authorization".to_string(),
            auth::authorization(user, &signed),
        ),
    ]
}

/// One simulated DS3 system's host factory: the `ds3` family's gateway settings (small
/// cache and chunks, short waits) with `defects`.
pub fn factory(defects: &BTreeSet<Defect>) -> Ds3Factory {
    Ds3Factory::new(
        crate::families::ds3::sim_gateway(defects),
        Credentials::fixture(),
    )
}

/// One step of an XML path: an element name and which of its same-named siblings (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    name: String,
    index: usize,
}

/// A path into an XML document: elements from the root down, then an attribute (`@Name`)
/// or the element's text; `#` at the end counts the matching elements instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlPath {
    source: String,
    segments: Vec<Segment>,
    attribute: Option<String>,
    count: bool,
}

impl XmlPath {
    /// Parses `Root/Child[2]/Leaf@Attr`, `Root/Child` or `Root/Child#`.
    pub fn parse(text: &str) -> Result<XmlPath, String> {
        let source = text.trim().to_string();
        let (body, count) = match source.strip_suffix('#') {
            Some(b) => (b, true),
            None => (source.as_str(), false),
        };
        let (elements, attribute) = match body.split_once('@') {
            Some((e, a)) => (e, Some(a.to_string())),
            None => (body, None),
        };
        if count && attribute.is_some() {
            return Err(format!(
                "{source:?}: `#` counts elements; it does not go with an attribute"
            ));
        }
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
        };
        if let Some(a) = &attribute {
            if !name_ok(a) {
                return Err(format!("{source:?}: expected an attribute name after `@`"));
            }
        }
        let mut segments = Vec::new();
        for part in elements.split('/') {
            let (name, index) = match part.split_once('[') {
                None => (part, 0),
                Some((n, rest)) => {
                    let i = rest
                        .strip_suffix(']')
                        .and_then(|i| i.parse::<usize>().ok())
                        .ok_or_else(|| {
                            format!("{source:?}: expected `[n]` with a whole number in {part:?}")
                        })?;
                    (n, i)
                }
            };
            if !name_ok(name) {
                return Err(format!(
                    "{source:?}: expected element names separated by `/`, such as \
                     MasterObjectList/Objects@ChunkNumber"
                ));
            }
            segments.push(Segment {
                name: name.to_string(),
                index,
            });
        }
        Ok(XmlPath {
            source,
            segments,
            attribute,
            count,
        })
    }

    /// The path as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value the path reaches in `xml`: `Ok(None)` when an element or attribute on the
    /// way is missing, `Err` when the text is not XML.
    pub fn value(&self, xml: &str) -> Result<Option<String>, String> {
        let doc = roxmltree::Document::parse(xml.trim_start_matches('\u{feff}'))
            .map_err(|e| format!("the body is not XML ({e})"))?;
        let root = doc.root_element();
        let Some((first, rest)) = self.segments.split_first() else {
            return Ok(None);
        };
        if root.tag_name().name() != first.name || first.index != 0 {
            return Ok(if self.count { Some("0".into()) } else { None });
        }
        let mut node = root;
        for (i, seg) in rest.iter().enumerate() {
            let mut same = node
                .children()
                .filter(|n| n.is_element() && n.tag_name().name() == seg.name);
            if self.count && i + 1 == rest.len() {
                return Ok(Some(same.count().to_string()));
            }
            match same.nth(seg.index) {
                Some(n) => node = n,
                None => return Ok(if self.count { Some("0".into()) } else { None }),
            }
        }
        if self.count {
            return Ok(Some("1".into()));
        }
        Ok(match &self.attribute {
            Some(a) => node.attribute(a.as_str()).map(str::to_string),
            None => Some(node.text().unwrap_or("").trim().to_string()),
        })
    }
}

/// The longest XML answer a transcript shows whole.
pub const XML_CHARS_MAX: usize = 16 * 1024;

/// An XML document (not an HTML page) laid out one element a line, attributes in document
/// order, so a snapshot of a DS3 answer reads like the documents' samples; `None` when the
/// text is not XML or is too long to show whole.
pub fn pretty_xml(text: &str) -> Option<String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if !trimmed.starts_with('<') || trimmed.len() > XML_CHARS_MAX {
        return None;
    }
    let doc = roxmltree::Document::parse(trimmed).ok()?;
    let root = doc.root_element();
    if root.tag_name().name().eq_ignore_ascii_case("html") {
        return None;
    }
    let mut out = String::new();
    if trimmed.starts_with("<?xml") {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    write_element(&mut out, root, 0);
    Some(out.trim_end().to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn write_element(out: &mut String, node: roxmltree::Node<'_, '_>, depth: usize) {
    let pad = "  ".repeat(depth);
    let name = node.tag_name().name();
    out.push_str(&format!("{pad}<{name}"));
    for a in node.attributes() {
        out.push_str(&format!(" {}=\"{}\"", a.name(), escape(a.value())));
    }
    let children: Vec<_> = node.children().filter(|n| n.is_element()).collect();
    let text = node
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>();
    let text = text.trim();
    match (children.is_empty(), text.is_empty()) {
        (true, true) => out.push_str("/>\n"),
        (true, false) => out.push_str(&format!(">{}</{name}>\n", escape(text))),
        _ => {
            out.push_str(">\n");
            for c in children {
                write_element(out, c, depth + 1);
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOL: &str = r#"<MasterObjectList JobId="j1" Status="IN_PROGRESS"><Objects ChunkNumber="1"><Object Name="a" Offset="0"/><Object Name="a" Offset="8"/></Objects><Objects ChunkNumber="2"/></MasterObjectList>"#;

    fn at(path: &str, xml: &str) -> Option<String> {
        XmlPath::parse(path)
            .expect("a path")
            .value(xml)
            .expect("XML")
    }

    #[test]
    fn paths_reach_attributes_text_and_counts() {
        assert_eq!(at("MasterObjectList@JobId", MOL).as_deref(), Some("j1"));
        assert_eq!(
            at("MasterObjectList/Objects[1]@ChunkNumber", MOL).as_deref(),
            Some("2")
        );
        assert_eq!(
            at("MasterObjectList/Objects/Object[1]@Offset", MOL).as_deref(),
            Some("8")
        );
        assert_eq!(at("MasterObjectList/Objects#", MOL).as_deref(), Some("2"));
        assert_eq!(at("MasterObjectList/Nothing#", MOL).as_deref(), Some("0"));
        assert_eq!(at("MasterObjectList/Objects[5]@ChunkNumber", MOL), None);
        assert_eq!(at("Error/Code", MOL), None);
        assert_eq!(
            at("Error/Code", "<Error><Code>NotFound</Code></Error>").as_deref(),
            Some("NotFound")
        );
        assert!(XmlPath::parse("A/B@").is_err());
        assert!(XmlPath::parse("A/B[x]").is_err());
        assert!(XmlPath::parse("A//B").is_err());
        assert!(XmlPath::parse("A@b#").is_err());
        assert!(XmlPath::parse("A").expect("path").value("not xml").is_err());
    }

    #[test]
    fn xml_is_laid_out_one_element_a_line_and_html_is_not() {
        let shown = pretty_xml(MOL).expect("XML");
        assert!(shown.starts_with("<MasterObjectList JobId=\"j1\" Status=\"IN_PROGRESS\">\n  <Objects ChunkNumber=\"1\">\n    <Object Name=\"a\" Offset=\"0\"/>"), "{shown}");
        assert!(shown.ends_with("</MasterObjectList>"), "{shown}");
        assert_eq!(
            pretty_xml("<Error><Code>A&amp;B</Code></Error>").as_deref(),
            Some("<Error>\n  <Code>A&amp;B</Code>\n</Error>")
        );
        assert_eq!(pretty_xml("<html><body/></html>"), None);
        assert_eq!(pretty_xml("{\"a\": 1}"), None);
        assert_eq!(pretty_xml("<unclosed>"), None);
    }

    #[test]
    fn signing_covers_the_path_without_its_query() {
        let u = user("test_user").expect("fixture user");
        let a = signing_headers(&u, "GET", "/_rest_/job/x?replicate", "", "", "d");
        let b = signing_headers(&u, "GET", "/_rest_/job/x", "", "", "d");
        assert_eq!(a, b);
        assert!(a[1].1.starts_with("AWS "));
        assert!(user("nobody").unwrap_err().contains("test_user"));
    }
}
