//! Every answer code of the auth API (API.md section 3), with its exact
//! message and HTTP status. This is the only place a code number, a message
//! or a status is written down.

/// One answer code. `Success` is the `200 SUCCESS` of every good answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Success,
    OtpNotSent,
    UnsupportedBrand,
    InvalidSession,
    InvalidOtp,
    DeviceMismatch,
    BrandMismatch,
    OtpAttemptsExhausted,
    InvalidDetails,
    PasswordRequired,
    PasswordMismatch,
    PasswordNotEnabled,
    CannotRegenerate,
    PasswordReused,
    InvalidPassword,
    TokenExpired,
    PasswordAttemptsExhausted,
    CannotExpireToken,
    OtpSendLimit,
    OtpNotGenerated,
    ChannelRequired,
    IdentifierMismatch,
    PasswordPolicy,
    InvalidIdentifierType,
    InvalidKey,
    TooManyRequests,
    BodyTooLarge,
    UnsupportedMediaType,
    Unavailable,
    /// No such endpoint under the auth prefixes.
    NotFound,
    /// An endpoint of the contract that this version does not serve yet.
    NotAvailable,
    MethodNotAllowed,
    /// Something on our side failed that the client can do nothing about
    /// (for instance a token could not be signed).
    Internal,
}

impl Code {
    /// Every code, for tables and tests.
    pub const ALL: &'static [Code] = &[
        Code::Success,
        Code::OtpNotSent,
        Code::UnsupportedBrand,
        Code::InvalidSession,
        Code::InvalidOtp,
        Code::DeviceMismatch,
        Code::BrandMismatch,
        Code::OtpAttemptsExhausted,
        Code::InvalidDetails,
        Code::PasswordRequired,
        Code::PasswordMismatch,
        Code::PasswordNotEnabled,
        Code::CannotRegenerate,
        Code::PasswordReused,
        Code::InvalidPassword,
        Code::TokenExpired,
        Code::PasswordAttemptsExhausted,
        Code::CannotExpireToken,
        Code::OtpSendLimit,
        Code::OtpNotGenerated,
        Code::ChannelRequired,
        Code::IdentifierMismatch,
        Code::PasswordPolicy,
        Code::InvalidIdentifierType,
        Code::InvalidKey,
        Code::TooManyRequests,
        Code::BodyTooLarge,
        Code::UnsupportedMediaType,
        Code::Unavailable,
        Code::NotFound,
        Code::NotAvailable,
        Code::MethodNotAllowed,
        Code::Internal,
    ];

    /// The number in `status.code`.
    pub fn number(self) -> u32 {
        match self {
            Code::Success => 200,
            Code::OtpNotSent => 1503,
            Code::UnsupportedBrand => 1504,
            Code::InvalidSession => 1505,
            Code::InvalidOtp => 1506,
            Code::DeviceMismatch => 1508,
            Code::BrandMismatch => 1509,
            Code::OtpAttemptsExhausted => 1518,
            Code::InvalidDetails => 1519,
            Code::PasswordRequired => 1520,
            Code::PasswordMismatch => 1521,
            Code::PasswordNotEnabled => 1524,
            Code::CannotRegenerate => 1525,
            Code::PasswordReused => 1527,
            Code::InvalidPassword => 1528,
            Code::TokenExpired => 1529,
            Code::PasswordAttemptsExhausted => 1530,
            Code::CannotExpireToken => 1531,
            Code::OtpSendLimit => 1534,
            Code::OtpNotGenerated => 1537,
            Code::ChannelRequired => 1540,
            Code::IdentifierMismatch => 1541,
            Code::PasswordPolicy => 1542,
            Code::InvalidIdentifierType => 1546,
            Code::InvalidKey => 1597,
            Code::TooManyRequests => 429,
            Code::BodyTooLarge => 413,
            Code::UnsupportedMediaType => 415,
            Code::Unavailable => 503,
            Code::NotFound | Code::NotAvailable => 404,
            Code::MethodNotAllowed => 405,
            Code::Internal => 500,
        }
    }

    /// The text in `status.message`.
    pub fn message(self) -> &'static str {
        match self {
            Code::Success => "SUCCESS",
            Code::OtpNotSent => "Unable to generate OTP",
            Code::UnsupportedBrand => "Unsupported brand",
            Code::InvalidSession => "Invalid session",
            Code::InvalidOtp => "Invalid OTP",
            Code::DeviceMismatch => {
                "Device ID does not match the one used to generate token/session"
            }
            Code::BrandMismatch => {
                "Brand name does not match the one used to generate token/session"
            }
            Code::OtpAttemptsExhausted => {
                "Reached the maximum allowed OTP retry attempts, Authenticate form the start"
            }
            Code::InvalidDetails => "Invalid details passed",
            Code::PasswordRequired => {
                "Password is enabled for the brand. Password cannot be empty"
            }
            Code::PasswordMismatch => "Password and confirm password does not match",
            Code::PasswordNotEnabled => "Password is not enabled for the brand",
            Code::CannotRegenerate => "Cannot regenerate token, please authenticate again",
            Code::PasswordReused => "Old password and new password cannot be same",
            Code::InvalidPassword => "Invalid password, please try with the correct password",
            Code::TokenExpired => "Token has expired",
            Code::PasswordAttemptsExhausted => {
                "Reached the maximum allowed password retry attempts, please reset your password"
            }
            Code::CannotExpireToken => "Unable to expire token",
            Code::OtpSendLimit => "Reached the maximum number of OTPs allowed per customer",
            Code::OtpNotGenerated => {
                "OTP is not generated for the provided details. Please generate OTP and try again"
            }
            Code::ChannelRequired => "Either mobile or email is required to send OTP",
            Code::IdentifierMismatch => {
                "Identifier used to generate session does not match the identifier used to generate or validate OTP"
            }
            Code::PasswordPolicy => "Password does not meet the requirements",
            Code::InvalidIdentifierType => "Invalid identifierType passed",
            Code::InvalidKey => "Key expired or not valid",
            Code::TooManyRequests => "Too many requests",
            Code::BodyTooLarge => "Request body too large",
            Code::UnsupportedMediaType => "Content-Type must be application/json",
            Code::Unavailable => "Service unavailable",
            Code::NotFound => "Not found",
            Code::NotAvailable => "Not available in this version",
            Code::MethodNotAllowed => "Method not allowed",
            Code::Internal => "Internal error",
        }
    }

    /// The HTTP status of a response carrying this code alone.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Success => 200,
            Code::OtpNotSent => 502,
            Code::UnsupportedBrand
            | Code::InvalidDetails
            | Code::PasswordRequired
            | Code::PasswordMismatch
            | Code::PasswordNotEnabled
            | Code::PasswordReused
            | Code::CannotExpireToken
            | Code::OtpNotGenerated
            | Code::ChannelRequired
            | Code::PasswordPolicy
            | Code::InvalidIdentifierType => 400,
            Code::InvalidSession
            | Code::InvalidOtp
            | Code::DeviceMismatch
            | Code::BrandMismatch
            | Code::CannotRegenerate
            | Code::InvalidPassword
            | Code::TokenExpired
            | Code::IdentifierMismatch
            | Code::InvalidKey => 401,
            Code::OtpAttemptsExhausted
            | Code::PasswordAttemptsExhausted
            | Code::OtpSendLimit
            | Code::TooManyRequests => 429,
            Code::BodyTooLarge => 413,
            Code::UnsupportedMediaType => 415,
            Code::Unavailable => 503,
            Code::NotFound | Code::NotAvailable => 404,
            Code::MethodNotAllowed => 405,
            Code::Internal => 500,
        }
    }

    pub fn is_success(self) -> bool {
        self == Code::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// API.md section 3, copied row by row: code, message, HTTP status.
    const CONTRACT: &[(u32, &str, u16)] = &[
        (1503, "Unable to generate OTP", 502),
        (1504, "Unsupported brand", 400),
        (1505, "Invalid session", 401),
        (1506, "Invalid OTP", 401),
        (1508, "Device ID does not match the one used to generate token/session", 401),
        (1509, "Brand name does not match the one used to generate token/session", 401),
        (1518, "Reached the maximum allowed OTP retry attempts, Authenticate form the start", 429),
        (1519, "Invalid details passed", 400),
        (1520, "Password is enabled for the brand. Password cannot be empty", 400),
        (1521, "Password and confirm password does not match", 400),
        (1524, "Password is not enabled for the brand", 400),
        (1525, "Cannot regenerate token, please authenticate again", 401),
        (1527, "Old password and new password cannot be same", 400),
        (1528, "Invalid password, please try with the correct password", 401),
        (1529, "Token has expired", 401),
        (1530, "Reached the maximum allowed password retry attempts, please reset your password", 429),
        (1531, "Unable to expire token", 400),
        (1534, "Reached the maximum number of OTPs allowed per customer", 429),
        (1537, "OTP is not generated for the provided details. Please generate OTP and try again", 400),
        (1540, "Either mobile or email is required to send OTP", 400),
        (1541, "Identifier used to generate session does not match the identifier used to generate or validate OTP", 401),
        (1542, "Password does not meet the requirements", 400),
        (1546, "Invalid identifierType passed", 400),
        (1597, "Key expired or not valid", 401),
        (429, "Too many requests", 429),
        (413, "Request body too large", 413),
        (415, "Content-Type must be application/json", 415),
        (503, "Service unavailable", 503),
    ];

    #[test]
    fn every_code_of_the_contract_has_its_message_and_status() {
        for &(number, message, status) in CONTRACT {
            let code = Code::ALL
                .iter()
                .copied()
                .find(|c| c.number() == number)
                .unwrap_or_else(|| panic!("code {number} is missing"));
            assert_eq!(code.message(), message, "message of {number}");
            assert_eq!(code.http_status(), status, "HTTP status of {number}");
        }
    }

    #[test]
    fn success_is_200_success() {
        assert_eq!(Code::Success.number(), 200);
        assert_eq!(Code::Success.message(), "SUCCESS");
        assert_eq!(Code::Success.http_status(), 200);
    }

    #[test]
    fn only_the_two_404s_share_a_number() {
        let mut numbers: Vec<u32> = Code::ALL.iter().map(|c| c.number()).collect();
        numbers.sort_unstable();
        let before = numbers.len();
        numbers.dedup();
        assert_eq!(before - numbers.len(), 1);
    }
}
