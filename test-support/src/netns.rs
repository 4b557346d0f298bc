//! Network namespaces for tests on a real link: two uniquely named namespaces joined by a veth
//! pair (the authenticator's port and the supplicant's port), torn down by name on drop even
//! when a test fails. Everything goes through iproute2's `ip`, with bounded waits.

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long one `ip` invocation may take before we give up on it.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the namespace tooling failed.
#[derive(Debug)]
pub enum NetnsError {
    /// Namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN).
    NotRoot,
    /// A command could not be started.
    Spawn {
        /// The command line.
        cmd: String,
        /// The error.
        source: std::io::Error,
    },
    /// A command failed.
    Failed {
        /// The command line.
        cmd: String,
        /// Its exit status and standard error.
        detail: String,
    },
    /// A command did not finish in time (it was killed).
    TimedOut {
        /// The command line.
        cmd: String,
        /// The bound.
        after: Duration,
    },
}

impl std::fmt::Display for NetnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsError::NotRoot => f.write_str(
                "wired tests create network namespaces and need root (CI runs as root; run them with sudo)",
            ),
            NetnsError::Spawn { cmd, source } => write!(f, "could not run `{cmd}`: {source}"),
            NetnsError::Failed { cmd, detail } => write!(f, "`{cmd}` failed: {detail}"),
            NetnsError::TimedOut { cmd, after } => {
                write!(f, "`{cmd}` did not finish within {after:?}; killed")
            }
        }
    }
}

impl std::error::Error for NetnsError {}

/// Whether this process runs as root (the owner of `/proc/self` is the effective uid).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `Err(NotRoot)` unless running as root: wired tests must fail loudly, not pass silently.
pub fn require_root() -> Result<(), NetnsError> {
    if is_root() {
        Ok(())
    } else {
        Err(NetnsError::NotRoot)
    }
}

fn cmd_line(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Wait for `child` at most `limit`; kill it (by its pid) and reap it if it overruns.
pub fn wait_bounded(
    mut child: Child,
    cmd: &str,
    limit: Duration,
) -> Result<std::process::ExitStatus, NetnsError> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NetnsError::TimedOut {
                    cmd: cmd.to_owned(),
                    after: limit,
                });
            }
            Err(source) => {
                return Err(NetnsError::Spawn {
                    cmd: cmd.to_owned(),
                    source,
                })
            }
        }
    }
}

/// Run `cmd` to completion within `limit`, capturing its output; a non-zero exit is an error
/// carrying its standard error.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Output, NetnsError> {
    let line = cmd_line(cmd);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetnsError::Spawn {
            cmd: line.clone(),
            source,
        })?;
    let out = wait_bounded_keep_output(child, &line, limit)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(NetnsError::Failed {
            cmd: line,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Like [`wait_bounded`], collecting stdout and stderr on threads so a chatty child cannot
/// block on a full pipe.
fn wait_bounded_keep_output(
    mut child: Child,
    cmd: &str,
    limit: Duration,
) -> Result<Output, NetnsError> {
    use std::io::Read;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        v
    });
    let status = wait_bounded(child, cmd, limit)?;
    Ok(Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    })
}

fn ip(args: &[&str]) -> Result<Output, NetnsError> {
    run_bounded(Command::new("ip").args(args), IP_TIMEOUT)
}

/// Two network namespaces joined by a veth pair: `auth_if` in `auth_ns` (the authenticator's
/// port) and `sup_if` in `sup_ns` (the supplicant's port). Both links and both loopbacks are
/// up. Dropping it deletes both namespaces (which destroys the veth pair).
#[derive(Debug)]
pub struct VethPair {
    /// The authenticator's namespace.
    pub auth_ns: String,
    /// The supplicant's namespace.
    pub sup_ns: String,
    /// The authenticator's end of the veth pair.
    pub auth_if: String,
    /// The supplicant's end of the veth pair.
    pub sup_if: String,
}

impl VethPair {
    /// Create the namespaces and the link. Names are unique per process and call (pid and a
    /// counter), so parallel tests never collide; interface names stay within 15 bytes.
    pub fn create() -> Result<Self, NetnsError> {
        require_root()?;
        sweep_stale();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}x{n}", std::process::id());
        let pair = VethPair {
            auth_ns: format!("lk-auth-{id}"),
            sup_ns: format!("lk-sup-{id}"),
            auth_if: format!("lka{id}"),
            sup_if: format!("lks{id}"),
        };
        // From here on Drop cleans up whatever part was created.
        ip(&["netns", "add", &pair.auth_ns])?;
        ip(&["netns", "add", &pair.sup_ns])?;
        ip(&[
            "-n",
            &pair.auth_ns,
            "link",
            "add",
            &pair.auth_if,
            "type",
            "veth",
            "peer",
            "name",
            &pair.sup_if,
            "netns",
            &pair.sup_ns,
        ])?;
        for (ns, ifname) in [(&pair.auth_ns, &pair.auth_if), (&pair.sup_ns, &pair.sup_if)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", ifname, "up"])?;
        }
        Ok(pair)
    }

    /// A command that runs `program` inside namespace `ns` (`ip netns exec`).
    pub fn command_in(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// A command that runs `program` in the authenticator's namespace.
    pub fn auth_command(&self, program: &str) -> Command {
        Self::command_in(&self.auth_ns, program)
    }

    /// A command that runs `program` in the supplicant's namespace.
    pub fn sup_command(&self, program: &str) -> Command {
        Self::command_in(&self.sup_ns, program)
    }

    /// Whether a namespace of this name exists.
    pub fn exists(ns: &str) -> bool {
        std::path::Path::new("/var/run/netns").join(ns).exists()
    }
}

