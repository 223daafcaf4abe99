//! Which process serves a port, read from `/proc`.
//!
//! A successful connection proves only that *something* listens on the port. Two specs with
//! the same fixed port, or a stale server left on it, would otherwise be measured in place of
//! the app leakgate started: the readiness check would pass, and the load would go to the
//! wrong process. And when the app is started by a command (`npm start`), the process that
//! serves is a grandchild of the one leakgate spawned, and it is the one whose inspector
//! counts. So readiness asks the kernel: the listening socket of the port
//! (`/proc/net/tcp`, `/proc/net/tcp6`, by inode) and the process holding it (the
//! `socket:[INODE]` links under `/proc/PID/fd`), among the descendants of the spawned process.
//! Linux only; elsewhere ownership is not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The TCP state `LISTEN` in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// Listening TCP sockets (IPv4 and IPv6) by inode, with their local port.
pub(super) fn listening_sockets() -> BTreeMap<u64, u16> {
    let mut sockets = BTreeMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        sockets.extend(parse_tcp_table(&text));
    }
    sockets
}

/// `(inode, local port)` of the listening sockets of one `/proc/net/tcp*` table.
fn parse_tcp_table(text: &str) -> Vec<(u64, u16)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != TCP_LISTEN {
                return None;
            }
            let port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            Some((inode.parse().ok()?, port))
        })
        .collect()
}

/// Every process id and its parent, from `/proc/PID/stat`.
/// The pids of every process now, from the numbered folders of `/proc`.
pub(crate) fn proc_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
}

fn parents() -> BTreeMap<u32, u32> {
    let mut map = BTreeMap::new();
    for pid in proc_pids() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `PID (COMM) STATE PPID ...`; COMM may hold spaces and parentheses.
        let after = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            map.insert(pid, ppid);
        }
    }
    map
}

/// `root` and every process below it.
pub(super) fn descendants(root: u32) -> BTreeSet<u32> {
    let parents = parents();
    let mut tree = BTreeSet::from([root]);
    // Parents usually have smaller pids, but pids wrap: repeat until nothing is added.
    loop {
        let before = tree.len();
        for (pid, ppid) in &parents {
            if tree.contains(ppid) {
                tree.insert(*pid);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

/// The socket inodes a process holds open (empty when its fds cannot be read).
pub(super) fn socket_inodes(pid: u32) -> BTreeSet<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return BTreeSet::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The ports a process listens on.
pub(super) fn listening_ports(pid: u32, sockets: &BTreeMap<u64, u16>) -> BTreeSet<u16> {
    socket_inodes(pid)
        .iter()
        .filter_map(|inode| sockets.get(inode).copied())
        .collect()
}

/// Who holds the listening socket of `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PortOwner {
    /// This process, one of those leakgate started.
    Ours(u32),
    /// A process leakgate did not start, when it could be found (another user's processes
    /// cannot be read).
    Foreign(Option<u32>),
    /// Nothing listens on the port (or `/proc` cannot tell).
    Nobody,
}

/// Who holds the listening socket of `port`, looking first among `ours`.
pub(super) fn port_owner(port: u16, ours: &BTreeSet<u32>) -> PortOwner {
    if !Path::new("/proc/net/tcp").exists() {
        return PortOwner::Nobody;
    }
    let sockets = listening_sockets();
    let inodes: BTreeSet<u64> = sockets
        .iter()
        .filter(|(_, p)| **p == port)
        .map(|(inode, _)| *inode)
        .collect();
    if inodes.is_empty() {
        return PortOwner::Nobody;
    }
    if let Some(pid) = ours
        .iter()
        .find(|pid| !socket_inodes(**pid).is_disjoint(&inodes))
    {
        return PortOwner::Ours(*pid);
    }
    let others = parents().into_keys().filter(|pid| !ours.contains(pid));
    let found = others
        .into_iter()
        .find(|pid| !socket_inodes(*pid).is_disjoint(&inodes));
    PortOwner::Foreign(found)
}

/// A process's command line, spaces between the arguments, cut to a readable length.
pub(super) fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let text: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut line = text.join(" ");
    if line.len() > 120 {
        let mut end = 117;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str("...");
    }
    (!line.is_empty()).then_some(line)
}

/// Whether a process is a `cluster` worker: Node gives each one `NODE_UNIQUE_ID`.
pub(super) fn is_cluster_worker(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|b| *b == 0)
            .any(|v| v.starts_with(b"NODE_UNIQUE_ID="))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listening_sockets_from_a_tcp_table() {
        // Two lines of a real /proc/net/tcp: a listener on 127.0.0.1:3000 and an established
        // connection (state 01), which is not a listener.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51234 1 0000000000000000 100 0 0 10 0\n\
            1: 0100007F:0BB8 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000  1000        0 51240 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(parse_tcp_table(table), vec![(51234, 3000)]);
    }

    #[test]
    fn finds_the_listener_of_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = std::process::id();
        assert_eq!(port_owner(port, &BTreeSet::from([me])), PortOwner::Ours(me));
        assert!(
            matches!(port_owner(port, &BTreeSet::new()), PortOwner::Foreign(Some(p)) if p == me)
        );
        assert!(listening_ports(me, &listening_sockets()).contains(&port));
        drop(listener);
        assert_eq!(port_owner(port, &BTreeSet::from([me])), PortOwner::Nobody);
        assert!(descendants(me).contains(&me));
    }
}
