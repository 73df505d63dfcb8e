//! The contracts Tdjaasa publishes: NATS subject names and (from the pipeline on) message and event types
//! with their JSON Schemas, for our own services and for integrators.

pub mod subjects;

pub use subjects::Subjects;
