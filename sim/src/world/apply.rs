//! Carrying out the fault vocabulary (`crate::faults`) on a world: which madsim links to
//! clog, which link shapes to set, which disks and clocks to change, and the refusals that
//! keep every fault recoverable.

use std::net::IpAddr;
use std::sync::MutexGuard;
use std::time::Duration;

use crate::faults::Fault;
use crate::netem::Shape;
use crate::store::{Disk, Entry};
use crate::world::{locked, NetState, World};

impl World {
    /// Applies a fault now and records it in the trace. Returns what was done, or why the
    /// fault was not applied (an unknown host, cluster or link, or a rot or loss that would
    /// destroy the last good copy of something).
    pub fn apply(&self, fault: &Fault) -> Result<String, String> {
        let outcome = self.apply_inner(fault);
        match &outcome {
            Ok(done) => self.trace.record("nemesis", done.clone()),
            Err(why) => self
                .trace
                .record("nemesis", format!("{fault} not applied: {why}")),
        }
        outcome
    }

    fn node_index(&self, node: usize) -> Result<usize, String> {
        if node < self.len() {
            Ok(node)
        } else {
            Err(format!(
                "no node{} in a {}-node world",
                node + 1,
                self.len()
            ))
        }
    }

    fn named_cluster(&self, name: &str) -> Result<usize, String> {
        self.cluster_index(name).ok_or_else(|| {
            let names: Vec<&str> = self.clusters.iter().map(|c| c.info.name.as_str()).collect();
            format!("no cluster `{name}`; the world has {}", names.join(", "))
        })
    }

    /// The link a fault names: (c, c) for cluster c's LAN, (a, b) with a < b for the WAN
    /// link between a and b (which must exist).
    fn named_link(&self, cluster: &str, peer: &Option<String>) -> Result<(usize, usize), String> {
        let a = self.named_cluster(cluster)?;
        let Some(peer) = peer else { return Ok((a, a)) };
        let b = self.named_cluster(peer)?;
        let key = (a.min(b), a.max(b));
        if a == b || !self.wan.contains_key(&key) {
            return Err(format!("no WAN link between `{cluster}` and `{peer}`"));
        }
        Ok(key)
    }

    /// Endpoints are hosts (world order), then clients.
    fn endpoints(&self) -> usize {
        self.hosts.len() + self.clients.len()
    }

    fn endpoint_cluster(&self, e: usize) -> usize {
        match self.hosts.get(e) {
            Some(h) => h.id.cluster,
            None => self.clients[e - self.hosts.len()].cluster,
        }
    }

    fn endpoint_node(&self, e: usize) -> madsim::task::NodeId {
        match self.hosts.get(e) {
            Some(h) => h.node,
            None => self.clients[e - self.hosts.len()].handle.id(),
        }
    }

    fn endpoint_ip(&self, e: usize) -> IpAddr {
        match self.hosts.get(e) {
            Some(h) => h.addr.ip(),
            None => IpAddr::V4(self.clients[e - self.hosts.len()].ip),
        }
    }

