//! The compact text encoding of bids and inventories on the node-to-node protocol.
//!
//! Every client request costs a bid from each peer and every health pass an inventory, so
//! these are the hottest messages in a simulation. JSON spent more time parsing than the
//! node spent deciding; this line format is trivial to read and write and still legible in a
//! transcript. Keys are percent-encoded, so no field contains a space or a newline.
//!
//! ```text
//! bid <node> <free> <capacity> <load> <retiring 0|1> [<kind> <stamp_ms> <vnode> <deleted 0|1> <md5> <modified_secs>]
//! inventory <node> <free> <capacity> <retiring 0|1> <generation> <full|delta>
//! <kind> <stamp_ms> <vnode> <deleted 0|1> <key>        (one line per record)
//! gone <key>                                           (deltas: a key no longer held)
//! ```

use crate::scsp::object::{Kind, Version};
use crate::scsp::peer::{Bid, Held, Inventory, InventoryItem};
use crate::scsp::query::{percent_decode, percent_encode_keeping_slashes_into};

fn flag(on: bool) -> &'static str {
    if on {
        "1"
    } else {
        "0"
    }
}

fn parse_flag(s: &str) -> Option<bool> {
    match s {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// The fields of a line between single spaces, exactly as `str::split(' ')` gives them
/// (empty ones included), found by a plain byte scan: the general splitter's searcher cost
/// more than the rest of decoding a bid.
struct Fields<'a> {
    rest: Option<&'a str>,
}

fn fields(line: &str) -> Fields<'_> {
    Fields { rest: Some(line) }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == b' ') {
            // A space is one byte, so both sides of it are character boundaries.
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Appends an integer's decimal digits: no `String` per number, and the same text as
/// `to_string` gives.
fn push_int(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// A held version as six fields joined by `sep`: kind, stamp, stamping node, deletion flag,
/// digest, modification second. Bids use spaces; handoffs, inside a URL, dots.
pub fn encode_held(h: &Held, sep: char) -> String {
    let mut out = String::with_capacity(80);
    push_held(&mut out, h, sep);
    out
}

/// Appends what [`encode_held`] returns, for a caller building a longer text.
pub fn push_held(out: &mut String, h: &Held, sep: char) {
    out.push_str(Kind::name(h.kind));
    out.push(sep);
    push_int(out, h.version.stamp_ms);
    out.push(sep);
    push_int(out, h.version.node);
    out.push(sep);
    out.push_str(flag(h.deleted));
    out.push(sep);
    out.push_str(&h.md5_hex);
    out.push(sep);
    push_int(out, h.modified_secs);
}

/// Reads the six fields [`encode_held`] wrote, starting with `kind`, from `rest`.
pub fn decode_held<'a>(kind: &str, rest: &mut impl Iterator<Item = &'a str>) -> Option<Held> {
    Some(Held {
        kind: Kind::from_name(kind)?,
        version: Version {
            stamp_ms: rest.next()?.parse().ok()?,
            node: rest.next()?.parse().ok()?,
        },
        deleted: parse_flag(rest.next()?)?,
        md5_hex: rest.next()?.to_string(),
        modified_secs: rest.next()?.parse().ok()?,
    })
}

/// One bid as a line.
pub fn encode_bid(bid: &Bid) -> String {
    let mut out = String::with_capacity(if bid.held.is_some() { 128 } else { 48 });
    out.push_str("bid ");
    push_int(&mut out, bid.node);
    out.push(' ');
    push_int(&mut out, bid.free_bytes);
    out.push(' ');
    push_int(&mut out, bid.capacity_bytes);
    out.push(' ');
    push_int(&mut out, bid.load);
    out.push(' ');
    out.push_str(flag(bid.retiring));
    if let Some(h) = &bid.held {
        out.push(' ');
        push_held(&mut out, h, ' ');
    }
    out
}

/// Reads what [`encode_bid`] wrote; `None` for anything else.
pub fn decode_bid(text: &str) -> Option<Bid> {
    let mut f = fields(text.trim());
    if f.next()? != "bid" {
        return None;
    }
    let bid_node = f.next()?.parse().ok()?;
    let free_bytes = f.next()?.parse().ok()?;
    let capacity_bytes = f.next()?.parse().ok()?;
    let load = f.next()?.parse().ok()?;
    let retiring = parse_flag(f.next()?)?;
    let held = match f.next() {
        None => None,
        Some(kind) => Some(decode_held(kind, &mut f)?),
    };
    if f.next().is_some() {
        return None;
    }
    Some(Bid {
        node: bid_node,
        free_bytes,
        capacity_bytes,
        load,
        retiring,
        held,
    })
}

/// An inventory as lines.
pub fn encode_inventory(inv: &Inventory) -> String {
    let keys: usize = inv.gone.iter().map(String::len).sum::<usize>()
        + inv.items.iter().map(|i| i.key.len()).sum::<usize>();
    // Each line's fixed fields take under 40 bytes; escapes make keys longer (a space is
    // three bytes), though most keys have none.
    let mut out =
        String::with_capacity(64 + inv.items.len() * 40 + inv.gone.len() * 8 + keys * 3 / 2);
    out.push_str("inventory ");
    push_int(&mut out, inv.node);
    out.push(' ');
    push_int(&mut out, inv.free_bytes);
    out.push(' ');
    push_int(&mut out, inv.capacity_bytes);
    out.push(' ');
    out.push_str(flag(inv.retiring));
    out.push(' ');
    push_int(&mut out, inv.generation);
    out.push_str(if inv.full { " full\n" } else { " delta\n" });
    for key in &inv.gone {
        out.push_str("gone ");
        percent_encode_keeping_slashes_into(&mut out, key);
        out.push('\n');
    }
    for item in &inv.items {
        out.push_str(Kind::name(item.kind));
        out.push(' ');
        push_int(&mut out, item.version.stamp_ms);
        out.push(' ');
        push_int(&mut out, item.version.node);
        out.push(' ');
        out.push_str(flag(item.deleted));
        out.push(' ');
        percent_encode_keeping_slashes_into(&mut out, &item.key);
        out.push('\n');
    }
    out
}

/// Reads what [`encode_inventory`] wrote; `None` for anything else.
pub fn decode_inventory(text: &str) -> Option<Inventory> {
    let mut lines = text.lines();
    let mut head = fields(lines.next()?);
    if head.next()? != "inventory" {
        return None;
    }
    let node = head.next()?.parse().ok()?;
    let free_bytes = head.next()?.parse().ok()?;
    let capacity_bytes = head.next()?.parse().ok()?;
    let retiring = parse_flag(head.next()?)?;
    let generation = head.next()?.parse().ok()?;
    let full = match head.next()? {
        "full" => true,
        "delta" => false,
        _ => return None,
    };
    let mut items = Vec::new();
    let mut gone = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let mut f = fields(line);
        let first = f.next()?;
        if first == "gone" {
            gone.push(percent_decode(f.next()?));
            if f.next().is_some() {
                return None;
            }
            continue;
        }
        items.push(InventoryItem {
            kind: Kind::from_name(first)?,
            version: Version {
                stamp_ms: f.next()?.parse().ok()?,
                node: f.next()?.parse().ok()?,
            },
            deleted: parse_flag(f.next()?)?,
            key: percent_decode(f.next()?),
        });
        if f.next().is_some() {
            return None;
        }
    }
    Some(Inventory {
        node,
        free_bytes,
        capacity_bytes,
        retiring,
        generation,
        full,
        items,
        gone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_what_splitting_on_spaces_gives() {
        for line in ["", " ", "a", "a b", " a  b ", "bid 1 2", "é x\ty  ", "  "] {
            assert_eq!(
                fields(line).collect::<Vec<_>>(),
                line.split(' ').collect::<Vec<_>>(),
                "{line:?}"
            );
        }
    }

    #[test]
    fn bids_round_trip() {
        let mut bid = Bid {
            node: 2,
            free_bytes: 10,
            capacity_bytes: 20,
            load: 1,
            retiring: true,
            held: None,
        };
        assert_eq!(decode_bid(&encode_bid(&bid)), Some(bid.clone()));
        bid.held = Some(Held {
            kind: Kind::Alias,
            version: Version {
                stamp_ms: 5,
                node: 3,
            },
            deleted: false,
            md5_hex: "d41d8cd98f00b204e9800998ecf8427e".into(),
            modified_secs: 0,
        });
        assert_eq!(decode_bid(&encode_bid(&bid)), Some(bid));
        for bad in [
            "",
            "bid",
            "bid 1 2 3 4 2",
            "bid 1 2 3 4 0 named 1",
            "bid 1 2 3 4 0 x",
            "bid 1 2 3 4 0 extra extra extra extra extra extra extra",
        ] {
            assert_eq!(decode_bid(bad), None, "{bad}");
        }
    }

    #[test]
    fn inventories_round_trip_keys_with_spaces_and_newlines() {
        let inv = Inventory {
            node: 1,
            free_bytes: 7,
            capacity_bytes: 9,
            retiring: false,
            generation: 42,
            full: false,
            gone: vec!["n//b/gone one".into()],
            items: vec![
                InventoryItem {
                    key: "n/tenant\tx/b/a name\nwith lines".into(),
                    kind: Kind::Named,
                    version: Version {
                        stamp_ms: 1,
                        node: 0,
                    },
                    deleted: true,
                },
                InventoryItem {
                    key: "u/0123".into(),
                    kind: Kind::Immutable,
                    version: Version {
                        stamp_ms: 2,
                        node: 1,
                    },
                    deleted: false,
                },
            ],
        };
        assert_eq!(decode_inventory(&encode_inventory(&inv)), Some(inv));
        assert_eq!(
            decode_inventory("inventory 1 2 3 0 4 full\nnamed x 0 0 k\n"),
            None
        );
        assert_eq!(decode_inventory("inventory 1 2 3 0 4 maybe\n"), None);
        for bad in [
            "inventory 1 2 3 0 4 full\nnamed 1 0 0\n",
            "inventory 1 2 3 0 4 full\nnamed 1 0 0 k extra\n",
            "inventory 1 2 3 0 4 full\nnamed 1 0 2 k\n",
            "inventory 1 2 3 0 4 full\nnamed -1 0 0 k\n",
            "inventory 1 2 3 0 4 full\nthing 1 0 0 k\n",
            "inventory 1 2 3 0 4 delta\ngone\n",
            "inventory 1 2 3 0 4 delta\ngone a b\n",
            "inventory 1 2 3 2 4 full\n",
            "inventory 1 2 3 0 full\n",
        ] {
            assert_eq!(decode_inventory(bad), None, "{bad:?}");
        }
        assert_eq!(decode_inventory("nonsense"), None);
    }

    #[test]
    fn inventories_keep_their_exact_bytes() {
        let inv = Inventory {
            node: 3,
            free_bytes: 18_446_744_073_709_551_615,
            capacity_bytes: 0,
            retiring: true,
            generation: 1_000_000,
            full: true,
            gone: vec!["n/t/b/x+y".into()],
            items: vec![
                InventoryItem {
                    key: "n/t/b/café %41".into(),
                    kind: Kind::Bucket,
                    version: Version {
                        stamp_ms: 1_764_600_000_123,
                        node: 4_294_967_295,
                    },
                    deleted: false,
                },
                InventoryItem {
                    key: "u/AZaz09-_.~".into(),
                    kind: Kind::Upload,
                    version: Version {
                        stamp_ms: 0,
                        node: 0,
                    },
                    deleted: true,
                },
            ],
        };
        let text = encode_inventory(&inv);
        assert_eq!(
            text,
            "inventory 3 18446744073709551615 0 1 1000000 full\n\
             gone n/t/b/x%2By\n\
             bucket 1764600000123 4294967295 0 n/t/b/caf%C3%A9%20%2541\n\
             upload 0 0 1 u/AZaz09-_.~\n"
        );
        assert_eq!(decode_inventory(&text), Some(inv));
    }

    #[test]
    fn bids_and_handoffs_keep_their_exact_bytes() {
        let held = Held {
            kind: Kind::Named,
            version: Version {
                stamp_ms: 1_764_600_000_123,
                node: 2,
            },
            deleted: true,
            md5_hex: "d41d8cd98f00b204e9800998ecf8427e".into(),
            modified_secs: 1_764_600_000,
        };
        assert_eq!(
            encode_held(&held, '.'),
            "named.1764600000123.2.1.d41d8cd98f00b204e9800998ecf8427e.1764600000"
        );
        let bid = Bid {
            node: 7,
            free_bytes: 1 << 40,
            capacity_bytes: 1 << 41,
            load: 12,
            retiring: false,
            held: Some(held),
        };
        assert_eq!(
            encode_bid(&bid),
            "bid 7 1099511627776 2199023255552 12 0 \
             named 1764600000123 2 1 d41d8cd98f00b204e9800998ecf8427e 1764600000"
        );
        assert_eq!(decode_bid(&encode_bid(&bid)), Some(bid));
    }
}
