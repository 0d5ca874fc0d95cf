//! Path validation (`PathUtils.validatePath`). STUB: to be written.
