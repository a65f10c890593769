//! `GET /history` and `GET /presence`: reads, authorized as subscribing.

use serde_json::json;

use super::response::{Response, error, json_response, refusal, unauthorized};
use super::routes::RequestParts;
use super::routes::Routes;
use crate::auth::Grants;
use crate::request::{history_query, presence_query};

impl Routes<'_> {
    /// `GET /history`: the retained events of the `topic`s after `after`
    /// (or the newest without it), at most `limit` (1 to 1000, default
    /// 100), as `{"events": [{"id", "topic", "event", "data"}], "reset",
    /// "more"}`; see [`Hub::history`](super::Hub::history). Authorized as subscribing.
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig, hub::{Body, RequestParts}};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub");
    /// # futures::executor::block_on(async {
    /// hub.publish("news", &Event::new("hello")).await?;
    /// let request = RequestParts { query: Some("topic=news&limit=10"), ..RequestParts::default() };
    /// let response = hub.routes().history(request).await;
    /// let Body::Full(body) = response.body else { unreachable!() };
    /// let page: serde_json::Value = serde_json::from_slice(&body)?;
    /// assert_eq!(page["events"][0]["data"], "hello");
    /// assert_eq!((page["reset"].as_bool(), page["more"].as_bool()), (Some(false), Some(false)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn history(&self, request: RequestParts<'_>) -> Response {
        let grants = match self.authorize("/history", &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return unauthorized(&err),
        };
        let query = match history_query(request.query.unwrap_or("")) {
            Ok(query) => query,
            Err(err) => return error(400, &err.to_string()),
        };
        if let Some(refused) = not_granted(&grants, "/history", &query.topics) {
            return refused;
        }
        match self
            .hub
            .history(&query.topics, query.after.as_deref(), query.limit)
            .await
        {
            Ok(history) => json_response(
                200,
                &json!({
                    "events": history.events.iter().map(|event| json!({
                        "id": event.id,
                        "topic": event.topic,
                        "event": event.event,
                        "data": event.data,
                    })).collect::<Vec<_>>(),
                    "reset": history.reset,
                    "more": history.more,
                }),
            ),
            Err(err) => refusal(&err),
        }
    }

    /// `GET /presence`: how many open streams follow each `topic` (1 to
    /// 32), as `{"topics": {"<topic>": {"subscribers": N}}}`; see
    /// [`Hub::presence`](super::Hub::presence). Authorized as subscribing.
    ///
    /// ```
    /// use sse_hub::{Hub, HubConfig, hub::{Body, RequestParts}};
    ///
    /// let hub = Hub::open(HubConfig::default()).expect("a hub");
    /// # futures::executor::block_on(async {
    /// let _stream = hub.subscribe(["room-1"], None).await;
    /// let request = RequestParts { query: Some("topic=room-1"), ..RequestParts::default() };
    /// let Body::Full(body) = hub.routes().presence(request).await.body else { unreachable!() };
    /// assert_eq!(body, r#"{"topics":{"room-1":{"subscribers":1}}}"#);
    /// # });
    /// ```
    pub async fn presence(&self, request: RequestParts<'_>) -> Response {
        let grants = match self.authorize("/presence", &request.auth()) {
            Ok(grants) => grants,
            Err(err) => return unauthorized(&err),
        };
        let topics = match presence_query(request.query.unwrap_or("")) {
            Ok(topics) => topics,
            Err(err) => return error(400, &err.to_string()),
        };
        if let Some(refused) = not_granted(&grants, "/presence", &topics) {
            return refused;
        }
        match self.hub.presence(&topics).await {
            Ok(presence) => {
                let topics: serde_json::Map<String, serde_json::Value> = presence
                    .into_iter()
                    .map(|(topic, count)| (topic, json!({ "subscribers": count })))
                    .collect();
                json_response(200, &json!({ "topics": topics }))
            }
            Err(err) => refusal(&err),
        }
    }
}

/// The `403` when `grants` do not cover subscribing to one of `topics`.
fn not_granted(grants: &Grants, route: &str, topics: &[String]) -> Option<Response> {
    let topic = topics.iter().find(|topic| !grants.may_subscribe(topic))?;
    tracing::debug!(topic, route, "403: subscribing not granted");
    Some(error(
        403,
        &format!("subscribing to topic {topic:?} is not granted"),
    ))
}
