//! Network namespaces and veth pairs through `ip` (iproute2).
//!
//! Every helper runs `ip` and turns a non-zero exit into an [`io::Error`]
//! that names the command and carries its stderr. Names made by
//! [`unique_name`] contain the process id and a counter, so tests running in
//! parallel (threads or processes) never collide; [`NetNs`] and [`VethPair`]
//! delete what they created when dropped, including while a failing test
//! unwinds. [`cleanup_stale`] removes namespaces left by killed processes.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::tap::{MAX_IFNAME_LEN, validate_ifname};

/// Prefix of the namespaces [`NetNs::create`] makes.
pub const NETNS_PREFIX: &str = "netwire";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// An interface name unique to this process and call:
/// `{prefix}{pid:x}n{counter:x}`, with `prefix` shortened so the whole fits
/// an interface name (15 bytes).
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("{:x}n{:x}", std::process::id(), n);
    let room = MAX_IFNAME_LEN.saturating_sub(suffix.len());
    let prefix: String = prefix.chars().take(room).collect();
    format!("{prefix}{suffix}")
}

/// Runs `ip` with `args`; returns its stdout, or an error naming the command
/// with its stderr.
pub fn ip<I, S>(args: I) -> io::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("ip");
    cmd.args(args);
    run_checked(&mut cmd)
}

/// Runs a command, failing with its stderr if it exits non-zero.
fn run_checked(cmd: &mut Command) -> io::Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running {shown}: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A named network namespace, deleted (with the interfaces in it) on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace with a unique name (`netwire{pid}n{counter}`) and
    /// brings its loopback up.
    pub fn create() -> io::Result<NetNs> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self::create_named(&format!("{NETNS_PREFIX}{:x}n{n:x}", std::process::id()))
    }

    /// Creates the namespace `name` and brings its loopback up. Fails if it
    /// exists already.
    pub fn create_named(name: &str) -> io::Result<NetNs> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid namespace name {name:?}"),
            ));
        }
        ip(["netns", "add", name])?;
        let ns = NetNs {
            name: name.to_string(),
        };
        ns.link_up("lo")?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args…` (iproute2 inside this namespace).
    pub fn ip<I, S>(&self, args: I) -> io::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("ip");
        cmd.arg("-n").arg(&self.name).args(args);
        run_checked(&mut cmd)
    }

    /// Moves interface `ifname` from the current namespace into this one.
    pub fn move_link(&self, ifname: &str) -> io::Result<()> {
        validate_ifname(ifname)?;
        ip(["link", "set", "dev", ifname, "netns", &self.name]).map(drop)
    }

    /// Adds an address such as `"10.77.1.1/24"` to `ifname` in this namespace.
    pub fn add_addr(&self, ifname: &str, cidr: &str) -> io::Result<()> {
        validate_ifname(ifname)?;
        self.ip(["addr", "add", cidr, "dev", ifname]).map(drop)
    }

    /// Brings `ifname` up in this namespace.
    pub fn link_up(&self, ifname: &str) -> io::Result<()> {
        validate_ifname(ifname)?;
        self.ip(["link", "set", "dev", ifname, "up"]).map(drop)
    }

    /// Takes `ifname` down in this namespace.
    pub fn link_down(&self, ifname: &str) -> io::Result<()> {
        validate_ifname(ifname)?;
        self.ip(["link", "set", "dev", ifname, "down"]).map(drop)
    }

    /// Sets the MAC address of `ifname` (`"02:00:00:00:00:01"`).
    pub fn set_mac(&self, ifname: &str, mac: &str) -> io::Result<()> {
        validate_ifname(ifname)?;
        self.ip(["link", "set", "dev", ifname, "address", mac])
            .map(drop)
    }

    /// A `Command` that runs `program` inside this namespace
    /// (`ip netns exec NAME program`); add arguments and run it as usual.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec"]).arg(&self.name).arg(program);
        cmd
    }

    /// Runs `program args…` inside this namespace and returns its output,
    /// whatever its exit status (stdin is closed).
    pub fn exec<I, S>(&self, program: &str, args: I) -> io::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("ip netns exec {}: {e}", self.name)))
    }

    /// Whether the namespace is listed by `ip netns list`.
    pub fn exists(name: &str) -> io::Result<bool> {
        Ok(list()?.iter().any(|n| n == name))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = ip(["netns", "delete", &self.name]);
    }
}

/// Names of the existing named namespaces (`ip netns list`).
pub fn list() -> io::Result<Vec<String>> {
    let out = ip(["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Deletes namespaces made by [`NetNs::create`] in processes that no longer
/// run (left behind by a killed test). Returns how many it deleted.
pub fn cleanup_stale() -> io::Result<usize> {
    let mut deleted = 0;
    for name in list()? {
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('n') else {
            continue;
        };
        let Ok(pid) = u32::from_str_radix(pid, 16) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() && ip(["netns", "delete", &name]).is_ok() {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// A veth pair whose ends live in two namespaces: the kernel's own wire, a
/// baseline to compare a [`crate::link::Link`] with. Deleting either end
/// deletes both; that happens on drop (and when a namespace goes).
#[derive(Debug)]
pub struct VethPair {
    ns_a: String,
    a: String,
    b: String,
}

impl VethPair {
    /// Creates a veth pair with unique names, one end in `ns_a`, the other
    /// in `ns_b`, both down and without addresses.
    pub fn create(ns_a: &NetNs, ns_b: &NetNs) -> io::Result<VethPair> {
        let a = unique_name("vetha");
        let b = unique_name("vethb");
        ip([
            "link", "add", &a, "netns", &ns_a.name, "type", "veth", "peer", "name", &b, "netns",
            &ns_b.name,
        ])?;
        Ok(VethPair {
            ns_a: ns_a.name.clone(),
            a,
            b,
        })
    }

    /// Name of the end in the first namespace.
    pub fn a(&self) -> &str {
        &self.a
    }

    /// Name of the end in the second namespace.
    pub fn b(&self) -> &str {
        &self.b
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = ip(["-n", &self.ns_a, "link", "delete", &self.a]);
    }
}

/// The rule for tests that need namespaces: `true` when they can run here,
/// that is when [`can_use_netns`] and the test's own check `also` (say, a
/// tool it needs) pass; stale namespaces of dead test processes are
/// cleaned up first. When they cannot, a test skips with the reason on
/// standard error (past the test harness's capture), except under
/// `CI=true`, where it panics: no root test may skip in CI.
pub fn root_tests_can_run(also: impl FnOnce() -> Result<(), String>) -> bool {
    match can_use_netns().and_then(|()| also()) {
        Ok(()) => {
            let _ = cleanup_stale();
            true
        }
        Err(reason) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("root test cannot run under CI=true: {reason}");
            }
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "skipping root test: {reason}");
            false
        }
    }
}

/// Whether this process can make TAP devices in network namespaces: running
/// as root, `/dev/net/tun` opens read-write, `ip` runs, and a namespace can
/// be created (and is deleted again). `Err` says which is missing.
pub fn can_use_netns() -> Result<(), String> {
    let euid = rustix::process::geteuid();
    if !euid.is_root() {
        return Err(format!("not running as root (euid {})", euid.as_raw()));
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| format!("cannot open /dev/net/tun: {e}"))?;
    match Command::new("ip").arg("-V").stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("`ip -V` failed: {}", o.status)),
        Err(e) => return Err(format!("cannot run `ip` (install iproute2): {e}")),
    }
    let probe = NetNs::create().map_err(|e| format!("cannot create a network namespace: {e}"))?;
    drop(probe);
    Ok(())
}
