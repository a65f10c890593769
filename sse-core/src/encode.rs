//! The wire encoder: events and control frames as shareable [`Bytes`].
//!
//! Every frame is encoded once, into one exactly-sized buffer, and ends with
//! a blank line, so frames can be concatenated in any order and each still
//! parses on its own. The resulting `Bytes` is cheap to clone: a server
//! encodes an event once and hands the same buffer to every subscriber.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::event::{Event, normalize_newlines, whole_millis};

/// The comment a server sends when a stream has been idle: `: heartbeat`.
///
/// ```
/// assert_eq!(&sse_hub::encode::keep_alive()[..], b": heartbeat\n\n");
/// ```
pub fn keep_alive() -> Bytes {
    Bytes::from_static(b": heartbeat\n\n")
}

/// A bare comment frame, one `:` line per line of `text`; clients ignore it.
///
/// ```
/// assert_eq!(&sse_hub::encode::comment("a\nb")[..], b": a\n: b\n\n");
/// ```
pub fn comment(text: &str) -> Bytes {
    let text = normalize_newlines(text.to_owned());
    let mut buf = BytesMut::with_capacity(multi_line_len(b"", &text) + 1);
    put_multi_line(&mut buf, b"", &text);
    buf.put_u8(b'\n');
    buf.freeze()
}

/// A bare `retry:` frame setting the client's reconnection time, in whole
/// milliseconds.
///
/// ```
/// use std::time::Duration;
/// let frame = sse_hub::encode::retry(Duration::from_secs(3));
/// assert_eq!(&frame[..], b"retry: 3000\n\n");
/// ```
pub fn retry(retry: Duration) -> Bytes {
    let millis = whole_millis(retry).as_millis();
    Bytes::from(format!("retry: {millis}\n\n"))
}

impl Event {
    /// Encodes the event as one frame: `id`, comments, `event`, `retry`,
    /// then one `data:` line per line of data, and a blank line.
    ///
    /// ```
    /// let event = sse_hub::Event::builder().event("tick").data("1").build()?;
    /// assert_eq!(&event.encode()[..], b"event: tick\ndata: 1\n\n");
    /// # Ok::<(), sse_hub::EventError>(())
    /// ```
    pub fn encode(&self) -> Bytes {
        self.encode_as(self.id.as_deref())
    }

    /// Appends the encoded frame to `buf`, for callers that batch frames.
    pub fn encode_into(&self, buf: &mut BytesMut) {
        self.write(buf, self.id.as_deref());
    }

    /// The exact length of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        self.len_as(self.id.as_deref())
    }

    /// Encodes the event with `id` in place of its own: how a broker stamps
    /// the id it assigned. `id` must come from the crate (digits), never
    /// from outside, as it is not validated here.
    pub(crate) fn encode_as(&self, id: Option<&str>) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.len_as(id));
        self.write(&mut buf, id);
        buf.freeze()
    }

    fn write(&self, buf: &mut BytesMut, id: Option<&str>) {
        buf.reserve(self.len_as(id));
        if let Some(id) = id {
            put_line(buf, b"id", id);
        }
        put_comments(buf, &self.comments);
        if let Some(event) = &self.event {
            put_line(buf, b"event", event);
        }
        if let Some(retry) = self.retry {
            put_line(buf, b"retry", &retry.as_millis().to_string());
        }
        put_multi_line(buf, b"data", &self.data);
        buf.put_u8(b'\n');
    }

    fn len_as(&self, id: Option<&str>) -> usize {
        let id = id.map_or(0, |id| line_len(b"id", id));
        let event = self.event.as_ref().map_or(0, |e| line_len(b"event", e));
        let retry = self
            .retry
            .map_or(0, |r| "retry: \n".len() + decimal_len(r.as_millis()));
        id + comments_len(&self.comments) + event + retry + multi_line_len(b"data", &self.data) + 1
    }
}

fn put_comments(buf: &mut BytesMut, comments: &[String]) {
    for comment in comments {
        put_multi_line(buf, b"", comment);
    }
}

/// One `name:` line per line of `value`, whose line breaks are already LF.
fn put_multi_line(buf: &mut BytesMut, name: &[u8], value: &str) {
    for line in lines(value) {
        put_line(buf, name, line);
    }
}

