//! The physical floor: what writing one encoded event to each of N
//! connected loopback sockets costs with no runtime at all, `write(2)` in
//! a loop, so that a server's CPU per delivery can be read against it.
//!
//! The sender runs on CPU 0 and measures its own thread's CPU time; the
//! receiver runs on CPU 1 and either busy-polls every socket (the sender
//! never has to wake it) or sleeps in `epoll_wait` as a real client does
//! (each write may wake it, and the sender pays for that wake-up).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use rustix::event::epoll;

/// How the receiving side waits for data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Receiver {
    BusyPoll,
    Epoll,
}

impl Receiver {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Receiver::BusyPoll => "busy-poll",
            Receiver::Epoll => "epoll",
        }
    }
}

/// One event as the example servers send it, about 130 bytes.
fn event(seq: usize) -> Vec<u8> {
    let pad = "x".repeat(72);
    format!("id: {seq}\nevent: message\ndata: {{\"seq\":{seq},\"pad\":\"{pad}\"}}\n\n").into_bytes()
}

/// Sender CPU time per delivered event, writing `per_write` events in
/// each `write(2)` to each of `sockets` connections, `rounds` times.
pub(crate) fn probe(
    sockets: usize,
    rounds: usize,
    per_write: usize,
    receiver: Receiver,
) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut senders = Vec::with_capacity(sockets);
    let mut receivers = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let receiving = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        let (sending, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        sending.set_nodelay(true).map_err(|e| e.to_string())?;
        receiving.set_nonblocking(true).map_err(|e| e.to_string())?;
        senders.push(sending);
        receivers.push(receiving);
    }
    let payload: Vec<u8> = (0..per_write).flat_map(event).collect();
    let expected = (payload.len() * rounds) as u64 * sockets as u64;
    let reader = std::thread::spawn(move || {
        super::plan::pin_to_cpu(1);
        match receiver {
            Receiver::BusyPoll => busy_poll(&mut receivers, expected),
            Receiver::Epoll => epoll_receive(&mut receivers, expected),
        }
    });
    // The writer hands its sockets back: closing them before the reader
    // has everything would look like an early close to it.
    let writer = std::thread::spawn(move || -> Result<(Duration, Vec<TcpStream>), String> {
        super::plan::pin_to_cpu(0);
        let started = thread_cpu();
        for _ in 0..rounds {
            for socket in &senders {
                let mut rest = &payload[..];
                while !rest.is_empty() {
                    let written =
                        rustix::io::write(socket, rest).map_err(|e| format!("write: {e}"))?;
                    rest = &rest[written..];
                }
            }
        }
        Ok((thread_cpu().saturating_sub(started), senders))
    });
    let (spent, senders) = writer.join().map_err(|_| "the writer panicked")??;
    reader.join().map_err(|_| "the reader panicked")??;
    drop(senders);
    Ok(spent / (sockets * rounds * per_write) as u32)
}

fn thread_cpu() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Reads what `socket` has (non-blocking); the bytes read.
fn drain(socket: &mut TcpStream, buffer: &mut [u8]) -> Result<u64, String> {
    match socket.read(buffer) {
        Ok(0) => Err("the sender closed early".into()),
        Ok(read) => Ok(read as u64),
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
        Err(err) => Err(format!("read: {err}")),
    }
}

fn busy_poll(sockets: &mut [TcpStream], expected: u64) -> Result<(), String> {
    let mut buffer = vec![0; 64 * 1024];
    let mut received = 0u64;
    while received < expected {
        for socket in sockets.iter_mut() {
            received += drain(socket, &mut buffer)?;
        }
    }
    Ok(())
}

fn epoll_receive(sockets: &mut [TcpStream], expected: u64) -> Result<(), String> {
    let poll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| e.to_string())?;
    for (index, socket) in sockets.iter().enumerate() {
        epoll::add(
            &poll,
            socket,
            epoll::EventData::new_u64(index as u64),
            epoll::EventFlags::IN,
        )
        .map_err(|e| e.to_string())?;
    }
    let mut buffer = vec![0; 64 * 1024];
    let mut ready = Vec::with_capacity(1024);
    let mut received = 0u64;
    while received < expected {
        ready.clear();
        epoll::wait(&poll, rustix::buffer::spare_capacity(&mut ready), None)
            .map_err(|e| format!("epoll_wait: {e}"))?;
        for event in &ready {
            let Some(socket) = sockets.get_mut(event.data.u64() as usize) else {
                continue;
            };
            received += drain(socket, &mut buffer)?;
        }
    }
    Ok(())
}
