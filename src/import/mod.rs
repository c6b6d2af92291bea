//! Importing from other tools: the older tool's `data/` folder ([`legacy`]), with its
//! `str.format` placeholders made into Jinja ([`placeholders`]).

pub mod legacy;
pub mod placeholders;
