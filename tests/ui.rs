//! The attribute's compile errors, one file per mistake (`tests/ui/fail`,
//! each with the expected `.stderr`), and the forms it accepts
//! (`tests/ui/pass`). Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui`, then read them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
