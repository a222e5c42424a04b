//! Email verification (tag `auth`): following a mailed confirmation link, and asking for a
//! new one.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json, types::Example};

use super::{
    ApiTags, AppState,
    auth::{StatusReply, StatusResponse},
    body::JsonBody,
    error::{Failure, status::*},
    security::SessionAuth,
    types::EmailAddress,
};
use crate::{
    domain::Message,
    i18n,
    service::email_verification::{Resent, Verified},
};

pub struct EmailApi;

#[derive(Debug, Object)]
#[oai(example)]
pub struct VerifyEmailRequest {
    /// The `token` of the link in the mail.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub token: String,
    /// The `email` of the link in the mail: the address it confirms.
    #[oai(validator(max_length = 254))]
    pub email: EmailAddress,
}

impl Example for VerifyEmailRequest {
    fn example() -> Self {
        Self {
            token: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            email: "ada@example.com".into(),
        }
    }
}

#[OpenApi(prefix_path = "/api", tag = "ApiTags::Auth")]
impl EmailApi {
    /// Confirm an email address
    ///
    /// Follows the link of a confirmation mail: sets `email_verified_at`, or, for a link sent
    /// to a new address (`pending_email`), makes it the account's `email`, verified. The
    /// token works once, expires, and a newer link voids it; an invalid, used, expired or
    /// voided token is a 422 on `token`. A new address that another account took meanwhile is
    /// a 422 on `email`, and nothing changes.
    #[oai(path = "/email/verify", method = "post", operation_id = "email_verify")]
    async fn verify(
        &self,
        state: Data<&AppState>,
        body: JsonBody<VerifyEmailRequest>,
    ) -> Result<StatusReply, Failure<{ JSON_BODY | ALWAYS }>> {
        let request = body.0;
        let verified = state
            .email_verifications
            .verify(&request.token, &request.email.0)
            .await?;
        let status = match verified {
            Verified::Address => "email-verified",
            Verified::NewAddress => "email-change-confirmed",
        };
        Ok(StatusReply::Ok(Json(StatusResponse {
            status: i18n::say(&Message::new(status)),
        })))
    }

    /// Ask for a new confirmation link
    ///
    /// Mails a new link to the pending address if an email change waits for confirmation,
    /// else to the account's address if it is not verified yet; a verified address with no
    /// change waiting gets no mail (200 all the same). At most one mail a minute per account:
    /// 429 with `Retry-After` beyond. The new link voids the older ones.
    #[oai(
        path = "/email/verification-notification",
        method = "post",
        operation_id = "email_verification_send"
    )]
    async fn send(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
    ) -> Result<StatusReply, Failure<{ UNAUTHORIZED | SESSION_REQUIRED | ALWAYS }>> {
        let status = match state.email_verifications.resend(&auth.0.user).await? {
            Resent::Sent => "email-verification-sent",
            Resent::NothingToConfirm => "email-already-verified",
        };
        Ok(StatusReply::Ok(Json(StatusResponse {
            status: i18n::say(&Message::new(status)),
        })))
    }
}
