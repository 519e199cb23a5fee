//! Mesh geometry: what `Mesh::new` refuses.

use pm_mesh::{Mesh, MeshError};

/// Shapes and boxes that cannot be used are errors naming what is wrong, never a panic or
/// a failed allocation later: a zero or odd real-to-complex dimension, sizes whose arrays
/// overflow the address space (`mesh = 1048576` in a config: (2^20)^3 complex f64 is
/// 2^64 bytes), and a box side that is not finite and positive.
#[test]
fn bad_meshes_are_errors() {
    for shape in [[0, 4, 4], [4, 4, 5], [1 << 20; 3], [1 << 40, 1 << 40, 2]] {
        assert!(
            matches!(Mesh::new(shape, [1.0; 3]), Err(MeshError::Shape { .. })),
            "{shape:?}"
        );
    }
    for side in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(Mesh::cubic(4, side), Err(MeshError::BoxSize { .. })),
            "{side}"
        );
    }
    // The largest cubic mesh of this test that is addressable is accepted: it only
    // describes the geometry and allocates nothing.
    assert!(Mesh::cubic(1 << 16, 1.0).is_ok());
}
