//! STUB: framing, to be written.
