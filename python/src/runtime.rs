//! One tokio runtime for the whole process, and the one way to block on it with the GIL released.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// The runtime and the process that built it (a runtime does not survive `fork`).
static RUNTIME: OnceLock<(Runtime, u32)> = OnceLock::new();

/// The global multi-threaded runtime, built on first use.
///
/// # Panics
///
/// If the runtime cannot be built, or if it is used in a child process forked after it was built: its worker
/// threads exist only in the parent.
pub(crate) fn runtime() -> &'static Runtime {
    let (runtime, pid) = RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("trdm-python")
            .build()
            .expect("titan_rdm_sdk: cannot start the tokio runtime");
        (runtime, std::process::id())
    });
    assert_eq!(
        *pid,
        std::process::id(),
        "titan_rdm_sdk: the runtime was started before this process was forked; \
         use the 'spawn' start method for multiprocessing, or create the client in the child"
    );
    runtime
}

/// Runs the future `make` returns to completion on the global runtime with the GIL released, so other Python
/// threads run while Rust waits on the network.
///
/// The future is created inside the GIL-free closure and never leaves this thread, so it need not be `Send`
/// (the compiler cannot prove it for some of `trdm-sync`'s futures); only what the closure captures and the
/// output cross into it.
pub(crate) fn block_on<M, F>(py: Python<'_>, make: M) -> F::Output
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    py.detach(|| runtime().block_on(make()))
}
