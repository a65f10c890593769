//! Reading a publish body, bounded in size.

/// Reads a request body from its chunks, stopping one byte past
/// `max_body`: enough for [`Routes::notify`](super::Routes::notify) to refuse it as too large without
/// ever holding more.
///
/// ```
/// use futures::{executor::block_on, stream};
/// use sse_hub::hub::read_body;
///
/// let chunks = stream::iter([Ok::<_, std::io::Error>(&b"0123"[..]), Ok(b"4567")]);
/// assert_eq!(block_on(read_body(chunks, 5))?, b"012345");
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn read_body<S, B, E>(chunks: S, max_body: usize) -> Result<Vec<u8>, E>
where
    S: futures_core::Stream<Item = Result<B, E>>,
    B: bytes::Buf,
{
    let mut chunks = std::pin::pin!(chunks);
    let mut body = Vec::new();
    // What to read at most; saturating, as the limit comes from outside.
    let cap = max_body.saturating_add(1);
    while body.len() < cap {
        let next = std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)).await;
        let Some(chunk) = next else {
            break;
        };
        let mut chunk = chunk?;
        while chunk.has_remaining() && body.len() < cap {
            let piece = chunk.chunk();
            let take = piece.len().min(cap - body.len());
            body.extend_from_slice(&piece[..take]);
            chunk.advance(take);
        }
    }
    Ok(body)
}

/// A `Content-Length` value, when it is one.
pub(super) fn parse_length(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// `application/json`, in any case, with or without parameters.
pub(super) fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type else {
        return false;
    };
    let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
    media_type
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_body_stops_one_byte_past_the_limit() {
        use futures::{executor::block_on, stream};
        let chunks = |parts: Vec<&'static [u8]>| stream::iter(parts.into_iter().map(Ok::<_, ()>));
        assert_eq!(
            block_on(read_body(chunks(vec![b"ab", b"cd"]), 10)),
            Ok(b"abcd".to_vec())
        );
        assert_eq!(
            block_on(read_body(chunks(vec![b"abcdef"]), 3)),
            Ok(b"abcd".to_vec())
        );
        assert_eq!(
            block_on(read_body(chunks(vec![b"ab", b"cd", b"ef"]), 2)),
            Ok(b"abc".to_vec())
        );
        assert_eq!(block_on(read_body(chunks(vec![]), 2)), Ok(Vec::new()));
        let failing = stream::iter([Ok(&b"a"[..]), Err("gone")]);
        assert_eq!(block_on(read_body(failing, 10)), Err("gone"));
        // A limit from outside cannot overflow.
        assert_eq!(
            block_on(read_body(chunks(vec![b"ab"]), usize::MAX)),
            Ok(b"ab".to_vec())
        );
        // An endless body is not read to its end.
        let endless = stream::repeat(Ok::<_, ()>(&b"xxxx"[..]));
        assert_eq!(block_on(read_body(endless, 6)).map(|b| b.len()), Ok(7));
    }
}
