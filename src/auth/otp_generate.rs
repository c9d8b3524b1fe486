//! otp/generate: sends a fresh code for a bound session. At most
//! `otp.max_sends` per identifier per `otp.send_window` (1534); the code has
//! `otp.length` CSPRNG digits, lives `otp.ttl` (never past the session), is
//! stored only as a keyed hash, and replaces any earlier one. If delivery
//! fails the new code is discarded (1503). The answer is the same whether
//! or not an account exists; only a USERNAME account's channel on file
//! decides where its code goes.

use super::error::AuthError;
use super::session::bound_session;
use super::validation::{Common, Fields};
use super::wire::Reply;
use super::AuthApi;
use crate::otp::{generate_code, Channel, CodeMessage};
use crate::store::{CodeStored, Family, IdentifierType, SendAllowance, Session};

pub(super) async fn run(
    api: &AuthApi,
    family: Family,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let common = Common::read(&fields, &api.settings, family)?;
    let session_id = fields.session_id()?;
    let session = bound_session(api.store.as_ref(), session_id, family, &common).await?;
    let (channel, to) = destination(api, &session).await?;
    let policy = &common.brand.policy.otp;

    let allowance = api
        .store
        .count_code_send(
            common.brand.name,
            &session.identifier,
            policy.max_sends,
            policy.send_window.get(),
        )
        .await?;
    if let SendAllowance::Refused { .. } = allowance {
        return Err(AuthError::OtpSendLimit);
    }

    let code = generate_code(policy.length).map_err(AuthError::OtpNotSent)?;
    let hash = api.hasher.hash(&session.id, &code);
    let expires_at = match api
        .store
        .put_code(&session.id, &hash, policy.ttl.get())
        .await?
    {
        CodeStored::Stored { expires_at } => expires_at,
        CodeStored::NoSession => return Err(AuthError::InvalidSession),
    };
    let expires_in_ms = expires_at.saturating_sub(api.clock.now_ms()).max(0);

    let message = CodeMessage {
        channel,
        to,
        otp: code,
        brand: common.brand.name.to_owned(),
        identifier_type: session.identifier.kind,
        identifier_value: session.identifier.value.clone(),
        expires_in_secs: u64::try_from(expires_in_ms / 1000).unwrap_or(0),
    };
    if let Err(e) = api.sender.send(&message).await {
        if let Err(store_error) = api.store.discard_code(&session.id, &hash).await {
            tracing::warn!(error = %store_error, "could not discard an undelivered code");
        }
        return Err(AuthError::OtpNotSent(e));
    }
    Ok(Reply::Done)
}

/// MOBILE → SMS to the number, EMAIL → email to the address. USERNAME → the
/// mobile, else the email, of the account on file; only a username that has
/// no account yet (registration) uses the channel its session was opened
/// with. Otherwise anyone could name a username and their own phone.
async fn destination(api: &AuthApi, session: &Session) -> Result<(Channel, String), AuthError> {
    let id = &session.identifier;
    match id.kind {
        IdentifierType::Mobile => Ok((Channel::Sms, id.value.clone())),
        IdentifierType::Email => Ok((Channel::Email, id.value.clone())),
        IdentifierType::Username => {
            let account = api.store.find_user(&session.brand, id).await?;
            let contact = account
                .as_ref()
                .map_or(&session.contact, |user| &user.contact);
            match (&contact.mobile, &contact.email) {
                (Some(mobile), _) => Ok((Channel::Sms, mobile.clone())),
                (None, Some(email)) => Ok((Channel::Email, email.clone())),
                (None, None) => Err(AuthError::ChannelRequired),
            }
        }
    }
}
