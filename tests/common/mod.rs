pub mod child;
pub mod controlplane;
pub mod converge;
pub mod inventory;
