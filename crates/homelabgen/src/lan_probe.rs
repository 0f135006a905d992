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

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

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
        assert_eq!(probe(LOOPBACK, port, Duration::from_secs(2)), Answer::Accepted);
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

    #[test]
    fn an_address_nobody_answers_for_is_silent() {
        // TEST-NET-1 (RFC 5737) is never routed: no route, or no answer in time.
        let answer = probe(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            22,
            Duration::from_millis(300),
        );
        assert_eq!(answer, Answer::Silent);
        assert!(!answer.in_use());
    }
}
