//! The static memory planner. Pure CPU: it owns no memory. (Filled in by the planner work.)

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Placeholder until the planner lands.
    #[error("{0}")]
    Other(String),
}
