//! A `redis-server` of a test's own (or a benchmark's), on a free loopback port, killed when
//! dropped. Shared by `tests/redis.rs` and `examples/redis_throughput.rs` (which uses only
//! part of it).

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` of our own, killed when dropped.
pub struct Server {
    child: Child,
    port: u16,
    /// Where a persistent server keeps its append-only file.
    dir: Option<std::path::PathBuf>,
}

impl Server {
    /// A server that keeps nothing on disk.
    pub fn start() -> Server {
        Server::spawn(free_port(), None)
    }

    /// A server that writes every command to an append-only file in `dir` before answering,
    /// so that a restart finds the streams and groups as they were.
    pub fn start_persistent(dir: &std::path::Path) -> Server {
        Server::spawn(free_port(), Some(dir.to_owned()))
    }

    fn spawn(port: u16, dir: Option<std::path::PathBuf>) -> Server {
        let child = Server::child(port, dir.as_deref());
        let server = Server { child, port, dir };
        server.wait_ready();
        server
    }

    fn child(port: u16, dir: Option<&std::path::Path>) -> Child {
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--enable-debug-command",
                "local",
            ])
            .stdout(Stdio::null());
        match dir {
            None => command.args(["--appendonly", "no"]),
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir),
        };
        command
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)")
    }

    /// Waits until the server answers `PING`.
    fn wait_ready(&self) {
        let client = self.client();
        for _ in 0..200 {
            if let Ok(mut conn) = client.get_connection() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// Kills the server (SIGKILL: no clean shutdown) and starts it again on the same port,
    /// from its append-only file if it has one.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Server::child(self.port, self.dir.as_deref());
        self.wait_ready();
    }

    /// Kills the server (SIGKILL) and starts it again, without waiting: it may be loading its
    /// append-only file for a while, answering `LOADING` meanwhile.
    pub fn restart_loading(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Server::child(self.port, self.dir.as_deref());
    }

    /// Waits until the server answers `PING` (after [`restart_loading`](Self::restart_loading)).
    pub fn wait_loaded(&self) {
        for _ in 0..100 {
            if let Ok(mut conn) = self.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server on port {} did not load", self.port);
    }

    /// Kills the server (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends the server `signal` (`STOP` freezes it, `CONT` lets it go on).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("a client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
