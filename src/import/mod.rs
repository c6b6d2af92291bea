//! Importing from other tools: the older tool's `data/` folder ([`legacy`]), with its
//! `str.format` placeholders made into Jinja ([`placeholders`]), and files of other prompt
//! formats written as ptrack's own ([`foreign`]).

pub mod foreign;
pub mod legacy;
pub mod placeholders;
