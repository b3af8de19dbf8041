//! The organization's events.

use serde_json::Value;

use super::envelope::{decode_value, one_or_first};
use super::{CycloidClient, Event, EventFilter, NewEvent, get, post};
use crate::ClientError;

impl CycloidClient {
    /// `sendEvent`: registers an event and returns it. Never resent: a repeat is a second
    /// event. 422 when a field breaks its rule (type, severity, color keyword, tag values).
    pub async fn send_event(&self, event: &NewEvent) -> Result<Event, ClientError> {
        const OPERATION: &str = "sendEvent";
        let data: Value = self
            .data(post(OPERATION, self.org_path("/events"), event))
            .await?;
        decode_value(OPERATION, one_or_first(OPERATION, data)?)
    }

    /// `getEvents`: the events of a time range (Unix milliseconds) the filter keeps. The list
    /// does not page.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, ClientError> {
        let mut call = get("getEvents", self.org_path("/events"))
            .query("begin", filter.begin)
            .query("end", filter.end);
        for kind in &filter.types {
            call = call.query("type", kind.as_str());
        }
        for severity in &filter.severities {
            call = call.query("severity", severity.as_str());
        }
        let events: Option<Vec<Event>> = self.data(call).await?;
        Ok(events.unwrap_or_default())
    }
}
