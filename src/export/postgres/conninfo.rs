//! Where the PostgreSQL export connects, by libpq's conventions: a URL
//! (`postgresql://user@host/db`) or `key=value` string, then for whatever it leaves out the
//! `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` and `PGPASSWORD` variables, the password file
//! (`PGPASSFILE` or `~/.pgpass`), and libpq's defaults (the Unix socket in
//! `/var/run/postgresql`, port 5432, the login name as user and database).
//!
//! A password never appears in a message: [`describe`] names the server without it, and a
//! string that does not parse is reported without its text.

use std::path::{Path, PathBuf};

use postgres::config::Host;

/// Why a connection string was refused (its text is not repeated: it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the PostgreSQL connection string does not parse (a URL postgresql://… or key=value pairs)")]
pub struct BadConnString;

/// The environment the defaults come from: the process's in use, a map in tests.
pub trait Env {
    /// A variable, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process's environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The client settings for `conn`, completed from `env` and the password file.
pub fn config(conn: &str, env: &dyn Env) -> Result<postgres::Config, BadConnString> {
    let mut c: postgres::Config = conn.parse().map_err(|_| BadConnString)?;
    if c.get_hosts().is_empty() {
        match env.var("PGHOST") {
            Some(hosts) => hosts.split(',').for_each(|h| {
                c.host(h);
            }),
            None => {
                c.host_path("/var/run/postgresql");
            }
        }
    }
    if c.get_ports().is_empty() {
        let port = env.var("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432);
        c.port(port);
    }
    if c.get_user().is_none() {
        let user = env.var("PGUSER").or_else(|| env.var("USER")).unwrap_or_else(|| "postgres".into());
        c.user(&user);
    }
    if c.get_dbname().is_none() {
        let db = env.var("PGDATABASE").or_else(|| c.get_user().map(str::to_owned)).unwrap_or_default();
        c.dbname(&db);
    }
    if c.get_password().is_none() {
        let password = env.var("PGPASSWORD").or_else(|| from_passfile(&c, env));
        if let Some(p) = password {
            c.password(p);
        }
    }
    if c.get_application_name().is_none() {
        c.application_name("wfstore");
    }
    Ok(c)
}

/// The server a configuration names, for messages: `user@host:port/db`, never a password.
pub fn describe(c: &postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{}@{host}:{port}/{}", c.get_user().unwrap_or("?"), c.get_dbname().unwrap_or("?"))
}

/// The largest password file read.
const PASSFILE_BYTES_MAX: u64 = 1 << 20;

/// The password the password file gives for the first host, if any (libpq's rules: the
/// first matching line wins, `*` matches anything, a socket host matches `localhost`).
fn from_passfile(c: &postgres::Config, env: &dyn Env) -> Option<String> {
    let path = env
        .var("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    // A password file larger than this is not one: it is never read further (libpq reads
    // line by line, unbounded). Not a regular file (a FIFO would block): no password.
    let bytes = crate::disk::Disk::default().read_bounded(&path, PASSFILE_BYTES_MAX).ok()?;
    passfile_lookup(std::str::from_utf8(&bytes).ok()?, c)
}

/// The password the password file `text` gives for the first host of `c`, if any.
pub fn passfile_lookup(text: &str, c: &postgres::Config) -> Option<String> {
    let host = match c.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432).to_string();
    let want = [host.as_str(), port.as_str(), c.get_dbname()?, c.get_user()?];
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let fields = split_fields(line);
        let [h, p, d, u, pw] = fields.as_slice() else { return None };
        let matches = [h, p, d, u].iter().zip(want).all(|(f, w)| f.as_str() == "*" || f.as_str() == w);
        matches.then(|| pw.clone())
    })
}

/// The `:`-separated fields of a password-file line, with `\:` and `\\` unescaped.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => fields.last_mut().into_iter().for_each(|f| f.extend(chars.next())),
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().into_iter().for_each(|f| f.push(ch)),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    struct Vars(HashMap<&'static str, String>);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn vars(pairs: &[(&'static str, &str)]) -> Vars {
        Vars(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    #[test]
    fn what_the_string_leaves_out_comes_from_the_environment_then_the_defaults() {
        let c = config(
            "dbname=audits",
            &vars(&[("PGHOST", "db.example"), ("PGUSER", "ann"), ("PGPASSWORD", "pw")]),
        )
        .unwrap();
        assert_eq!(describe(&c), "ann@db.example:5432/audits");
        assert_eq!(c.get_password(), Some(&b"pw"[..]));
        let c = config("", &vars(&[("USER", "bob")])).unwrap();
        assert_eq!(describe(&c), "bob@/var/run/postgresql:5432/bob");
        assert_eq!(c.get_password(), None);
        let c = config("postgresql://eve:secret@h:6000/x", &vars(&[("PGPASSWORD", "other")])).unwrap();
        assert_eq!((describe(&c), c.get_password()), ("eve@h:6000/x".into(), Some(&b"secret"[..])));
    }

    #[test]
    fn the_password_file_gives_the_first_matching_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "# comment\nother:*:*:*:no\nh:5432:db:ann:first\\:pw\n*:*:*:*:fallback\n")
            .unwrap();
        let env = vars(&[("PGPASSFILE", file.to_str().unwrap())]);
        let c = config("host=h user=ann dbname=db", &env).unwrap();
        assert_eq!(c.get_password(), Some(&b"first:pw"[..]));
        let c = config("host=/run/pg user=ann dbname=db", &env).unwrap();
        assert_eq!(c.get_password(), Some(&b"fallback"[..]), "a socket host matches localhost or *");
        // A file over the limit is not read at all, whatever it holds.
        let big = format!("h:5432:db:ann:pw\n{}", "#".repeat(1 << 20));
        std::fs::write(&file, big).unwrap();
        assert_eq!(config("host=h user=ann dbname=db", &env).unwrap().get_password(), None);
    }

    #[test]
    fn a_string_that_does_not_parse_is_not_repeated() {
        let e = config("postgresql://eve:s3cret@h:notaport/x", &vars(&[])).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