/// The pid of the test process that created namespace `name`, if it is one of ours
/// (`lk-auth-<pid>x<n>` or `lk-sup-<pid>x<n>`).
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix("lk-auth-")
        .or_else(|| name.strip_prefix("lk-sup-"))?;
    let (pid, n) = rest.split_once('x')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Remove namespaces left by test processes that no longer exist (killed before their Drop
/// ran), first killing by pid whatever still runs inside them (a hostapd, a FreeRADIUS).
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if std::path::Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if let Ok(out) = ip(&["netns", "pids", &name]) {
            for p in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if p.parse::<u32>().is_ok() {
                    let _ = run_bounded(Command::new("kill").args(["-KILL", p]), IP_TIMEOUT);
                }
            }
        }
        let _ = ip(&["netns", "del", &name]);
    }
}

/// Run `f` on a fresh thread that has entered network namespace `ns` (`setns(2)` affects only
/// the calling thread). Sockets opened inside stay in that namespace wherever they are used
/// afterwards, so a test can open a link socket in the supplicant's namespace and drive it
/// from its own thread.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
    use std::os::fd::AsRawFd;
    let path = std::path::Path::new("/var/run/netns").join(ns);
    let file = std::fs::File::open(&path).map_err(|source| NetnsError::Spawn {
        cmd: format!("open {}", path.display()),
        source,
    })?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns with a valid namespace fd and CLONE_NEWNET only changes this
            // thread's network namespace; the thread ends when `f` returns.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(NetnsError::Spawn {
                    cmd: format!("setns {ns}"),
                    source: std::io::Error::last_os_error(),
                });
            }
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(NetnsError::Failed {
                cmd: format!("thread in {ns}"),
                detail: "panicked".into(),
            })
        })
    })
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting a namespace removes its name; the veth pair goes with the last process in
        // it (callers stop their daemons by pid before this runs).
        for ns in [&self.sup_ns, &self.auth_ns] {
            if Self::exists(ns) {
                let _ = ip(&["netns", "del", ns]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_run_kills_an_overrunning_command() {
        let started = Instant::now();
        let r = run_bounded(Command::new("sleep").arg("5"), Duration::from_millis(200));
        assert!(matches!(r, Err(NetnsError::TimedOut { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn failing_command_reports_its_stderr() {
        let r = run_bounded(
            Command::new("sh").args(["-c", "echo nope >&2; exit 3"]),
            Duration::from_secs(5),
        );
        match r {
            Err(NetnsError::Failed { detail, .. }) => assert!(detail.contains("nope"), "{detail}"),
            other => panic!("unexpected: {other:?}"),
        }
    }

    #[test]
    fn only_our_namespace_names_have_an_owner() {
        assert_eq!(owner_pid("lk-auth-1234x0"), Some(1234));
        assert_eq!(owner_pid("lk-sup-77x12"), Some(77));
        for other in [
            "lk-auth-",
            "lk-auth-12",
            "lk-authx-1x1",
            "docker-1x1",
            "lk-sup-ax1",
        ] {
            assert_eq!(owner_pid(other), None, "{other}");
        }
    }

    #[test]
    fn stale_namespace_of_a_dead_test_is_swept() {
        if let Err(e) = require_root() {
            panic!("{e}");
        }
        // A pid above the kernel's pid_max (4194304 at most) belongs to no process.
        let name = "lk-sup-4999999x0";
        ip(&["netns", "add", name]).expect("add");
        sweep_stale();
        assert!(!VethPair::exists(name));
    }

    #[test]
    fn pair_is_created_and_removed_by_name() {
        if !is_root() {
            // The wired tests in hal-sim/tests/wired.rs fail loudly without root; this unit test
            // only checks the mechanics where it can.
            assert!(matches!(VethPair::create(), Err(NetnsError::NotRoot)));
            return;
        }
        let pair = VethPair::create().expect("create namespaces");
        let (a, s) = (pair.auth_ns.clone(), pair.sup_ns.clone());
        assert!(VethPair::exists(&a) && VethPair::exists(&s));
        let out = run_bounded(
            pair.sup_command("ip")
                .args(["-o", "link", "show", &pair.sup_if]),
            IP_TIMEOUT,
        )
        .expect("link visible in the supplicant namespace");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("state UP")
                || String::from_utf8_lossy(&out.stdout).contains("LOWER_UP")
        );
        // The veth end exists only inside its namespace: a thread that entered it sees it in
        // its own /proc/thread-self/net/dev; this thread does not (hal-sim/tests/wired.rs opens
        // the simulator's link socket there).
        let devices = || std::fs::read_to_string("/proc/thread-self/net/dev").expect("net/dev");
        let listed = |text: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{}:", pair.sup_if)))
        };
        let inside = in_netns(&pair.sup_ns, devices).expect("enter namespace");
        assert!(listed(&inside), "{inside}");
        assert!(!listed(&devices()));
        drop(pair);
        assert!(!VethPair::exists(&a) && !VethPair::exists(&s));
    }
}
