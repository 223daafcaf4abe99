//! Node flags a spec may not pass: those that open the V8 inspector beyond the loopback
//! address, or advertise its session over HTTP.
//!
//! leakgate starts every node process of the app with `--inspect=127.0.0.1:0
//! --inspect-publish-uid=stderr`: a random port on the loopback only, and no `/json/list`
//! listing of the session's id. A flag in `app.node_args`, `app.command` or
//! `app.env.NODE_OPTIONS` can undo either (`--inspect=0.0.0.0:9229` binds every interface,
//! and anyone on the network who reaches it runs code in the app; `--inspect-publish-uid=http`
//! lists the session to every local user), so such flags are refused in the spec phase, with
//! the form that is allowed.
//!
//! The flags Node reads a host from are `--inspect`, `--inspect-brk`, `--inspect-wait` (their
//! value only after `=`) and `--inspect-port` / `--debug-port` (after `=` or as the next
//! argument). Their value is `[HOST:]PORT` or `HOST`; an IPv6 host is written in brackets.
//! Node also accepts `_` for `-` in flag names.

/// Flags whose value, after `=`, may name a host.
const HOST_FLAGS: [&str; 3] = ["--inspect", "--inspect-brk", "--inspect-wait"];
/// Flags whose value may name a host, after `=` or as the next argument.
const PORT_FLAGS: [&str; 2] = ["--inspect-port", "--debug-port"];
/// Where Node publishes the session's id (`stderr`, `http` or both).
const PUBLISH_FLAG: &str = "--inspect-publish-uid";

/// What is wrong with one argument of a list of node flags.
#[derive(Debug, PartialEq)]
pub(super) struct Refused {
    /// The index of the offending argument.
    pub index: usize,
    /// Why, with the allowed form.
    pub message: String,
}

/// The first argument of `args` (node flags, in order) that opens the inspector beyond the
/// loopback or publishes its session over HTTP; `what` names the list in the message
/// (`app.node_args`).
pub(super) fn refused(args: &[&str], what: &str) -> Option<Refused> {
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name.replace('_', "-"), Some(value)),
            None => (arg.replace('_', "-"), None),
        };
        let name = name.as_str();
        let is_port_flag = PORT_FLAGS.contains(&name);
        let value = match value {
            Some(value) => Some((value, index)),
            None if is_port_flag || name == PUBLISH_FLAG => {
                args.get(index + 1).map(|v| (*v, index + 1))
            }
            None => None,
        };
        if let Some((value, at)) = value {
            if HOST_FLAGS.contains(&name) || is_port_flag {
                if let Some(host) = host_of(value).filter(|h| !is_loopback(h)) {
                    let message = format!(
                        "`{what}` has `{arg}{}`, which opens the V8 inspector on `{host}`, \
                         beyond this machine's loopback: anyone who reaches it can run code in \
                         the app. leakgate starts the inspector on 127.0.0.1 itself; leave the \
                         flag out, or keep it on the loopback: `{name}=127.0.0.1:PORT` (or \
                         `localhost`, `[::1]`)",
                        if at == index {
                            String::new()
                        } else {
                            format!(" {value}")
                        }
                    );
                    return Some(Refused { index, message });
                }
            }
            if name == PUBLISH_FLAG && value.split(',').any(|v| v.trim() == "http") {
                let arg = args[index..=at].join(" ");
                let message = format!(
                    "`{what}` has `{arg}`, which lists the inspector session's id at \
                     `/json/list` for any local process to attach; leakgate reads the id from \
                     stderr; leave the flag out, or use `--inspect-publish-uid=stderr`"
                );
                return Some(Refused { index, message });
            }
            index = at;
        }
        index += 1;
    }
    None
}

/// The host of an inspector value (`[HOST:]PORT` or `HOST`), `None` for a port alone.
fn host_of(value: &str) -> Option<&str> {
    if value.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if let Some(rest) = value.strip_prefix('[') {
        return Some(rest.split_once(']').map_or(value, |(host, _)| host));
    }
    match value.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => Some(host),
        _ => Some(value),
    }
}

/// Whether Node would bind `host` on the loopback interface only.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Splits a shell command line or `NODE_OPTIONS` into words, closely enough to find flags:
/// on whitespace, with single and double quotes removed.
pub(super) fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                }
                in_word = false;
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_index(args: &[&str]) -> Option<usize> {
        refused(args, "app.node_args").map(|r| r.index)
    }

    #[test]
    fn loopback_and_port_only_forms_are_allowed() {
        for args in [
            &["--inspect"][..],
            &["--inspect=9229"],
            &["--inspect=127.0.0.1:0"],
            &["--inspect=127.1.2.3:9229"],
            &["--inspect-brk=localhost:9229"],
            &["--inspect-wait=[::1]:0"],
            &["--inspect-port=0"],
            &["--inspect-port", "9229"],
            &["--inspect-port", "127.0.0.1:9229"],
            &["--debug-port=localhost"],
            &["--inspect-publish-uid=stderr"],
            &["--max-old-space-size=4096", "--enable-source-maps"],
            &["--require", "0.0.0.0:1"],
        ] {
            assert_eq!(refused_index(args), None, "{args:?}");
        }
    }

    #[test]
    fn other_hosts_are_refused_at_their_argument() {
        for (args, at) in [
            (&["--inspect=0.0.0.0:39229"][..], 0),
            (&["--enable-source-maps", "--inspect-port=0.0.0.0:0"], 1),
            (&["--inspect-brk=192.168.1.4:9229"], 0),
            (&["--inspect_brk=0.0.0.0"], 0),
            (&["--inspect-wait=[::]:9229"], 0),
            (&["--inspect=example.com:9229"], 0),
            (&["--inspect=:9229"], 0),
            (&["--inspect-port", "0.0.0.0:0"], 0),
            (&["--debug-port", "[::]"], 0),
            (&["--inspect-publish-uid=stderr,http"], 0),
            (&["--inspect-publish-uid", "http"], 0),
        ] {
            assert_eq!(refused_index(args), Some(at), "{args:?}");
        }
    }

    #[test]
    fn the_message_names_the_flag_host_and_allowed_form() {
        let r = refused(&["--inspect-port", "0.0.0.0:0"], "app.command").unwrap();
        assert!(
            r.message.contains("`--inspect-port 0.0.0.0:0`"),
            "{}",
            r.message
        );
        assert!(r.message.contains("on `0.0.0.0`"), "{}", r.message);
        assert!(
            r.message.contains("`--inspect-port=127.0.0.1:PORT`"),
            "{}",
            r.message
        );
    }

    #[test]
    fn words_split_like_a_shell_for_flags() {
        assert_eq!(
            words("node  --inspect='0.0.0.0:1' \"a b\" x"),
            ["node", "--inspect=0.0.0.0:1", "a b", "x"]
        );
        assert_eq!(words(" "), Vec::<String>::new());
        assert_eq!(words("''"), [""]);
    }
}
