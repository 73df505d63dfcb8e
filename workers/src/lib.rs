//! Stateless workers: the sales-bot pipeline from inbound message to reply.

pub mod llm;
