//! token/generate: opens a login session (`tokens.session_ttl`) bound to the
//! identifier, brand, device (mobile) and family. Web also gets a VIEW token
//! valid as long as the session. The answer tells whether the account has a
//! password and nothing else about it.

use super::error::AuthError;
use super::issuer::{Mint, Role};
use super::staged_password;
use super::validation::{claim, parse_identifier, Common, Fields, MAX_FIELD_BYTES};
use super::wire::{LoginView, Reply};
use super::AuthApi;
use crate::store::{Contact, Family, Identifier, IdentifierType, NewSession};

pub(super) async fn run(
    api: &AuthApi,
    family: Family,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let common = Common::read(&fields, &api.settings, family)?;
    let contact = contact(&fields, &common.identifier)?;
    let user = api
        .store
        .find_user(common.brand.name, &common.identifier)
        .await?;
    let staged_password_hash =
        staged_password::on_token_generate(&fields, common.brand, user.is_some()).await?;
    let registered_for_password = user.is_some_and(|u| u.password_hash.is_some());

    let session = api
        .store
        .create_session(NewSession {
            id: None,
            brand: common.brand.name.to_owned(),
            family,
            identifier: common.identifier.clone(),
            device_id: common.device.clone(),
            contact,
            staged_password_hash,
            ttl: api.settings.session_ttl,
        })
        .await?;

    let token = match family {
        Family::Mobile => None,
        Family::Web => Some(view_token(api, &common)?),
    };

    Ok(Reply::Login(LoginView {
        token,
        key: None,
        session_id: Some(session.id),
        role: Role::View,
        registered_for_password,
    }))
}

/// The web session's VIEW token: it names the identifier and brand asked
/// for, and an anonymous subject rather than any account.
fn view_token(api: &AuthApi, common: &Common<'_>) -> Result<String, AuthError> {
    let family = api.tokens.new_family();
    api.tokens
        .mint(&Mint {
            uid: format!("anonymous:{family}"),
            brand: common.brand.name.to_owned(),
            role: Role::View,
            device: None,
            identifiers: vec![claim(&common.identifier)],
            family,
            ttl: Some(api.settings.session_ttl),
        })
        .map_err(AuthError::TokenService)
}

/// Where codes for this session go. MOBILE and EMAIL are their own channel;
/// USERNAME needs `mobile` or `email` (1540), each checked like an
/// identifier of its type (an empty string counts as not given).
fn contact(fields: &Fields<'_>, identifier: &Identifier) -> Result<Contact, AuthError> {
    match identifier.kind {
        IdentifierType::Mobile => Ok(Contact {
            mobile: Some(identifier.value.clone()),
            email: None,
        }),
        IdentifierType::Email => Ok(Contact {
            mobile: None,
            email: Some(identifier.value.clone()),
        }),
        IdentifierType::Username => {
            let mobile = channel(fields, "mobile", IdentifierType::Mobile)?;
            let email = channel(fields, "email", IdentifierType::Email)?;
            if mobile.is_none() && email.is_none() {
                return Err(AuthError::ChannelRequired);
            }
            Ok(Contact { mobile, email })
        }
    }
}

fn channel(
    fields: &Fields<'_>,
    name: &'static str,
    kind: IdentifierType,
) -> Result<Option<String>, AuthError> {
    match fields.string(name, MAX_FIELD_BYTES)? {
        None | Some("") => Ok(None),
        Some(raw) => parse_identifier(kind, raw)
            .map(|id| Some(id.value))
            .map_err(|_| AuthError::InvalidDetails(name)),
    }
}
