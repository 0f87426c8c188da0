//! The parts of the OpenAPI document written here rather than derived: every command type as a
//! schema (a `oneOf` on `type`, from the wire's table of command types), the rules object, and
//! the error answers every operation can give, declared with the one error schema.

use serde_json::json;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, Type,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use jifen_wire::{CommandSpec, FieldKind, FieldSpec, COMMANDS};

const NAME_PATTERN: &str = "^[A-Za-z0-9_.:@-]{1,64}$";

fn string(pattern: &str, example: &str, about: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([json!(example)])
        .description(Some(about))
}

fn integer(min: u64, max: u64, about: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::Custom("uint64".into())))
        .minimum(Some(min as usize))
        .maximum(Some(max as usize))
        .description(Some(about))
}

fn boolean(about: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(about))
}

/// One field's schema, by its kind.
fn field_schema(f: &FieldSpec) -> RefOr<Schema> {
    let s = match f.kind {
        FieldKind::Name => string(NAME_PATTERN, "c1001", f.about),
        FieldKind::Reference => string(NAME_PATTERN, "wx-batch-1.line-1", f.about),
        FieldKind::Amount => integer(0, u64::MAX, f.about),
        FieldKind::Day => string(r"^\d{4}-\d{2}-\d{2}$", "2026-12-03", f.about),
        FieldKind::Instant => string(
            r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
            "2026-12-04T08:00:00Z",
            f.about,
        ),
        FieldKind::Sha256 => string(
            "^[0-9a-f]{64}$",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            f.about,
        ),
        FieldKind::Rules => return RefOr::Ref(Ref::from_schema_name("Rules")),
        FieldKind::Policy => return RefOr::Ref(Ref::from_schema_name("CollectiblePolicy")),
        FieldKind::Tiers => return RefOr::Ref(Ref::from_schema_name("TierTable")),
        FieldKind::Text => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(200))
            .description(Some(f.about)),
        FieldKind::Risk => return risk_schema(f.about),
        FieldKind::Signals => {
            let mut o = ObjectBuilder::new()
                .description(Some(f.about))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            for k in ["phone", "address", "device", "network"] {
                let v = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(200));
                o = o.property(k, v);
            }
            o
        }
        FieldKind::Prizes => {
            let prize = ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(100));
            return ArrayBuilder::new()
                .items(prize)
                .min_items(Some(1))
                .max_items(Some(100))
                .description(Some(f.about))
                .into();
        }
    };
    s.into()
}

/// SPEC §17's risk rules: every key required.
fn risk_schema(about: &str) -> RefOr<Schema> {
    let mut o = ObjectBuilder::new()
        .description(Some(about))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for k in jifen_wire::RISK_KEYS {
        let flag = matches!(k, "enabled" | "self_dealing" | "ring_shared_signals");
        let v = if flag {
            ObjectBuilder::new().schema_type(Type::Boolean)
        } else {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0.0))
        };
        o = o.property(k, v).required(k);
    }
    o.into()
}

/// The schema of one command type: `type`, `id` and its fields.
fn command_schema(spec: &CommandSpec) -> Schema {
    let example: serde_json::Value = serde_json::from_str(spec.example).unwrap_or_default();
    let mut o = ObjectBuilder::new()
        .title(Some(spec.kind))
        .description(Some(spec.about))
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([spec.kind])),
        )
        .required("type")
        .property(
            "id",
            string(
                NAME_PATTERN,
                "order-o-1",
                "the command's id: a retry with the same id changes nothing",
            ),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .examples([example]);
    for f in spec.fields {
        o = o.property(f.name, field_schema(f));
        if f.required {
            o = o.required(f.name);
        }
    }
    o.build().into()
}

fn schema_name(spec: &CommandSpec) -> String {
    format!("Command_{}", spec.kind)
}

