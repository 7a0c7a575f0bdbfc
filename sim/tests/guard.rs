//! Fails loudly when the workspace was built without `--cfg madsim` (a RUSTFLAGS variable
//! silently replaces .cargo/config.toml, and simulated tests would then quietly vanish).

#[test]
// The constant is the point: it is false exactly when the cfg was lost.
#[allow(clippy::assertions_on_constants)]
fn madsim_cfg_is_enabled() {
    assert!(
        cfg!(madsim),
        "built without --cfg madsim: unset RUSTFLAGS and CARGO_ENCODED_RUSTFLAGS (they override .cargo/config.toml)"
    );
}
