//! The data tree. STUB: to be written.