/// Every SPEC §3 rule, with its range.
fn rule_properties(mut o: ObjectBuilder, required: bool) -> ObjectBuilder {
    let bps = "basis points, 0..=10000";
    let ints: [(&str, u64, u64, &str); 10] = [
        (
            "initial_price_fen",
            1,
            100_000_000,
            "price of one point before any point circulates",
        ),
        ("reserve_bps", 0, 10_000, bps),
        ("reward_bps", 0, 10_000, bps),
        ("referral_bps", 0, 10_000, bps),
        ("dividend_bps", 0, 10_000, bps),
        (
            "quota_multiplier_bps",
            0,
            100_000,
            "quota per fen spent, 0..=100000",
        ),
        ("sell_fee_bps", 0, 10_000, bps),
        ("convert_fee_bps", 0, 10_000, bps),
        (
            "issuance_cap_points",
            1,
            100_000_000_000,
            "most points ever issued",
        ),
        ("order_max_fen", 1, 1_000_000_000_000, "the largest order"),
    ];
    for (name, min, max, about) in ints {
        o = o.property(name, integer(min, max, about));
    }
    o = o
        .property("exit_enabled", boolean("the forced exit at the quota"))
        .property(
            "stable_payment_earns",
            boolean("whether an order's stable part counts as eligible"),
        );
    if required {
        for key in jifen_core::RULE_KEYS {
            o = o.required(key);
        }
    }
    o.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// The rules object of an economy's creation and of the what-if: missing keys take the
/// defaults of SPEC §3.
pub fn rules_schema() -> Schema {
    rule_properties(ObjectBuilder::new(), false)
        .description(Some("SPEC §3 rules; missing keys take their defaults"))
        .build()
        .into()
}

/// A command: one of the types of SPEC §5 and §13, told apart by `type`.
pub struct Command;

impl PartialSchema for Command {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new();
        let mut discriminator = Discriminator::new("type");
        for spec in &COMMANDS {
            let name = schema_name(spec);
            one_of = one_of.item(Ref::from_schema_name(&name));
            discriminator.mapping.insert(
                spec.kind.to_string(),
                format!("#/components/schemas/{name}"),
            );
        }
        Schema::OneOf(one_of.discriminator(Some(discriminator)).build()).into()
    }
}

impl ToSchema for Command {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for spec in &COMMANDS {
            schemas.push((schema_name(spec), command_schema(spec).into()));
        }
        let rules = rule_properties(ObjectBuilder::new(), true)
            .description(Some("every SPEC §3 rule"))
            .build();
        schemas.push(("Rules".into(), Schema::Object(rules).into()));
        let policy = ObjectBuilder::new()
            .property(
                "gifting_enabled",
                boolean("whether collectibles may be gifted"),
            )
            .property(
                "gift_hold_days",
                integer(
                    0,
                    3650,
                    "days a collectible is held before it may be gifted",
                ),
            )
            .property(
                "exchange_enabled",
                boolean("whether collectibles may be exported"),
            )
            .required("gifting_enabled")
            .required("gift_hold_days")
            .required("exchange_enabled")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build();
        schemas.push(("CollectiblePolicy".into(), Schema::Object(policy).into()));
        schemas.push(("TierTable".into(), tier_table_schema()));
    }
}

/// SPEC §16's tier table.
fn tier_table_schema() -> RefOr<Schema> {
    let text = |max: usize, about: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(max))
            .description(Some(about))
    };
    let level = ObjectBuilder::new()
        .property("name_zh", text(32, "the tier's name in Chinese"))
        .property("name_en", text(32, "the tier's name in English"))
        .property(
            "min",
            integer(
                0,
                u64::MAX,
                "the threshold: atoms held, or fen spent; the first tier's is 0",
            ),
        )
        .property(
            "partner",
            boolean("whether this tier makes a consumer a partner"),
        )
        .property("benefits_zh", text(200, "what the tier brings, in Chinese"))
        .property("benefits_en", text(200, "what the tier brings, in English"))
        .required("name_zh")
        .required("name_en")
        .required("min")
        .required("partner")
        .required("benefits_zh")
        .required("benefits_en")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let word = |values: [&str; 2], about: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values))
            .description(Some(about))
    };
    ObjectBuilder::new()
        .description(Some(
            "tiers for people only: no money or points depend on them (SPEC §16)",
        ))
        .property(
            "basis",
            word(["points", "spend"], "what thresholds measure"),
        )
        .property(
            "downgrade",
            word(
                ["never", "at_settlement"],
                "whether a tier may fall, at each settlement",
            ),
        )
        .property(
            "partner_min",
            integer(
                1,
                u64::MAX,
                "a partner threshold of its own, on the same basis",
            ),
        )
        .property(
            "levels",
            ArrayBuilder::new()
                .items(level)
                .min_items(Some(1))
                .max_items(Some(12)),
        )
        .required("basis")
        .required("downgrade")
        .required("levels")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build()
        .into()
}

