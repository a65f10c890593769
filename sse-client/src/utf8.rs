//! UTF-8 validation of a body that arrives in chunks cut anywhere.

/// Checks a connection's body chunk by chunk; a character split between
/// two chunks is held (at most 3 bytes) until the next one completes it.
#[derive(Debug, Default)]
pub(crate) struct Utf8Check {
    held: [u8; 4],
    held_len: usize,
    /// Bytes checked so far, for the error's offset.
    offset: u64,
}

impl Utf8Check {
    /// Checks the next chunk. At the first invalid byte: `Err` with its
    /// offset in the body, and how many bytes of this chunk come before
    /// the character it belongs to (all valid, to be decoded still).
    pub(crate) fn check(&mut self, chunk: &[u8]) -> Result<(), Invalid> {
        let mut rest = chunk;
        if self.held_len > 0 {
            let width = width(self.held[0]);
            let take = (width - self.held_len).min(rest.len());
            self.held[self.held_len..self.held_len + take].copy_from_slice(&rest[..take]);
            self.held_len += take;
            rest = &rest[take..];
            if self.held_len < width {
                return Ok(());
            }
            if std::str::from_utf8(&self.held[..width]).is_err() {
                return Err(Invalid {
                    offset: self.offset,
                    valid: 0,
                });
            }
            self.offset += width as u64;
            self.held_len = 0;
        }
        let before = chunk.len() - rest.len();
        match std::str::from_utf8(rest) {
            Ok(_) => {
                self.offset += rest.len() as u64;
                Ok(())
            }
            Err(error) if error.error_len().is_none() => {
                // A valid start of a character, cut by the chunk's end.
                let valid = error.valid_up_to();
                let cut = &rest[valid..];
                self.held[..cut.len()].copy_from_slice(cut);
                self.held_len = cut.len();
                self.offset += valid as u64;
                Ok(())
            }
            Err(error) => Err(Invalid {
                offset: self.offset + error.valid_up_to() as u64,
                valid: before + error.valid_up_to(),
            }),
        }
    }

    /// Starts a new body.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Where a body stops being UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The invalid byte's offset in the body.
    pub(crate) offset: u64,
    /// The bytes of the chunk before the character it belongs to.
    pub(crate) valid: usize,
}

/// The length of the character a valid leading byte starts.
fn width(lead: u8) -> usize {
    match lead {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `bytes` cut at `at`: the invalid byte's offset, after
    /// checking that the valid bytes reported are exactly those before it.
    fn check_split(bytes: &[u8], at: &[usize]) -> Result<(), u64> {
        let mut check = Utf8Check::default();
        let mut start = 0;
        for &end in at.iter().chain([&bytes.len()]) {
            match check.check(&bytes[start..end]) {
                Ok(()) => {}
                Err(invalid) => {
                    let valid_end = start + invalid.valid;
                    let offset = usize::try_from(invalid.offset).expect("small");
                    assert!(std::str::from_utf8(&bytes[..offset]).is_ok());
                    // Either the bad character starts in this chunk, right
                    // after the valid bytes, or it started in an earlier one.
                    assert!(
                        valid_end == offset || (invalid.valid == 0 && offset < start),
                        "valid to {valid_end}, invalid at {offset}, chunk at {start}"
                    );
                    return Err(invalid.offset);
                }
            }
            start = end;
        }
        Ok(())
    }

    #[test]
    fn characters_cut_anywhere_are_valid() {
        let text = "data: é€𝄞 done\n\n".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(check_split(text, &[a, b]), Ok(()), "cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn an_invalid_byte_is_found_wherever_the_cut_is() {
        let mut text = b"data: ok\n".to_vec();
        text.extend_from_slice(&[0xE2, 0x82, b'x']); // a 3-byte character cut short
        for a in 0..=text.len() {
            assert_eq!(check_split(&text, &[a]), Err(9), "cut at {a}");
        }
        assert_eq!(check_split(b"\xFF", &[]), Err(0));
        assert_eq!(check_split(b"ab\xC0\xAF", &[3]), Err(2));
    }
}
