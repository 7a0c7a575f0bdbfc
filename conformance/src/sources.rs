//! The public documents rules cite. A rule's `source` is a comma-separated list of keys
//! (`PF/2443821170`, `DXAG/p33`, `SWARM/normal-write`); this table turns each key into a
//! title and an address a user can follow, so that no report points at a file outside the
//! project.

/// One public document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The key rules use.
    pub key: &'static str,
    /// The document's title.
    pub title: &'static str,
    /// Where to read it (a URL, with the page for manuals).
    pub url: &'static str,
}

const fn pf(key: &'static str, title: &'static str, url: &'static str) -> Source {
    Source { key, title, url }
}

/// Every document the catalog cites, in the order `docs/rules.md` lists them.
pub const SOURCES: [Source; 52] = [
    pf(
        "SWARM/normal-write",
        "Swarm documentation: Normal Responses to WRITE (DataCore Swarm, public space; search the title)",
        "https://perifery.atlassian.net/wiki/spaces/public",
    ),
    pf(
        "SWARM/copy",
        "Swarm documentation: SCSP COPY (DataCore Swarm, public space; search the title)",
        "https://perifery.atlassian.net/wiki/spaces/public",
    ),
    pf(
        "PF/2443820996",
        "Swarm documentation: SCSP Headers",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443820996",
    ),
    pf(
        "PF/2443821170",
        "Swarm documentation: HTTP Response Codes",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821170",
    ),
    pf(
        "PF/2443821276",
        "Swarm documentation: Undefined Responses",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821276",
    ),
    pf(
        "PF/2443821292",
        "Swarm documentation: SCSP Query Arguments",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821292",
    ),
    pf(
        "PF/2443821386",
        "Swarm documentation: SCSP APPEND",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821386",
    ),
    pf(
        "PF/2443821430",
        "Swarm documentation: SCSP DELETE",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821430",
    ),
    pf(
        "PF/2443821518",
        "Swarm documentation: SCSP READ",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821518",
    ),
    pf(
        "PF/2443821550",
        "Swarm documentation: Normal Responses to READ",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821550",
    ),
    pf(
        "PF/2443821568",
        "Swarm documentation: Error Responses to READ",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821568",
    ),
    pf(
        "PF/2443821621",
        "Swarm documentation: SCSP UPDATE",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821621",
    ),
    pf(
        "PF/2443821645",
        "Swarm documentation: SCSP WRITE",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821645",
    ),
    pf(
        "PF/2443821675",
        "Swarm documentation: WRITE with Replicate on Write",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443821675",
    ),
    pf(
        "PF/2443822229",
        "Swarm documentation: multipart upload (initiate and complete)",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443822229",
    ),
    pf(
        "PF/2443822271",
        "Swarm documentation: multipart upload (completion)",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443822271",
    ),
    pf(
        "PF/2443810982",
        "Swarm documentation: Understanding Unnamed Objects",
        "https://perifery.atlassian.net/wiki/spaces/public/pages/2443810982",
    ),
    pf(
        "PFdiff/3379986645",
        "Swarm documentation: Error Responses to WRITE (page revision)",
        "https://perifery.atlassian.net/wiki/pages/viewpage.action?pageId=3379986645",
    ),
    pf(
        "PFdiff/2979594370",
        "Swarm documentation: conditional requests, If-Match and If-None-Match (page revision)",
        "https://perifery.atlassian.net/wiki/pages/viewpage.action?pageId=2979594370",
    ),
    pf(
        "PFdiff/2979135784",
        "Swarm documentation: Last-Modified and If-Modified-Since (page revision)",
        "https://perifery.atlassian.net/wiki/pages/viewpage.action?pageId=2979135784",
    ),
    pf(
        "PFdiff/2957803717",
        "Swarm documentation: multipart parts (page revision)",
        "https://perifery.atlassian.net/wiki/pages/viewpage.action?pageId=2957803717",
    ),
    pf(
        "PFdiff/2968421129",
        "Swarm documentation: COPY and PUT in a missing domain (page revision)",
        "https://perifery.atlassian.net/wiki/pages/viewpage.action?pageId=2968421129",
    ),
    pf(
        "KB/38050164",
        "Swarm knowledge base: how a cluster picks the node that services a request",
        "https://perifery.atlassian.net/wiki/spaces/KB/pages/38050164",
    ),
    pf(
        "DXAG/p24",
        "DX Object Storage (CAStor 5.0) Application Guide, Dec 2010, page 24",
        "http://www.manualslib.com/manual/388922/Dell-Dx6000.html?page=24",
    ),
    pf(
        "DXAG/p33",
        "DX Object Storage (CAStor 5.0) Application Guide, Dec 2010, page 33",
        "http://www.manualslib.com/manual/388922/Dell-Dx6000.html?page=33",
    ),
    pf(
        "DXAG/p39",
        "DX Object Storage (CAStor 5.0) Application Guide, Dec 2010, page 39",
        "http://www.manualslib.com/manual/388922/Dell-Dx6000.html?page=39",
    ),
    pf(
        "DXCR/p38",
        "DX Content Router 2.2 Setup and Configuration Guide, Dec 2010, page 38 (Appendix C, Enumerator API: enumerator types)",
        "http://www.manualslib.com/manual/388943/Dell-Dx6000.html?page=38",
    ),
    pf(
        "DXCR/p39",
        "DX Content Router 2.2 Setup and Configuration Guide, Dec 2010, page 39 (C.2 Enumerator Start)",
        "http://www.manualslib.com/manual/388943/Dell-Dx6000.html?page=39",
    ),
    pf(
        "DXCR/p40",
        "DX Content Router 2.2 Setup and Configuration Guide, Dec 2010, page 40 (C.3 Enumerator Next)",
        "http://www.manualslib.com/manual/388943/Dell-Dx6000.html?page=40",
    ),
    pf(
        "DXCR/p41",
        "DX Content Router 2.2 Setup and Configuration Guide, Dec 2010, page 41 (C.3-C.4 Next answers and Enumerator End)",
        "http://www.manualslib.com/manual/388943/Dell-Dx6000.html?page=41",
    ),
    pf(
        "DXCR/p42",
        "DX Content Router 2.2 Setup and Configuration Guide, Dec 2010, page 42 (C.5-C.6 timeout and shared arguments)",
        "http://www.manualslib.com/manual/388943/Dell-Dx6000.html?page=42",
    ),
    pf(
        "DXCR/ch5.3",
        "DX Content Router 2.2 Setup and Configuration Guide, chapter 5.3 (changing the publisher's rules)",
        "https://manualarchiveguide.com/manuals/Dell-DX6000-Setup-And-Configuration-Manual-3014466?page=23",
    ),
    pf(
        "RFC9110",
        "RFC 9110, HTTP Semantics",
        "https://www.rfc-editor.org/rfc/rfc9110",
    ),
    pf(
        "RFC9112",
        "RFC 9112, HTTP/1.1",
        "https://www.rfc-editor.org/rfc/rfc9112",
    ),
    pf(
        "SL4.1/02",
        "Spectra S3 API Reference 4.1: Spectra S3 Bulk Operations Overview (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/03",
        "Spectra S3 API Reference 4.1: Allocate Job Chunk (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/04",
        "Spectra S3 API Reference 4.1: Cancel Active Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/11",
        "Spectra S3 API Reference 4.1: Create Bulk GET Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/12",
        "Spectra S3 API Reference 4.1: Create Bulk PUT Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/20",
        "Spectra S3 API Reference 4.1: Get Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/26",
        "Spectra S3 API Reference 4.1: Modify Active Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/28",
        "Spectra S3 API Reference 4.1: Replicate PUT Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL4.1/31",
        "Spectra S3 API Reference 4.1: Truncate Active Job (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/4.1/",
    ),
    pf(
        "SL3.0/16",
        "Spectra S3 API Reference 3.0: Get Job Chunks Ready for Client Processing (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/3.0/",
    ),
    pf(
        "SL5.0/12",
        "Spectra S3 API Reference 5.0: Create Bulk PUT Job, max_upload_size (search the title)",
        "https://developer.spectralogic.com/doc/ds3api/5.0/",
    ),
    pf(
        "DS3AG",
        "SpectraLogic ds3_autogen: the BlackPearl API contract 6.0.0 (specs/6_0_0_3247577_contract.xml; Apache-2.0)",
        "https://github.com/SpectraLogic/ds3_autogen",
    ),
    pf(
        "DS3GO",
        "SpectraLogic ds3_go_sdk: ds3/networking/httpRedirect.go (a 307 is sent again at once, RedirectRetryCount = 5 sends)",
        "https://github.com/SpectraLogic/ds3_go_sdk",
    ),
    pf(
        "DS3PY",
        "SpectraLogic ds3_python3_sdk: tests/clientTests.py",
        "https://github.com/SpectraLogic/ds3_python3_sdk",
    ),
    pf(
        "RUCIO/replicas-rest",
        "Rucio REST API: replicas (rucio 41.5.1, lib/rucio/web/rest/flaskapi/v1/replicas.py)",
        "https://github.com/rucio/rucio/blob/41.5.1/lib/rucio/web/rest/flaskapi/v1/replicas.py",
    ),
    pf(
        "RUCIO/server-41.5.1",
        "Rucio 41.5.1 server, as it answers (the rucio package, version 41.5.1)",
        "https://pypi.org/project/rucio/41.5.1/",
    ),
    pf(
        "RUCIO/necromancer",
        "Rucio documentation: rucio-necromancer",
        "https://rucio.github.io/documentation/bin/rucio-necromancer",
    ),
    pf(
        "RUCIO/deletion",
        "Rucio documentation: Deletion overview",
        "https://rucio.github.io/documentation/started/concepts/deletion_overview",
    ),
];

