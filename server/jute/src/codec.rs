//! STUB: `Reader`, `Writer` and the `Record` trait, to be written.
