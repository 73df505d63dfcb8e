//! placeholder

pub mod whatsapp;
