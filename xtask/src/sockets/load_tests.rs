use super::*;

fn seqs(chunked: bool, parts: &[&[u8]]) -> (Vec<u64>, Result<(), ()>) {
    let mut body = Body::new(chunked);
    let mut got = Vec::new();
    let mut result = Ok(());
    for part in parts {
        result = body.feed(part, &mut |seq| got.push(seq));
    }
    (got, result)
}

#[test]
fn events_split_anywhere_across_chunks_are_read() {
    let pieces: [&[u8]; 4] = [
        b": connected\n\n",
        b"id: 7\ndata: {\"seq\":41,\"pad\":\"\"}\n\n",
        b"data:",
        b" {\"seq\":42}\n\n",
    ];
    let mut stream = Vec::new();
    for piece in pieces {
        stream.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        stream.extend_from_slice(piece);
        stream.extend_from_slice(b"\r\n");
    }
    for cut in 0..stream.len() {
        let (got, result) = seqs(true, &[&stream[..cut], &stream[cut..]]);
        assert_eq!(got, [41, 42], "cut at {cut}");
        assert_eq!(result, Ok(()));
    }
}

#[test]
fn the_last_chunk_ends_the_stream_and_garbage_is_refused() {
    assert_eq!(seqs(true, &[b"0\r\n\r\n"]).1, Err(()));
    assert_eq!(seqs(true, &[b"zz\r\n"]).1, Err(()));
    let (got, result) = seqs(false, &[b"data: {\"seq\":3}\n", b"\n"]);
    assert_eq!((got, result), (vec![3], Ok(())));
}

#[test]
fn duplicates_are_told_apart() {
    let mut seen = Seen::default();
    assert!(seen.mark(3) && seen.mark(200) && !seen.mark(3));
    assert_eq!(seen.distinct, 2);
}
