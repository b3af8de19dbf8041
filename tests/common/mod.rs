pub mod controlplane;
pub mod converge;
pub mod every_kind;
