//! The static publish token (`Authorization: Bearer <token>`).

/// `Bearer <token>` (the scheme in any case), compared in constant time so
/// that response timing does not reveal how much of a guess was right.
pub(crate) fn bearer_matches(authorization: Option<&[u8]>, token: &str) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, given)) = value.split_at_checked(7) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer ") {
        return false;
    }
    let given = given.trim_ascii();
    let expected = token.as_bytes();
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        assert!(bearer_matches(Some(b"Bearer t"), "t"));
        assert!(bearer_matches(Some(b"BEARER t "), "t"));
        assert!(!bearer_matches(Some(b"Bearer tt"), "t"));
        assert!(!bearer_matches(Some(b"Bearer "), "t"));
        assert!(!bearer_matches(Some(b"Bear"), "t"));
        assert!(!bearer_matches(None, "t"));
    }
}
