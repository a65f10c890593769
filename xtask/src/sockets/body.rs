//! The subscribers' reader: an HTTP/1.1 chunked-body decoder that splits
//! the body into lines and reads the sequence number off `data:` lines,
//! with as little work per byte as the load generator can afford.

/// A subscriber's reading state: the chunked decoder and the partial line.
pub(super) struct Body {
    chunked: bool,
    chunk: Chunk,
    line: Vec<u8>,
    /// Body bytes that came with the response head, not yet fed.
    pub(super) rest: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Chunk {
    Size(usize),
    SizeExtension(usize),
    SizeEnd(usize),
    Data(usize),
    DataCr,
    DataLf,
    Done,
}

impl Body {
    pub(super) fn new(chunked: bool) -> Self {
        Self {
            chunked,
            chunk: Chunk::Size(0),
            line: Vec::new(),
            rest: Vec::new(),
        }
    }

    /// Feeds raw body bytes; `on_seq` gets the sequence number of every
    /// event that ends in them. `Err` when the stream ended or is not
    /// chunked as it should be.
    pub(super) fn feed(
        &mut self,
        mut bytes: &[u8],
        on_seq: &mut impl FnMut(u64),
    ) -> Result<(), ()> {
        if !self.chunked {
            self.lines(bytes, on_seq);
            return Ok(());
        }
        while !bytes.is_empty() {
            match self.chunk {
                Chunk::Size(size) => {
                    let byte = bytes[0];
                    bytes = &bytes[1..];
                    self.chunk = match byte {
                        b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                            let digit = (byte as char).to_digit(16).unwrap_or(0) as usize;
                            Chunk::Size(size.checked_mul(16).ok_or(())? + digit)
                        }
                        b';' => Chunk::SizeExtension(size),
                        b'\r' => Chunk::SizeEnd(size),
                        _ => return Err(()),
                    };
                }
                Chunk::SizeExtension(size) => {
                    if bytes[0] == b'\r' {
                        self.chunk = Chunk::SizeEnd(size);
                    }
                    bytes = &bytes[1..];
                }
                Chunk::SizeEnd(size) => {
                    if bytes[0] != b'\n' {
                        return Err(());
                    }
                    bytes = &bytes[1..];
                    self.chunk = if size == 0 {
                        Chunk::Done
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(left) => {
                    let take = left.min(bytes.len());
                    let (data, after) = bytes.split_at(take);
                    self.lines(data, on_seq);
                    bytes = after;
                    self.chunk = if take == left {
                        Chunk::DataCr
                    } else {
                        Chunk::Data(left - take)
                    };
                }
                Chunk::DataCr | Chunk::DataLf => {
                    let want = if matches!(self.chunk, Chunk::DataCr) {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if bytes[0] != want {
                        return Err(());
                    }
                    bytes = &bytes[1..];
                    self.chunk = if want == b'\r' {
                        Chunk::DataLf
                    } else {
                        Chunk::Size(0)
                    };
                }
                Chunk::Done => return Err(()),
            }
        }
        if matches!(self.chunk, Chunk::Done) {
            return Err(());
        }
        Ok(())
    }

    /// Splits decoded body bytes into lines and reads the sequence number
    /// off `data:` lines.
    fn lines(&mut self, mut bytes: &[u8], on_seq: &mut impl FnMut(u64)) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            let (line, after) = bytes.split_at(end);
            if self.line.is_empty() {
                if let Some(seq) = seq_of(line) {
                    on_seq(seq);
                }
            } else {
                self.line.extend_from_slice(line);
                if let Some(seq) = seq_of(&self.line) {
                    on_seq(seq);
                }
                self.line.clear();
            }
            bytes = &after[1..];
        }
        self.line.extend_from_slice(bytes);
    }
}

/// The sequence number of a `data:` line written by the load generator's publisher.
fn seq_of(line: &[u8]) -> Option<u64> {
    let data = line.strip_prefix(b"data:")?;
    let at = find(data, b"\"seq\":")? + 6;
    let digits = &data[at..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
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
}
