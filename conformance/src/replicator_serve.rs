//! `replisim serve --replicator URL --replicate-from URL[,URL…]`: beside the nodes it serves,
//! a reference replicator copies another cluster into them through that cluster's
//! publisher, so a vendor can test its publisher (and its cluster) against the reference
//! replicator.

use std::net::{SocketAddr, ToSocketAddrs};

use replisim_sim::replicator::ReplicatorConfig;

use crate::cli::ServeArgs;

/// An `http://host:port` (or `host:port`) URL as one socket address; the replicator speaks
/// plain HTTP only.
pub fn socket_of(url: &str) -> Result<SocketAddr, String> {
    if url.starts_with("https://") {
        return Err(format!(
            "{url}: the reference replicator speaks plain HTTP only"
        ));
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or("");
    let with_port = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))
}

/// The replicator `serve` should start for these arguments (none without `--replicator`),
/// copying into the `target` nodes.
pub fn config_from(
    args: &ServeArgs,
    target: &[SocketAddr],
) -> Result<Option<ReplicatorConfig>, String> {
    let Some(publisher) = &args.replicator else {
        return Ok(None);
    };
    let publisher = socket_of(publisher)?;
    let source = args
        .replicate_from
        .iter()
        .flat_map(|list| list.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| socket_of(s.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if source.is_empty() {
        return Err(
            "--replicator needs --replicate-from URL[,URL…]: the source cluster's nodes".into(),
        );
    }
    let mut config = ReplicatorConfig::new(publisher, source, target.to_vec());
    config.channel = args.channel.clone();
    Ok(Some(config))
}
