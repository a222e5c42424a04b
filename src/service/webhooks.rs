//! Webhooks, managed by admins (or an API token of an admin's with `webhooks:manage`): where
//! the shop's events go, which ones, and the log of their deliveries. A webhook's signing
//! secret is shown once, when it is made.

use url::Host;

use super::{ServiceError, now, random_hex, sessions::Authenticated};
use crate::{
    config::{Secret, WebhookSettings},
    db::{
        self, DatabaseConnection,
        outbox::Delivery,
        webhooks::{Changes, NewWebhook, Webhook},
    },
    domain::{
        FieldErrors, Message,
        ability::Ability,
        listing::{Page, PageRequest},
        text,
        webhook::{EventType, EventTypes, MAX_WEBHOOK_DESCRIPTION_CHARS, is_public, parse_url},
    },
};

/// What a client sends to make a webhook, or to change one (absent fields stay).
#[derive(Debug, Default)]
pub struct WebhookRequest {
    pub url: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub events: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
}

#[derive(Clone)]
pub struct Webhooks {
    db: DatabaseConnection,
    allow_private: bool,
}

impl Webhooks {
    pub fn new(db: DatabaseConnection, settings: &WebhookSettings) -> Self {
        Self {
            db,
            allow_private: settings.allow_private,
        }
    }

    /// Makes a webhook, enabled; its secret is returned this once.
    pub async fn create(
        &self,
        actor: &Authenticated,
        request: WebhookRequest,
    ) -> Result<(Webhook, Secret<String>), ServiceError> {
        manager(actor)?;
        let mut errors = FieldErrors::new();
        let url = if let Some(raw) = request.url {
            self.checked_url(&raw, &mut errors).await
        } else {
            errors.add("url", Message::new("validation-required").field("url"));
            None
        };
        let events = checked_events(request.events.as_deref().unwrap_or(&[]), &mut errors);
        let description = checked_description(request.description.flatten(), &mut errors);
        let (Some(url), Some(events), true) = (url, events, errors.is_empty()) else {
            return Err(errors.into());
        };
        let secret = format!("whsec_{}", random_hex(32));
        let webhook = db::webhooks::insert(
            &self.db,
            NewWebhook {
                url: &url,
                description: description.as_deref(),
                events: &events,
                secret: &secret,
                at: now(),
            },
        )
        .await?;
        tracing::info!(webhook_id = webhook.id, "webhook created");
        Ok((webhook, Secret::new(secret)))
    }

    pub async fn list(&self, actor: &Authenticated) -> Result<Vec<Webhook>, ServiceError> {
        manager(actor)?;
        Ok(db::webhooks::all(&self.db).await?)
    }

    pub async fn get(&self, actor: &Authenticated, id: i64) -> Result<Webhook, ServiceError> {
        manager(actor)?;
        db::webhooks::find(&self.db, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Changes the fields given; a new URL is checked as a new webhook's is.
    pub async fn update(
        &self,
        actor: &Authenticated,
        id: i64,
        request: WebhookRequest,
    ) -> Result<Webhook, ServiceError> {
        manager(actor)?;
        let mut errors = FieldErrors::new();
        let url = match request.url {
            Some(raw) => self.checked_url(&raw, &mut errors).await,
            None => None,
        };
        let events = request
            .events
            .and_then(|events| checked_events(&events, &mut errors));
        let description = request
            .description
            .map(|description| checked_description(description, &mut errors));
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let changes = Changes {
            url,
            description,
            events,
            enabled: request.enabled,
        };
        db::webhooks::update(&self.db, id, changes, now())
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Deletes a webhook and its delivery log; what it had not delivered is dropped.
    pub async fn delete(&self, actor: &Authenticated, id: i64) -> Result<(), ServiceError> {
        manager(actor)?;
        if !db::webhooks::delete(&self.db, id).await? {
            return Err(ServiceError::NotFound);
        }
        tracing::info!(webhook_id = id, "webhook deleted");
        Ok(())
    }

    /// A page of a webhook's deliveries, newest first.
    pub async fn deliveries(
        &self,
        actor: &Authenticated,
        id: i64,
        page: PageRequest,
    ) -> Result<Page<Delivery>, ServiceError> {
        self.get(actor, id).await?;
        Ok(db::outbox::of_webhook(&self.db, id, page).await?)
    }

    /// Sends a delivery again, whatever its state: a new round of attempts, starting now.
    pub async fn redeliver(
        &self,
        actor: &Authenticated,
        webhook_id: i64,
        delivery_id: i64,
    ) -> Result<Delivery, ServiceError> {
        manager(actor)?;
        if !db::outbox::redeliver(&self.db, webhook_id, delivery_id, now()).await? {
            return Err(ServiceError::NotFound);
        }
        tracing::info!(webhook_id, delivery_id, "webhook delivery queued again");
        db::outbox::find(&self.db, webhook_id, delivery_id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// `raw` as a URL deliveries may go to: its form, and unless private targets are allowed,
    /// every address its host resolves to now (checked again at each delivery).
    async fn checked_url(&self, raw: &str, errors: &mut FieldErrors) -> Option<String> {
        let url = match parse_url(raw, self.allow_private) {
            Ok(url) => url,
            Err(message) => {
                errors.add("url", message);
                return None;
            }
        };
        if !self.allow_private
            && let Some(Host::Domain(host)) = url.host()
        {
            let port = url.port_or_known_default().unwrap_or(443);
            let Ok(addresses) = tokio::net::lookup_host((host, port)).await else {
                errors.add("url", Message::new("webhook-url-unresolved"));
                return None;
            };
            let addresses: Vec<_> = addresses.collect();
            if addresses.is_empty() || addresses.iter().any(|address| !is_public(address.ip())) {
                errors.add("url", Message::new("webhook-url-private"));
                return None;
            }
        }
        Some(url.to_string())
    }
}

/// Only admins manage webhooks, and an API token only with `webhooks:manage`.
fn manager(actor: &Authenticated) -> Result<(), ServiceError> {
    actor.require(Ability::WebhooksManage)?;
    if actor.user.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

fn checked_events(events: &[EventType], errors: &mut FieldErrors) -> Option<EventTypes> {
    EventTypes::new(events)
        .map_err(|message| errors.add("events", message))
        .ok()
}

fn checked_description(raw: Option<String>, errors: &mut FieldErrors) -> Option<String> {
    let raw = raw?;
    text::one_line(&raw, "description", MAX_WEBHOOK_DESCRIPTION_CHARS)
        .map_err(|message| errors.add("description", message))
        .ok()
}
