//! Render tests of the OpenTofu tree.