    /// Every directed endpoint pair a link carries.
    fn link_pairs(&self, (a, b): (usize, usize)) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for x in 0..self.endpoints() {
            for y in 0..self.endpoints() {
                let (cx, cy) = (self.endpoint_cluster(x), self.endpoint_cluster(y));
                let on_link = if a == b {
                    cx == a && cy == a
                } else {
                    (cx == a && cy == b) || (cx == b && cy == a)
                };
                if x != y && on_link {
                    out.push((x, y));
                }
            }
        }
        out
    }

    /// Tells madsim which links are clogged: the fault cuts plus every pair of clusters the
    /// topology does not join.
    pub(super) fn sync_net(&self, net: &mut NetState) {
        let mut wanted = net.cut.clone();
        for x in 0..self.endpoints() {
            for y in 0..self.endpoints() {
                let (cx, cy) = (self.endpoint_cluster(x), self.endpoint_cluster(y));
                if cx != cy && !self.wan.contains_key(&(cx.min(cy), cx.max(cy))) {
                    wanted.insert((x, y));
                }
            }
        }
        let sim = madsim::net::NetSim::current();
        for &(x, y) in net.clogged.difference(&wanted) {
            sim.unclog_link(self.endpoint_node(x), self.endpoint_node(y));
        }
        for &(x, y) in wanted.difference(&net.clogged) {
            sim.clog_link(self.endpoint_node(x), self.endpoint_node(y));
        }
        net.clogged = wanted;
    }

    fn set_shape(&self, net: &mut NetState, link: (usize, usize), shape: Shape) {
        for (x, y) in self.link_pairs(link) {
            crate::netem::set(self.endpoint_ip(x), self.endpoint_ip(y), shape);
        }
        if shape.is_clear() {
            net.shapes.remove(&link);
        } else {
            net.shapes.insert(link, shape);
        }
    }

    /// Gives every link its built shape back. True when a fault had changed one.
    pub(super) fn restore_links(&self) -> bool {
        let mut net = locked(&self.net);
        let built: Vec<((usize, usize), Shape)> = self
            .wan
            .iter()
            .filter(|(_, l)| !l.shape.is_clear())
            .map(|(k, l)| (*k, l.shape))
            .collect();
        let now: Vec<((usize, usize), Shape)> = net.shapes.iter().map(|(k, s)| (*k, *s)).collect();
        if now == built {
            return false;
        }
        for (link, _) in now {
            self.set_shape(&mut net, link, Shape::default());
        }
        for (link, shape) in built {
            self.set_shape(&mut net, link, shape);
        }
        true
    }

    fn cut(&self, pairs: impl IntoIterator<Item = (usize, usize)>) {
        let mut net = locked(&self.net);
        net.cut.extend(pairs);
        self.sync_net(&mut net);
    }

    fn apply_inner(&self, fault: &Fault) -> Result<String, String> {
        let handle = madsim::runtime::Handle::current();
        let sim = madsim::net::NetSim::current();
        match fault {
            Fault::Crash { node } => {
                let i = self.node_index(*node)?;
                handle.kill(self.hosts[i].node);
                locked(&self.down).insert(i);
                let lost = Disk::lock(&self.hosts[i].disk).crash();
                Ok(format!("{fault}: {} unsynced records lost", lost.len()))
            }
            Fault::Restart { node } => {
                let i = self.node_index(*node)?;
                if !locked(&self.down).contains(&i) {
                    // A reboot of a running host: stop it first, so its listener is gone
                    // before the new incarnation binds the same address.
                    handle.kill(self.hosts[i].node);
                }
                handle.restart(self.hosts[i].node);
                locked(&self.down).remove(&i);
                locked(&self.paused).remove(&i);
                Ok(fault.to_string())
            }
            Fault::Pause { node } => {
                let i = self.node_index(*node)?;
                handle.pause(self.hosts[i].node);
                locked(&self.paused).insert(i);
                Ok(fault.to_string())
            }
            Fault::Resume { node } => {
                let i = self.node_index(*node)?;
                handle.resume(self.hosts[i].node);
                locked(&self.paused).remove(&i);
                Ok(fault.to_string())
            }
            Fault::Partition { groups } => {
                let group_of = self.groups(groups, 0..self.len(), |m| self.node_index(m))?;
                self.cut(self.split(&group_of));
                Ok(fault.to_string())
            }
            Fault::PartitionLan { cluster, groups } => {
                let c = self.named_cluster(cluster)?;
                let range = self.clusters[c].hosts.clone();
                let first = range.start;
                let group_of = self.groups(groups, range.clone(), |m| {
                    if m < range.len() {
                        Ok(first + m)
                    } else {
                        Err(format!(
                            "no node{} in cluster `{cluster}` of {} hosts",
                            m + 1,
                            range.len()
                        ))
                    }
                })?;
                self.cut(self.split(&group_of));
                Ok(fault.to_string())
            }
            Fault::PartitionOneWay { from, to } => {
                let (a, b) = (self.node_index(*from)?, self.node_index(*to)?);
                self.cut([(a, b)]);
                Ok(fault.to_string())
            }
            Fault::Isolate { node } => {
                let i = self.node_index(*node)?;
                self.cut(
                    (0..self.len())
                        .filter(|o| *o != i)
                        .flat_map(|o| [(i, o), (o, i)]),
                );
                Ok(fault.to_string())
            }
            Fault::PartitionWan { a, b } => {
                let link = self.named_link(a, &Some(b.clone()))?;
                self.cut(self.link_pairs(link));
                Ok(fault.to_string())
            }
            Fault::PartitionWanOneWay { from, to } => {
                self.named_link(from, &Some(to.clone()))?;
                let (f, t) = (self.named_cluster(from)?, self.named_cluster(to)?);
                let pairs: Vec<(usize, usize)> = self
                    .link_pairs((f.min(t), f.max(t)))
                    .into_iter()
                    .filter(|(x, _)| self.endpoint_cluster(*x) == f)
                    .collect();
                self.cut(pairs);
                Ok(fault.to_string())
            }
            Fault::Heal => {
                let mut net = locked(&self.net);
                net.cut.clear();
                self.sync_net(&mut net);
                Ok(fault.to_string())
            }
            Fault::Loss { permille } => {
                let rate = f64::from((*permille).min(1000)) / 1000.0;
                sim.update_config(|c| c.packet_loss_rate = rate);
                Ok(fault.to_string())
            }
            Fault::Latency { min_ms, max_ms } => {
                let min = Duration::from_millis(*min_ms);
                let max = Duration::from_millis((*max_ms).max(min_ms + 1));
                sim.update_config(|c| c.send_latency = min..max);
                Ok(fault.to_string())
            }
            Fault::LinkLoss {
                cluster,
                peer,
                permille,
            } => {
                let link = self.named_link(cluster, peer)?;
                let mut net = locked(&self.net);
                let shape = Shape {
                    loss_permille: (*permille).min(1000),
                    ..net.shapes.get(&link).copied().unwrap_or_default()
                };
                self.set_shape(&mut net, link, shape);
                Ok(fault.to_string())
            }
            Fault::LinkLatency {
                cluster,
                peer,
                min_ms,
                max_ms,
            } => {
                let link = self.named_link(cluster, peer)?;
                let mut net = locked(&self.net);
                let shape = Shape {
                    latency_min_ms: (*min_ms).min(*max_ms),
                    latency_max_ms: *max_ms,
                    ..net.shapes.get(&link).copied().unwrap_or_default()
                };
                self.set_shape(&mut net, link, shape);
                Ok(fault.to_string())
            }
            Fault::Skew { node, ms } => {
                self.hosts[self.node_index(*node)?].clock.set_skew_ms(*ms);
                Ok(fault.to_string())
            }
            Fault::Jump { node, ms } => {
                self.hosts[self.node_index(*node)?].clock.jump_ms(*ms);
                Ok(fault.to_string())
            }
            Fault::DiskFull { node } => {
                let mut disk = Disk::lock(&self.hosts[self.node_index(*node)?].disk);
                let used = disk.used_bytes();
                disk.set_capacity_bytes(used);
                Ok(fault.to_string())
            }
            Fault::DiskFree { node } => {
                let h = &self.hosts[self.node_index(*node)?];
                Disk::lock(&h.disk).set_capacity_bytes(h.disk_bytes);
                Ok(fault.to_string())
            }
            Fault::BitRot { node, key } => {
                let i = self.node_index(*node)?;
                let key = match key {
                    Some(k) => k.clone(),
                    None => self
                        .recoverable_rot_target(i)
                        .ok_or("no record there has a good copy elsewhere")?,
                };
                let position = madsim::rand::random::<u32>() as usize;
                let name = &self.hosts[i].name;
                if Disk::lock(&self.hosts[i].disk).rot(&key, position) {
                    locked(&self.rotted).push((i, key.clone()));
                    Ok(format!("bitrot {name} {key}"))
                } else {
                    Err(format!("{name} holds no content under {key}"))
                }
            }
            Fault::Lose { node } => {
                let i = self.node_index(*node)?;
                if let Some(only) = self.only_good_copy_on(i) {
                    return Err(format!(
                        "{} holds the only good copy of {only}",
                        self.hosts[i].name
                    ));
                }
                handle.kill(self.hosts[i].node);
                Disk::lock(&self.hosts[i].disk).wipe();
                handle.restart(self.hosts[i].node);
                Ok(format!("{fault}: replaced by an empty node"))
            }
        }
    }

    /// The group of every host of `scope` (hosts not listed form one more group), from
    /// groups named through `index`.
    fn groups(
        &self,
        groups: &[Vec<usize>],
        scope: std::ops::Range<usize>,
        index: impl Fn(usize) -> Result<usize, String>,
    ) -> Result<Vec<Option<usize>>, String> {
        let mut group_of: Vec<Option<usize>> = (0..self.len())
            .map(|h| scope.contains(&h).then_some(groups.len()))
            .collect();
        for (g, members) in groups.iter().enumerate() {
            for &m in members {
                group_of[index(m)?] = Some(g);
            }
        }
        Ok(group_of)
    }

    /// Both directions between every two hosts in different groups.
    fn split(&self, group_of: &[Option<usize>]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for a in 0..self.len() {
            for b in 0..self.len() {
                if let (Some(ga), Some(gb)) = (group_of[a], group_of[b]) {
                    if ga != gb {
                        out.push((a, b));
                    }
                }
            }
        }
        out
    }

    /// The hosts whose disks hold copies of the same data as host `i`'s: its cluster.
    fn cluster_mates(&self, i: usize) -> std::ops::Range<usize> {
        self.clusters[self.hosts[i].id.cluster].hosts.clone()
    }

    /// Host `i`'s disk and those of its cluster mates, each locked once for a whole walk.
    fn lock_cluster(&self, i: usize) -> (MutexGuard<'_, Disk>, Vec<MutexGuard<'_, Disk>>) {
        let own = Disk::lock(&self.hosts[i].disk);
        let mates = self
            .cluster_mates(i)
            .filter(|&j| j != i)
            .map(|j| Disk::lock(&self.hosts[j].disk))
            .collect();
        (own, mates)
    }

    /// A key on host `i` whose copy there is good and which has another good copy of the
    /// same version in its cluster: rotting it loses nothing. Seeded choice among them.
    fn recoverable_rot_target(&self, i: usize) -> Option<String> {
        let (own, mates) = self.lock_cluster(i);
        let mut at = MateEntries::new(&mates);
        // The cheap tests first: a digest is checked only where a mate holds the version.
        let recoverable: Vec<&String> = own
            .records()
            .filter(|(k, e)| {
                if e.body.is_empty() || e.removed {
                    return false;
                }
                let held = at.at(k);
                let copies = || held.iter().flatten().filter(|m| m.version == e.version);
                copies().next().is_some() && e.intact() && copies().any(|m| m.intact())
            })
            .map(|(k, _)| k)
            .collect();
        if recoverable.is_empty() {
            return None;
        }
        let pick = madsim::rand::random::<u64>() as usize % recoverable.len();
        Some(recoverable[pick].clone())
    }

    /// An entry on host `i` that is the newest version of its key in the cluster and has no
    /// good copy of that version on another host there: losing host `i` would lose it.
    fn only_good_copy_on(&self, i: usize) -> Option<String> {
        let (own, mates) = self.lock_cluster(i);
        let mut at = MateEntries::new(&mates);
        let only = own
            .records()
            .find(|(k, e)| {
                let held = at.at(k);
                let newest = held.iter().flatten().all(|m| m.version <= e.version);
                newest
                    && !held
                        .iter()
                        .flatten()
                        .any(|m| m.version == e.version && m.intact())
            })
            .map(|(k, _)| k.clone());
        only
    }
}

