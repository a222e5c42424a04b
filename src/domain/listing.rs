//! Lists: which page, how many per page, and in which order.

pub const DEFAULT_PER_PAGE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;
/// Past this, offset paging would only scan rows to throw them away.
pub const MAX_PAGE: u64 = 1_000_000;
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
