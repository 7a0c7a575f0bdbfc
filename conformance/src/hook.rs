//! The fault hook: how a vendor lets the harness inject faults into a real cluster.
//!
//! `replisim check --target … --fault-hook CMD` runs, for each operation,
//!
//! ```text
//! PROGRAM [ARG...] VERB NODE...
//! ```
//!
//! where `PROGRAM [ARG...]` is CMD split at whitespace (`--fault-hook "./faults.sh --cluster
//! lab"`). No shell sees it: quotes, `$`, `;`, `|` and globs are passed through as they are,
//! so nothing a rule or a target says can become a command. Verbs: `kill NODE`,
//! `restart NODE`, `pause NODE`, `resume NODE`, `partition NODE...` (cut the listed nodes off
//! from the others) and `heal` (end every partition). NODE is the 0-based index of the node
//! in the `--target` list; `REPLISIM_NODES` holds that list (`host:port,host:port,…`) so a
//! hook can map an index to a machine.
//!
//! The hook must return once the operation has taken effect (a killed node no longer
//! answers; a restarted node serves again) and exit 0. Any other exit status, or running
//! past the timeout (the hook is then killed), is an error whose text (status and the last
//! line of standard error) becomes the skip or fail reason of the rule that asked. A hook
//! that cannot do some verb should exit non-zero saying so. Standard output is read and
//! dropped; of standard error only the last [`OUTPUT_KEPT_BYTES`] are kept, so a hook that
//! prints without end cannot grow the harness's memory.
//!
//! Faults outside these verbs (disk full, bit rot, clock moves, link loss and latency, one-way
//! and WAN partitions, node loss) are refused without calling the hook, with a reason that
//! names the fault kind and the kinds the hook offers; rules that need them skip with it.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use crate::client::Endpoint;
use replisim_sim::faults::{Fault, FaultKind};

use crate::target::{refusal, Capabilities, Control, ControlFuture};

/// How to call the fault hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// The program and its own arguments, split at whitespace (no shell), with the verb and
    /// nodes appended as further arguments.
    pub command: String,
    /// How long one call may take before it is killed and counted as failed.
    pub timeout: Duration,
}

impl HookSpec {
    /// A hook with the default 60-second timeout.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// [`Control`] for a real cluster through the fault hook: the fault kinds a real cluster can
/// do (crash/restart, pause/resume, partitions and heal); disk full, bit rot, clocks, link
/// loss and latency and node loss are refused with the reason. Retiring nodes and counting
/// replicas stay unsupported.
#[derive(Debug, Clone)]
pub struct HookControl {
    spec: HookSpec,
    nodes: Vec<Endpoint>,
}

impl HookControl {
    /// A control that calls `spec` for the cluster `nodes` (in `--target` order).
    pub fn new(spec: HookSpec, nodes: Vec<Endpoint>) -> Self {
        Self { spec, nodes }
    }

    /// Runs the hook with `verb` and `nodes`; `Ok` on exit status 0.
    pub async fn call(&self, verb: &str, nodes: &[usize]) -> Result<(), String> {
        let mut args: Vec<String> = vec![verb.to_string()];
        for &n in nodes {
            if n >= self.nodes.len() {
                return Err(format!(
                    "no node {n}: the target has {} nodes (0-based)",
                    self.nodes.len()
                ));
            }
            args.push(n.to_string());
        }
        let shown = format!("fault hook `{} {}`", self.spec.command, args.join(" "));
        let listed: Vec<String> = self.nodes.iter().map(|a| a.to_string()).collect();
        let mut words = self.spec.command.split_whitespace();
        let Some(program) = words.next() else {
            return Err("the fault hook command is empty".to_string());
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(words)
            .args(&args)
            .env("REPLISIM_NODES", listed.join(","))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("{shown} could not start: {e}"))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let run = async {
            // Both pipes are drained while the hook runs (a full pipe would block it), each
            // into a bounded tail.
            let (_, err, status) = tokio::join!(
                bounded_tail(stdout, 0),
                bounded_tail(stderr, OUTPUT_KEPT_BYTES),
                child.wait()
            );
            status.map(|status| Output {
                status,
                stderr: err,
            })
        };
        // Dropping `run` on timeout drops the child, which kills it.
        match tokio::time::timeout(self.spec.timeout, run).await {
            Err(_) => Err(format!(
                "{shown} did not finish within {:?} and was killed",
                self.spec.timeout
            )),
            Ok(Err(e)) => Err(format!("{shown} failed: {e}")),
            Ok(Ok(output)) if output.status.success() => Ok(()),
            Ok(Ok(output)) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim();
                let last: String = last.chars().take(200).collect();
                let status = match output.status.code() {
                    Some(code) => format!("exited with status {code}"),
                    None => "was killed by a signal".to_string(),
                };
                Err(if last.is_empty() {
                    format!("{shown} {status}")
                } else {
                    format!("{shown} {status}: {last}")
                })
            }
        }
    }
}

/// Bytes of the hook's standard error kept (the end of it, where the reason is).
pub const OUTPUT_KEPT_BYTES: usize = 16 * 1024;

/// What a finished hook left: its status and the tail of its standard error.
struct Output {
    status: std::process::ExitStatus,
    stderr: Vec<u8>,
}

/// Reads a pipe to its end, keeping only the last `keep` bytes.
async fn bounded_tail<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>, keep: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut tail = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return tail,
            Ok(n) => {
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > keep {
                    tail.drain(..tail.len() - keep);
                }
            }
        }
    }
}

