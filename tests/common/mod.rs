pub mod controlplane;
pub mod converge;
