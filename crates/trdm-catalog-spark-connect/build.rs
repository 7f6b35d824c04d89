//! Nothing is generated here. The build dependency on `protoc-bin-vendored` exists so that cargo has the
//! protoc binary on disk before `apache-spark-connect-proto`'s build script asks for one through
//! `scripts/protoc` (see `.cargo/config.toml`); asking for its path here keeps the dependency honest.

fn main() {
    if let Err(e) = protoc_bin_vendored::protoc_bin_path() {
        println!(
            "cargo:warning=no vendored protoc for this platform ({e}); scripts/protoc falls back to PATH"
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
}
