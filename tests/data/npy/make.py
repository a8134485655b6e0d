"""Writes the .npy fixtures read by tests/image_io.rs (run from this folder; see README.md)."""
import numpy as np

# [1, 4, 2, 3] float32: -1.0, -0.75, ..., 4.75 (i / 4 - 1)
np.save("f4_1x4x2x3.npy", (np.arange(24, dtype=np.float32) / 4 - 1).reshape(1, 4, 2, 3))
# [2, 3] float64 with values that round when narrowed to float32
np.save("f8_2x3.npy", np.array([[0.1, -0.2, 1e-3], [3.0, 1 / 3, -7.5]], dtype=np.float64))
# [5] float16
np.save("f2_5.npy", np.array([0.5, -1.0, 65504.0, 0.0999755859375, -0.0], dtype=np.float16))
# a scalar (shape ())
np.save("f4_scalar.npy", np.float32(2.5))
# int64, to test the dtype error
np.save("i8_3.npy", np.arange(3, dtype=np.int64))
