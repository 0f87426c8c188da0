//! The HTTP routes, one module per resource. Each route is declared once, with its OpenAPI
//! description beside its handler (`utoipa-axum`), so the document and the router cannot
//! disagree. Routes use the lower modules (the extractors in `auth`, the helpers in `http`, the
//! services); no route module uses another.

mod accounts;
mod collectibles;
mod commands;
mod connectors;
mod console;
mod economies;
mod exchange;
mod finance;
mod keys;
mod members;
mod reads;
mod risk;
mod service;
mod session;
mod statements;
mod transparency;
mod wallet;
mod webhooks;
mod wechat;

use std::sync::Arc;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::App;

pub use service::{method_not_allowed, metrics_only, not_found, DOCUMENT};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "jifen",
        description = "The jifen points engine over HTTP. Every atoms or fen integer in an answer also comes as a decimal string in a twin field named with `_str` (`reserve_fen_str`), because JavaScript numbers lose precision past 2^53; `GET …/state` is exactly the SPEC §11 object, and `?strings=true` gives every integer in it as a string. Authenticate with `Authorization: Bearer <key>`. Errors are `{\"error\":{\"code\",\"message\"}}` with stable codes. Points are not shares, stock or equity; a quota is a cap, paid only from the dividend pool, never a promise."
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, crate::keys::Role)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The ways to authenticate: a key (`Authorization: Bearer`), a wallet link's token, or the
/// console's session cookie. Every operation needs a key unless it says otherwise.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "wallet",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Wallet-Token"))),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::sessions::COOKIE))),
        );
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "key",
            Vec::<String>::new(),
        )]);
    }
}

/// Every route of the API, with the document that describes them (to be finished by
/// `openapi::finish` once every route is in).
pub fn api() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(service::router())
        .merge(economies::router())
        .merge(commands::router())
        .merge(connectors::router())
        .merge(reads::router())
        .merge(accounts::router())
        .merge(members::router())
        .merge(risk::router())
        .merge(statements::router())
        .merge(keys::router())
        .merge(console::router())
        .merge(session::router())
        .merge(wallet::router())
        .merge(collectibles::router())
        .merge(exchange::router())
        .merge(webhooks::router())
        .merge(transparency::router())
        .merge(finance::router())
        .merge(wechat::router())
}
