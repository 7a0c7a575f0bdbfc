//! The fixed identities of `tools/rucio/bootstrap.py`, so the reference starts exactly
//! where the calibrated real server starts.

use crate::rucio::catalog::{Catalog, RseFlags};

/// Accounts (account, password, admin attribute); root is the superuser.
pub const ACCOUNTS: [(&str, &str, bool); 3] = [
    ("root", "secret", false),
    ("harness", "harness-secret", true),
    ("nobody", "nobody-secret", false),
];

/// Scopes.
pub const SCOPES: [&str; 2] = ["test", "user.harness"];

/// The calibration RSEs besides the cluster ones, with their flags.
pub fn special_rses() -> [(&'static str, RseFlags); 5] {
    let base = RseFlags::default();
    [
        (
            "DOWN",
            RseFlags {
                write: false,
                delete: false,
                ..base
            },
        ),
        (
            "NODELETE",
            RseFlags {
                delete: false,
                ..base
            },
        ),
        (
            "NOREAD",
            RseFlags {
                read: false,
                ..base
            },
        ),
        (
            "VOLATILE",
            RseFlags {
                volatile: true,
                ..base
            },
        ),
        (
            "NONDET",
            RseFlags {
                deterministic: false,
                ..base
            },
        ),
    ]
}

/// A catalog bootstrapped like the real server: one deterministic RSE per cluster name
/// (bootstrap.py's default is `EAST WEST`), then DOWN, NODELETE, NOREAD, VOLATILE, NONDET.
pub fn bootstrapped(seed: u64, clusters: &[&str]) -> Catalog {
    let mut c = Catalog::new(seed);
    for (account, password, admin) in ACCOUNTS {
        c.auth.add_account(account, password, admin);
    }
    for scope in SCOPES {
        c.add_scope(scope);
    }
    for cluster in clusters {
        c.add_rse(cluster, RseFlags::default());
    }
    for (name, flags) in special_rses() {
        c.add_rse(name, flags);
    }
    c
}
