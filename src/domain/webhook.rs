//! Webhooks: the events the shop announces, the URLs it may announce them to, and when a
//! failed delivery is tried again.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use url::{Host, Url};

use super::Message;

/// What happened, as a receiver reads it in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    OrderCreated,
    OrderUpdated,
    OrderStatusChanged,
    OrderDeleted,
    UserCreated,
    UserDeleted,
    ProductOutOfStock,
}

impl EventType {
    pub const ALL: [Self; 7] = [
        Self::OrderCreated,
        Self::OrderUpdated,
        Self::OrderStatusChanged,
        Self::OrderDeleted,
        Self::UserCreated,
        Self::UserDeleted,
        Self::ProductOutOfStock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order.created",
            Self::OrderUpdated => "order.updated",
            Self::OrderStatusChanged => "order.status_changed",
            Self::OrderDeleted => "order.deleted",
            Self::UserCreated => "user.created",
            Self::UserDeleted => "user.deleted",
            Self::ProductOutOfStock => "product.out_of_stock",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == raw)
    }
}

/// The events a webhook wants: at least one, each once, in [`EventType::ALL`]'s order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(Vec<EventType>);

impl EventTypes {
    pub fn new(events: &[EventType]) -> Result<Self, Message> {
        if events.is_empty() {
            return Err(Message::new("webhook-events-empty"));
        }
        Ok(Self(
            EventType::ALL
                .into_iter()
                .filter(|event| events.contains(event))
                .collect(),
        ))
    }

    /// As stored: space-separated, with a space at each end, so that `LIKE '% type %'` finds
    /// a type.
    pub fn to_stored(&self) -> String {
        let words: Vec<&str> = self.0.iter().map(|event| event.as_str()).collect();
        format!(" {} ", words.join(" "))
    }

    pub fn from_stored(stored: &str) -> Self {
        Self(
            stored
                .split_whitespace()
                .filter_map(EventType::parse)
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        self.0.iter().copied()
    }
}

/// The longest URL a webhook may have.
pub const MAX_URL_CHARS: usize = 2048;

/// The longest description a webhook may have.
pub const MAX_WEBHOOK_DESCRIPTION_CHARS: usize = 255;

/// Where deliveries may go: an `https://` URL (or `http://` when private targets are allowed)
/// with a host and no credentials. Whether the host is public is checked apart, on its
/// addresses, at creation and again at each delivery.
pub fn parse_url(raw: &str, allow_private: bool) -> Result<Url, Message> {
    let invalid = || Message::new("webhook-url-invalid");
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(invalid());
    }
    let url = Url::parse(raw.trim()).map_err(|_| invalid())?;
    let scheme_allowed = url.scheme() == "https" || (allow_private && url.scheme() == "http");
    if !scheme_allowed {
        return Err(Message::new("webhook-url-not-https"));
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid());
    }
    if !allow_private
        && let Some(ip) = literal_address(&url)
        && !is_public(ip)
    {
        return Err(Message::new("webhook-url-private"));
    }
    Ok(url)
}

/// The URL's host when it is an address rather than a name.
pub fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, shared (CGNAT),
/// documentation, benchmarking, multicast, broadcast or unspecified, in either family.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8)
}

/// When a failed delivery is tried again: after each delay in turn, then never (`failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// The contract's: about 30 s, 2 min, 10 min, 1 h, 6 h, then every 12 h until three days
    /// have passed since the first attempt.
    pub fn standard() -> Self {
        let mut delays: Vec<u64> = vec![30, 120, 600, 3_600, 21_600];
        let three_days = 3 * 24 * 3_600;
        while delays.iter().sum::<u64>() + 43_200 <= three_days {
            delays.push(43_200);
        }
        Self(delays.into_iter().map(Duration::from_secs).collect())
    }

    /// Comma-separated seconds, as `WEBHOOK_RETRY_SCHEDULE` gives them: `1,1,2`.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.split(',')
            .map(|part| part.trim().parse::<u64>().ok().map(Duration::from_secs))
            .collect::<Option<Vec<_>>>()
            .filter(|delays| !delays.is_empty())
            .map(Self)
    }

    /// How long after attempt `attempts` (counted from 1) failed the next one comes; `None`
    /// when that was the last.
    pub fn after(&self, attempts: u32) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule_gives_up_after_three_days() {
        let schedule = RetrySchedule::standard();
        let total: u64 = schedule.0.iter().map(Duration::as_secs).sum();
        assert!(total <= 3 * 24 * 3_600 && total > 2 * 24 * 3_600, "{total}");
        assert_eq!(schedule.after(1), Some(Duration::from_secs(30)));
        assert_eq!(schedule.after(6), Some(Duration::from_hours(12)));
        assert_eq!(
            schedule.after(u32::try_from(schedule.0.len()).unwrap() + 1),
            None
        );
        assert_eq!(RetrySchedule::parse("1, 1,2").unwrap().0.len(), 3);
        assert!(RetrySchedule::parse("1,x").is_none());
        assert!(RetrySchedule::parse("").is_none());
    }

    #[test]
    fn private_and_odd_targets_are_refused() {
        for raw in [
            "http://example.com/hook",
            "ftp://example.com/hook",
            "https://user:pw@example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest",
            "https://[::ffff:192.168.0.1]/hook",
            "not a url",
        ] {
            assert!(parse_url(raw, false).is_err(), "{raw}");
        }
        assert!(parse_url("https://hooks.example.com/comptoir", false).is_ok());
        assert!(parse_url("https://93.184.216.34/hook", false).is_ok());
        assert!(parse_url("http://127.0.0.1:9000/hook", true).is_ok());
        for ip in ["100.64.0.1", "0.0.0.0", "224.0.0.1", "fd00::1", "fe80::1"] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("2606:4700::1111".parse().unwrap()));
    }

    #[test]
    fn event_types_are_kept_in_order_and_found_by_like() {
        let events = EventTypes::new(&[EventType::UserDeleted, EventType::OrderCreated]).unwrap();
        assert_eq!(events.to_stored(), " order.created user.deleted ");
        assert_eq!(EventTypes::from_stored(&events.to_stored()), events);
        assert!(EventTypes::new(&[]).is_err());
    }
}
