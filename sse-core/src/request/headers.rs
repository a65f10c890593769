//! A request's headers, read the same way whatever framework parsed them.

/// Read access to a request's headers. Names are asked in lower case.
/// `Sync`, so that a handler holding a request stays `Send`.
///
/// Implemented for `http::HeaderMap` (feature `http`: axum, warp, poem),
/// and for arrays and slices of `(name, value)` pairs, which is handy in
/// tests; an adapter whose framework has its own header type wraps it.
///
/// ```
/// use sse_hub::request::Headers;
///
/// let headers = [("cookie", "a=1"), ("Cookie", "sse_token=t")];
/// assert_eq!(headers.value("cookie"), Some(&b"a=1"[..]));
/// let mut cookies = Vec::new();
/// headers.each_value("cookie", &mut |value| cookies.push(value.to_vec()));
/// assert_eq!(cookies, [b"a=1".to_vec(), b"sse_token=t".to_vec()]);
/// ```
pub trait Headers: Sync {
    /// The first value of the header `name`.
    fn value(&self, name: &str) -> Option<&[u8]>;

    /// Calls `each` with every value of the header `name`, in order. A
    /// header may be sent several times (HTTP/2 splits `Cookie` so); the
    /// default sends the first only.
    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        if let Some(value) = self.value(name) {
            each(value);
        }
    }
}

/// No headers at all: the default of a request built by hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeaders;

impl Headers for NoHeaders {
    fn value(&self, _: &str) -> Option<&[u8]> {
        None
    }
}

impl<N: AsRef<str> + Sync, V: AsRef<[u8]> + Sync> Headers for [(N, V)] {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }

    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        self.iter()
            .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .for_each(|(_, value)| each(value.as_ref()));
    }
}

impl<N: AsRef<str> + Sync, V: AsRef<[u8]> + Sync, const LEN: usize> Headers for [(N, V); LEN] {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().value(name)
    }

    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        self.as_slice().each_value(name, each);
    }
}

impl<N: AsRef<str> + Sync, V: AsRef<[u8]> + Sync> Headers for Vec<(N, V)> {
    fn value(&self, name: &str) -> Option<&[u8]> {
        self.as_slice().value(name)
    }

    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        self.as_slice().each_value(name, each);
    }
}

#[cfg(feature = "http")]
impl Headers for http::HeaderMap {
    fn value(&self, name: &str) -> Option<&[u8]> {
        http::HeaderMap::get(self, name).map(http::HeaderValue::as_bytes)
    }

    fn each_value<'h>(&'h self, name: &str, each: &mut dyn FnMut(&'h [u8])) {
        self.get_all(name)
            .iter()
            .for_each(|value| each(value.as_bytes()));
    }
}