/// The cluster mates' entries under the keys of a walk in key order: each mate's records
/// are merged in step with the walk instead of looked up key by key (the injector looks at
/// a whole disk each time it picks a target).
struct MateEntries<'a> {
    cursors: Vec<std::iter::Peekable<Records<'a>>>,
    found: Vec<Option<&'a Entry>>,
}

/// One disk's records in key order.
type Records<'a> = Box<dyn Iterator<Item = (&'a String, &'a Entry)> + 'a>;

impl<'a> MateEntries<'a> {
    fn new(mates: &'a [MutexGuard<'_, Disk>]) -> Self {
        let cursors: Vec<_> = mates
            .iter()
            .map(|d| {
                let records: Records<'a> = Box::new(d.records());
                records.peekable()
            })
            .collect();
        let found = vec![None; cursors.len()];
        Self { cursors, found }
    }

    /// Each mate's entry under `key` (`None` where it holds none). Keys must come in
    /// increasing order.
    fn at(&mut self, key: &str) -> &[Option<&'a Entry>] {
        for (cursor, slot) in self.cursors.iter_mut().zip(self.found.iter_mut()) {
            *slot = None;
            while let Some((k, e)) = cursor.peek() {
                match k.as_str().cmp(key) {
                    std::cmp::Ordering::Less => {
                        cursor.next();
                    }
                    std::cmp::Ordering::Equal => {
                        *slot = Some(*e);
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
        }
        &self.found
    }
}
