//! Reads a process's CPU time and resident memory from `/proc`, the way `top` does: the gateway's
//! (and the ffmpeg baseline's) cost is measured from outside, with no help from the process; the
//! fleet's own cost is this process and its children (ffmpeg, SIPp) read the same way.
//!
//! Owns only the parsing of `/proc/<pid>/stat` and `/proc/<pid>/status`; it never signals or
//! changes the process.

use std::path::PathBuf;
use std::process::Command;

/// Why a `/proc` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The file could not be read (the process has exited, or this is not Linux).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not in the kernel's format.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which file.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// CPU time of a process (all its threads), in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    /// User-mode ticks (`utime`, field 14).
    pub user: u64,
    /// Kernel-mode ticks (`stime`, field 15).
    pub system: u64,
}

impl CpuTicks {
    /// User plus kernel time.
    pub fn total(self) -> u64 {
        self.user + self.system
    }
}

/// Field `n` (1-based, `n` >= 3) of a `/proc/<pid>/stat` line, as a number. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted
/// from the last `)`.
fn stat_field<T: std::str::FromStr>(text: &str, n: usize) -> Result<T, ProcError> {
    let malformed = |detail: String| ProcError::Malformed {
        what: "stat",
        detail,
    };
    let close = text
        .rfind(')')
        .ok_or_else(|| malformed("no ')' after the command name".to_owned()))?;
    // After ")": field 3 (state) is the first.
    text[close + 1..]
        .split_whitespace()
        .nth(n - 3)
        .ok_or_else(|| malformed(format!("fewer than {n} fields")))?
        .parse()
        .map_err(|_| malformed(format!("field {n} is not a number")))
}

/// Parses `/proc/<pid>/stat`: utime and stime are fields 14 and 15.
pub fn parse_stat(text: &str) -> Result<CpuTicks, ProcError> {
    Ok(CpuTicks {
        user: stat_field(text, 14)?,
        system: stat_field(text, 15)?,
    })
}

/// The parent process id (field 4) of a `/proc/<pid>/stat` line.
pub fn parse_ppid(text: &str) -> Result<u32, ProcError> {
    stat_field(text, 4)
}

/// Parses the `VmRSS:` line of `/proc/<pid>/status` (kibibytes).
pub fn parse_vm_rss(text: &str) -> Result<u64, ProcError> {
    let malformed = |detail: &str| ProcError::Malformed {
        what: "status",
        detail: detail.to_owned(),
    };
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .ok_or_else(|| malformed("no VmRSS line"))?;
    let mut parts = line.split_whitespace();
    let value = parts
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed("VmRSS is not a number"))?;
    match parts.next() {
        Some("kB") => Ok(value),
        other => Err(malformed(&format!("VmRSS unit {other:?}, expected kB"))),
    }
}

fn read(pid: u32, file: &str) -> Result<String, ProcError> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    std::fs::read_to_string(&path).map_err(|source| ProcError::Read { path, source })
}

/// The CPU time of process `pid` so far.
pub fn cpu(pid: u32) -> Result<CpuTicks, ProcError> {
    parse_stat(&read(pid, "stat")?)
}

/// The processes descending from `root` (children, grandchildren, ...), except `skip` and its own
/// descendants, from every `/proc/<pid>/stat`. A process that exits meanwhile is left out.
pub fn descendants(root: u32, skip: Option<u32>) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parse_ppid(&read(pid, "stat").ok()?).ok()?)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && Some(pid) != skip && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// The CPU time so far of this process (the load generator: the fleet's VTCs are its threads)
/// and of the processes it runs (ffmpeg, SIPp), except the gateway `skip` it started. A child's
/// ticks count while it runs; one that exits between two readings takes its ticks along, so the
/// figure is for steady load, not for short-lived helpers.
pub fn fleet_cpu(skip: Option<u32>) -> Result<CpuTicks, ProcError> {
    let me = std::process::id();
    let mut sum = cpu(me)?;
    for pid in descendants(me, skip) {
        if let Ok(c) = cpu(pid) {
            sum.user += c.user;
            sum.system += c.system;
        }
    }
    Ok(sum)
}

/// The resident memory of process `pid`, in kibibytes.
pub fn rss_kib(pid: u32) -> Result<u64, ProcError> {
    parse_vm_rss(&read(pid, "status")?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on when getconf is
/// missing). Asked once, not through libc, to keep the crate free of `unsafe`.
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A real line, with a command name holding spaces and a parenthesis.
        let text = "4242 (tessera (x) y) S 1 4242 4242 0 -1 4194560 3385 0 0 0 1234 567 0 0 \
                    20 0 9 0 123456 1073741824 5000 18446744073709551615 1 1 0 0 0 0 0 4096 \
                    17664 0 0 0 17 1 0 0 0 0 0";
        let ticks = parse_stat(text).unwrap();
        assert_eq!(
            ticks,
            CpuTicks {
                user: 1234,
                system: 567
            }
        );
        assert_eq!(ticks.total(), 1801);
    }

    #[test]
    fn truncated_or_garbled_stat_is_an_error_not_a_panic() {
        for text in [
            "",
            "4242 tessera S 1",
            "4242 (t) S 1 2 3",
            "1 (t) S 1 1 1 0 -1 0 0 0 0 0 x y",
        ] {
            assert!(parse_stat(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_parent_is_field_4_after_the_command_name() {
        let text = "4242 (tessera (x) y) S 17 4242 4242 0 -1 4194560 3385 0 0 0 1234 567";
        assert_eq!(parse_ppid(text).unwrap(), 17);
        for text in ["", "4242 (t) S", "4242 (t) S x 1"] {
            assert!(parse_ppid(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_running_child_counts_in_the_fleet_unless_skipped() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let me = std::process::id();
        let found = descendants(me, None);
        let skipped = descendants(me, Some(child.id()));
        let own = cpu(me).unwrap().total();
        let fleet = fleet_cpu(Some(child.id())).unwrap().total();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found.contains(&child.id()), "{found:?}");
        assert!(!skipped.contains(&child.id()), "{skipped:?}");
        // This process's own ticks are part of the fleet's.
        assert!(fleet >= own, "{fleet} < {own}");
    }

    #[test]
    fn vm_rss_is_read_in_kib() {
        let text = "Name:\ttessera\nVmPeak:\t  200000 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss(text).unwrap(), 51_234);
        assert!(parse_vm_rss("Name:\tx\n").is_err());
        assert!(parse_vm_rss("VmRSS:\t12 MB\n").is_err());
    }

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        cpu(me).unwrap();
        assert!(ticks_per_second() > 0);
    }
}
