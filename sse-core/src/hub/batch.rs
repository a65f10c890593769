//! `POST /notify/batch`: many events in one request, checked whole before
//! any is published.

use serde_json::{Value, json};

use super::idempotency;
use super::response::{Response, error, json_response, refusal};
use super::routes::RequestParts;
use super::routes::Routes;
use crate::Event;
use crate::broker::Publish;
use crate::request::{check_event_name, check_topic};

/// One checked item of a batch.
struct Item {
    topic: String,
    event: Event,
    history: bool,
}

impl Routes<'_> {
    /// `POST /notify/batch` from its head and its body's chunks, as
    /// [`Routes::notify_from`] does for one event.
    pub async fn notify_batch_from<S, B, E>(&self, request: RequestParts<'_>, chunks: S) -> Response
    where
        S: futures_core::Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        if let Some(refused) = self.notify_batch_refusal(&request) {
            return refused;
        }
        match self.read_notify_body(chunks).await {
            Ok(body) => self.notify_batch_unchecked(request, &body).await,
            Err(refused) => refused,
        }
    }

    /// The refusal the head of a batch decides on its own, if any: as
    /// [`Routes::notify_refusal`], but the grants of the items' topics are
    /// checked once the body is read.
    pub fn notify_batch_refusal(&self, request: &RequestParts<'_>) -> Option<Response> {
        self.publish_refusal(request, "/notify/batch", None)
    }

    /// `POST /notify/batch` with its body read: a JSON array of 1 to
    /// [`HubConfig::max_batch`](super::HubConfig::max_batch) items
    /// `{"topic", "event", "data", "history"}`. Every item is checked
    /// first: a bad one answers `400` with its `index`, a topic without a
    /// publish grant `403`, and nothing is published. Else the events are
    /// published in order ([`Hub::publish_batch`](super::Hub::publish_batch)) and the answer lists
    /// each one's `ids` and `sent`.
    ///
    /// ```
    /// use sse_hub::hub::{Body, Hub, HubConfig, RequestParts};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub");
    /// let request = RequestParts {
    ///     query: None,
    ///     headers: &[("content-type", "application/json")],
    /// };
    /// let body = br#"[{"topic": "user-1", "data": "hi"}, {"topic": "user-2", "data": {"n": 2}}]"#;
    /// # futures::executor::block_on(async {
    /// let response = hub.routes().notify_batch(request, body).await;
    /// assert_eq!(response.status, 200);
    /// let bad = hub.routes().notify_batch(request, br#"[{"topic": "a", "data": 1}, {"topic": ""}]"#).await;
    /// let Body::Full(answer) = bad.body else { unreachable!() };
    /// assert!(answer.ends_with(br#","index":1}"#), "{answer:?}");
    /// # });
    /// ```
    pub async fn notify_batch(&self, request: RequestParts<'_>, body: &[u8]) -> Response {
        if let Some(refused) = self.notify_batch_refusal(&request) {
            return refused;
        }
        self.notify_batch_unchecked(request, body).await
    }

    async fn notify_batch_unchecked(&self, request: RequestParts<'_>, body: &[u8]) -> Response {
        if body.len() > self.config.max_body {
            return self.too_large();
        }
        let items = match self.batch_items(body) {
            Ok(items) => items,
            Err(refused) => return refused,
        };
        let grants = match self.authorize("/notify/batch", &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return super::response::unauthorized(&err),
        };
        if let Some(item) = items.iter().find(|item| !grants.may_publish(&item.topic)) {
            let topic = &item.topic;
            tracing::debug!(topic, "403: publishing not granted");
            return error(
                403,
                &format!("publishing on topic {topic:?} is not granted"),
            );
        }
        let key = match idempotency::key_of(request.headers) {
            Ok(key) => key,
            Err(refused) => return refused,
        };
        let fingerprint = || idempotency::fingerprint(&[b"/notify/batch", body]);
        let publish = async {
            let batch: Vec<Publish<'_>> = items
                .iter()
                .map(|item| Publish::new(&item.topic, &item.event).history(item.history))
                .collect();
            match self.publish_batch(&batch).await {
                Ok(published) => {
                    let ids: Vec<String> = published.iter().map(|p| p.id.to_string()).collect();
                    let sent: Vec<usize> = published.iter().map(|p| p.sent).collect();
                    json_response(200, &json!({ "ids": ids, "sent": sent }))
                }
                Err(err) => refusal(&err),
            }
        };
        self.key_store().idempotent(key, fingerprint, publish).await
    }

    /// Every item of a batch body, checked; or the `400` of the first bad
    /// one.
    // A refusal is made once per request: boxing it would save nothing.
    #[allow(clippy::result_large_err)]
    fn batch_items(&self, body: &[u8]) -> Result<Vec<Item>, Response> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| error(400, &format!("the body is not valid JSON: {err}")))?;
        let Value::Array(values) = value else {
            return Err(error(400, "the body must be a JSON array of events"));
        };
        let max = self.config.max_batch;
        if values.is_empty() || values.len() > max {
            return Err(error(
                400,
                &format!("a batch holds 1 to {max} events, not {}", values.len()),
            ));
        }
        values
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                item(value).map_err(|message| {
                    json_response(400, &json!({ "error": message, "index": index }))
                })
            })
            .collect()
    }
}

/// One item of a batch, checked as `/notify` checks its query and body.
fn item(value: Value) -> Result<Item, String> {
    let Value::Object(mut fields) = value else {
        return Err(
            "an item must be an object {\"topic\", \"event\", \"data\", \"history\"}".into(),
        );
    };
    let text = |field: Option<Value>, name: &str| match field {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("{name:?} must be a string")),
    };
    let topic = text(fields.remove("topic"), "topic")?.unwrap_or_else(|| "default".into());
    let topic = check_topic(topic).map_err(|err| err.to_string())?;
    let name = text(fields.remove("event"), "event")?.unwrap_or_else(|| "notification".into());
    let name = check_event_name(name).map_err(|err| err.to_string())?;
    let history = match fields.remove("history") {
        None => true,
        Some(Value::Bool(history)) => history,
        Some(_) => return Err("\"history\" must be true or false".into()),
    };
    let Some(data) = fields.remove("data") else {
        return Err("\"data\" is required".into());
    };
    let event = Event::builder()
        .event(&name)
        .json_data(&data)
        .build()
        .map_err(|err| err.to_string())?;
    Ok(Item {
        topic,
        event,
        history,
    })
}
