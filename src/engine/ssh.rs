//! `ssh://` engines, as docker reaches them: `ssh [-l USER] [-p PORT] -o
//! ConnectTimeout=30 -T -- HOST "docker system dial-stdio"`, and HTTP over that
//! process's stdin and stdout. One ssh process per connection; what ssh says on stderr
//! is kept and shown when the connection fails, in docker's words.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::error::{EXIT_BERTH, Error, Result};

/// The parts of an `ssh://[user@]host[:port][/socket]` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<String>,
    pub socket: Option<String>,
}

/// docker's checks of an ssh URL, with its texts.
pub fn parse(url: &str) -> std::result::Result<Spec, String> {
    let bad = |why: &str| format!("ssh host connection is not valid: invalid SSH URL: {why}");
    let rest = url
        .strip_prefix("ssh://")
        .ok_or_else(|| bad("no scheme provided"))?;
    if let Some((_, q)) = rest.split_once('?') {
        return Err(bad(&format!(
            "query parameters are not allowed: {}",
            crate::display::go_quote(q)
        )));
    }
    if let Some((_, f)) = rest.split_once('#') {
        return Err(bad(&format!(
            "fragments are not allowed: {}",
            crate::display::go_quote(f)
        )));
    }
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, String::new()),
    };
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if user.is_some_and(|u| u.contains(':')) {
        return Err(bad("plain-text password is not supported"));
    }
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h.to_string(), p.strip_prefix(':').map(str::to_string)),
            None => return Err(bad(&format!("invalid host: {hostport}"))),
        },
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (hostport.to_string(), None),
        },
    };
    if host.is_empty() {
        return Err(bad("hostname is empty"));
    }
    if let Some(p) = &port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(&format!("invalid port: {p}")));
    }
    let socket = Some(path).filter(|p| !p.trim_matches('/').is_empty());
    Ok(Spec {
        user: user.map(str::to_string),
        host,
        port,
        socket,
    })
}

/// A word as a POSIX shell needs it (what docker's ssh helper sends the remote shell).
fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".into();
    }
    let special = |c: char| {
        matches!(
            c,
            ';' | '"'
                | '\''
                | '('
                | ')'
                | '$'
                | '|'
                | '&'
                | '>'
                | '<'
                | '`'
                | '\\'
                | '#'
                | '{'
                | '~'
                | '*'
                | '?'
                | '['
                | '='
                | ' '
                | '\t'
                | '\r'
                | '\n'
        )
    };
    if !word.chars().any(special) {
        return word.to_string();
    }
    if !word.contains('\'') {
        return format!("'{word}'");
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The argv docker runs for an ssh engine (without the program name).
pub fn argv(spec: &Spec) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(u) = &spec.user {
        a.push("-l".to_string());
        a.push(quote(u));
    }
    if let Some(p) = &spec.port {
        a.push("-p".to_string());
        a.push(quote(p));
    }
    a.push("-o ConnectTimeout=30".to_string());
    a.push("-T".to_string());
    a.push("--".to_string());
    a.push(quote(&spec.host));
    let remote: Vec<String> = match &spec.socket {
        None => vec!["docker".into(), "system".into(), "dial-stdio".into()],
        Some(path) => vec![
            "docker".into(),
            format!("--host=unix://{path}"),
            "system".into(),
            "dial-stdio".into(),
        ],
    };
    a.push(
        remote
            .iter()
            .map(|w| quote(w))
            .collect::<Vec<_>>()
            .join(" "),
    );
    a
}

/// A duplex stream over a child's stdout (read) and stdin (write).
struct Stdio {
    stdout: ChildStdout,
    stdin: Option<ChildStdin>,
    _child: Child,
}

impl AsyncRead for Stdio {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stdio {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, b),
            None => Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stdin.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // closing stdin is the half-close the engine's end expects
        self.stdin.take();
        Poll::Ready(Ok(()))
    }
}

struct Conn(TokioIo<Stdio>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, b)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// What the connections' ssh processes said on stderr (the last 4 KiB).
#[derive(Default)]
struct Said {
    stderr: Vec<u8>,
}

