//! Is an address in use on the LAN? `doctor --probe-lan` asks before a static IP is
//! given to a new VM, because the Proxmox API only knows the addresses of its own VMs:
//! a NAS or a phone may hold one too.
//!
//! The probe is a TCP connection attempt, which needs no privilege (ICMP echo needs a
//! raw socket or a setuid `ping`): a host that holds the address answers the SYN, with
//! SYN-ACK when the port is open or with RST when it is closed. Either answer proves
//! the address is taken. No answer within the timeout (or an unreachable network) does
//! not prove it free: a firewall can drop everything. Nothing is sent after the
//! handshake; an accepted connection is closed at once.
//!
//! Only addresses on a network this machine is directly on are probed: an address
//! reached through a router says nothing about the LAN (a transparent proxy or a
//! captive firewall on the way answers for every address).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// The ports tried, in order: SSH (every server, and the VMs this lab clones), then
/// HTTPS and HTTP (appliances: NAS, printers, access points).
pub const PORTS: [u16; 3] = [22, 443, 80];
/// How long one port is waited for.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// What probing an address found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Not on a directly connected network (or the routes could not be read): not probed.
    OffLink,
    /// A host answered on this port.
    Answered(u16, Answer),
    /// No port answered.
    Silent,
}

/// Probe `ip` on `PORTS` if it is on a directly connected network.
pub fn probe_address(ip: Ipv4Addr) -> Finding {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    if !on_link(&routes, ip) {
        return Finding::OffLink;
    }
    for port in PORTS {
        let answer = probe(IpAddr::V4(ip), port, TIMEOUT);
        if answer.in_use() {
            return Finding::Answered(port, answer);
        }
    }
    Finding::Silent
}

/// Whether `ip` is on a directly connected network according to the kernel's IPv4
/// routing table (`/proc/net/route`): a route without a gateway (other than the
/// default route) whose destination holds it.
pub fn on_link(routes: &str, ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    routes.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; each address is
        // its network-order bytes printed as a host-order number, hence `from_be`.
        let hex = |i: usize| {
            fields
                .get(i)
                .and_then(|f| u32::from_str_radix(f, 16).ok())
                .map(u32::from_be)
        };
        let (Some(dest), Some(gateway), Some(mask)) = (hex(1), hex(2), hex(7)) else {
            return false;
        };
        gateway == 0 && mask != 0 && ip & mask == dest & mask
    })
}

/// What one probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A host accepted a connection on the port.
    Accepted,
    /// A host refused the connection (RST): it holds the address, the port is closed.
    Refused,
    /// No answer within the timeout, or no route: maybe free, maybe firewalled.
    Silent,
}

impl Answer {
    /// Whether a host answered, i.e. the address is in use.
    pub fn in_use(self) -> bool {
        !matches!(self, Answer::Silent)
    }
}

/// Try to connect to `ip:port` within `timeout`.
pub fn probe(ip: IpAddr, port: u16, timeout: Duration) -> Answer {
    match TcpStream::connect_timeout(&SocketAddr::new(ip, port), timeout) {
        Ok(_) => Answer::Accepted,
        Err(err) if err.kind() == ErrorKind::ConnectionRefused => Answer::Refused,
        Err(_) => Answer::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn an_open_port_is_accepted() {
        let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            probe(LOOPBACK, port, Duration::from_secs(2)),
            Answer::Accepted
        );
    }

    #[test]
    fn a_closed_port_of_a_live_host_is_refused_and_still_in_use() {
        // A port bound a moment ago and released is closed: the host answers RST.
        let port = TcpListener::bind((LOOPBACK, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let answer = probe(LOOPBACK, port, Duration::from_secs(2));
        assert_eq!(answer, Answer::Refused);
        assert!(answer.in_use());
    }

    /// A routing table as the kernel prints it: a default route via 192.168.1.1 on
    /// eth0, the LAN 192.168.1.0/24 on eth0, a routed 10.8.0.0/16 via 192.168.1.254.
    const ROUTES: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        eth0\t0000080A\tFE01A8C0\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

    #[test]
    fn only_directly_connected_networks_are_on_link() {
        assert!(on_link(ROUTES, Ipv4Addr::new(192, 168, 1, 50)));
        assert!(on_link(ROUTES, Ipv4Addr::new(192, 168, 1, 255)));
        // Routed, or only through the default route: not on the LAN.
        assert!(!on_link(ROUTES, Ipv4Addr::new(10, 8, 3, 4)));
        assert!(!on_link(ROUTES, Ipv4Addr::new(192, 168, 2, 1)));
        assert!(!on_link(ROUTES, Ipv4Addr::new(8, 8, 8, 8)));
        // No table, or a garbled one: nothing is on link.
        assert!(!on_link("", Ipv4Addr::new(192, 168, 1, 50)));
        assert!(!on_link(
            "header\neth0 zz yy",
            Ipv4Addr::new(192, 168, 1, 50)
        ));
    }
}
