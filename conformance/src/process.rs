//! A server started as a process, found by the one line every example
//! server prints when it is ready: `listening on http://HOST:PORT` (the
//! real port when port 0 was asked). Tests, the conformance run, the soak
//! and the socket benchmarks all start servers through it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running server process; dropping it kills the process and reaps it.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    /// Spawns `command` with its stdout piped and waits for its `listening
    /// on` line. Blocks until the line comes or stdout closes: run it on a
    /// blocking thread, under a timeout, where that matters.
    ///
    /// # Errors
    ///
    /// The program cannot start, or its first line is not `listening on
    /// URL`; the process is killed then.
    pub fn start(mut command: Command) -> Result<Self, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start {program}: {err}"))?;
        let stdout = child.stdout.take();
        // From here on, an early return kills the process.
        let mut server = Self {
            child,
            base: String::new(),
        };
        let stdout = stdout.ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|err| format!("reading {program}'s first line: {err}"))?;
        server.base = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("{program} did not say where it listens: {line:?}"))?
            .to_owned();
        Ok(server)
    }

    /// The URL it announced, `scheme://HOST:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `HOST:PORT`, without the scheme.
    pub fn address(&self) -> &str {
        self.base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, address)| address)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process, to signal it, wait for it or take its stderr.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its open file descriptors now (`/proc/PID/fd`), 0 when unreadable.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(Iterator::count)
            .unwrap_or(0)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_listening_line_and_kills_on_drop() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "echo 'listening on http://127.0.0.1:9'; exec sleep 30",
        ]);
        let server = ServerProcess::start(command).expect("started");
        assert_eq!(server.base(), "http://127.0.0.1:9");
        assert_eq!(server.address(), "127.0.0.1:9");
        let proc_dir = format!("/proc/{}", server.pid());
        assert!(std::path::Path::new(&proc_dir).exists());
        drop(server);
        assert!(!std::path::Path::new(&proc_dir).exists(), "reaped");
    }

    #[test]
    fn another_first_line_is_an_error() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo hello"]);
        let err = ServerProcess::start(command).expect_err("refused");
        assert!(err.contains("did not say where it listens"), "{err}");
    }
}
