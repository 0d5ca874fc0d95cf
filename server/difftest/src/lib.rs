//! Harness for differential tests. STUB.