/// The body of `POST …/commands`: one command, or an array of 1 to 8190.
pub struct CommandsBody;

impl PartialSchema for CommandsBody {
    fn schema() -> RefOr<Schema> {
        let command = || RefOr::Ref(Ref::from_schema_name("Command"));
        let batch = ArrayBuilder::new()
            .items(command())
            .min_items(Some(1))
            .max_items(Some(jifen_journal::BATCH_COMMANDS_MAX));
        Schema::OneOf(OneOfBuilder::new().item(command()).item(batch).build()).into()
    }
}

impl ToSchema for CommandsBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("Command".into(), Command::schema()));
        <Command as ToSchema>::schemas(schemas);
    }
}

/// The error answers an operation can give, by what it is: every one 400 (a bad query or
/// path), 429 and 503 (a timeout or a writer out of reach); with credentials, 401 and 403; with
/// a path parameter, 404; with a body, 413, 415 and 422; with query parameters, 422.
fn errors_of(path: &str, op: &Operation) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        ("400", "a malformed request"),
        ("429", "rate_limited: retry after Retry-After seconds"),
        ("503", "timeout or unavailable: retry with the same id"),
    ];
    let public = op.security.as_ref().is_some_and(|list| {
        list.iter()
            .all(|r| serde_json::to_value(r).is_ok_and(|v| v == json!({})))
    });
    if !public {
        out.push(("401", "unauthorized: no valid key, session or wallet link"));
        out.push(("403", "forbidden: the key's role may not do this"));
    }
    if path.contains('{') {
        out.push(("404", "not_found, or an economy the key does not reach"));
    }
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    if op.request_body.is_some() {
        out.push(("413", "body_too_large"));
        out.push(("415", "unsupported_media_type"));
    }
    if op.request_body.is_some() || has_query {
        out.push(("422", "invalid_request, naming the field"));
    }
    out
}

/// What each path parameter is.
fn path_parameter_about(name: &str) -> &'static str {
    match name {
        "eco" | "economy" => "the economy's id",
        "name" => "an account's name",
        "order" => "an order's name",
        "collectible" => "a collectible's name",
        "venue" => "a venue's name: 1 to 64 plain characters",
        "id" => "a key's id",
        "sha256" => "64 lowercase hex digits",
        "account" => "an account's name",
        "file" => "a WeChat verification file's name, such as MP_verify_abc123.txt",
        _ => "a path segment",
    }
}

/// Declares the parameters of `path`'s template (`{eco}`, `{order}`, …) on `op`, where the
/// handler does not: every one a required string.
fn declare_path_parameters(path: &str, op: &mut Operation) {
    let names = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
    let params = op.parameters.get_or_insert_with(Vec::new);
    for (at, name) in names.enumerate() {
        let declared = params
            .iter()
            .any(|p| p.name == name && p.parameter_in == ParameterIn::Path);
        if !declared {
            let p = ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(path_parameter_about(name)))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build();
            params.insert(at, p);
        }
    }
}

/// Declares every operation's path parameters, and its error answers with the one error
/// schema.
pub fn finish(doc: &mut OpenApi) {
    add_event_schemas(doc);
    let error = ResponseBuilder::new()
        .description("an error: a stable code and a message")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
        .build();
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            declare_path_parameters(path, op);
            for (status, about) in errors_of(path, op) {
                let mut response = error.clone();
                response.description = about.to_string();
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert(RefOr::T(response));
            }
        }
    }
}

