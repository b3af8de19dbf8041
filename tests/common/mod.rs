pub mod child;
pub mod controlplane;
pub mod converge;
pub mod every_kind;
pub mod inventory;
pub mod timeline;
