//! Scratch space for the fault campaigns: in memory when `/dev/shm` is there (fsync is then
//! free, so the sample fits its time budget), else the system temp directory.

pub fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let in_memory =
        shm.is_dir().then(|| tempfile::Builder::new().prefix("wfstore-faultsim-").tempdir_in(shm));
    match in_memory {
        Some(Ok(d)) => d,
        _ => tempfile::tempdir().unwrap(),
    }
}