/// `value.split('\n')`, with the SIMD search of `memchr` rather than the
/// portable one of `core`: encoding time is mostly this search.
fn lines(value: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', value.as_bytes())
        .chain([value.len()])
        .map(move |end| {
            let line = &value[start..end];
            start = end + 1;
            line
        })
}

fn comments_len(comments: &[String]) -> usize {
    comments.iter().map(|c| multi_line_len(b"", c)).sum()
}

/// `name: value\n`, or `name:\n` when the value is empty. The space after
/// the colon is always written before a value, so a value that itself starts
/// with a space keeps it (decoders strip exactly one).
fn put_line(buf: &mut BytesMut, name: &[u8], value: &str) {
    buf.put_slice(name);
    if value.is_empty() {
        buf.put_slice(b":\n");
    } else {
        buf.put_slice(b": ");
        buf.put_slice(value.as_bytes());
        buf.put_u8(b'\n');
    }
}

fn line_len(name: &[u8], value: &str) -> usize {
    name.len() + if value.is_empty() { 2 } else { 3 + value.len() }
}

fn multi_line_len(name: &[u8], value: &str) -> usize {
    lines(value).map(|line| line_len(name, line)).sum()
}

fn decimal_len(mut n: u128) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(event: &Event) -> String {
        let bytes = event.encode();
        assert_eq!(
            bytes.len(),
            event.encoded_len(),
            "length precomputed exactly"
        );
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn writes_every_field() {
        let event = Event::builder()
            .id("7")
            .comment("note")
            .event("update")
            .retry(Duration::from_millis(1500))
            .data("x")
            .build()
            .unwrap();
        assert_eq!(
            encoded(&event),
            "id: 7\n: note\nevent: update\nretry: 1500\ndata: x\n\n"
        );
    }

    #[test]
    fn splits_data_on_every_kind_of_line_break() {
        let event = Event::new("a\r\nb\rc\nd");
        assert_eq!(encoded(&event), "data: a\ndata: b\ndata: c\ndata: d\n\n");
    }

    #[test]
    fn empty_data_still_writes_a_data_line() {
        assert_eq!(encoded(&Event::new("")), "data:\n\n");
        assert_eq!(encoded(&Event::new("\n")), "data:\ndata:\n\n");
    }

    #[test]
    fn leading_spaces_survive() {
        let event = Event::builder()
            .event(" spaced")
            .id(" 1")
            .data("  two")
            .build()
            .unwrap();
        assert_eq!(encoded(&event), "id:  1\nevent:  spaced\ndata:   two\n\n");
    }

    #[test]
    fn injection_through_data_or_comments_stays_inside_its_field() {
        let event = Event::builder()
            .comment("c\n\nevent: evil")
            .data("x\n\nid: 666\r\nevent: evil\rdata: y")
            .build()
            .unwrap();
        assert_eq!(
            encoded(&event),
            ": c\n:\n: event: evil\ndata: x\ndata:\ndata: id: 666\ndata: event: evil\ndata: data: y\n\n"
        );
    }

    #[test]
    fn empty_id_is_written_so_it_resets_the_client() {
        let event = Event::builder().id("").data("x").build().unwrap();
        assert_eq!(encoded(&event), "id:\ndata: x\n\n");
    }

    #[test]
    fn control_frames() {
        assert_eq!(&comment("")[..], b":\n\n");
        assert_eq!(&comment("a\r\nb")[..], b": a\n: b\n\n");
        assert_eq!(&retry(Duration::from_millis(250))[..], b"retry: 250\n\n");
        assert_eq!(&retry(Duration::from_micros(1999))[..], b"retry: 1\n\n");
        assert_eq!(&keep_alive()[..], b": heartbeat\n\n");
    }

    #[test]
    fn encode_into_appends() {
        let mut buf = BytesMut::new();
        Event::new("a").encode_into(&mut buf);
        Event::new("b").encode_into(&mut buf);
        assert_eq!(&buf[..], b"data: a\n\ndata: b\n\n");
    }

    #[test]
    fn lines_splits_like_str_split() {
        for text in ["", "a", "\n", "a\n", "\na", "a\n\nb", "é\nü\n\n"] {
            assert_eq!(
                lines(text).collect::<Vec<_>>(),
                text.split('\n').collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn decimal_len_counts_digits() {
        for n in [0u128, 9, 10, 99, 100, 12345, u64::MAX as u128] {
            assert_eq!(decimal_len(n), n.to_string().len());
        }
    }
}
