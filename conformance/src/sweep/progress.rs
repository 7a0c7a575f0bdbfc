//! Progress of a long sweep on stderr, with the rate and an estimate of the time left: a
//! line redrawn in place on a terminal; when asked for elsewhere (a CI log), a plain line
//! every few seconds.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a sweep stands, after each finished seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Seeds finished by this run.
    pub done: u64,
    /// Seeds this run set out to finish.
    pub total: u64,
    /// Seeds finished before this run (a resumed sweep).
    pub earlier: u64,
    /// Failing seeds so far (earlier runs included).
    pub failing: u64,
    /// Wall time of this run so far.
    pub elapsed: Duration,
}

impl Progress {
    /// Seeds per wall second in this run.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Time left at the current rate; none before the first seed.
    pub fn eta(&self) -> Option<Duration> {
        if self.done == 0 {
            return None;
        }
        let left = self.total.saturating_sub(self.done) as f64;
        Some(Duration::from_secs_f64(left / self.rate().max(1e-9)))
    }
}

/// `1h02m`, `3m05s`, `42s`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// One progress line (without the leading `\r` or the newline).
pub fn progress_line(p: &Progress) -> String {
    let width = 30usize;
    let filled = if p.total == 0 {
        width
    } else {
        ((p.done.min(p.total) as u128 * width as u128) / p.total as u128) as usize
    };
    let earlier = if p.earlier > 0 {
        format!(" (+{} earlier)", p.earlier)
    } else {
        String::new()
    };
    let eta = match p.eta() {
        Some(d) => format!("ETA {}", short_duration(d)),
        None => "ETA ?".to_string(),
    };
    format!(
        "[{}{}] {}/{} seeds{earlier}  {} failing  {:.1} seeds/s  {eta}",
        "#".repeat(filled),
        "-".repeat(width - filled),
        p.done,
        p.total,
        p.failing,
        p.rate()
    )
}

/// When to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Only when stderr is a terminal.
    Auto,
    /// Always: redrawn on a terminal, a line every [`LOG_EVERY`] elsewhere.
    Always,
    /// Never.
    Never,
}

/// How often a non-terminal progress log prints a line.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// A progress printer for stderr.
pub fn stderr_progress(show: Show) -> impl Fn(&Progress) + Sync {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let on = match show {
        Show::Auto => tty,
        Show::Always => true,
        Show::Never => false,
    };
    let last_line: Mutex<Option<Instant>> = Mutex::new(None);
    move |p: &Progress| {
        if !on {
            return;
        }
        let mut err = std::io::stderr();
        let finished = p.done >= p.total;
        if tty {
            let _ = write!(err, "\r{} ", progress_line(p));
            if finished {
                let _ = writeln!(err);
            }
        } else {
            let mut last = last_line.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= LOG_EVERY);
            if due || finished {
                *last = Some(Instant::now());
                let _ = writeln!(err, "{}", progress_line(p));
            }
        }
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_fill_up_and_estimate_the_time_left() {
        let p = Progress {
            done: 5,
            total: 10,
            earlier: 0,
            failing: 1,
            elapsed: Duration::from_secs(10),
        };
        let line = progress_line(&p);
        assert!(line.contains("5/10 seeds"), "{line}");
        assert!(line.contains("1 failing"), "{line}");
        assert!(line.contains(&"#".repeat(15)), "{line}");
        assert!(line.contains("0.5 seeds/s"), "{line}");
        assert!(line.contains("ETA 10s"), "{line}");
        let start = Progress { done: 0, ..p };
        assert!(progress_line(&start).contains("ETA ?"));
        let resumed = Progress { earlier: 40, ..p };
        assert!(progress_line(&resumed).contains("(+40 earlier)"));
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42s");
        assert_eq!(short_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(short_duration(Duration::from_secs(3720)), "1h02m");
    }
}
