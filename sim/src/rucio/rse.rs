//! RSEs (storage endpoints): availability flags, deterministic or not, and the PFN
//! protocols that turn a DID into a URL and back. The protocols are exactly the three rows
//! `tools/rucio/bootstrap.py` gives every RSE, with the `identity` lfn2pfn algorithm.

/// One access protocol of an RSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// `https`, `root`, `srm`.
    pub scheme: String,
    /// Host name in PFNs.
    pub hostname: String,
    /// Port in PFNs.
    pub port: u16,
    /// Path prefix (`/rucio/`, `//rucio/`).
    pub prefix: String,
    /// Read priority in both domains (1 is preferred).
    pub priority: u32,
}

impl Protocol {
    /// The PFN of `path` (the part after the prefix).
    pub fn pfn(&self, path: &str) -> String {
        format!(
            "{}://{}:{}{}{}",
            self.scheme, self.hostname, self.port, self.prefix, path
        )
    }
}

/// One RSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rse {
    /// Name (`EAST`).
    pub name: String,
    /// 32-hex id, from the catalog's seeded generator.
    pub id: String,
    /// `availability_read`.
    pub read: bool,
    /// `availability_write`.
    pub write: bool,
    /// `availability_delete`.
    pub delete: bool,
    /// Deterministic: PFNs are computed from the DID.
    pub deterministic: bool,
    /// Volatile: a cache, no replicas may be registered.
    pub volatile: bool,
    /// Protocols, by priority.
    pub protocols: Vec<Protocol>,
}

/// The three protocols of bootstrap.py: https (1), root (2), srm (3), all on
/// `<rse lower>.replisim.test`.
pub fn bootstrap_protocols(rse: &str) -> Vec<Protocol> {
    let host = format!("{}.replisim.test", rse.to_lowercase());
    let row = |scheme: &str, port: u16, prefix: &str, priority: u32| Protocol {
        scheme: scheme.to_string(),
        hostname: host.clone(),
        port,
        prefix: prefix.to_string(),
        priority,
    };
    vec![
        row("https", 443, "/rucio/", 1),
        row("root", 1094, "//rucio/", 2),
        row("srm", 443, "/rucio/", 3),
    ]
}

/// The `identity` lfn2pfn path of a DID: `scope/name`, with `user.x` and `group.x` scopes
/// written `user/x`.
pub fn identity_path(scope: &str, name: &str) -> String {
    let scope_path = match scope.split_once('.') {
        Some((kind @ ("user" | "group"), rest)) => format!("{kind}/{rest}"),
        _ => scope.to_string(),
    };
    format!("{scope_path}/{name}")
}

/// The inverse of [`identity_path`]: the DID of a path, or None if it has no name part.
pub fn did_of_path(path: &str) -> Option<(String, String)> {
    let (first, rest) = path.split_once('/')?;
    if first == "user" || first == "group" {
        let (who, name) = rest.split_once('/')?;
        (!name.is_empty()).then(|| (format!("{first}.{who}"), name.to_string()))
    } else {
        (!rest.is_empty() && !first.is_empty()).then(|| (first.to_string(), rest.to_string()))
    }
}

/// A PFN split the way Python's `urlparse` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPfn {
    /// Scheme.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port as the server prints it (`None` when absent).
    pub port: String,
    /// Path, starting with `/`.
    pub path: String,
}

/// Splits `scheme://host[:port]/path`; None for anything else.
pub fn split_pfn(pfn: &str) -> Option<SplitPfn> {
    let (scheme, rest) = pfn.split_once("://")?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (authority.to_string(), "None".to_string()),
    };
    Some(SplitPfn {
        scheme: scheme.to_string(),
        host,
        port,
        path: path.to_string(),
    })
}

impl Rse {
    /// The protocol with this scheme.
    pub fn protocol(&self, scheme: &str) -> Option<&Protocol> {
        self.protocols.iter().find(|p| p.scheme == scheme)
    }

    /// The protocol whose scheme, host, port and prefix a PFN carries, and the path after
    /// the prefix: how a PFN is recognised as belonging to this RSE.
    pub fn match_pfn(&self, pfn: &str) -> Option<(&Protocol, String)> {
        self.protocols.iter().find_map(|p| {
            let head = format!("{}://{}:{}{}", p.scheme, p.hostname, p.port, p.prefix);
            pfn.strip_prefix(&head)
                .filter(|path| !path.is_empty())
                .map(|path| (p, path.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_paths_round_trip() {
        assert_eq!(identity_path("test", "f1"), "test/f1");
        assert_eq!(identity_path("user.harness", "f1"), "user/harness/f1");
        assert_eq!(
            did_of_path("user/harness/f1"),
            Some(("user.harness".into(), "f1".into()))
        );
        assert_eq!(did_of_path("test/f1"), Some(("test".into(), "f1".into())));
        assert_eq!(did_of_path("test"), None);
    }

    #[test]
    fn pfns_split_and_match() {
        let rse = Rse {
            name: "EAST".into(),
            id: "0".repeat(32),
            read: true,
            write: true,
            delete: true,
            deterministic: true,
            volatile: false,
            protocols: bootstrap_protocols("EAST"),
        };
        let pfn = "root://east.replisim.test:1094//rucio/test/f1";
        let (proto, path) = rse.match_pfn(pfn).expect("matches");
        assert_eq!((proto.scheme.as_str(), path.as_str()), ("root", "test/f1"));
        assert_eq!(proto.pfn("test/f1"), pfn);
        let split = split_pfn(pfn).expect("splits");
        assert_eq!(split.port, "1094");
        assert_eq!(split.path, "//rucio/test/f1");
        assert!(rse
            .match_pfn("https://west.replisim.test:443/rucio/test/f1")
            .is_none());
    }
}
