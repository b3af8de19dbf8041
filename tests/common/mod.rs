pub mod controlplane;
