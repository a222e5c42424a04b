//! Lists: which page (by number or by cursor), how many per page, and in which order.

use chrono::{DateTime, Utc};

pub const DEFAULT_PER_PAGE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;
/// Past this, offset paging would only scan rows to throw them away.
pub const MAX_PAGE: u64 = 1_000_000;
/// The longest `cursor` a list takes: far above what a cursor of this server holds.
pub const MAX_CURSOR_CHARS: usize = 1000;
/// The longest search text (`q`) a list takes.
pub const MAX_SEARCH_CHARS: usize = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// The position of a page in the whole list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageMeta {
    pub current_page: u64,
    pub per_page: u64,
    pub total: u64,
    pub last_page: u64,
}

impl PageMeta {
    pub fn new(request: PageRequest, total: u64) -> Self {
        Self {
            current_page: request.page,
            per_page: request.per_page,
            total,
            last_page: total.div_ceil(request.per_page).max(1),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

/// A sort key and its direction; ties are always broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort<K> {
    pub key: K,
    pub descending: bool,
}

/// A sort key's value in one row, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Integer(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// A row's place in a sorted list: its sort key's value and its id, which breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: SortValue,
    pub id: i64,
}

/// The rows of a cursor page, and the place of the last one when more rows follow it.
#[derive(Debug, Clone)]
pub struct Slice<T> {
    pub data: Vec<T>,
    pub next: Option<Position>,
}

impl<T> Slice<T> {
    /// The first `per_page` of `rows`, fetched one longer than a page: the extra row only says
    /// that another page follows, which then starts after the page's last row.
    pub fn of(mut rows: Vec<T>, per_page: u64, position: impl Fn(&T) -> Position) -> Self {
        let per_page = usize::try_from(per_page).unwrap_or(usize::MAX);
        let more = rows.len() > per_page;
        rows.truncate(per_page);
        let next = if more {
            rows.last().map(position)
        } else {
            None
        };
        Self { data: rows, next }
    }
}

/// One page of a list read by cursor: no count, and the cursor of the following page (`None`
/// on the last one).
#[derive(Debug, Clone)]
pub struct CursorPage<T> {
    pub data: Vec<T>,
    pub per_page: u64,
    pub next_cursor: Option<String>,
}