impl HookControl {
    /// The hook verb and nodes that carry out `fault`, or `None` when the hook has no verb
    /// for it.
    fn verb_for(&self, fault: &Fault) -> Option<(&'static str, Vec<usize>)> {
        match fault {
            Fault::Crash { node } => Some(("kill", vec![*node])),
            Fault::Restart { node } => Some(("restart", vec![*node])),
            Fault::Pause { node } => Some(("pause", vec![*node])),
            Fault::Resume { node } => Some(("resume", vec![*node])),
            Fault::Isolate { node } => Some(("partition", vec![*node])),
            Fault::Heal => Some(("heal", Vec::new())),
            // `partition NODE...` cuts one side off from the rest: one group, or two groups
            // of which the second is exactly the rest.
            Fault::Partition { groups } => {
                let first = groups.first()?.clone();
                let rest: Vec<usize> = (0..self.nodes.len())
                    .filter(|n| !first.contains(n))
                    .collect();
                match groups.len() {
                    1 => Some(("partition", first)),
                    2 if {
                        let mut second = groups[1].clone();
                        second.sort_unstable();
                        second == rest
                    } =>
                    {
                        Some(("partition", first))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Control for HookControl {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            faults: true,
            ..Capabilities::NONE
        }
    }

    fn fault_kinds(&self) -> BTreeSet<FaultKind> {
        BTreeSet::from([FaultKind::Crash, FaultKind::Pause, FaultKind::Partition])
    }

    fn apply(&self, fault: Fault) -> ControlFuture<'_, Result<(), String>> {
        let Some((verb, nodes)) = self.verb_for(&fault) else {
            let why = refusal(
                "the fault hook (verbs: kill, restart, pause, resume, partition, heal)",
                &fault,
                &self.fault_kinds(),
            );
            return Box::pin(async move { Err(why) });
        };
        Box::pin(async move { self.call(verb, &nodes).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(command: &str, timeout: Duration) -> HookControl {
        HookControl::new(
            HookSpec {
                command: command.to_string(),
                timeout,
            },
            vec![
                "127.0.0.1:1".parse().expect("addr"),
                "127.0.0.1:2".parse().expect("addr"),
            ],
        )
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// A hook script in a fresh directory; returns the directory and the script's path.
    fn script(name: &str, body: &str) -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!(
            "replisim-hook-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("hook.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        (dir, path.display().to_string())
    }

    #[test]
    fn arguments_and_node_list_reach_the_hook() {
        let (dir, path) = script(
            "args",
            r#"test "$1 $2 $REPLISIM_NODES" = "kill 1 127.0.0.1:1,127.0.0.1:2""#,
        );
        let c = control(&format!("sh {path}"), Duration::from_secs(10));
        runtime().block_on(async {
            assert_eq!(c.kill(1).await, Ok(()));
            let err = c.restart(1).await.unwrap_err();
            assert!(err.contains("exited with status 1"), "{err}");
            let err = c.kill(2).await.unwrap_err();
            assert!(err.contains("no node 2"), "{err}");
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn no_shell_interprets_the_command() {
        let (dir, path) = script("noshell", r#"printf '%s\n' "$@" > "$(dirname "$0")/args""#);
        let marker = dir.join("marker");
        let c = control(
            &format!("sh {path} a;touch={} $HOME 'q' `id`", marker.display()),
            Duration::from_secs(10),
        );
        runtime().block_on(async {
            assert_eq!(c.heal().await, Ok(()));
        });
        let args = std::fs::read_to_string(dir.join("args")).expect("args written");
        let want = format!("a;touch={}\n$HOME\n'q'\n`id`\nheal\n", marker.display());
        assert_eq!(args, want);
        assert!(!marker.exists(), "nothing after `;` ran");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn endless_output_is_bounded_and_the_last_line_kept() {
        let (dir, path) = script(
            "flood",
            "head -c 20000000 /dev/zero | tr '\\0' x; head -c 20000000 /dev/zero | tr '\\0' y >&2; \
             printf '\\nthe reason\\n' >&2; exit 4",
        );
        let c = control(&format!("sh {path}"), Duration::from_secs(60));
        runtime().block_on(async {
            let err = c.pause(0).await.unwrap_err();
            assert!(
                err.contains("status 4") && err.ends_with("the reason"),
                "{err}"
            );
            assert!(err.len() < 1000, "{} bytes", err.len());
        });
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn failures_and_timeouts_are_reasons() {
        let (dir, path) = script("fail", r#"echo "cannot $1 here" >&2; exit 3"#);
        let (slow_dir, slow) = script("slow", "exec sleep 30");
        runtime().block_on(async {
            let c = control(&format!("sh {path}"), Duration::from_secs(10));
            let err = c.pause(0).await.unwrap_err();
            assert!(
                err.contains("status 3") && err.contains("cannot pause here"),
                "{err}"
            );
            let c = control(&format!("sh {slow}"), Duration::from_millis(200));
            let started = std::time::Instant::now();
            let err = c.heal().await.unwrap_err();
            assert!(err.contains("did not finish within"), "{err}");
            assert!(started.elapsed() < Duration::from_secs(10));
            let c = control("   ", Duration::from_secs(1));
            assert!(c.heal().await.unwrap_err().contains("empty"));
        });
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(slow_dir);
    }
}