#[derive(Clone)]
struct Connector {
    program: Arc<String>,
    argv: Arc<Vec<String>>,
    said: Arc<Mutex<Said>>,
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = Conn;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Conn, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: hyper::Uri) -> Self::Future {
        let (program, argv, said) = (self.program.clone(), self.argv.clone(), self.said.clone());
        Box::pin(async move {
            let mut cmd = Command::new(program.as_str());
            cmd.args(argv.iter())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true);
            // its own session, as docker does (ProxyCommand helpers want one)
            // SAFETY: setsid in the child before exec is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            }
            let mut child = cmd.spawn()?;
            let stdin = child.stdin.take();
            let stdout = child.stdout.take().expect("piped stdout");
            let mut stderr = child.stderr.take().expect("piped stderr");
            tokio::spawn(async move {
                let mut b = [0u8; 1024];
                while let Ok(n) = stderr.read(&mut b).await {
                    if n == 0 {
                        break;
                    }
                    let mut s = said.lock().expect("not poisoned");
                    if s.stderr.len() > 4096 {
                        s.stderr.clear();
                    }
                    s.stderr.extend_from_slice(&b[..n]);
                }
            });
            Ok(Conn(TokioIo::new(Stdio {
                stdout,
                stdin,
                _child: child,
            })))
        })
    }
}

/// Connect to an `ssh://` engine (`program` is `ssh`; tests may name a stand-in).
pub async fn connect(url: &str) -> Result<super::Engine> {
    connect_with(url, "ssh").await
}

pub async fn connect_with(url: &str, program: &str) -> Result<super::Engine> {
    let spec = parse(url).map_err(|m| Error::Message {
        message: m,
        code: 1,
    })?;
    let argv = argv(&spec);
    let said = Arc::new(Mutex::new(Said::default()));
    let connector = Connector {
        program: Arc::new(program.to_string()),
        argv: Arc::new(argv.clone()),
        said: said.clone(),
    };
    let client: Client<Connector, _> = Client::builder(TokioExecutor::new()).build(connector);
    let client = Arc::new(client);
    let shown = format!("{program} {}", argv.join(" "));
    let transport = {
        let said = said.clone();
        move |req: BollardRequest| {
            let client = client.clone();
            let said = said.clone();
            let shown = shown.clone();
            let target = format!(
                "{} \"http://docker.example.com{}\"",
                req.method(),
                req.uri().path()
            );
            async move {
                match client.request(req).await {
                    Ok(r) => Ok(r),
                    Err(_) => {
                        // let ssh finish saying why (its stderr is read by a task of
                        // this runtime)
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        let stderr = {
                            let s = said.lock().expect("not poisoned");
                            String::from_utf8_lossy(&s.stderr).trim_end().to_string()
                        };
                        Err(bollard::errors::Error::IOError {
                            err: std::io::Error::other(format!(
                                "error during connect: {target}: command [{shown}] has exited, make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr={stderr}"
                            )),
                        })
                    }
                }
            }
        }
    };
    let docker = Docker::connect_with_custom_transport(
        transport,
        Some("http://docker.example.com"),
        super::TIMEOUT_SECS,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| Error::failed(e.to_string()))?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| Error::Message {
            message: match &e {
                bollard::errors::Error::IOError { err } => err.to_string(),
                other => other.to_string(),
            },
            code: EXIT_BERTH,
        })?;
    Ok(super::Engine::from_parts(docker, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_argv_as_docker_has_them() {
        let s = parse("ssh://me@example.com:10022/var/run/docker.sock").unwrap();
        assert_eq!(
            argv(&s),
            [
                "-l",
                "me",
                "-p",
                "10022",
                "-o ConnectTimeout=30",
                "-T",
                "--",
                "example.com",
                "docker '--host=unix:///var/run/docker.sock' system dial-stdio"
            ]
        );
        let s = parse("ssh://example.com").unwrap();
        assert_eq!(
            argv(&s),
            [
                "-o ConnectTimeout=30",
                "-T",
                "--",
                "example.com",
                "docker system dial-stdio"
            ]
        );
        assert_eq!(
            argv(&parse("ssh://$(shutdown)me@h").unwrap())[1],
            "'$(shutdown)me'"
        );
        assert!(
            parse("ssh://me:pw@h")
                .unwrap_err()
                .ends_with("plain-text password is not supported")
        );
        assert!(
            parse("ssh://h?x=1")
                .unwrap_err()
                .ends_with("query parameters are not allowed: \"x=1\"")
        );
        assert!(parse("ssh://").unwrap_err().ends_with("hostname is empty"));
    }
}