/// The source with this key.
pub fn find(key: &str) -> Option<&'static Source> {
    SOURCES.iter().find(|s| s.key == key.trim())
}

/// The keys of a rule's `source` list.
pub fn keys(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|k| !k.is_empty())
}

/// A rule's sources as `Title <URL>` joined by `; ` (an unknown key is shown as is).
pub fn cite(list: &str) -> String {
    keys(list)
        .map(|k| match find(k) {
            Some(s) => format!("{} <{}>", s.title, s.url),
            None => k.to_string(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_clause_cites_known_public_documents() {
        for rule in crate::catalog::all() {
            assert!(
                keys(rule.source).next().is_some(),
                "{} cites nothing",
                rule.id
            );
            for k in keys(rule.source) {
                assert!(find(k).is_some(), "{}: unknown source {k}", rule.id);
            }
            for c in rule.clauses {
                if let crate::clause::Basis::Doc(src) = c.basis {
                    for k in keys(src) {
                        assert!(
                            find(k).is_some(),
                            "{}.{}: unknown source {k}",
                            rule.id,
                            c.slug
                        );
                    }
                }
            }
            assert!(!rule.source.contains("seed-") && !rule.source.contains("spec/"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in SOURCES {
            assert!(seen.insert(s.key), "{} twice", s.key);
            assert!(s.url.starts_with("http"));
        }
        assert!(cite("PF/2443821170").contains("HTTP Response Codes <https://"));
    }
}
