//! The contact-center simulator (placeholder until implemented).
