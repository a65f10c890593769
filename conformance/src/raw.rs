//! Raw TCP connections, for what an HTTP client library hides: a client
//! that sends nothing or half a request, a connection kept open between
//! requests, and seeing exactly when the server closes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{Error, WAIT};

/// One raw connection to a server.
#[derive(Debug)]
pub struct RawConnection {
    stream: TcpStream,
    /// Bytes read and not yet taken by [`RawConnection::request`].
    unread: Vec<u8>,
}

/// How a connection ended, seen from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The server closed it (end of file or reset) after this long, having
    /// sent these bytes.
    Closed {
        /// Time from the start of the wait.
        after: Duration,
        /// What the server sent before closing.
        sent: Vec<u8>,
    },
    /// Still open at the end of the wait, having sent these bytes.
    Open {
        /// What the server sent meanwhile.
        sent: Vec<u8>,
    },
}

impl Ending {
    /// The status of the response the server sent before closing, if it
    /// sent one.
    pub fn status(&self) -> Option<u16> {
        let (Self::Closed { sent, .. } | Self::Open { sent }) = self;
        status_of(sent)
    }
}

fn status_of(bytes: &[u8]) -> Option<u16> {
    let line = bytes.strip_prefix(b"HTTP/1.1 ")?;
    std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
}

impl RawConnection {
    /// Connects to `address` (`HOST:PORT`).
    pub async fn connect(address: &str) -> Result<Self, Error> {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(address))
            .await
            .map_err(|_| format!("connecting to {address} took over {WAIT:?}"))?
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        Ok(Self {
            stream,
            unread: Vec::new(),
        })
    }

    /// Sends `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("sending: {e}"))
    }

    /// Reads until the server closes the connection or `limit` passes.
    pub async fn ending_within(mut self, limit: Duration) -> Ending {
        let started = tokio::time::Instant::now();
        let mut sent = std::mem::take(&mut self.unread);
        let mut buffer = [0; 4096];
        loop {
            let left = limit.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.stream.read(&mut buffer)).await {
                Err(_) => return Ending::Open { sent },
                Ok(Ok(0) | Err(_)) => {
                    return Ending::Closed {
                        after: started.elapsed(),
                        sent,
                    };
                }
                Ok(Ok(n)) => sent.extend_from_slice(&buffer[..n]),
            }
        }
    }

    /// Sends one request (`GET` without a body, or `POST` with a JSON one)
    /// and reads its whole response, leaving the connection open: the
    /// status and body.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        json: &str,
    ) -> Result<(u16, String), Error> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: conformance\r\n");
        if method == "POST" {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                json.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(if method == "POST" { json } else { "" });
        self.send(request.as_bytes()).await?;
        tokio::time::timeout(WAIT, self.read_response())
            .await
            .map_err(|_| format!("no whole answer to {method} {path} within {WAIT:?}"))?
    }

    async fn read_response(&mut self) -> Result<(u16, String), Error> {
        let head_end = loop {
            if let Some(end) = find(&self.unread, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.unread[..head_end]).to_ascii_lowercase();
        let status = status_of(&self.unread).ok_or_else(|| format!("not a response: {head:?}"))?;
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let body = if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| format!("bad length in {head:?}"))?;
            while self.unread.len() < head_end + length {
                self.fill().await?;
            }
            let body = self.unread[head_end..head_end + length].to_vec();
            self.unread.drain(..head_end + length);
            body
        } else if header("transfer-encoding") == Some("chunked") {
            self.unread.drain(..head_end);
            self.read_chunked().await?
        } else {
            return Err(format!("a response with no length: {head:?}"));
        };
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.unread, b"\r\n") {
                    break end;
                }
                self.fill().await?;
            };
            let size = std::str::from_utf8(&self.unread[..line_end])
                .ok()
                .and_then(|line| usize::from_str_radix(line.split(';').next()?.trim(), 16).ok())
                .ok_or("a bad chunk size")?;
            while self.unread.len() < line_end + 2 + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.unread[line_end + 2..line_end + 2 + size]);
            self.unread.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    async fn fill(&mut self) -> Result<(), Error> {
        let mut buffer = [0; 4096];
        match self.stream.read(&mut buffer).await {
            Ok(0) => Err("the server closed the connection mid-response".into()),
            Ok(n) => {
                self.unread.extend_from_slice(&buffer[..n]);
                Ok(())
            }
            Err(e) => Err(format!("reading: {e}")),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_line_is_read() {
        assert_eq!(status_of(b"HTTP/1.1 408 Request Timeout\r\n"), Some(408));
        assert_eq!(status_of(b"HTTP/1.1 4"), None);
        assert_eq!(status_of(b""), None);
    }

    #[tokio::test]
    async fn keep_alive_requests_read_both_framings() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0; 1024];
            while find(&seen, b"GET /b").is_none() || !seen.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buffer).await.unwrap();
                seen.extend_from_slice(&buffer[..n]);
            }
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok\
                      HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
                )
                .await
                .unwrap();
        });
        let mut connection = RawConnection::connect(&address).await.unwrap();
        // Both requests go out before either answer is read.
        connection.send(b"GET /a HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(
            connection.request("GET", "/b", "").await.unwrap(),
            (200, "ok".into())
        );
        assert_eq!(
            connection.read_response().await.unwrap(),
            (201, "abc".into())
        );
        server.await.unwrap();
        let ending = connection.ending_within(WAIT).await;
        assert!(matches!(ending, Ending::Closed { .. }), "{ending:?}");
    }
}
