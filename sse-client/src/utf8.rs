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
    /// Checks the next chunk; `Err(offset)` at the first invalid byte.
    pub(crate) fn check(&mut self, mut chunk: &[u8]) -> Result<(), u64> {
        if self.held_len > 0 {
            let width = width(self.held[0]);
            let take = (width - self.held_len).min(chunk.len());
            self.held[self.held_len..self.held_len + take].copy_from_slice(&chunk[..take]);
            self.held_len += take;
            chunk = &chunk[take..];
            if self.held_len < width {
                return Ok(());
            }
            if std::str::from_utf8(&self.held[..width]).is_err() {
                return Err(self.offset);
            }
            self.offset += width as u64;
            self.held_len = 0;
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => {
                self.offset += chunk.len() as u64;
                Ok(())
            }
            Err(error) if error.error_len().is_none() => {
                // A valid start of a character, cut by the chunk's end.
                let valid = error.valid_up_to();
                let rest = &chunk[valid..];
                self.held[..rest.len()].copy_from_slice(rest);
                self.held_len = rest.len();
                self.offset += valid as u64;
                Ok(())
            }
            Err(error) => Err(self.offset + error.valid_up_to() as u64),
        }
    }

    /// Starts a new body.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
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

    fn check_split(bytes: &[u8], at: &[usize]) -> Result<(), u64> {
        let mut check = Utf8Check::default();
        let mut start = 0;
        for &end in at.iter().chain([&bytes.len()]) {
            check.check(&bytes[start..end])?;
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
