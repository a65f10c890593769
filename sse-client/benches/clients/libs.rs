//! The three clients behind one interface: a stream of what each reports.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

/// A client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lib {
    /// This crate.
    Ours,
    /// LaunchDarkly's `eventsource-client`, on its hyper transport.
    EventsourceClient,
    /// `reqwest-eventsource`.
    ReqwestEventsource,
}

impl Lib {
    pub(crate) const ALL: [Lib; 3] = [Lib::Ours, Lib::EventsourceClient, Lib::ReqwestEventsource];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Lib::Ours => "sse-hub-client",
            Lib::EventsourceClient => "eventsource-client 0.18",
            Lib::ReqwestEventsource => "reqwest-eventsource 0.6",
        }
    }

    pub(crate) fn arg(self) -> &'static str {
        match self {
            Lib::Ours => "ours",
            Lib::EventsourceClient => "eventsource-client",
            Lib::ReqwestEventsource => "reqwest-eventsource",
        }
    }

    pub(crate) fn parse(arg: &str) -> Option<Lib> {
        Lib::ALL.into_iter().find(|lib| lib.arg() == arg)
    }
}

/// What a client reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    Open,
    /// An event, with its data's length.
    Message(usize),
    /// A comment (none are sent).
    Comment,
    /// A reconnect or an error.
    Trouble,
}

/// The HTTP clients the streams of one process share, as an application
/// shares one.
pub(crate) struct Clients {
    reqwest13: reqwest::Client,
    reqwest12: reqwest012::Client,
    transport: launchdarkly_sdk_transport::HyperTransport,
}

impl Clients {
    pub(crate) fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            reqwest13: sse_hub_client::client_builder().build().expect("a client"),
            reqwest12: reqwest012::Client::new(),
            transport: launchdarkly_sdk_transport::HyperTransport::new()
                .expect("eventsource-client's transport"),
        }
    }

    /// A stream of `url` with `lib`, each reconnecting by its defaults.
    pub(crate) fn open(&self, lib: Lib, url: &str) -> BoxStream<'static, Seen> {
        match lib {
            Lib::Ours => sse_hub_client::EventSource::get(url)
                .client(self.reqwest13.clone())
                .idle_timeout(Some(Duration::from_secs(600)))
                .build()
                .expect("a valid URL")
                .map(|item| match item {
                    Ok(sse_hub_client::Event::Opened(_)) => Seen::Open,
                    Ok(sse_hub_client::Event::Message(message)) => {
                        Seen::Message(message.data().len())
                    }
                    _ => Seen::Trouble,
                })
                .boxed(),
            Lib::EventsourceClient => {
                use eventsource_client::Client as _;
                let client = eventsource_client::ClientBuilder::for_url(url)
                    .expect("a valid URL")
                    .reconnect(eventsource_client::ReconnectOptions::reconnect(true).build())
                    .build_with_transport(self.transport.clone());
                // Its stream borrows the client: the bench keeps both for
                // the process's life.
                let client: &'static _ = Box::leak(Box::new(client));
                client
                    .stream()
                    .map(|item| match item {
                        Ok(eventsource_client::SSE::Connected(_)) => Seen::Open,
                        Ok(eventsource_client::SSE::Event(event)) => {
                            Seen::Message(event.data.len())
                        }
                        Ok(eventsource_client::SSE::Comment(_)) => Seen::Comment,
                        Err(_) => Seen::Trouble,
                    })
                    .boxed()
            }
            Lib::ReqwestEventsource => {
                reqwest_eventsource::EventSource::new(self.reqwest12.get(url))
                    .expect("a clonable request")
                    .map(|item| match item {
                        Ok(reqwest_eventsource::Event::Open) => Seen::Open,
                        Ok(reqwest_eventsource::Event::Message(message)) => {
                            Seen::Message(message.data.len())
                        }
                        Err(_) => Seen::Trouble,
                    })
                    .boxed()
            }
        }
    }
}
