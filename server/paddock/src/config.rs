//! zoo.cfg parsing. STUB.
