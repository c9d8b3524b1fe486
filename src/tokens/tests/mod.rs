//! Tests of the token service as a whole.