/// The schema of one field of an event's data, and its string twin's when it has one.
fn event_field(f: &crate::webhooks::events::FieldSpec) -> (RefOr<Schema>, Option<RefOr<Schema>>) {
    use crate::webhooks::events::FieldKind as K;
    let twin = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\d+$"))
            .description(Some("the same amount as a decimal string"))
            .into()
    };
    let s: ObjectBuilder = match f.kind {
        K::Name => string(NAME_PATTERN, "c1001", f.about),
        K::OptionalName => string(NAME_PATTERN, "o-1", f.about).schema_type(
            utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]),
        ),
        K::Fen | K::Atoms => return (integer(0, u64::MAX, f.about).into(), Some(twin())),
        K::Count => integer(0, u64::MAX, f.about),
        K::Points => string(r"^\d+\.\d{8}$", "21.00000000", f.about),
        K::Bool => boolean(f.about),
        K::Day => string(r"^\d{4}-\d{2}-\d{2}$", "2026-12-03", f.about),
        K::Sha256 => string(
            "^[0-9a-f]{64}$",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            f.about,
        ),
        K::Word | K::Text => ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(f.about)),
    };
    (s.into(), None)
}

/// The schema of one event type: the envelope and its `data`.
fn event_schema(spec: &crate::webhooks::events::EventSpec) -> Schema {
    let mut data = ObjectBuilder::new();
    for f in spec.fields {
        let (schema, twin) = event_field(f);
        data = data.property(f.name, schema).required(f.name);
        if let Some(twin) = twin {
            let name = format!("{}_str", f.name);
            data = data.property(&name, twin).required(&name);
        }
    }
    let data = data.additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let envelope = ObjectBuilder::new()
        .title(Some(spec.kind))
        .description(Some(spec.about))
        .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some([spec.kind])))
        .property("id", string(r"^jifen:[A-Za-z0-9_.:@-]+:\d+:\d+$", "jifen:shop:1042:0",
            "jifen:<economy>:<seq>:<n>, the same on every delivery (also the webhook-id header)"))
        .property("economy", ObjectBuilder::new().schema_type(Type::String))
        .property("seq", integer(1, u64::MAX, "the journal entry the event comes from"))
        .property("time", ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime))))
        .property("data", data);
    let mut o = envelope;
    for k in ["type", "id", "economy", "seq", "time", "data"] {
        o = o.required(k);
    }
    Schema::Object(
        o.additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build(),
    )
}

/// The events webhooks deliver, as `WebhookEvent` (one of the types, by `type`) and one schema
/// per type, `WebhookEvent.<type>`.
pub fn add_event_schemas(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut one_of = OneOfBuilder::new();
    let mut discriminator = Discriminator::new("type");
    for spec in crate::webhooks::events::EVENTS {
        let name = format!("WebhookEvent.{}", spec.kind);
        one_of = one_of.item(Ref::from_schema_name(&name));
        discriminator.mapping.insert(
            spec.kind.to_string(),
            format!("#/components/schemas/{name}"),
        );
        components.schemas.insert(name, event_schema(spec).into());
    }
    let ping = ObjectBuilder::new()
        .title(Some("webhook.ping"))
        .description(Some(
            "The test event `POST …/webhooks/{id}/ping` sends; not from the journal",
        ))
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["webhook.ping"])),
        )
        .property(
            "id",
            string(
                r"^jifen:[A-Za-z0-9_.:@-]+:ping:\d+$",
                "jifen:shop:ping:1796436686595",
                "jifen:<economy>:ping:<ms>",
            ),
        )
        .property("economy", ObjectBuilder::new().schema_type(Type::String))
        .property("seq", integer(0, u64::MAX, "the journal's head when sent"))
        .property("time", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "data",
            ObjectBuilder::new()
                .property(
                    "subscription",
                    string(NAME_PATTERN, "crm", "the subscription pinged"),
                )
                .required("subscription"),
        );
    let ping = ["type", "id", "economy", "seq", "time", "data"]
        .iter()
        .fold(ping, |o, k| o.required(*k));
    components.schemas.insert(
        "WebhookEvent.webhook.ping".into(),
        Schema::Object(ping.build()).into(),
    );
    let all = one_of
        .discriminator(Some(discriminator))
        .description(Some("What a webhook delivers: one event per POST, or `{\"events\": [...]}` for a batching subscription"));
    components
        .schemas
        .insert("WebhookEvent".into(), Schema::OneOf(all.build()).into());
}
