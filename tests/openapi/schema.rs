//! A small structural JSON Schema check for `tests/openapi.rs`: enough of
//! JSON Schema 2020-12 for the document's response schemas (`$ref`, `allOf`,
//! `oneOf`, `anyOf`, `type`, `const`, `enum`, `properties`, `required`,
//! `items`, `minItems`/`maxItems`, `minimum`, `minLength`/`maxLength`).
//! It ignores keywords it does not know, so the test checks, through
//! `KNOWN_KEYWORDS`, that the response schemas use no others.

use serde_json::Value;

/// The keywords `validate` understands, plus annotations that check nothing.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "allOf",
    "oneOf",
    "anyOf",
    "type",
    "const",
    "enum",
    "properties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "minLength",
    "maxLength",
    "description",
];

/// The node a local `$ref` (`#/a/b`) points at.
pub fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

fn type_matches(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// Checks `value` against `schema`; the error names the JSON path that failed.
pub fn validate(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = resolve(root, reference).ok_or(format!("{at}: unresolved {reference}"))?;
        validate(root, target, value, at)?;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            validate(root, s, value, at)?;
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = one
            .iter()
            .filter_map(|s| validate(root, s, value, at).err())
            .collect();
        let matched = one.len() - errors.len();
        if matched != 1 {
            return Err(format!(
                "{at}: matches {matched} of the oneOf schemas: {}",
                errors.join("; ")
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|s| validate(root, s, value, at).is_ok()) {
            return Err(format!("{at}: matches none of anyOf"));
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if !type_matches(value, t) => {
            return Err(format!("{at}: {value} is not of type {t}"))
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(value, t)) =>
        {
            return Err(format!(
                "{at}: {value} is none of the types {schema_types}",
                schema_types = Value::Array(ts.clone())
            ))
        }
        _ => {}
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            return Err(format!("{at}: {value} is not {c}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            return Err(format!(
                "{at}: {value} is not one of {}",
                Value::Array(e.clone())
            ));
        }
    }
    if let Some(obj) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !obj.contains_key(name) {
                return Err(format!("{at}: missing required member {name}"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, s) in props {
                if let Some(v) = obj.get(name) {
                    validate(root, s, v, &format!("{at}.{name}"))?;
                }
            }
        }
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as u64;
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| count < m)
        {
            return Err(format!("{at}: fewer than minItems"));
        }
        if schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| count > m)
        {
            return Err(format!("{at}: more than maxItems"));
        }
        if let Some(s) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                validate(root, s, v, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < min {
            return Err(format!("{at}: {n} is below {min}"));
        }
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| chars < m)
        {
            return Err(format!("{at}: shorter than minLength"));
        }
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| chars > m)
        {
            return Err(format!("{at}: longer than maxLength"));
        }
    }
    Ok(())
}
