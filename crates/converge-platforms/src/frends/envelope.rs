//! The `{"data": ...}` envelope of every Frends success body, and the `paging` object the
//! specification list adds.

use serde::Deserialize;

/// `{"data": T}`.
#[derive(Deserialize)]
pub(super) struct Data<T> {
    pub data: T,
}

/// `{"data": [T], "paging": {...}}`.
#[derive(Deserialize)]
pub(super) struct Paged<T> {
    pub data: Vec<T>,
    pub paging: Paging,
}

/// The part of `paging` the walk needs: the page links and numbers are informative only.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Paging {
    pub total_count: i64,
}

/// The largest page Frends serves.
pub(super) const MAX_PAGE_SIZE: usize = 200;
