//! The two Rucio servers the real-server tests compare: Rucio's own server (set up and
//! started through tools/rucio/setup.sh and start.sh, a fresh database each time) and the
//! reference catalog (`replisim serve --rucio`), both on loopback.
//!
//! Where the real server lives: `REPLISIM_RUCIO_DIR` (exported by .ci/run after it ran
//! setup.sh), else `target/rucio`, which setup.sh creates or reuses (fast when its
//! virtualenvs are already installed). Under `CI=true` the variable is required, so a CI
//! that forgot the setup step fails here instead of installing behind its back. A setup
//! that fails (no python3-venv, no network for pip) fails the test with the way to fix it:
//! nothing is skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

/// One real server at a time: they share the data folder (setup.sh rebuilds its database).
static REAL: Mutex<()> = Mutex::new(());

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where a failing setup or start tells the reader to look.
const HOW: &str = "set the real Rucio server up with `tools/rucio/setup.sh` (needs CPython \
                   3.9..3.12 with venv, e.g. `apt-get install python3-venv`, and the Python \
                   package registry), or run .ci/run, which does it and exports \
                   REPLISIM_RUCIO_DIR; docs/rucio.md has the details";

/// The set-up directory of the real server.
pub fn rucio_dir() -> PathBuf {
    match std::env::var_os("REPLISIM_RUCIO_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but REPLISIM_RUCIO_DIR is not set: the real Rucio server was not set \
                 up by the CI script; {HOW}"
            );
            repo().join("target/rucio")
        }
    }
}

fn script(name: &str) -> PathBuf {
    repo().join("tools/rucio").join(name)
}

/// Runs a command to its end; its output, or a panic that shows it and says what to do.
pub fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {cmd:?}: {e}; {HOW}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n{HOW}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Rucio's own server with a freshly bootstrapped database, stopped when dropped.
pub struct RealServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its set-up directory (virtualenvs, etc/client.cfg).
    pub dir: PathBuf,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl RealServer {
    /// Rebuilds the database (setup.sh), starts the server on an ephemeral port.
    pub fn start() -> RealServer {
        let guard = REAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = rucio_dir();
        run(
            "tools/rucio/setup.sh",
            Command::new("bash").arg(script("setup.sh")).arg(&dir),
        );
        let started = run(
            "tools/rucio/start.sh",
            Command::new("bash")
                .arg(script("start.sh"))
                .arg(&dir)
                .arg("0"),
        );
        let url = std::fs::read_to_string(dir.join("run/url")).unwrap_or_else(|e| {
            panic!(
                "start.sh said {:?} but wrote no run/url: {e}",
                String::from_utf8_lossy(&started.stdout)
            )
        });
        RealServer {
            url: url.trim().to_string(),
            dir,
            _one_at_a_time: guard,
        }
    }

    /// The client virtualenv's interpreter (rucio-clients 41.5.1 installed).
    pub fn client_python(&self) -> PathBuf {
        self.dir.join("venv-client/bin/python")
    }

    /// A rucio-clients configuration that logs in as root on `url` (start.sh's, with the
    /// host replaced), written to `path`.
    pub fn client_config_for(&self, url: &str, path: &Path) {
        let real = std::fs::read_to_string(self.dir.join("etc/client.cfg"))
            .expect("start.sh wrote etc/client.cfg");
        let text: String = real
            .lines()
            .map(|line| {
                if line.starts_with("rucio_host =") {
                    format!("rucio_host = {url}\n")
                } else if line.starts_with("auth_host =") {
                    format!("auth_host = {url}\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(path, text).expect("client config is writable");
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let stopped = Command::new("bash")
            .arg(script("stop.sh"))
            .arg(&self.dir)
            .output();
        if let Err(e) = stopped {
            eprintln!("tools/rucio/stop.sh could not run: {e}");
        }
    }
}

/// The reference catalog served by `replisim serve --rucio`, killed when dropped.
pub struct RefServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
}

impl RefServer {
    /// Starts the binary on an ephemeral port and reads the URL it prints.
    pub fn start() -> RefServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_replisim"))
            .args(["serve", "--rucio", "--port", "0", "--seed", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("replisim serve --rucio starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut server = RefServer {
            url: String::new(),
            child,
        };
        // The process prints its URL once bound; it ends (closing stdout) if it cannot bind.
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(url) = line.trim().strip_prefix("rucio ") {
                server.url = url.to_string();
                break;
            }
        }
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "replisim serve --rucio printed no URL"
        );
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        server
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch file path for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}
