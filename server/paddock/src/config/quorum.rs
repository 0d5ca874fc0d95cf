//! `server.N=...` lines, read as `QuorumPeer.QuorumServer` reads them.
//!
//! The form is `host:quorumPort:electionPort[:role][;[clientHost:]clientPort]`;
//! an IPv6 host is written in brackets (`ConfigUtils.getHostAndPort`).

/// Whether a server votes (`participant`, the default) or only follows (`observer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Participant,
    Observer,
}

/// One `server.N` line of zoo.cfg or of the dynamic configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLine {
    /// `N` of `server.N`: the server's id, as in its `myid` file.
    pub id: u64,
    /// Host name or address the quorum and election ports listen on.
    pub host: String,
    /// Port followers use to talk to the leader.
    pub quorum_port: u16,
    /// Port of leader election.
    pub election_port: u16,
    /// `participant` or `observer`.
    pub role: Role,
    /// `;[host:]port` part: where this server takes clients. The host defaults
    /// to `0.0.0.0`, as in ZooKeeper.
    pub client_addr: Option<(String, u16)>,
}

const WRONG_FORMAT: &str = " does not have the form server_config or server_config;client_config \
     where server_config is the pipe separated list of host:port:port or host:port:port:type \
     and client_config is port or host:port";

/// Parses the value of `server.<id>`. The `Err` is ZooKeeper's message.
pub(crate) fn parse_server_line(id: u64, value: &str) -> Result<ServerLine, String> {
    let parts: Vec<&str> = value.split(';').collect();
    if parts.len() > 2 {
        return Err(format!("{value}{WRONG_FORMAT}"));
    }
    if parts[0].contains('|') {
        // QuorumServer: multiAddress.enabled is false by default, and Paddock
        // does not implement multiple quorum addresses.
        return Err(format!(
            "Multiple address feature is disabled, but multiple addresses were specified for sid {id}"
        ));
    }
    let client_addr = match parts.get(1) {
        Some(client) => Some(parse_client_part(value, client)?),
        None => None,
    };
    let server_parts = host_and_port(parts[0])?;
    if !(3..=4).contains(&server_parts.len()) {
        return Err(format!("{value}{WRONG_FORMAT}"));
    }
    let host = server_parts[0].clone();
    let quorum_port = port(&host, &server_parts[1])?;
    let election_port = port(&host, &server_parts[2])?;
    if quorum_port == election_port {
        return Err(format!(
            "Client and election port must be different! Please update the configuration file on server.{id}"
        ));
    }
    let role = match server_parts.get(3) {
        None => Role::Participant,
        Some(role) => parse_role(role)?,
    };
    Ok(ServerLine {
        id,
        host,
        quorum_port,
        election_port,
        role,
        client_addr,
    })
}

/// `QuorumServer.getType`, also used for the `peerType` key.
pub(crate) fn parse_role(text: &str) -> Result<Role, String> {
    match text.trim().to_lowercase().as_str() {
        "observer" => Ok(Role::Observer),
        "participant" => Ok(Role::Participant),
        _ => Err(format!("Unrecognised peertype: {text}")),
    }
}

fn parse_client_part(whole: &str, client: &str) -> Result<(String, u16), String> {
    let parts = host_and_port(client)?;
    match parts.as_slice() {
        [p] => Ok(("0.0.0.0".to_string(), port("0.0.0.0", p)?)),
        [host, p] => Ok((host.clone(), port(host, p)?)),
        _ => Err(format!("{whole}{WRONG_FORMAT}")),
    }
}

/// `Integer.parseInt` then `new InetSocketAddress(host, port)`, which rejects
/// ports outside 0..=65535.
fn port(host: &str, text: &str) -> Result<u16, String> {
    let number: i32 = text
        .parse()
        .map_err(|_| format!("Address unresolved: {host}:{text}"))?;
    u16::try_from(number).map_err(|_| format!("port out of range:{number}"))
}

/// `ConfigUtils.getHostAndPort`: `[v6]:a:b` keeps the bracketed host whole,
/// anything else splits on every colon.
fn host_and_port(s: &str) -> Result<Vec<String>, String> {
    let Some(bracketed) = s.strip_prefix('[') else {
        return Ok(s.split(':').map(str::to_string).collect());
    };
    let close = bracketed
        .find(']')
        .ok_or_else(|| format!("{s} starts with '[' but has no matching ']:'"))?;
    let host = &bracketed[..close];
    let after = &bracketed[close + 1..];
    match after.strip_prefix(':') {
        Some("") => Err(format!("{s} doesn't have a port after colon")),
        Some(rest) => {
            let mut parts = vec![host.to_string()];
            parts.extend(rest.split(':').map(str::to_string));
            Ok(parts)
        }
        None => Ok(vec![format!("{host}{after}").replace(['[', ']'], "")]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // QuorumPeer.QuorumServer.initializeWithAddressString: host:port:port.
    #[test]
    fn plain_line_is_a_participant_without_client_address() {
        assert_eq!(
            parse_server_line(1, "zk1:2888:3888"),
            Ok(ServerLine {
                id: 1,
                host: "zk1".into(),
                quorum_port: 2888,
                election_port: 3888,
                role: Role::Participant,
                client_addr: None,
            })
        );
    }

    // QuorumServer: ";port" means 0.0.0.0:port, ";host:port" names the host.
    #[test]
    fn client_part_with_and_without_host() {
        let line = parse_server_line(2, "10.0.0.2:2888:3888:observer;2181").expect("parses");
        assert_eq!(line.role, Role::Observer);
        assert_eq!(line.client_addr, Some(("0.0.0.0".into(), 2181)));
        let line = parse_server_line(2, "[::1]:2888:3888;[::1]:2182").expect("parses");
        assert_eq!(line.host, "::1");
        assert_eq!(line.client_addr, Some(("::1".into(), 2182)));
    }

    // QuorumServer: the same port twice, a bad port, a bad role, too many parts.
    #[test]
    fn malformed_lines_are_rejected_with_zookeepers_messages() {
        let same = parse_server_line(3, "h:2888:2888").unwrap_err();
        assert!(same.starts_with("Client and election port must be different"));
        assert_eq!(
            parse_server_line(3, "h:x:3888").unwrap_err(),
            "Address unresolved: h:x"
        );
        assert_eq!(
            parse_server_line(3, "h:2888:3888:boss").unwrap_err(),
            "Unrecognised peertype: boss"
        );
        assert!(parse_server_line(3, "h:2888")
            .unwrap_err()
            .contains("does not have the form"));
        assert!(parse_server_line(3, "h:1:2;3;4")
            .unwrap_err()
            .contains("does not have the form"));
        assert_eq!(
            parse_server_line(3, "h:2888:70000").unwrap_err(),
            "port out of range:70000"
        );
        assert!(parse_server_line(3, "a:1:2|b:1:2")
            .unwrap_err()
            .contains("Multiple address"));
    }

    // ConfigUtils.getHostAndPort: bracket errors.
    #[test]
    fn bracket_errors() {
        assert!(parse_server_line(1, "[::1:2888:3888")
            .unwrap_err()
            .contains("no matching"));
        assert!(parse_server_line(1, "[::1]:")
            .unwrap_err()
            .contains("doesn't have a port"));
    }
}
