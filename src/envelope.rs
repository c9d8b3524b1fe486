//! The JSON envelope of every answer the gateway writes itself (API.md
//! section 1): `{"status":{"success":..,"code":..,"message":..}, ...}`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    pub success: bool,
    pub code: u32,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: StatusRef<'a>,
}

#[derive(Serialize)]
struct StatusRef<'a> {
    success: bool,
    code: u32,
    message: &'a str,
}

/// An error envelope: `{"status":{"success":false,"code":..,"message":..}}`.
pub fn error_json(code: u32, message: &str) -> Vec<u8> {
    serde_json::to_vec(&ErrorBody {
        status: StatusRef {
            success: false,
            code,
            message,
        },
    })
    .unwrap_or_else(|_| {
        br#"{"status":{"success":false,"code":500,"message":"Internal error"}}"#.to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_the_status_envelope() {
        let v: serde_json::Value = serde_json::from_slice(&error_json(404, "No route")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status":{"success":false,"code":404,"message":"No route"}})
        );
    }
}
