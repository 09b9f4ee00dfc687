//! The uniffi-bindgen CLI, pinned to the same uniffi version as `confirma-kotlin`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
